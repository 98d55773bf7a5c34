"""Pydantic base classes shared by every domain."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class StrictIn(BaseModel):
    """Request bodies: unknown fields are an error, strings are trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class DownloadOut(Out):
    """A signed, expiring URL for a stored file (never a public path)."""

    url: str
    expires_in: int
    expires_at: datetime
