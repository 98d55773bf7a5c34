"""File storage shared by every domain (manual PDFs, photos, media).

Objects are addressed by relative keys such as ``manuals/ab/abcdef….pdf`` and are only ever handed out
through signed, expiring URLs: :class:`LocalStorage` (the default) signs URLs served by :data:`files_router`,
:class:`S3Storage` returns presigned URLs of any S3-compatible service.

The methods are synchronous; async callers wrap them with ``anyio.to_thread.run_sync``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import tempfile
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from homeops.core.errors import Problem
from homeops.core.openapi import errors
from homeops.core.schemas import DownloadOut
from homeops.core.urls import public_base_url

if TYPE_CHECKING:
    from homeops.core.config import Settings

MAX_KEY_LENGTH = 512
MAX_EXPIRES_IN = 7 * 24 * 3600
"""Longest validity of a signed URL (S3's own limit for SigV4 presigned URLs)."""

_KEY_RE = re.compile(r"[A-Za-z0-9._/-]+")


def validate_key(key: str) -> str:
    """Returns ``key`` if it is a safe relative object key, else raises ``ValueError``.

    Allowed: at most 512 characters of ``[A-Za-z0-9._/-]``, ``/``-separated segments that are non-empty
    and do not start with a dot (so no ``.``/``..`` traversal, no hidden files, no absolute paths).
    """
    if not key or len(key) > MAX_KEY_LENGTH or not _KEY_RE.fullmatch(key):
        raise ValueError(f"invalid storage key: {key!r}")
    if any(not segment or segment.startswith(".") for segment in key.split("/")):
        raise ValueError(f"invalid storage key: {key!r}")
    return key


def _validate_expires_in(expires_in: int) -> int:
    if not 1 <= expires_in <= MAX_EXPIRES_IN:
        raise ValueError(f"expires_in must be between 1 and {MAX_EXPIRES_IN} seconds")
    return expires_in


def content_disposition(filename: str) -> str:
    """An ``attachment`` Content-Disposition value (RFC 6266) with an ASCII fallback and a UTF-8 name."""
    fallback = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


class ObjectNotFound(LookupError):
    """No object is stored under the key."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    sha256: str
    """Hex digest of the content."""
    content_type: str


class Storage(ABC):
    """Where files live. Keys are validated with :func:`validate_key` (``ValueError`` otherwise)."""

    @abstractmethod
    def put(self, key: str, data: bytes, content_type: str) -> StoredObject:
        """Stores ``data`` under ``key``, replacing any previous object."""

    @abstractmethod
    def get(self, key: str) -> bytes:
        """The object's bytes; raises :class:`ObjectNotFound` if there is none."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Removes the object; deleting a missing object is not an error."""

    @abstractmethod
    def signed_url(
        self, key: str, *, expires_in: int = 900, filename: str | None = None, content_type: str | None = None
    ) -> str:
        """A URL that downloads the object for ``expires_in`` seconds (1 s to 7 days).

        ``filename`` makes it an attachment with that name; ``content_type`` is the type the download is
        served with. Pass only content types the application vetted: they are served as given.
        """


def _stored(key: str, data: bytes, content_type: str) -> StoredObject:
    return StoredObject(key, len(data), hashlib.sha256(data).hexdigest(), content_type)


class LocalStorage(Storage):
    """Files under ``root/<key>`` (dirs 0700, files 0600), downloaded through :data:`files_router`.

    ``base_url`` None: URLs point at the origin of the request that asks for them (``homeops.core.urls``)."""

    def __init__(self, root: Path, signing_key: str, base_url: str | None = None) -> None:
        if not signing_key:
            raise ValueError("LocalStorage needs a signing key")
        self.root = root.expanduser().resolve()
        self._signing_key = signing_key.encode()
        self._base_url = base_url.rstrip("/") if base_url else None

    def path(self, key: str) -> Path:
        """The file that holds ``key`` (which may not exist)."""
        return self.root / validate_key(key)

    def put(self, key: str, data: bytes, content_type: str) -> StoredObject:
        target = self.path(key)
        directory = self.root
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        for segment in key.split("/")[:-1]:
            directory = directory / segment
            directory.mkdir(exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".", suffix=".part")  # created 0600
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return _stored(key, data, content_type)

    def get(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(key) from None

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def signed_url(
        self, key: str, *, expires_in: int = 900, filename: str | None = None, content_type: str | None = None
    ) -> str:
        validate_key(key)
        expires = int(time.time()) + _validate_expires_in(expires_in)
        params: dict[str, str | int] = {"expires": expires}
        if filename:
            params["filename"] = filename
        if content_type:
            params["content_type"] = content_type
        params["sig"] = self._signature(key, expires, filename, content_type)
        return f"{self._base_url or public_base_url()}/api/v1/files/{key}?{urlencode(params)}"

    def verify(
        self, key: str, expires: int, sig: str, filename: str | None = None, content_type: str | None = None
    ) -> bool:
        """Whether ``sig`` signs exactly these parameters and ``expires`` has not passed."""
        return self.signature_matches(key, expires, sig, filename, content_type) and expires >= time.time()

    def signature_matches(
        self, key: str, expires: int, sig: str, filename: str | None = None, content_type: str | None = None
    ) -> bool:
        """Whether ``sig`` signs exactly these parameters, expired or not."""
        expected = self._signature(key, expires, filename, content_type).encode()
        return hmac.compare_digest(expected, sig.encode("utf-8", "replace"))

    def _signature(self, key: str, expires: int, filename: str | None, content_type: str | None) -> str:
        # JSON keeps the fields unambiguous whatever characters a filename holds; "" and None are the same.
        message = json.dumps(["homeops-file-v1", key, expires, filename or None, content_type or None])
        return hmac.new(self._signing_key, message.encode(), hashlib.sha256).hexdigest()


class S3Storage(Storage):
    """Objects in an S3-compatible bucket (AWS, MinIO, Garage, …) under an optional key prefix.

    Needs the ``s3`` extra (boto3). Credentials and region not given fall back to boto3's usual sources.
    """

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> None:
        try:
            import boto3
            from botocore.config import Config
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise RuntimeError("S3 storage needs boto3: pip install 'homeops[s3]'") from exc
        prefix = prefix.strip("/")
        self.bucket = bucket
        self._prefix = validate_key(prefix) + "/" if prefix else ""
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            # Path-style addressing works with every S3-compatible server, not only with AWS's DNS.
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )

    def _key(self, key: str) -> str:
        return self._prefix + validate_key(key)

    def put(self, key: str, data: bytes, content_type: str) -> StoredObject:
        self._client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type)
        return _stored(key, data, content_type)

    def get(self, key: str) -> bytes:
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=self._key(key))
        except self._client.exceptions.NoSuchKey:
            raise ObjectNotFound(key) from None
        body: bytes = response["Body"].read()
        return body

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        self._client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def signed_url(
        self, key: str, *, expires_in: int = 900, filename: str | None = None, content_type: str | None = None
    ) -> str:
        params = {"Bucket": self.bucket, "Key": self._key(key)}
        if filename:
            params["ResponseContentDisposition"] = content_disposition(filename)
        if content_type:
            params["ResponseContentType"] = content_type
        url: str = self._client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=_validate_expires_in(expires_in)
        )
        return url


def build_storage(settings: Settings) -> Storage:
    """The storage ``settings`` select: ``local`` (``<data_dir>/files``, the default) or ``s3``."""
    if settings.storage_backend == "s3":
        if not settings.s3_bucket:
            raise ValueError("HOMEOPS_S3_BUCKET must be set when HOMEOPS_STORAGE_BACKEND=s3")
        secret = settings.s3_secret_access_key
        return S3Storage(
            settings.s3_bucket,
            prefix=settings.s3_prefix,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=secret.get_secret_value() if secret is not None else None,
        )
    return LocalStorage(
        settings.data_path / "files", settings.secret("storage_signing_key"), settings.public_base_url
    )


files_router = APIRouter(tags=["files"])


@files_router.get("/api/v1/files/{key:path}", name="download_file", response_class=FileResponse)
@errors(403, 410)
def download_file(
    request: Request,
    key: str,
    expires: int = 0,
    sig: str = "",
    filename: str | None = None,
    content_type: str | None = None,
) -> FileResponse:
    """Serves a file of the local storage through a URL from ``LocalStorage.signed_url``."""
    storage = request.app.state.storage
    if not isinstance(storage, LocalStorage) or not storage.signature_matches(
        key, expires, sig, filename, content_type
    ):
        raise Problem(
            "The file URL's signature is invalid.",
            status=403,
            code="invalid_signature",
            title="Invalid signature",
        )
    if not storage.verify(key, expires, sig, filename, content_type):
        raise Problem("The file URL has expired.", status=410, code="url_expired", title="URL expired")
    path = storage.path(key)
    if not path.is_file():
        raise Problem("The file does not exist.", status=404, code="file_not_found", title="File not found")
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private"}
    if filename:
        headers["Content-Disposition"] = content_disposition(filename)
    return FileResponse(path, media_type=content_type or "application/octet-stream", headers=headers)


DOWNLOAD_TTL_SECONDS = 900


async def signed_download(
    storage: Storage, key: str, *, filename: str, content_type: str, expires_in: int = DOWNLOAD_TTL_SECONDS
) -> DownloadOut:
    """The download answer every domain gives: a signed URL (made off the event loop) and its expiry. Local
    storage's URLs point at the origin the request was served on unless ``HOMEOPS_PUBLIC_BASE_URL`` is set."""
    url = await to_thread.run_sync(
        lambda: storage.signed_url(key, expires_in=expires_in, filename=filename, content_type=content_type)
    )
    return DownloadOut(
        url=url, expires_in=expires_in, expires_at=datetime.now(UTC) + timedelta(seconds=expires_in)
    )
