"""Database-free text pipeline for appliance manuals: PDF text extraction, hashing and chunking.

Uploads are de-duplicated on three levels; this module provides the first two:

1. :func:`file_hash` -- identical bytes;
2. :func:`content_hash` -- the same extracted text after :func:`normalise_text` (e.g. the same PDF
   re-saved by another tool, with other metadata or another object layout).

The third level (brand + model number + manual type + version) needs the database and lives elsewhere.
:func:`chunk_pages` cuts the extracted text into page-bound passages for search indexing.
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from pypdf import PdfReader

PDF_MAGIC = b"%PDF-"
METADATA_FIELDS = ("title", "author", "producer")

ExtractionReason = Literal["encrypted", "corrupt", "empty", "not_pdf"]

_LINE_BREAK = re.compile(r"\r\n?")
# C0/C1 control characters other than tab, newline, vertical tab and form feed (PostgreSQL rejects NUL).
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
# A hyphen (ASCII, U+2010 or soft hyphen) between two word characters, followed by one line break.
_HYPHENATED_BREAK = re.compile(r"(?<=\w)[-\u2010\u00ad][ \t]*\n[ \t]*(?=\w)")
_SOFT_HYPHEN = "\u00ad"
_WHITESPACE = re.compile(r"\s+")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t\f\v]*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class ExtractionError(Exception):
    """A PDF whose text cannot be indexed; ``reason`` is a short machine-readable code."""

    def __init__(self, reason: ExtractionReason, detail: str = "") -> None:
        super().__init__(reason, detail)
        self.reason: ExtractionReason = reason
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}" if self.detail else self.reason


@dataclass
class ExtractedDocument:
    """Raw text of every page (index 0 is page 1), the page count and selected Info metadata."""

    pages: list[str]
    page_count: int
    metadata: dict[str, str]


@dataclass
class Chunk:
    """A passage for search indexing; ``page`` is 1-based and ``index`` counts across the document."""

    index: int
    page: int
    text: str


def file_hash(data: bytes) -> str:
    """Level-1 de-duplication key: sha256 hex digest of the file bytes."""
    return hashlib.sha256(data).hexdigest()


def extract_pdf(data: bytes) -> ExtractedDocument:
    """Extract the text of each page with pypdf.

    Raises :class:`ExtractionError` (and nothing else) for bad input: ``not_pdf`` when the bytes do not
    start with ``%PDF-``; ``encrypted`` for any encrypted PDF, even one an empty password opens (protected
    documents are not indexed); ``corrupt`` when pypdf cannot parse it; ``empty`` when no page has text.
    """
    if not data.startswith(PDF_MAGIC):
        raise ExtractionError("not_pdf")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise ExtractionError("encrypted")
        pages = [page.extract_text() or "" for page in reader.pages]
        metadata = _metadata(reader)
    except ExtractionError:
        raise
    except Exception as exc:  # pypdf raises many unrelated exception types on malformed files
        raise ExtractionError("corrupt", f"{type(exc).__name__}: {exc}") from exc
    if not any(page.strip() for page in pages):
        raise ExtractionError("empty")
    return ExtractedDocument(pages=pages, page_count=len(pages), metadata=metadata)


def _metadata(reader: PdfReader) -> dict[str, str]:
    """The non-blank title/author/producer of the document Info dictionary."""
    info = reader.metadata
    if info is None:
        return {}
    values = {name: getattr(info, name) for name in METADATA_FIELDS}
    return {name: value.strip() for name, value in values.items() if isinstance(value, str) and value.strip()}


def _repair(text: str) -> str:
    """NFKC-normalise, unify line breaks, drop control characters, join words hyphenated across a line
    break and drop soft hyphens; keeps newlines."""
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub("", _LINE_BREAK.sub("\n", text))
    text = _HYPHENATED_BREAK.sub("", text)
    return text.replace(_SOFT_HYPHEN, "")


def _collapse(text: str) -> str:
    """Collapse every whitespace run (including newlines) to one space and strip the ends."""
    return _WHITESPACE.sub(" ", text).strip()


def normalise_text(text: str) -> str:
    """Canonical form of extracted text for content hashing and lexical features.

    Steps, in this order:

    1. Unicode NFKC (ligatures, full-width forms, no-break spaces);
    2. ``\\r\\n`` and ``\\r`` become ``\\n``; control characters other than tab, newline, VT and FF
       (e.g. NUL) are removed;
    3. a hyphen (``-``, U+2010 or soft hyphen U+00AD) between word characters and followed by a single
       line break is removed with the break (``"main-\\ntenance"`` -> ``"maintenance"``);
    4. remaining soft hyphens are removed;
    5. Unicode case folding (a stricter lower-casing);
    6. every whitespace run becomes one space and the ends are stripped.
    """
    return _collapse(_repair(text).casefold())


def content_hash(pages: list[str]) -> str:
    """Level-2 de-duplication key: sha256 hex of the normalised, non-empty pages joined by one space.

    Page layout, metadata and blank pages do not change it; any change of wording does.
    """
    normalised = (normalise_text(page) for page in pages)
    return hashlib.sha256(" ".join(page for page in normalised if page).encode("utf-8")).hexdigest()


def chunk_pages(pages: list[str], *, target_chars: int = 1200, overlap_chars: int = 150) -> list[Chunk]:
    """Split each page into passages of at most ``target_chars`` characters for search indexing.

    Passages break at sentence ends (which include paragraph ends); a sentence too long for a passage is
    split between words, and a word too long is cut. Each passage after the first of a page starts with up
    to ``overlap_chars`` characters (whole words) from the end of the previous one. Passages never span
    pages, blank pages yield none, the text keeps its case (it is shown to users) but its whitespace is
    tidied, and ``index`` runs 0, 1, 2... across the document.
    """
    if target_chars < 20 or not 0 <= overlap_chars <= target_chars // 2:
        raise ValueError("need target_chars >= 20 and 0 <= overlap_chars <= target_chars // 2")
    chunks: list[Chunk] = []
    for page_number, page in enumerate(pages, start=1):
        for text in _page_passages(page, target_chars, overlap_chars):
            chunks.append(Chunk(index=len(chunks), page=page_number, text=text))
    return chunks


def _page_passages(page: str, target_chars: int, overlap_chars: int) -> list[str]:
    """Greedily pack a page's sentences into passages, each prefixed with the previous one's tail."""
    max_unit = target_chars - overlap_chars - 1  # a unit always fits after an overlap prefix
    passages: list[str] = []
    current = ""
    for unit in _units(page, max_unit):
        if current and len(current) + 1 + len(unit) > target_chars:
            passages.append(current)
            current = _tail(current, overlap_chars)
        current = f"{current} {unit}" if current else unit
    if current:
        passages.append(current)
    return passages


def _units(page: str, max_len: int) -> list[str]:
    """The page's sentences (whitespace tidied), each split further to at most ``max_len`` characters."""
    units: list[str] = []
    for paragraph in _PARAGRAPH_BREAK.split(_repair(page)):
        for sentence in _SENTENCE_END.split(_collapse(paragraph)):
            if sentence:
                units.extend(_split_long(sentence, max_len))
    return units


def _split_long(text: str, max_len: int) -> list[str]:
    """Split ``text`` between words into pieces of at most ``max_len``; cut words that are longer."""
    pieces: list[str] = []
    current = ""
    for word in text.split(" "):
        if current and len(current) + 1 + len(word) > max_len:
            pieces.append(current)
            current = ""
        while len(word) > max_len:  # only reached with ``current`` empty
            pieces.append(word[:max_len])
            word = word[max_len:]
        current = f"{current} {word}" if current else word
    if current:
        pieces.append(current)
    return pieces


def _tail(text: str, max_chars: int) -> str:
    """The last whole words of ``text`` that fit in ``max_chars`` characters ('' if none fit)."""
    if max_chars <= 0:
        return ""
    if len(text) <= max_chars:
        return text
    cut = text[-max_chars:]
    if text[-max_chars - 1] == " ":
        return cut.strip()
    _, space, rest = cut.partition(" ")
    return rest.strip() if space else ""
