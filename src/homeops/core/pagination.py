"""Keyset pagination: an opaque cursor holding the sort key of the last row returned."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from homeops.core.errors import Problem

T = TypeVar("T")

MAX_LIMIT = 200


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class PageParams(BaseModel):
    limit: int = 50
    cursor: str | None = None


async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


class InvalidCursor(Problem):
    status, code, title = 400, "invalid_cursor", "Invalid cursor"


def encode_cursor(ts: datetime, row_id: uuid.UUID) -> str:
    raw = json.dumps([ts.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        ts, row_id = json.loads(base64.urlsafe_b64decode(padded))
        return datetime.fromisoformat(ts), uuid.UUID(row_id)
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        raise InvalidCursor("The cursor is not one this API issued.") from exc


def build_page(rows: Sequence[Any], limit: int, key: Any) -> tuple[list[Any], str | None]:
    """``rows`` were fetched with ``limit + 1``; ``key(row)`` gives ``(timestamp, id)`` of a row."""
    items = list(rows[:limit])
    next_cursor = encode_cursor(*key(items[-1])) if len(rows) > limit and items else None
    return items, next_cursor


def encode_text_cursor(key: str, row_id: uuid.UUID) -> str:
    """Cursor for lists sorted by a text key (e.g. a lower-cased name) then id."""
    raw = json.dumps(["t", key, str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_text_cursor(cursor: str | None) -> tuple[str, uuid.UUID] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        tag, key, row_id = json.loads(base64.urlsafe_b64decode(padded))
        if tag != "t" or not isinstance(key, str):
            raise ValueError("not a text cursor")
        return key, uuid.UUID(row_id)
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        raise InvalidCursor("The cursor is not one this API issued.") from exc
