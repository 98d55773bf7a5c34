"""Passwords (bcrypt), access tokens (JWT), opaque refresh tokens and field encryption (AES-GCM + blind index)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import bcrypt
import jwt

from homeops.core.config import Settings

JWT_ALGORITHM = "HS256"
# bcrypt only looks at the first 72 bytes; longer passwords are pre-hashed so no byte is ignored.
_BCRYPT_MAX = 72


def _password_bytes(password: str) -> bytes:
    raw = password.encode()
    if len(raw) > _BCRYPT_MAX:
        raw = base64.b64encode(hashlib.sha256(raw).digest())
    return raw


def hash_password(password: str, rounds: int = 12) -> str:
    return bcrypt.hashpw(_password_bytes(password), bcrypt.gensalt(rounds)).decode()


def verify_password(password: str, hashed: str | None) -> bool:
    if not hashed:
        return False
    try:
        return bcrypt.checkpw(_password_bytes(password), hashed.encode())
    except ValueError:
        return False


# A real hash to compare against when the user does not exist, so timing does not reveal which emails exist.
_DUMMY_HASH = bcrypt.hashpw(b"homeops-timing-equaliser", bcrypt.gensalt(12)).decode()


def burn_password_check(password: str) -> None:
    verify_password(password, _DUMMY_HASH)


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID
    role: str
    expires_at: datetime


class TokenError(Exception):
    pass


def issue_access_token(
    settings: Settings, user_id: uuid.UUID, session_id: uuid.UUID, role: str
) -> tuple[str, int]:
    ttl = settings.access_token_minutes * 60
    now = datetime.now(UTC)
    payload = {
        "sub": str(user_id),
        "sid": str(session_id),
        "role": role,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl)).timestamp()),
        "typ": "access",
    }
    return jwt.encode(payload, settings.secret("jwt_secret"), algorithm=JWT_ALGORITHM), ttl


# Verified tokens by their exact text: a client presents the same token on every request until it expires, so the
# signature is checked once; expiry is checked on every use.
_VERIFIED: dict[tuple[str, str], AccessClaims] = {}
_VERIFIED_MAX = 20_000


def decode_access_token(settings: Settings, token: str) -> AccessClaims:
    key = (settings.secret("jwt_secret"), token)
    claims = _VERIFIED.get(key)
    if claims is None:
        claims = _decode_access_token(settings, token)
        if len(_VERIFIED) >= _VERIFIED_MAX:
            _VERIFIED.clear()
        _VERIFIED[key] = claims
    if claims.expires_at <= datetime.now(UTC):
        raise TokenError("Signature has expired")
    return claims


def _decode_access_token(settings: Settings, token: str) -> AccessClaims:
    try:
        payload = jwt.decode(
            token,
            settings.secret("jwt_secret"),
            algorithms=[JWT_ALGORITHM],
            options={"require": ["sub", "sid", "exp"]},
        )
        if payload.get("typ") != "access":
            raise TokenError("not an access token")
        return AccessClaims(
            user_id=uuid.UUID(payload["sub"]),
            session_id=uuid.UUID(payload["sid"]),
            role=str(payload.get("role", "")),
            expires_at=datetime.fromtimestamp(payload["exp"], UTC),
        )
    except (jwt.PyJWTError, ValueError, KeyError) as exc:
        raise TokenError(str(exc)) from exc


def new_opaque_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Refresh tokens and other bearer secrets are stored only as their SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


class FieldCipher:
    """AES-256-GCM for sensitive columns plus a keyed HMAC 'blind index' for exact-match lookups."""

    VERSION = b"\x01"

    def __init__(self, key_material: str) -> None:
        root = hashlib.sha256(key_material.encode()).digest()
        self._enc_key = hmac.new(root, b"homeops-field-encryption", hashlib.sha256).digest()
        self._idx_key = hmac.new(root, b"homeops-blind-index", hashlib.sha256).digest()

    def encrypt(self, plaintext: str, associated: bytes = b"") -> bytes:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = os.urandom(12)
        return self.VERSION + nonce + AESGCM(self._enc_key).encrypt(nonce, plaintext.encode(), associated)

    def decrypt(self, blob: bytes, associated: bytes = b"") -> str:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if not blob or blob[:1] != self.VERSION:
            raise ValueError("unknown ciphertext version")
        nonce, body = blob[1:13], blob[13:]
        return AESGCM(self._enc_key).decrypt(nonce, body, associated).decode()

    def blind_index(self, value: str) -> str:
        normalised = value.strip().upper()
        return hmac.new(self._idx_key, normalised.encode(), hashlib.sha256).hexdigest()
