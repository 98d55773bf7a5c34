"""The support assistant (seed 003): chat, documents and media, complaints, product queries."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, File, UploadFile, status

from homeops.assistant.chat import ChatService
from homeops.assistant.complaints import ComplaintService
from homeops.assistant.files import DOCUMENT_MAX_BYTES, MEDIA_MAX_BYTES, FileService
from homeops.assistant.models import ComplaintStatus, ProcessingStatus
from homeops.assistant.schemas import (
    ComplaintIn,
    ComplaintOut,
    ComplaintPatch,
    DocumentOut,
    ExchangeOut,
    MediaOut,
    MessageIn,
    ProductQueryIn,
    ProductQueryOut,
    SessionDetailOut,
    SessionIn,
    SessionOut,
    TranscriptionOut,
)
from homeops.core.pagination import Page, PageParams, page_params
from homeops.core.routing import MB, body_limit
from homeops.core.schemas import DownloadOut
from homeops.identity.deps import Uow
from homeops.troubleshooting.models import Priority

router = APIRouter(prefix="/api/v1", tags=["assistant"])
PREFIX = "/assistant"


async def _chat(uow: Uow) -> ChatService:
    return ChatService(uow)


async def _files(uow: Uow) -> FileService:
    return FileService(uow)


async def _complaints(uow: Uow) -> ComplaintService:
    return ComplaintService(uow)


Chat = Annotated[ChatService, Depends(_chat)]
Files = Annotated[FileService, Depends(_files)]
Complaints = Annotated[ComplaintService, Depends(_complaints)]
Paging = Annotated[PageParams, Depends(page_params)]


# --- chat ---------------------------------------------------------------------------------------------
@router.post(f"{PREFIX}/sessions", status_code=status.HTTP_201_CREATED, response_model=SessionOut)
async def create_session(body: SessionIn, svc: Chat) -> SessionOut:
    """Opens a chat; with `device_id` (a device you can see) answers draw on that device's manuals."""
    return await svc.create(body)


@router.get(f"{PREFIX}/sessions", response_model=Page[SessionOut])
async def list_sessions(svc: Chat, page: Paging) -> Page[SessionOut]:
    """Your chat sessions, newest first (keyset pagination)."""
    items, cursor = await svc.list_mine(page)
    return Page(items=items, next_cursor=cursor)


@router.get(f"{PREFIX}/sessions/{{session_id}}", response_model=SessionDetailOut)
async def get_session(session_id: uuid.UUID, svc: Chat) -> SessionDetailOut:
    """A chat session with its messages, oldest first."""
    return await svc.get(session_id)


@router.delete(f"{PREFIX}/sessions/{{session_id}}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_session(session_id: uuid.UUID, svc: Chat) -> None:
    await svc.delete(session_id)


@router.post(
    f"{PREFIX}/sessions/{{session_id}}/messages",
    status_code=status.HTTP_201_CREATED,
    response_model=ExchangeOut,
)
async def post_message(session_id: uuid.UUID, body: MessageIn, svc: Chat) -> ExchangeOut:
    """Stores your message and the assistant's reply. The reply cites manual passages as
    "(<title>, p. <page>)" and lists matching known problems (metadata: citations, problems, responder)."""
    return await svc.post(session_id, body.content)


# --- documents ----------------------------------------------------------------------------------------
@router.post(f"{PREFIX}/documents", status_code=status.HTTP_201_CREATED, response_model=DocumentOut)
@body_limit(DOCUMENT_MAX_BYTES + MB)  # the file, plus the form around it
async def upload_document(
    svc: Files, file: Annotated[UploadFile, File(description="PDF, DOCX, TXT, PNG or JPEG")]
) -> DocumentOut:
    """Stores a document (≤ 25 MB; type from its content, which must match its extension) and processes it
    in the background: `processing_status` pending → processing → completed | failed."""
    data = await file.read(DOCUMENT_MAX_BYTES + 1)
    return await svc.upload_document(data, file.filename)


@router.get(f"{PREFIX}/documents", response_model=Page[DocumentOut])
async def list_documents(
    svc: Files, page: Paging, processing_status: ProcessingStatus | None = None
) -> Page[DocumentOut]:
    items, cursor = await svc.list_documents(page, processing_status)
    return Page(items=items, next_cursor=cursor)


@router.get(f"{PREFIX}/documents/{{document_id}}", response_model=DocumentOut)
async def get_document(document_id: uuid.UUID, svc: Files) -> DocumentOut:
    return await svc.get_document(document_id)


@router.get(f"{PREFIX}/documents/{{document_id}}/download", response_model=DownloadOut)
async def download_document(document_id: uuid.UUID, svc: Files) -> DownloadOut:
    """A signed URL valid for 15 minutes; records `last_accessed`."""
    return await svc.download_document(document_id)


@router.delete(f"{PREFIX}/documents/{{document_id}}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_document(document_id: uuid.UUID, svc: Files) -> None:
    """Deletes the row, then (after the commit) the stored file."""
    await svc.delete_document(document_id)


# --- media --------------------------------------------------------------------------------------------
@router.post(f"{PREFIX}/media", status_code=status.HTTP_201_CREATED, response_model=MediaOut)
@body_limit(MEDIA_MAX_BYTES + MB)
async def upload_media(
    svc: Files, file: Annotated[UploadFile, File(description="mp3, wav, m4a, ogg, mp4, webm, mov")]
) -> MediaOut:
    """Stores an audio or video file (≤ 200 MB) and processes it in the background (duration when it can
    be read, transcript when a transcriber is installed; otherwise `transcription_status` "unavailable")."""
    data = await file.read(MEDIA_MAX_BYTES + 1)
    return await svc.upload_media(data, file.filename, file.content_type)


@router.get(f"{PREFIX}/media", response_model=Page[MediaOut])
async def list_media(
    svc: Files, page: Paging, processing_status: ProcessingStatus | None = None
) -> Page[MediaOut]:
    items, cursor = await svc.list_media(page, processing_status)
    return Page(items=items, next_cursor=cursor)


@router.get(f"{PREFIX}/media/{{media_id}}", response_model=MediaOut)
async def get_media(media_id: uuid.UUID, svc: Files) -> MediaOut:
    return await svc.get_media(media_id)


@router.get(f"{PREFIX}/media/{{media_id}}/download", response_model=DownloadOut)
async def download_media(media_id: uuid.UUID, svc: Files) -> DownloadOut:
    return await svc.download_media(media_id)


@router.get(f"{PREFIX}/media/{{media_id}}/transcriptions", response_model=list[TranscriptionOut])
async def media_transcriptions(media_id: uuid.UUID, svc: Files) -> list[TranscriptionOut]:
    return await svc.transcriptions(media_id)


@router.delete(f"{PREFIX}/media/{{media_id}}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_media(media_id: uuid.UUID, svc: Files) -> None:
    await svc.delete_media(media_id)


# --- complaints ---------------------------------------------------------------------------------------
@router.post(f"{PREFIX}/complaints", status_code=status.HTTP_201_CREATED, response_model=ComplaintOut)
async def create_complaint(body: ComplaintIn, svc: Complaints) -> ComplaintOut:
    """Files a complaint (status new). `sentiment_score` ∈ [-1, 1] is explained term by term in
    `metadata.sentiment`; without `priority`, the score sets it (the more negative, the more urgent)."""
    return await svc.create(body)


@router.get(f"{PREFIX}/complaints", response_model=Page[ComplaintOut])
async def list_complaints(
    svc: Complaints, page: Paging, status: ComplaintStatus | None = None, priority: Priority | None = None
) -> Page[ComplaintOut]:
    """Your complaints; support staff see everyone's. Newest first."""
    items, cursor = await svc.search(page, status, priority)
    return Page(items=items, next_cursor=cursor)


@router.get(f"{PREFIX}/complaints/{{complaint_id}}", response_model=ComplaintOut)
async def get_complaint(complaint_id: uuid.UUID, svc: Complaints) -> ComplaintOut:
    return await svc.get(complaint_id)


@router.patch(f"{PREFIX}/complaints/{{complaint_id}}", response_model=ComplaintOut)
async def update_complaint(complaint_id: uuid.UUID, body: ComplaintPatch, svc: Complaints) -> ComplaintOut:
    """new → in_progress → resolved (staff) → closed (owner or staff; the owner may also withdraw a new or
    in-progress complaint). Any other change is 409 `invalid_status_transition`."""
    return await svc.update(complaint_id, body)


# --- product queries ----------------------------------------------------------------------------------
@router.post(f"{PREFIX}/product-queries", status_code=status.HTTP_201_CREATED, response_model=ProductQueryOut)
async def create_product_query(body: ProductQueryIn, svc: Chat) -> ProductQueryOut:
    """Answers a question about a product from the catalog (`model_id`, or a `product_id` naming one model
    number) and its manuals, and stores both."""
    return await svc.ask_product(body)


@router.get(f"{PREFIX}/product-queries", response_model=Page[ProductQueryOut])
async def list_product_queries(svc: Chat, page: Paging) -> Page[ProductQueryOut]:
    items, cursor = await svc.list_product_queries(page)
    return Page(items=items, next_cursor=cursor)


@router.get(f"{PREFIX}/product-queries/{{query_id}}", response_model=ProductQueryOut)
async def get_product_query(query_id: uuid.UUID, svc: Chat) -> ProductQueryOut:
    return await svc.get_product_query(query_id)
