"""Documents and media in object storage (seed 003 ``documents``, ``media_files``, ``transcriptions``).

Seed 003's buckets become key prefixes: ``documents/{pdf|docx|other}/<user>/<id>/<name>`` and
``media/{audio|video}/<user>/<id>/<name>``. The type of an upload comes from its content (magic bytes),
which must agree with its extension or declared content type; anything else is refused before a byte is
stored. Processing (page counts, durations, transcripts) runs in the background (see ``tasks.py``).
"""

from __future__ import annotations

import io
import re
import unicodedata
import uuid
import zipfile

from anyio import to_thread

from homeops.assistant.models import Document, MediaFile, MediaType, ProcessingStatus
from homeops.assistant.repository import DocumentRepository, MediaRepository
from homeops.assistant.schemas import DocumentOut, MediaOut, TranscriptionOut
from homeops.assistant.tasks import PROCESS_DOCUMENT, PROCESS_MEDIA
from homeops.core.audit import AuditEntry
from homeops.core.errors import NotFound, Problem
from homeops.core.jobs import enqueue
from homeops.core.pagination import PageParams, build_page, decode_cursor
from homeops.core.schemas import DownloadOut
from homeops.core.storage import signed_download
from homeops.core.uow import UnitOfWork

MB = 1024 * 1024
DOCUMENT_MAX_BYTES = 25 * MB
MEDIA_MAX_BYTES = 200 * MB
MAX_NAME = 200

DOCUMENT_CONTENT_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "txt": "text/plain",
    "png": "image/png",
    "jpeg": "image/jpeg",
}
_DOCUMENT_EXTENSIONS = {
    "pdf": "pdf",
    "docx": "docx",
    "txt": "txt",
    "png": "png",
    "jpg": "jpeg",
    "jpeg": "jpeg",
}

# format → (default media type, content subtype, container family, may hold either audio or video)
MEDIA_FORMATS: dict[str, tuple[MediaType, str, str, bool]] = {
    "mp3": (MediaType.audio, "mpeg", "mpeg", False),
    "wav": (MediaType.audio, "wav", "riff", False),
    "m4a": (MediaType.audio, "mp4", "isobmff", False),
    "ogg": (MediaType.audio, "ogg", "ogg", True),
    "mp4": (MediaType.video, "mp4", "isobmff", True),
    "webm": (MediaType.video, "webm", "ebml", True),
    "mov": (MediaType.video, "quicktime", "isobmff", False),
}
# fmt: off
_MEDIA_CONTENT_TYPES = {
    "audio/mpeg": "mp3", "audio/mp3": "mp3", "audio/wav": "wav", "audio/x-wav": "wav", "audio/wave": "wav",
    "audio/vnd.wave": "wav", "audio/mp4": "m4a", "audio/x-m4a": "m4a", "audio/m4a": "m4a",
    "audio/ogg": "ogg", "video/ogg": "ogg", "video/mp4": "mp4", "video/webm": "webm", "audio/webm": "webm",
    "video/quicktime": "mov",
}
# fmt: on
_FORMAT_BY_CONTAINER = {"mpeg": "mp3", "riff": "wav", "ogg": "ogg", "ebml": "webm", "isobmff": "mp4"}
_ISO_BOXES = (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip")


class DocumentNotFound(NotFound):
    code, title = "document_not_found", "Document not found"


class MediaNotFound(NotFound):
    code, title = "media_not_found", "Media file not found"


def _unsupported(detail: str) -> Problem:
    return Problem(detail, status=415, code="unsupported_media_type", title="Unsupported media type")


def _check_size(data: bytes, max_bytes: int) -> None:
    if not data:
        raise Problem("The file is empty.", status=422, code="empty_file", title="Empty file")
    if len(data) > max_bytes:
        raise Problem(
            f"Files of this kind are limited to {max_bytes // MB} MB.",
            status=413,
            code="file_too_large",
            title="File too large",
        )


def split_name(filename: str | None) -> tuple[str, str]:
    """(stem, lower-case extension) of the last path segment of a client-supplied name."""
    base = re.split(r"[\\/]", filename or "")[-1]
    stem, dot, ext = base.rpartition(".")
    return (stem, ext.lower()) if dot and stem.strip(". ") else (base, "")


def safe_filename(filename: str | None, extension: str, fallback: str) -> str:
    """An ASCII name safe in a storage key and a download header, ending in ``.<extension>``."""
    stem, _ = split_name(filename)
    stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem)
    stem = re.sub(r"_{2,}", "_", stem).strip("._-")[:MAX_NAME] or fallback
    return f"{stem}.{extension}"


def sniff_document(data: bytes) -> str | None:
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                return "docx" if "word/document.xml" in archive.namelist() else None
        except (zipfile.BadZipFile, ValueError):
            return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return "txt" if "\x00" not in text else None


def sniff_container(data: bytes) -> str | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "riff"
    if data.startswith(b"ID3") or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "mpeg"
    if data.startswith(b"OggS"):
        return "ogg"
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "ebml"
    if data[4:8] in _ISO_BOXES:
        return "isobmff"
    return None


def document_type(data: bytes, filename: str | None) -> str:
    """The document's type (a key of :data:`DOCUMENT_CONTENT_TYPES`), else 415."""
    _, ext = split_name(filename)
    declared = _DOCUMENT_EXTENSIONS.get(ext) if ext else None
    if ext and declared is None:
        raise _unsupported(f"'.{ext}' files are not accepted; send PDF, DOCX, TXT, PNG or JPEG.")
    sniffed = sniff_document(data)
    if sniffed is None:
        raise _unsupported("The content is not a PDF, DOCX, UTF-8 text, PNG or JPEG file.")
    if declared is not None and declared != sniffed:
        raise _unsupported(f"The content is {sniffed.upper()}, not what the '.{ext}' extension says.")
    return sniffed


def media_format(data: bytes, filename: str | None, content_type: str | None) -> tuple[str, MediaType, str]:
    """(format, media type, content type) of an audio or video upload, else 415."""
    _, ext = split_name(filename)
    declared_type = (content_type or "").split(";")[0].strip().lower()
    if ext and ext not in MEDIA_FORMATS:
        raise _unsupported(f"'.{ext}' files are not accepted; send mp3, wav, m4a, ogg, mp4, webm or mov.")
    container = sniff_container(data)
    fmt = ext or _MEDIA_CONTENT_TYPES.get(declared_type) or _FORMAT_BY_CONTAINER.get(container or "")
    if fmt is None or container is None:
        raise _unsupported("The content is not a supported audio or video file.")
    media_type, subtype, family, flexible = MEDIA_FORMATS[fmt]
    if container != family:
        raise _unsupported(f"The content does not look like a {fmt} file.")
    major = declared_type.partition("/")[0]
    if flexible and major in (MediaType.audio.value, MediaType.video.value):
        media_type = MediaType(major)
    return fmt, media_type, f"{media_type.value}/{subtype}"


class FileService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.session = uow.session
        self.storage = uow.runtime.storage
        self.documents = DocumentRepository(uow.session)
        self.media = MediaRepository(uow.session)

    @property
    def _me(self) -> uuid.UUID:
        return self.uow.actor.require_user_id()

    async def _put(self, key: str, data: bytes, content_type: str) -> None:
        await to_thread.run_sync(self.storage.put, key, data, content_type)

    async def _download(self, key: str, filename: str, content_type: str) -> DownloadOut:
        return await signed_download(self.storage, key, filename=filename, content_type=content_type)

    def _remove_after_commit(self, key: str) -> None:
        async def remove() -> None:
            await to_thread.run_sync(self.storage.delete, key)

        self.uow.on_commit(remove)

    # --- documents ----------------------------------------------------------------------------------
    async def upload_document(self, data: bytes, filename: str | None) -> DocumentOut:
        _check_size(data, DOCUMENT_MAX_BYTES)
        file_type = document_type(data, filename)
        name = safe_filename(filename, "jpg" if file_type == "jpeg" else file_type, "document")
        doc_id = uuid.uuid4()
        folder = file_type if file_type in ("pdf", "docx") else "other"
        key = f"documents/{folder}/{self._me}/{doc_id}/{name}"
        doc = await self.documents.add(
            Document(
                id=doc_id,
                user_id=self._me,
                filename=name,
                file_type=file_type,
                file_size=len(data),
                storage_key=key,
                bucket_name="documents",
            )
        )
        await enqueue(
            self.session,
            PROCESS_DOCUMENT,
            {"document_id": doc.id, "user_id": doc.user_id},
            dedupe_key=f"document:{doc.id}",
        )
        await self._put(key, data, DOCUMENT_CONTENT_TYPES[file_type])  # last: a failure rolls the row back
        self.uow.record(
            AuditEntry(
                "document_uploaded",
                "document",
                doc.id,
                new_values={"filename": name, "file_type": file_type, "file_size": len(data)},
            )
        )
        return DocumentOut.model_validate(doc)

    async def _document(self, document_id: uuid.UUID) -> Document:
        doc = await self.documents.mine(document_id, self._me)
        if doc is None:
            raise DocumentNotFound()
        return doc

    async def get_document(self, document_id: uuid.UUID) -> DocumentOut:
        return DocumentOut.model_validate(await self._document(document_id))

    async def list_documents(
        self, page: PageParams, status: ProcessingStatus | None
    ) -> tuple[list[DocumentOut], str | None]:
        rows = await self.documents.of_user(self._me, status, page.limit, decode_cursor(page.cursor))
        items, cursor = build_page(rows, page.limit, key=lambda d: (d.upload_date, d.id))
        return [DocumentOut.model_validate(d) for d in items], cursor

    async def download_document(self, document_id: uuid.UUID) -> DownloadOut:
        doc = await self._document(document_id)
        await self.documents.mark_accessed(doc)
        return await self._download(doc.storage_key, doc.filename, DOCUMENT_CONTENT_TYPES[doc.file_type])

    async def delete_document(self, document_id: uuid.UUID) -> None:
        doc = await self._document(document_id)
        await self.documents.delete_mine(doc)
        self._remove_after_commit(doc.storage_key)
        self.uow.record(
            AuditEntry(
                "document_deleted",
                "document",
                doc.id,
                old_values={"filename": doc.filename, "storage_key": doc.storage_key},
            )
        )

    # --- media --------------------------------------------------------------------------------------
    async def upload_media(self, data: bytes, filename: str | None, content_type: str | None) -> MediaOut:
        _check_size(data, MEDIA_MAX_BYTES)
        fmt, media_type, mime = media_format(data, filename, content_type)
        name = safe_filename(filename, fmt, media_type.value)
        media_id = uuid.uuid4()
        key = f"media/{media_type.value}/{self._me}/{media_id}/{name}"
        media = await self.media.add(
            MediaFile(
                id=media_id,
                user_id=self._me,
                filename=name,
                media_type=media_type,
                content_type=mime,
                file_size=len(data),
                storage_key=key,
                bucket_name="media",
                metadata_={"format": fmt},
            )
        )
        await enqueue(
            self.session,
            PROCESS_MEDIA,
            {"media_id": media.id, "user_id": media.user_id},
            dedupe_key=f"media:{media.id}",
        )
        await self._put(key, data, mime)
        self.uow.record(
            AuditEntry(
                "media_uploaded",
                "media_file",
                media.id,
                new_values={"filename": name, "media_type": media_type.value, "file_size": len(data)},
            )
        )
        return MediaOut.model_validate(media)

    async def _media(self, media_id: uuid.UUID) -> MediaFile:
        media = await self.media.mine(media_id, self._me)
        if media is None:
            raise MediaNotFound()
        return media

    async def get_media(self, media_id: uuid.UUID) -> MediaOut:
        return MediaOut.model_validate(await self._media(media_id))

    async def list_media(
        self, page: PageParams, status: ProcessingStatus | None
    ) -> tuple[list[MediaOut], str | None]:
        rows = await self.media.of_user(self._me, status, page.limit, decode_cursor(page.cursor))
        items, cursor = build_page(rows, page.limit, key=lambda m: (m.upload_date, m.id))
        return [MediaOut.model_validate(m) for m in items], cursor

    async def download_media(self, media_id: uuid.UUID) -> DownloadOut:
        media = await self._media(media_id)
        return await self._download(media.storage_key, media.filename, media.content_type)

    async def transcriptions(self, media_id: uuid.UUID) -> list[TranscriptionOut]:
        media = await self._media(media_id)
        return [TranscriptionOut.model_validate(t) for t in await self.media.transcriptions(media)]

    async def delete_media(self, media_id: uuid.UUID) -> None:
        media = await self._media(media_id)
        await self.media.delete_mine(media)
        self._remove_after_commit(media.storage_key)
        self.uow.record(
            AuditEntry(
                "media_deleted",
                "media_file",
                media.id,
                old_values={"filename": media.filename, "storage_key": media.storage_key},
            )
        )
