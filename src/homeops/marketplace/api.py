"""The marketplace's REST API (seed 002): providers and portfolios, diagnostics, service requests, quotes,
projects, ratings and the project chat (its WebSocket is in ``realtime``)."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Response, UploadFile, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from homeops.core.openapi import errors
from homeops.core.pagination import Page, PageParams, page_params
from homeops.core.schemas import DownloadOut
from homeops.identity.deps import AdminUow, Uow
from homeops.marketplace.chat import ChatService
from homeops.marketplace.diagnostics import DiagnosticService
from homeops.marketplace.models import ProjectStatus, ProviderType, QuoteStatus, RequestStatus
from homeops.marketplace.projects import ProjectService
from homeops.marketplace.providers import PortfolioService, ProviderService
from homeops.marketplace.quotes import QuoteService
from homeops.marketplace.ratings import RatingService
from homeops.marketplace.requests import RequestService
from homeops.marketplace.schemas import (
    CancelIn,
    ChatMessageOut,
    ChatReadIn,
    ChatSendIn,
    DiagnosticOut,
    FeatureIn,
    HelpfulIn,
    PortfolioItemOut,
    PortfolioPatch,
    ProjectOut,
    ProjectPatch,
    ProjectStatusIn,
    ProviderCardOut,
    ProviderIn,
    ProviderOut,
    ProviderRequestOut,
    QuoteIn,
    QuoteOut,
    RatingIn,
    RatingOut,
    RatingPatch,
    ReadOut,
    RejectIn,
    ResponseIn,
    ReviewSummaryOut,
    ServiceCategoryOut,
    ServiceRequestIn,
    ServiceRequestOut,
    UnreadOut,
    VerifyIn,
    WorkNoteIn,
)

router = APIRouter(prefix="/api/v1", tags=["marketplace"])
Paging = Annotated[PageParams, Depends(page_params)]
MB = 1024 * 1024
UPLOAD_LIMIT = 25 * MB  # read at most this much of a file part; the services apply the real limits


async def _read(file: UploadFile) -> bytes:
    return await file.read(UPLOAD_LIMIT + 1)


# --- providers ---------------------------------------------------------------------------------------


@router.get("/service-categories", response_model=list[ServiceCategoryOut])
async def service_categories(uow: Uow) -> list[ServiceCategoryOut]:
    """The reference list of services providers offer and requests are about."""
    return await ProviderService(uow).service_categories()


@router.put("/providers/me", response_model=ProviderOut, responses={201: {"model": ProviderOut}})
async def put_my_profile(body: ProviderIn, uow: Uow, response: Response) -> ProviderOut:
    """Create (201) or replace (200) your provider profile. A homeowner who opens one becomes a provider.
    It appears in search once an admin verified it."""
    out, created = await ProviderService(uow).put_mine(body)
    if created:
        response.status_code = status.HTTP_201_CREATED
    return out


@router.get("/providers/me", response_model=ProviderOut)
@errors(403)
async def my_profile(uow: Uow) -> ProviderOut:
    return await ProviderService(uow).mine()


@router.get("/providers", response_model=Page[ProviderCardOut])
async def search_providers(
    uow: Uow,
    page: Paging,
    q: Annotated[str | None, Query(max_length=200, description="Full text over name and description")] = None,
    service: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]{1,49}$")] = None,
    city: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    district: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    min_rating: Annotated[float | None, Query(ge=0, le=5, description="At least this average rating")] = None,
    provider_type: ProviderType | None = None,
) -> Page[ProviderCardOut]:
    """Verified providers, featured first, then by rating (keyset pages)."""
    items, cursor = await ProviderService(uow).search(
        query=q.strip() if q and q.strip() else None,
        service=service,
        city=city,
        district=district,
        min_rating=Decimal(str(min_rating)) if min_rating is not None else None,
        provider_type=provider_type.value if provider_type else None,
        limit=page.limit,
        cursor=page.cursor,
    )
    return Page(items=items, next_cursor=cursor)


@router.get("/providers/me/matching-requests", response_model=Page[ProviderRequestOut])
async def matching_requests(
    uow: Uow, page: Paging, provider_id: uuid.UUID | None = None
) -> Page[ProviderRequestOut]:
    """Open requests matching your services and coverage, newest first (without the owners' contact
    details). Verified providers only."""
    items, cursor = await RequestService(uow).matching(page, provider_id)
    return Page(items=items, next_cursor=cursor)


@router.get("/providers/me/quotes", response_model=Page[QuoteOut])
async def my_quotes(
    uow: Uow, page: Paging, status: QuoteStatus | None = None, provider_id: uuid.UUID | None = None
) -> Page[QuoteOut]:
    items, cursor = await QuoteService(uow).mine(page, status, provider_id)
    return Page(items=items, next_cursor=cursor)


@router.get("/providers/{provider_id}", response_model=ProviderOut)
async def get_provider(provider_id: uuid.UUID, uow: Uow) -> ProviderOut:
    return await ProviderService(uow).get(provider_id)


@router.post("/providers/{provider_id}/verify", response_model=ProviderOut)
async def verify_provider(provider_id: uuid.UUID, uow: AdminUow, body: VerifyIn | None = None) -> ProviderOut:
    """(Admin.) Verify (or, ``{"verified": false}``, un-verify) a provider."""
    return await ProviderService(uow).verify(provider_id, (body or VerifyIn()).verified)


@router.post("/providers/{provider_id}/feature", response_model=ProviderOut)
async def feature_provider(
    provider_id: uuid.UUID, uow: AdminUow, body: FeatureIn | None = None
) -> ProviderOut:
    return await ProviderService(uow).feature(provider_id, (body or FeatureIn()).featured)


@router.get("/providers/{provider_id}/portfolio", response_model=list[PortfolioItemOut])
async def provider_portfolio(provider_id: uuid.UUID, uow: Uow) -> list[PortfolioItemOut]:
    """Featured items first, then by display order."""
    return await PortfolioService(uow).of_provider(provider_id)


@router.post("/providers/me/portfolio", status_code=status.HTTP_201_CREATED, response_model=PortfolioItemOut)
async def add_portfolio_item(
    uow: Uow,
    title: Annotated[str, Form(min_length=1, max_length=255)],
    images: Annotated[list[UploadFile], File(description="1–20 JPEG, PNG or WebP photos")],
    description: Annotated[str | None, Form(max_length=10_000)] = None,
    project_type: Annotated[str | None, Form(pattern=r"^[a-z][a-z0-9_]{1,49}$")] = None,
    project_date: Annotated[date | None, Form()] = None,
    location: Annotated[str | None, Form(max_length=255)] = None,
    display_order: Annotated[int, Form(ge=0, le=1000)] = 0,
    is_featured: Annotated[bool, Form()] = False,
    captions: Annotated[list[str] | None, Form(description="One caption per image, in order")] = None,
    provider_id: Annotated[uuid.UUID | None, Form()] = None,
) -> PortfolioItemOut:
    try:
        fields = PortfolioPatch.model_validate(
            {
                "title": title,
                "description": description,
                "project_type": project_type,
                "project_date": project_date,
                "location": location,
                "display_order": display_order,
                "is_featured": is_featured,
            }
        )
    except ValidationError as exc:  # the form's fields answer like a JSON body's (422 problem+json)
        raise RequestValidationError(
            [{**e, "loc": ("body", *e.get("loc", ()))} for e in exc.errors(include_url=False)]
        ) from exc
    caps = captions or []
    files = [(await _read(f), f.filename, caps[i] if i < len(caps) else None) for i, f in enumerate(images)]
    return await PortfolioService(uow).create(provider_id, fields, files)


@router.patch("/portfolio/{item_id}", response_model=PortfolioItemOut)
async def update_portfolio_item(item_id: uuid.UUID, body: PortfolioPatch, uow: Uow) -> PortfolioItemOut:
    return await PortfolioService(uow).update(item_id, body)


@router.post(
    "/portfolio/{item_id}/images", status_code=status.HTTP_201_CREATED, response_model=PortfolioItemOut
)
async def add_portfolio_image(
    item_id: uuid.UUID,
    uow: Uow,
    image: Annotated[UploadFile, File()],
    caption: Annotated[str | None, Form(max_length=255)] = None,
) -> PortfolioItemOut:
    return await PortfolioService(uow).add_image(item_id, await _read(image), caption)


@router.delete("/portfolio/{item_id}/images/{index}", response_model=PortfolioItemOut)
async def remove_portfolio_image(item_id: uuid.UUID, index: int, uow: Uow) -> PortfolioItemOut:
    return await PortfolioService(uow).remove_image(item_id, index)


@router.get("/portfolio/{item_id}/images/{index}", response_model=DownloadOut)
async def portfolio_image(item_id: uuid.UUID, index: int, uow: Uow) -> DownloadOut:
    return await PortfolioService(uow).image(item_id, index)


@router.delete("/portfolio/{item_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_portfolio_item(item_id: uuid.UUID, uow: Uow) -> None:
    await PortfolioService(uow).delete(item_id)


@router.get("/providers/{provider_id}/reviews", response_model=Page[RatingOut])
async def provider_reviews(
    provider_id: uuid.UUID,
    uow: Uow,
    page: Paging,
    q: Annotated[str | None, Query(max_length=200, description="Full text over the reviews")] = None,
    featured: bool = False,
) -> Page[RatingOut]:
    items, cursor = await RatingService(uow).of_provider(
        provider_id, page, query=q.strip() if q and q.strip() else None, featured=featured
    )
    return Page(items=items, next_cursor=cursor)


@router.get("/providers/{provider_id}/reviews/summary", response_model=ReviewSummaryOut)
async def provider_review_summary(provider_id: uuid.UUID, uow: Uow) -> ReviewSummaryOut:
    """The distribution of overall ratings (5★ … 1★), the average of each dimension, would-recommend %."""
    return await RatingService(uow).summary(provider_id)


# --- diagnostics -------------------------------------------------------------------------------------


@router.post("/diagnostics", status_code=status.HTTP_201_CREATED, response_model=DiagnosticOut)
async def create_diagnostic(
    uow: Uow,
    image: Annotated[UploadFile, File(description="A JPEG, PNG or WebP photo of the problem")],
    description: Annotated[str | None, Form(max_length=5000)] = None,
    category_hint: Annotated[str | None, Form(pattern=r"^[a-z][a-z0-9_]{1,49}$")] = None,
    home_id: Annotated[uuid.UUID | None, Form()] = None,
    device_id: Annotated[uuid.UUID | None, Form()] = None,
) -> DiagnosticOut:
    """Analyses the photo (offline and explainable by default: `explanation.basis`). Location and other EXIF
    data are removed from the stored image; the image is deleted after 90 days, the result stays. Under 70 %
    confidence the answer carries a `warning`; DIY advice only for low-risk problems."""
    return await DiagnosticService(uow).create(
        await _read(image),
        image.filename,
        description=description,
        category_hint=category_hint,
        home_id=home_id,
        device_id=device_id,
    )


@router.get("/diagnostics", response_model=Page[DiagnosticOut])
async def my_diagnostics(uow: Uow, page: Paging) -> Page[DiagnosticOut]:
    items, cursor = await DiagnosticService(uow).mine(page)
    return Page(items=items, next_cursor=cursor)


@router.get("/diagnostics/{diagnostic_id}", response_model=DiagnosticOut)
async def get_diagnostic(diagnostic_id: uuid.UUID, uow: Uow) -> DiagnosticOut:
    return await DiagnosticService(uow).get(diagnostic_id)


@router.get("/diagnostics/{diagnostic_id}/image", response_model=DownloadOut)
async def diagnostic_image(diagnostic_id: uuid.UUID, uow: Uow) -> DownloadOut:
    return await DiagnosticService(uow).image(diagnostic_id)


# --- requests ----------------------------------------------------------------------------------------


@router.post("/service-requests", status_code=status.HTTP_201_CREATED, response_model=ServiceRequestOut)
async def create_request(body: ServiceRequestIn, uow: Uow) -> ServiceRequestOut:
    """Post a request (from a diagnostic, for a home's devices, or on its own). It is open to matching
    verified providers until a quote is accepted, it is cancelled, or it expires (request_expiry_days)."""
    return await RequestService(uow).create(body)


@router.get("/service-requests", response_model=Page[ServiceRequestOut])
async def my_requests(uow: Uow, page: Paging, status: RequestStatus | None = None) -> Page[ServiceRequestOut]:
    items, cursor = await RequestService(uow).mine(page, status)
    return Page(items=items, next_cursor=cursor)


@router.get("/service-requests/{request_id}", response_model=ServiceRequestOut | ProviderRequestOut)
async def get_request(request_id: uuid.UUID, uow: Uow) -> ServiceRequestOut | ProviderRequestOut:
    """The requester's request; for a provider, its view of a request it matches, quoted on or was selected
    for (the contact details only once selected)."""
    return await RequestService(uow).get(request_id)


@router.post("/service-requests/{request_id}/cancel", response_model=ServiceRequestOut)
async def cancel_request(request_id: uuid.UUID, uow: Uow, body: CancelIn | None = None) -> ServiceRequestOut:
    """Before a provider is selected; pending quotes are rejected."""
    return await RequestService(uow).cancel(request_id, body or CancelIn())


@router.post(
    "/service-requests/{request_id}/images",
    status_code=status.HTTP_201_CREATED,
    response_model=ServiceRequestOut,
)
async def add_request_image(
    request_id: uuid.UUID, uow: Uow, image: Annotated[UploadFile, File()]
) -> ServiceRequestOut:
    return await RequestService(uow).add_image(request_id, await _read(image))


@router.get("/service-requests/{request_id}/images/{index}", response_model=DownloadOut)
async def request_image(request_id: uuid.UUID, index: int, uow: Uow) -> DownloadOut:
    return await RequestService(uow).image(request_id, index)


@router.post(
    "/service-requests/{request_id}/quotes", status_code=status.HTTP_201_CREATED, response_model=QuoteOut
)
async def submit_quote(request_id: uuid.UUID, body: QuoteIn, uow: Uow) -> QuoteOut:
    """(A verified provider whose services and coverage match.) One live quote per provider; the breakdown
    must add up to the total; valid for quote_validity_days; immutable (withdraw and resubmit instead)."""
    return await QuoteService(uow).submit(request_id, body)


@router.get("/service-requests/{request_id}/quotes", response_model=list[QuoteOut])
async def request_quotes(request_id: uuid.UUID, uow: Uow) -> list[QuoteOut]:
    """The requester: every quote, side by side with each provider's rating; a provider: its own."""
    return await QuoteService(uow).of_request(request_id)


# --- quotes ------------------------------------------------------------------------------------------


@router.get("/quotes/{quote_id}", response_model=QuoteOut)
async def get_quote(quote_id: uuid.UUID, uow: Uow) -> QuoteOut:
    return await QuoteService(uow).get(quote_id)


@router.post("/quotes/{quote_id}/accept", status_code=status.HTTP_201_CREATED, response_model=ProjectOut)
async def accept_quote(quote_id: uuid.UUID, uow: Uow) -> ProjectOut:
    """One transaction: this quote accepted, every other pending one rejected, the request's provider
    selected, the project created (scheduled). 409 when the request is no longer open."""
    return await QuoteService(uow).accept(quote_id)


@router.post("/quotes/{quote_id}/reject", response_model=QuoteOut)
async def reject_quote(quote_id: uuid.UUID, uow: Uow, body: RejectIn | None = None) -> QuoteOut:
    return await QuoteService(uow).reject(quote_id, body or RejectIn())


@router.post("/quotes/{quote_id}/withdraw", response_model=QuoteOut)
async def withdraw_quote(quote_id: uuid.UUID, uow: Uow) -> QuoteOut:
    return await QuoteService(uow).withdraw(quote_id)


# --- projects ----------------------------------------------------------------------------------------


@router.get("/projects", response_model=Page[ProjectOut])
async def my_projects(
    uow: Uow,
    page: Paging,
    as_: Annotated[Literal["requester", "provider"], Query(alias="as")] = "requester",
    status: ProjectStatus | None = None,
    provider_id: uuid.UUID | None = None,
) -> Page[ProjectOut]:
    """Your projects as the homeowner (default) or as the provider (``as=provider``), newest first."""
    items, cursor = await ProjectService(uow).mine(page, as_, status, provider_id)
    return Page(items=items, next_cursor=cursor)


@router.get("/projects/{project_id}", response_model=ProjectOut)
async def get_project(project_id: uuid.UUID, uow: Uow) -> ProjectOut:
    return await ProjectService(uow).get(project_id)


@router.patch("/projects/{project_id}", response_model=ProjectOut)
async def update_project(project_id: uuid.UUID, body: ProjectPatch, uow: Uow) -> ProjectOut:
    """Schedule dates (either side), payment status (the provider), satisfaction (the homeowner)."""
    return await ProjectService(uow).update(project_id, body)


@router.post("/projects/{project_id}/status", response_model=ProjectOut)
async def change_project_status(project_id: uuid.UUID, body: ProjectStatusIn, uow: Uow) -> ProjectOut:
    """scheduled → in_progress (provider) → completed (either; a different actual cost needs
    cost_difference_reason); scheduled/in_progress → cancelled (either); → disputed (either, with a note);
    disputed → any (a platform admin, the note is the resolution)."""
    return await ProjectService(uow).change_status(project_id, body)


@router.post("/projects/{project_id}/notes", status_code=status.HTTP_201_CREATED, response_model=ProjectOut)
async def add_work_note(project_id: uuid.UUID, body: WorkNoteIn, uow: Uow) -> ProjectOut:
    return await ProjectService(uow).add_note(project_id, body.note, [])


@router.post("/projects/{project_id}/files", status_code=status.HTTP_201_CREATED, response_model=ProjectOut)
async def add_project_file(
    project_id: uuid.UUID,
    uow: Uow,
    phase: Annotated[Literal["before", "during", "after", "documents"], Form()],
    file: Annotated[UploadFile, File()],
    caption: Annotated[str | None, Form(max_length=255)] = None,
) -> ProjectOut:
    """Before / during / after photos (either side) and the technical report or certificates (the provider,
    PDF or image)."""
    return await ProjectService(uow).add_file(project_id, phase, await _read(file), file.filename, caption)


@router.get("/projects/{project_id}/files/{phase}/{index}", response_model=DownloadOut)
async def project_file(project_id: uuid.UUID, phase: str, index: int, uow: Uow) -> DownloadOut:
    return await ProjectService(uow).file(project_id, phase, index)


@router.post("/projects/{project_id}/rating", status_code=status.HTTP_201_CREATED, response_model=RatingOut)
async def rate_project(project_id: uuid.UUID, body: RatingIn, uow: Uow) -> RatingOut:
    """(The homeowner, once the project is completed; once.) Editable for 30 days."""
    return await RatingService(uow).create(project_id, body)


# --- ratings -----------------------------------------------------------------------------------------


@router.get("/ratings/{rating_id}", response_model=RatingOut)
async def get_rating(rating_id: uuid.UUID, uow: Uow) -> RatingOut:
    return await RatingService(uow).get(rating_id)


@router.patch("/ratings/{rating_id}", response_model=RatingOut)
async def update_rating(rating_id: uuid.UUID, body: RatingPatch, uow: Uow) -> RatingOut:
    return await RatingService(uow).update(rating_id, body)


@router.post("/ratings/{rating_id}/response", response_model=RatingOut)
async def respond_to_rating(rating_id: uuid.UUID, body: ResponseIn, uow: Uow) -> RatingOut:
    """(The rated provider, once.)"""
    return await RatingService(uow).respond(rating_id, body.text)


@router.post("/ratings/{rating_id}/helpful", response_model=RatingOut)
async def vote_helpful(rating_id: uuid.UUID, uow: Uow, body: HelpfulIn | None = None) -> RatingOut:
    """One vote per user (``{"helpful": false}`` takes it back)."""
    return await RatingService(uow).vote(rating_id, (body or HelpfulIn()).helpful)


@router.post("/ratings/{rating_id}/feature", response_model=RatingOut)
async def feature_rating(rating_id: uuid.UUID, uow: AdminUow, body: FeatureIn | None = None) -> RatingOut:
    return await RatingService(uow).feature(rating_id, (body or FeatureIn()).featured)


# --- chat --------------------------------------------------------------------------------------------


@router.get("/projects/{project_id}/messages", response_model=Page[ChatMessageOut])
async def chat_history(project_id: uuid.UUID, uow: Uow, page: Paging) -> Page[ChatMessageOut]:
    """Newest first (keyset pages); what your side deleted is left out."""
    items, cursor = await ChatService(uow).history(project_id, page)
    return Page(items=items, next_cursor=cursor)


@router.post(
    "/projects/{project_id}/messages", status_code=status.HTTP_201_CREATED, response_model=ChatMessageOut
)
async def send_message(project_id: uuid.UUID, body: ChatSendIn, uow: Uow) -> ChatMessageOut:
    return await ChatService(uow).send(project_id, body.text, body.reply_to_message_id)


@router.post(
    "/projects/{project_id}/messages/files",
    status_code=status.HTTP_201_CREATED,
    response_model=ChatMessageOut,
)
async def send_file(
    project_id: uuid.UUID,
    uow: Uow,
    file: Annotated[UploadFile, File(description="A JPEG, PNG or WebP photo, or a PDF")],
    text: Annotated[str | None, Form(max_length=5000)] = None,
) -> ChatMessageOut:
    return await ChatService(uow).send_file(project_id, await _read(file), file.filename, text)


@router.post("/projects/{project_id}/messages/read", response_model=ReadOut)
async def mark_read(project_id: uuid.UUID, uow: Uow, body: ChatReadIn | None = None) -> ReadOut:
    """Marks the other side's messages read (up to a message, or all)."""
    return ReadOut(
        marked=await ChatService(uow).mark_read(project_id, (body or ChatReadIn()).up_to_message_id)
    )


@router.delete("/projects/{project_id}/messages/{message_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_message(project_id: uuid.UUID, message_id: uuid.UUID, uow: Uow) -> None:
    """Deletes it for your side; the message is removed once both sides deleted it."""
    await ChatService(uow).delete(project_id, message_id)


@router.get("/projects/{project_id}/messages/{message_id}/attachments/{index}", response_model=DownloadOut)
async def message_attachment(
    project_id: uuid.UUID, message_id: uuid.UUID, index: int, uow: Uow
) -> DownloadOut:
    return await ChatService(uow).attachment(project_id, message_id, index)


@router.get("/chat/unread", response_model=list[UnreadOut])
async def unread_counts(uow: Uow) -> list[UnreadOut]:
    """Unread messages per project (as the homeowner and as the provider)."""
    return await ChatService(uow).unread()
