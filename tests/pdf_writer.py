"""A tiny, dependency-free PDF 1.4 writer for tests (plus pypdf for the encrypted variant).

``make_pdf`` writes one Letter-sized Helvetica page per entry of ``pages``. Explicit newlines in a page's
text start a new line; long lines are wrapped between words at about 90 characters (a longer word
stays whole, so the text is unchanged). Text must be encodable in cp1252 (the font uses WinAnsiEncoding).
Nothing is paginated: a very long page simply runs off the bottom of the media box, which does not
matter for text extraction.

``variant`` changes the bytes but never the text: it sets a different ``/Producer``, adds an unused
object and, for odd variants, writes the objects in reverse order (the xref table stays correct).
"""

from __future__ import annotations

import io
import textwrap

from pypdf import PdfReader, PdfWriter

WRAP_AT = 90
FONT_SIZE = 11
LEADING = 14
TOP_Y = 750
LEFT_X = 50

#: Starts like a PDF, but has no objects, no xref table and no trailer.
CORRUPT_PDF: bytes = (
    b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R\nthis is not a pdf\n"
)


def _escape(line: str) -> bytes:
    """Encode one line as the body of a PDF literal string."""
    raw = line.encode("cp1252")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _lines(text: str) -> list[str]:
    """Split on explicit newlines, then wrap each line between words at ``WRAP_AT`` characters."""
    lines: list[str] = []
    for raw_line in text.split("\n"):
        lines.extend(textwrap.wrap(raw_line, WRAP_AT, break_long_words=False, break_on_hyphens=False) or [""])
    return lines


def _content_stream(text: str) -> bytes:
    """A page content stream showing ``text`` line by line (``Td`` for the first line, ``T*`` after)."""
    if not text.strip():
        return b""
    ops = [b"BT", b"/F1 %d Tf" % FONT_SIZE, b"%d TL" % LEADING, b"%d %d Td" % (LEFT_X, TOP_Y)]
    for i, line in enumerate(_lines(text)):
        if i:
            ops.append(b"T*")
        ops.append(b"(" + _escape(line) + b") Tj")
    ops.append(b"ET")
    return b"\n".join(ops)


def _stream(data: bytes) -> bytes:
    return b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def _pdf_string(value: str) -> bytes:
    return b"(" + _escape(value) + b")"


def _objects(pages: list[str], title: str | None, variant: int) -> dict[int, bytes]:
    """Object number -> object body. 1 catalog, 2 page tree, 3 font, 4 info, then page/content pairs."""
    first_page = 5
    page_refs = [first_page + 2 * i for i in range(len(pages))]
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [%s] /Count %d >>"
        % (b" ".join(b"%d 0 R" % ref for ref in page_refs), len(pages)),
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    }
    info = b"/Producer " + _pdf_string(f"homeops test writer, variant {variant}")
    if title is not None:
        info += b" /Title " + _pdf_string(title)
    objects[4] = b"<< " + info + b" >>"
    for ref, text in zip(page_refs, pages, strict=True):
        objects[ref] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (ref + 1)
        )
        objects[ref + 1] = _stream(_content_stream(text))
    if variant:
        objects[first_page + 2 * len(pages)] = _pdf_string(f"unused object {variant}")
    return objects


def make_pdf(pages: list[str], *, title: str | None = None, variant: int = 0) -> bytes:
    """A valid PDF 1.4 with one text page per entry of ``pages`` (see the module docstring)."""
    objects = _objects(pages, title, variant)
    order = sorted(objects, reverse=variant % 2 == 1)
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    for num in order:
        offsets[num] = len(out)
        out += b"%d 0 obj\n" % num + objects[num] + b"\nendobj\n"
    size = max(objects) + 1
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for num in range(1, size):
        out += b"%010d 00000 n \n" % offsets[num]
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 4 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref_at)
    return bytes(out)


def make_encrypted_pdf(pages: list[str]) -> bytes:
    """``make_pdf(pages)`` encrypted by pypdf with an empty user password and an owner password."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(pages))))
    writer.encrypt(user_password="", owner_password="homeops-owner")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()
