"""Uploaded photos (diagnostics, requests, portfolios, project progress, chat): decoded with Pillow, refused
unless they are JPEG, PNG or WebP of a sane size, and re-encoded from their pixels only — so no EXIF block
(camera, time, **GPS location**), XMP or text chunk survives into storage. The orientation EXIF asked for is
applied to the pixels first. Metadata worth keeping (format, dimensions, sizes) is returned for the row."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from homeops.marketplace.common import PayloadTooLarge, UnsupportedMedia

MAX_PIXELS = 40_000_000
_GPS_IFD = 0x8825
_FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    content_type: str
    extension: str
    format: str
    width: int
    height: int
    original_size: int
    had_exif: bool
    had_location: bool

    def metadata(self, original_filename: str | None) -> dict[str, Any]:
        return {
            "original_filename": (original_filename or "")[:255] or None,
            "file_size_bytes": self.original_size,
            "stored_size_bytes": len(self.data),
            "dimensions": {"width": self.width, "height": self.height},
            "format": self.format,
            "content_type": self.content_type,
            "exif_removed": self.had_exif,
            "location_removed": self.had_location,
        }


def sanitize_image(data: bytes, *, max_bytes: int) -> CleanImage:
    """The image re-encoded without metadata; 413 past ``max_bytes`` or ``MAX_PIXELS``, 415 for anything that
    is not a JPEG, PNG or WebP image."""
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"Images are limited to {max_bytes // (1024 * 1024)} MB.")
    if not data:
        raise UnsupportedMedia("The file is empty.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            source = Image.open(io.BytesIO(data), formats=list(_FORMATS))
            if source.width * source.height > MAX_PIXELS:
                raise PayloadTooLarge(f"Images are limited to {MAX_PIXELS // 1_000_000} megapixels.")
            fmt = str(source.format)
            exif = source.getexif()
            had_exif = bool(exif) or "exif" in source.info
            had_location = _GPS_IFD in exif
            source.load()
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
    ) as exc:
        if isinstance(exc, Image.DecompressionBombError | Image.DecompressionBombWarning):
            raise PayloadTooLarge("The image has too many pixels.") from exc
        raise UnsupportedMedia("Photos must be JPEG, PNG or WebP images.") from exc
    image = ImageOps.exif_transpose(source)
    if image.mode not in ("RGB", "RGBA", "L"):
        transparent = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        image = image.convert("RGBA" if transparent else "RGB")
    if fmt == "JPEG" and image.mode == "RGBA":
        image = image.convert("RGB")
    # Only the pixels: a new image knows nothing of the original's info (EXIF, XMP, ICC text, PNG chunks).
    clean = Image.frombytes(image.mode, image.size, image.tobytes())
    out = io.BytesIO()
    if fmt == "JPEG":
        clean.save(out, format="JPEG", quality=90, optimize=True)
    elif fmt == "PNG":
        clean.save(out, format="PNG", optimize=True)
    else:
        clean.save(out, format="WEBP", quality=90)
    content_type, extension = _FORMATS[fmt]
    return CleanImage(
        data=out.getvalue(),
        content_type=content_type,
        extension=extension,
        format=fmt,
        width=clean.width,
        height=clean.height,
        original_size=len(data),
        had_exif=had_exif,
        had_location=had_location,
    )
