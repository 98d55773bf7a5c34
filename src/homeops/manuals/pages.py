"""The manual library's pages: opening a manual (at a cited page) from any page that lists or cites one."""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Query, Response

from homeops.core.web import Pages, page_router
from homeops.identity.web import SignedInPage
from homeops.manuals.service import ManualService

router = page_router()


@router.get("/manuals/{manual_id}/open")
async def open_manual(
    page: SignedInPage,
    manual_id: uuid.UUID,
    at: Annotated[int | None, Query(alias="page", ge=1, le=100_000)] = None,
) -> Response:
    """A redirect to a short-lived signed URL of the PDF, shown in the browser at ``page`` (``#page=N``, which
    PDF viewers follow)."""
    download = await ManualService(page.uow).download(manual_id, inline=True)
    url = download.url
    parts = urlsplit(url)
    if parts.netloc == page.request.url.netloc:
        url = parts.path + (
            f"?{parts.query}" if parts.query else ""
        )  # our own file route: stay on this origin
    if at is not None:
        url += f"#page={at}"
    return page.finish(Response(status_code=303, headers={"Location": url}))


pages = Pages.of(__file__, "manuals", router=router)
