"""E-mailed account tokens (e-mail verification, password reset): signed, expiring, single-use.

A token is ``<expires>.<random>.<signature>``: 32 random bytes, the expiry (Unix seconds) and an HMAC-SHA256 over
purpose, expiry and the random part with a key derived from the JWT secret. The server checks the signature and
the expiry before it touches the database (a forged or stale token costs no query and no password hash); the
database stores only the token's SHA-256 and consumes it once (``homeops_verify_email``,
``homeops_reset_password``), checking the expiry again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime
from typing import Literal

from homeops.core.config import Settings

Purpose = Literal["verify_email", "password_reset"]

TOKEN_PATTERN = r"^[0-9]{1,11}\.[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$"
_TOKEN_RE = re.compile(TOKEN_PATTERN)


def _key(settings: Settings) -> bytes:
    return hmac.new(
        settings.secret("jwt_secret").encode(), b"homeops-account-token-v1", hashlib.sha256
    ).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _signature(settings: Settings, purpose: Purpose, expires: int, nonce: str) -> str:
    message = f"{purpose}|{expires}|{nonce}".encode()
    return _b64(hmac.new(_key(settings), message, hashlib.sha256).digest())


def issue(settings: Settings, purpose: Purpose, expires_at: datetime) -> str:
    expires = int(expires_at.timestamp())
    nonce = _b64(secrets.token_bytes(32))
    return f"{expires}.{nonce}.{_signature(settings, purpose, expires, nonce)}"


def is_valid(settings: Settings, token: str, purpose: Purpose, now: datetime) -> bool:
    """Well-formed, signed for ``purpose`` by this server and not expired (whether it is unused, only the
    database knows)."""
    if not _TOKEN_RE.match(token):
        return False
    expires_text, nonce, signature = token.split(".")
    expires = int(expires_text)
    if not hmac.compare_digest(_signature(settings, purpose, expires, nonce), signature):
        return False
    return datetime.fromtimestamp(expires, UTC) > now
