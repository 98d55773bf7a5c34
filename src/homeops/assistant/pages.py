"""The support assistant in the browser: chats whose answers cite manual pages (each citation opens the
manual at its page), and documents and media uploads with their processing status.

Support staff (support and admin users, ``SupportPage``) work the complaints at ``/support/complaints``:
filters (status, priority) with keyset paging, a complaint's page with its sentiment explained, and the status
changes ``ComplaintService`` allows."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Response
from starlette.datastructures import UploadFile

from homeops.assistant.chat import ChatService
from homeops.assistant.complaints import TRANSITIONS, ComplaintService
from homeops.assistant.files import DOCUMENT_MAX_BYTES, MEDIA_MAX_BYTES, FileService
from homeops.assistant.models import ComplaintStatus
from homeops.assistant.schemas import ComplaintPatch, MessageIn, SessionIn
from homeops.core.pagination import PageParams
from homeops.core.web import (
    N_,
    NO_FORM,
    CursorQuery,
    FormError,
    FormState,
    NavItem,
    Page,
    Pages,
    _,
    form_model,
    page_router,
)
from homeops.devices.service import DeviceService
from homeops.identity.support import SUPPORT_NAV_ROLES, People, SupportPage
from homeops.identity.web import SignedInPage
from homeops.troubleshooting.models import Priority
from homeops.troubleshooting.pages import PRIORITY_KIND, PRIORITY_LABELS

router = page_router()

PROCESSING_LABELS = {
    "pending": N_("Waiting"),
    "processing": N_("Processing"),
    "completed": N_("Ready"),
    "failed": N_("Failed"),
}
MESSAGES = {
    "chat_session_not_found": N_("This chat does not exist or is not yours."),
    "document_not_found": N_("This document no longer exists."),
    "media_not_found": N_("This file no longer exists."),
    "unsupported_file_type": N_("This type of file is not accepted."),
    "file_type_mismatch": N_("The file's content does not match its extension."),
    "file_too_large": N_("The file is too large."),
    "empty_file": N_("The file is empty."),
    "complaint_not_found": N_("This complaint does not exist or you cannot see it."),
}
# The complaint pages' own words for codes other domains use too.
COMPLAINT_MESSAGES = {
    "invalid_status_transition": N_(
        "This complaint cannot change that way. Reload the page to see its current status."
    ),
}


# --- chats --------------------------------------------------------------------------------------------------------
async def _chats_page(
    page: Page, cursor: str | None, form: FormState = NO_FORM, status: int = 200
) -> Response:
    chats, next_cursor = await ChatService(page.uow).list_mine(PageParams(limit=25, cursor=cursor))
    devices, _more = await DeviceService(page.uow).search(PageParams(limit=200))
    return page.render(
        "assistant/chats.html",
        status=status,
        chats=chats,
        next_cursor=next_cursor,
        devices=devices,
        form=form,
    )


@router.get("/assistant")
async def chats(page: SignedInPage, cursor: CursorQuery = None) -> Response:
    return await _chats_page(page, cursor)


@router.post("/assistant")
async def new_chat(page: SignedInPage) -> Response:
    assert page.form is not None
    try:
        data = form_model(SessionIn, page.form, fields=("title", "device_id"))
        chat = await page.submit(lambda: ChatService(page.uow).create(data))
        question = str(page.form.get("content") or "").strip()
        if question:
            message = form_model(MessageIn, page.form, fields=("content",))
            await page.submit(lambda: ChatService(page.uow).post(chat.id, message.content))
    except FormError as exc:
        return await _chats_page(page, None, FormState.failed("new-chat", page.form, exc), exc.status)
    return page.redirect(f"/assistant/{chat.id}#latest")


async def _chat_page(
    page: Page, chat_id: uuid.UUID, form: FormState = NO_FORM, status: int = 200
) -> Response:
    chat = await ChatService(page.uow).get(chat_id)
    return page.render("assistant/chat.html", status=status, chat=chat, form=form)


@router.get("/assistant/{chat_id}")
async def chat(page: SignedInPage, chat_id: uuid.UUID) -> Response:
    return await _chat_page(page, chat_id)


@router.post("/assistant/{chat_id}/messages")
async def ask(page: SignedInPage, chat_id: uuid.UUID) -> Response:
    assert page.form is not None
    try:
        data = form_model(MessageIn, page.form, fields=("content",))
        await page.submit(lambda: ChatService(page.uow).post(chat_id, data.content))
    except FormError as exc:
        return await _chat_page(page, chat_id, FormState.failed("message", page.form, exc), exc.status)
    return page.redirect(f"/assistant/{chat_id}#latest")


@router.post("/assistant/{chat_id}/delete")
async def delete_chat(page: SignedInPage, chat_id: uuid.UUID) -> Response:
    await ChatService(page.uow).delete(chat_id)
    return page.redirect("/assistant", flash=_("The chat was deleted."))


# --- documents and media ------------------------------------------------------------------------------------------------
async def _files_page(page: Page, form: FormState = NO_FORM, status: int = 200) -> Response:
    files = FileService(page.uow)
    params = page.request.query_params
    documents, docs_next = await files.list_documents(
        PageParams(limit=20, cursor=params.get("documents")), None
    )
    media, media_next = await files.list_media(PageParams(limit=20, cursor=params.get("media")), None)
    statuses = [d.processing_status for d in documents] + [m.processing_status for m in media]
    busy = any(status in ("pending", "processing") for status in statuses)
    return page.render(
        "assistant/files.html",
        status=status,
        documents=documents,
        docs_next=docs_next,
        media=media,
        media_next=media_next,
        busy=busy,
        labels=PROCESSING_LABELS,
        form=form,
    )


@router.get("/assistant-files")
async def files(page: SignedInPage) -> Response:
    return await _files_page(page)


async def _upload(page: Page, kind: str) -> Response:
    assert page.form is not None
    upload = page.form.get("file")
    service = FileService(page.uow)
    try:
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise FormError(_("Check the highlighted fields."), {"file": _("Choose a file.")})
        limit = DOCUMENT_MAX_BYTES if kind == "document" else MEDIA_MAX_BYTES
        data = await upload.read(limit + 1)

        async def store() -> Any:
            if kind == "document":
                return await service.upload_document(data, upload.filename)
            return await service.upload_media(data, upload.filename, upload.content_type)

        await page.submit(store)
    except FormError as exc:
        return await _files_page(page, FormState.failed(kind, page.form, exc), exc.status)
    return page.redirect("/assistant-files", flash=_("Uploaded; it is being processed."))


@router.post("/assistant-files/documents")
async def upload_document(page: SignedInPage) -> Response:
    return await _upload(page, "document")


@router.post("/assistant-files/media")
async def upload_media(page: SignedInPage) -> Response:
    return await _upload(page, "media")


@router.get("/assistant-files/{kind}/{file_id}")
async def open_file(page: SignedInPage, kind: str, file_id: uuid.UUID) -> Response:
    service = FileService(page.uow)
    if kind == "documents":
        download = await service.download_document(file_id)
    elif kind == "media":
        download = await service.download_media(file_id)
    else:
        raise FormError(_("This page does not exist, or you cannot see it."), status=404)
    return page.finish(Response(status_code=303, headers={"Location": download.url}))


@router.post("/assistant-files/{kind}/{file_id}/delete")
async def delete_file(page: SignedInPage, kind: str, file_id: uuid.UUID) -> Response:
    service = FileService(page.uow)
    if kind == "documents":
        await service.delete_document(file_id)
    elif kind == "media":
        await service.delete_media(file_id)
    else:
        raise FormError(_("This page does not exist, or you cannot see it."), status=404)
    return page.redirect("/assistant-files", flash=_("The file was deleted."))


# --- complaints (support and admin staff) ------------------------------------------------------------------------------
COMPLAINT_LABELS = {
    ComplaintStatus.new: N_("New"),
    ComplaintStatus.in_progress: N_("In progress"),
    ComplaintStatus.resolved: N_("Resolved"),
    ComplaintStatus.closed: N_("Closed"),
}
COMPLAINT_KIND = {"new": "info", "in_progress": "warning", "resolved": "success", "closed": "neutral"}
# The buttons of the status changes ``TRANSITIONS`` allows.
COMPLAINT_MOVES = {
    ComplaintStatus.in_progress: N_("Start handling it"),
    ComplaintStatus.resolved: N_("Mark as resolved"),
    ComplaintStatus.closed: N_("Close the complaint"),
}


def _complaint_common() -> dict[str, Any]:
    return {
        "complaint_labels": COMPLAINT_LABELS,
        "complaint_kind": COMPLAINT_KIND,
        "priority_labels": PRIORITY_LABELS,
        "priority_kind": PRIORITY_KIND,
    }


@router.get("/support/complaints")
async def complaint_queue(
    page: SupportPage,
    status: ComplaintStatus | None = None,
    priority: Priority | None = None,
    cursor: CursorQuery = None,
) -> Response:
    """Everyone's complaints, newest first, 25 a page (keyset)."""
    items, next_cursor = await ComplaintService(page.uow).search(
        PageParams(limit=25, cursor=cursor), status, priority
    )
    people = await People(page.uow).by_ids(c.user_id for c in items)
    return page.render(
        "assistant/support_complaints.html",
        complaints=items,
        next_cursor=next_cursor,
        people=people,
        filtered=status is not None or priority is not None,
        status_filter=status,
        priority_filter=priority,
        statuses=[(str(k), _(v)) for k, v in COMPLAINT_LABELS.items()],
        priorities=[(str(k), _(v)) for k, v in PRIORITY_LABELS.items()],
        **_complaint_common(),
    )


async def _complaint_page(
    page: Page, complaint_id: uuid.UUID, form: FormState = NO_FORM, status: int = 200
) -> Response:
    complaint = await ComplaintService(page.uow).get(complaint_id)
    people = await People(page.uow).by_ids([complaint.user_id])
    moves = [
        (target.value, _(COMPLAINT_MOVES[target]))
        for target in sorted(TRANSITIONS[complaint.status], key=list(ComplaintStatus).index)
    ]
    sentiment = complaint.metadata.get("sentiment")
    return page.render(
        "assistant/support_complaint.html",
        status=status,
        complaint=complaint,
        owner=people.get(complaint.user_id),
        moves=moves,
        sentiment=sentiment if isinstance(sentiment, dict) else None,
        form=form,
        **_complaint_common(),
    )


@router.get("/support/complaints/{complaint_id}")
async def support_complaint(page: SupportPage, complaint_id: uuid.UUID) -> Response:
    return await _complaint_page(page, complaint_id)


@router.post("/support/complaints/{complaint_id}/status")
async def move_complaint(page: SupportPage, complaint_id: uuid.UUID) -> Response:
    assert page.form is not None
    try:
        data = form_model(ComplaintPatch, page.form, fields=("status",))
        await page.submit(lambda: ComplaintService(page.uow).update(complaint_id, data), COMPLAINT_MESSAGES)
    except FormError as exc:
        return await _complaint_page(
            page, complaint_id, FormState.failed("status", page.form, exc), exc.status
        )
    return page.redirect(
        f"/support/complaints/{complaint_id}",
        flash=_("The complaint is now: %(status)s.", status=_(COMPLAINT_LABELS[data.status])),
    )


pages = Pages.of(
    __file__,
    "assistant",
    router=router,
    nav=(
        NavItem(N_("Assistant"), "/assistant", order=40),
        NavItem(N_("Complaints"), "/support/complaints", order=71, roles=SUPPORT_NAV_ROLES),
    ),
    messages=MESSAGES,
)
