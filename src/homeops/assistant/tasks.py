"""Background jobs of the assistant domain (registered on import; see homeops.core.jobs).

``assistant.process_document`` and ``assistant.process_media`` move an upload from ``pending`` through
``processing`` (committed at once so clients see it) to ``completed`` or ``failed``. They act for the uploader
(``job.act_for(user_id)``: the worker role with that user's identity, under the same row policies as their
requests — no system-wide access to anyone's files). They read files through the process runtime's storage
(``job.runtime.storage``) and transcribe with the assistant's transcriber resource
(``transcription.transcriber_of``). An unreadable file is a result (``failed`` with a reason in metadata); an
unavailable storage raises, so the job is retried.
"""

from __future__ import annotations

import html
import io
import logging
import re
import struct
import uuid
import wave
import zipfile
from typing import Any

from anyio import to_thread
from pypdf import PdfReader
from pypdf.errors import PyPdfError
from sqlalchemy.ext.asyncio import AsyncSession

from homeops.assistant import transcription
from homeops.assistant.models import Document, MediaFile, ProcessingStatus, Transcription
from homeops.assistant.repository import ProcessingRepository
from homeops.core.jobs import JobContext, registry
from homeops.core.storage import ObjectNotFound, Storage
from homeops.manuals.extraction import ExtractionError, extract_pdf

log = logging.getLogger(__name__)

PROCESS_DOCUMENT = "assistant.process_document"
PROCESS_MEDIA = "assistant.process_media"
MAX_DOCX_XML_BYTES = 50 * 1024 * 1024
_DOCX_TEXT = re.compile(r"<w:t(?:\s[^>]*)?>([^<]*)</w:t>")
_DOCX_PARAGRAPH = re.compile(r"<w:p[\s>]")
_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


class Unreadable(Exception):
    """The file's content cannot be processed; ``reason`` is stored in its metadata."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- documents --------------------------------------------------------------------------------------------
async def _as_uploader(job: JobContext, payload: dict[str, Any]) -> AsyncSession | None:
    """The job's transaction acting for the upload's owner; None when the account is gone (so are its files)
    or the job predates ``user_id`` in the payload (the worker cannot look the owner up: it has no access)."""
    if "user_id" not in payload:
        log.warning("upload job without user_id; skipped", extra={"job_id": job.job_id})
        return None
    uow = await job.act_for(uuid.UUID(payload["user_id"]))
    if uow is None:
        log.info("uploader gone; nothing to process", extra={"job_id": job.job_id})
        return None
    return uow.session


@registry.task(PROCESS_DOCUMENT, max_attempts=3, retry_backoff_seconds=30)
async def process_document_task(job: JobContext, payload: dict[str, Any]) -> None:
    session = await _as_uploader(job, payload)
    if session is not None:
        await process_document(
            session, uuid.UUID(payload["user_id"]), uuid.UUID(payload["document_id"]), job.runtime.storage
        )


async def process_document(
    session: AsyncSession, user_id: uuid.UUID, document_id: uuid.UUID, storage: Storage
) -> ProcessingStatus | None:
    """``session`` acts for ``user_id`` (the uploader)."""
    repo = ProcessingRepository(session)
    if not await repo.mark_processing(Document, user_id, document_id):
        return None  # deleted meanwhile, or already finished
    doc = await repo.document(user_id, document_id)
    if doc is None:
        return None
    try:
        data = await to_thread.run_sync(storage.get, doc.storage_key)
        details = await to_thread.run_sync(inspect_document, doc.file_type, data)
    except (Unreadable, ObjectNotFound) as exc:
        reason = exc.reason if isinstance(exc, Unreadable) else "file_missing"
        await repo.finish(doc, ProcessingStatus.failed, {"failure_reason": reason})
        log.info("document failed", extra={"document_id": str(document_id), "reason": reason})
        return ProcessingStatus.failed
    await repo.finish(doc, ProcessingStatus.completed, details)
    return ProcessingStatus.completed


def inspect_document(file_type: str, data: bytes) -> dict[str, Any]:
    """What processing records about a document, by type; raises :class:`Unreadable`."""
    if file_type == "pdf":
        return _pdf(data)
    if file_type == "docx":
        return _docx(data)
    if file_type == "txt":
        text = data.decode("utf-8", errors="replace")
        return {
            "line_count": len(text.splitlines()),
            "word_count": len(text.split()),
            "char_count": len(text),
        }
    if file_type == "png":
        if len(data) < 24 or data[12:16] != b"IHDR":
            raise Unreadable("corrupt")
        width, height = struct.unpack(">II", data[16:24])
        return {"width": width, "height": height}
    if file_type == "jpeg":
        return _jpeg_size(data)
    raise Unreadable("unsupported_type")


def _pdf(data: bytes) -> dict[str, Any]:
    try:
        doc = extract_pdf(data)
    except ExtractionError as exc:
        if exc.reason != "empty":
            raise Unreadable(exc.reason) from exc
        try:  # a scan without a text layer is still a readable document
            return {"page_count": len(PdfReader(io.BytesIO(data)).pages), "text_chars": 0}
        except (PyPdfError, ValueError, OSError) as inner:
            raise Unreadable("corrupt") from inner
    return {
        "page_count": doc.page_count,
        "text_chars": sum(len(p) for p in doc.pages),
        "pdf_metadata": doc.metadata,
    }


def _docx(data: bytes) -> dict[str, Any]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            info = archive.getinfo("word/document.xml")
            if info.file_size > MAX_DOCX_XML_BYTES:
                raise Unreadable("too_large")
            xml = archive.read(info).decode("utf-8", errors="replace")
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise Unreadable("corrupt") from exc
    text = " ".join(html.unescape(t) for t in _DOCX_TEXT.findall(xml))
    return {"paragraph_count": len(_DOCX_PARAGRAPH.findall(xml)), "word_count": len(text.split())}


def _jpeg_size(data: bytes) -> dict[str, Any]:
    """Width and height from the first start-of-frame marker."""
    i = 2
    while i + 9 <= len(data):
        if data[i] != 0xFF:
            raise Unreadable("corrupt")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte before a marker
            i += 1
            continue
        if marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return {"width": width, "height": height}
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        i += 2 + length
    raise Unreadable("corrupt")


# --- media ------------------------------------------------------------------------------------------------
@registry.task(PROCESS_MEDIA, max_attempts=3, retry_backoff_seconds=60)
async def process_media_task(job: JobContext, payload: dict[str, Any]) -> None:
    session = await _as_uploader(job, payload)
    if session is None:
        return
    runtime = job.runtime
    engine = transcription.transcriber_of(runtime)
    await process_media(
        session,
        uuid.UUID(payload["user_id"]),
        uuid.UUID(payload["media_id"]),
        runtime.storage,
        engine,
        transcription.unavailable_reason(runtime),
    )


async def process_media(
    session: AsyncSession,
    user_id: uuid.UUID,
    media_id: uuid.UUID,
    storage: Storage,
    engine: transcription.Transcriber | None,
    unavailable: str = transcription.NO_TRANSCRIBER,
) -> ProcessingStatus | None:
    """``session`` acts for ``user_id`` (the uploader). ``engine`` None: completes without a transcript,
    recording ``unavailable`` as the reason."""
    repo = ProcessingRepository(session)
    if not await repo.mark_processing(MediaFile, user_id, media_id):
        return None
    media = await repo.media(user_id, media_id)
    if media is None:
        return None
    try:
        data = await to_thread.run_sync(storage.get, media.storage_key)
    except ObjectNotFound:
        await repo.finish(media, ProcessingStatus.failed, {"failure_reason": "file_missing"})
        return ProcessingStatus.failed
    duration = wav_duration(data) if media.metadata_.get("format") == "wav" else None
    if engine is None:
        await repo.finish(
            media,
            ProcessingStatus.completed,
            {"transcript": "unavailable", "reason": unavailable},
            duration=duration,
        )
        return ProcessingStatus.completed
    try:
        result = await to_thread.run_sync(
            lambda: engine.transcribe(data, filename=media.filename, content_type=media.content_type)
        )
    except transcription.TranscriptionError as exc:
        await repo.finish(
            media,
            ProcessingStatus.failed,
            {"transcript": "failed", "reason": str(exc)[:300], "engine": engine.name},
            duration=duration,
        )
        return ProcessingStatus.failed
    await repo.add(
        Transcription(
            media_id=media.id,
            user_id=media.user_id,
            content=result.text,
            language=result.language[:10],
            confidence_score=result.confidence,
            metadata_={"engine": engine.name, **result.metadata},
        )
    )
    await repo.finish(
        media,
        ProcessingStatus.completed,
        {"transcript": "completed", "engine": engine.name},
        duration=duration,
    )
    return ProcessingStatus.completed


def wav_duration(data: bytes) -> int | None:
    """Whole seconds (rounded) of a PCM WAV file; ``None`` when the stdlib cannot read it."""
    try:
        with wave.open(io.BytesIO(data)) as w:
            rate = w.getframerate()
            return int(w.getnframes() / rate + 0.5) if rate else None
    except (wave.Error, EOFError, struct.error):
        return None
