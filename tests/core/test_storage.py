"""File storage: local files served through signed URLs, and a real S3-compatible server (moto, loopback)."""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from homeops.core.config import Settings
from homeops.core.errors import install_error_handlers
from homeops.core.storage import (
    LocalStorage,
    ObjectNotFound,
    S3Storage,
    StoredObject,
    build_storage,
    files_router,
    validate_key,
)
from tests.conftest import assert_problem

KEY = "manuals/ab/abcdef0123456789.pdf"
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "files", "test-signing-key", "http://testserver/")


@pytest.fixture
def files_client(storage: LocalStorage) -> Iterator[TestClient]:
    app = FastAPI()
    app.state.storage = storage
    install_error_handlers(app)
    app.include_router(files_router)
    with TestClient(app, base_url="http://testserver") as c:
        yield c


def _relative(url: str) -> str:
    """Path and query of a signed URL, checked to point at the configured base URL."""
    assert url.startswith("http://testserver/api/v1/files/"), url
    return url.removeprefix("http://testserver")


def _with_param(url: str, name: str, value: str | None) -> str:
    parsed = httpx.URL(url)
    params = parsed.params.remove(name) if value is None else parsed.params.set(name, value)
    return _relative(str(parsed.copy_with(params=params)))


# --- local storage -------------------------------------------------------------------------------------


def test_local_put_get_exists_delete(storage: LocalStorage) -> None:
    stored = storage.put(KEY, PDF, "application/pdf")

    assert stored == StoredObject(KEY, len(PDF), hashlib.sha256(PDF).hexdigest(), "application/pdf")
    assert storage.exists(KEY) and storage.get(KEY) == PDF
    path = storage.root / KEY
    assert path.read_bytes() == PDF
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for directory in (storage.root, storage.root / "manuals", storage.root / "manuals/ab"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory

    storage.delete(KEY)
    assert not storage.exists(KEY) and not path.exists()
    with pytest.raises(ObjectNotFound):
        storage.get(KEY)
    storage.delete(KEY)  # idempotent
    assert not storage.exists("manuals/ab")  # a directory is not an object


def test_local_overwrite_is_atomic(storage: LocalStorage, monkeypatch: pytest.MonkeyPatch) -> None:
    storage.put(KEY, b"version 1", "application/pdf")

    def crash(*args: Any) -> None:
        raise OSError("disk went away")

    with monkeypatch.context() as m:
        m.setattr(os, "replace", crash)
        with pytest.raises(OSError, match="disk went away"):
            storage.put(KEY, b"version 2, half written", "application/pdf")
    assert storage.get(KEY) == b"version 1"

    stored = storage.put(KEY, b"version 3", "application/pdf")
    assert storage.get(KEY) == b"version 3" and stored.size == 9
    assert os.listdir(storage.root / "manuals/ab") == ["abcdef0123456789.pdf"]  # no temp file left behind


@pytest.mark.parametrize(
    "key",
    [
        "../outside.pdf",
        "manuals/../../outside.pdf",
        "manuals/./a.pdf",
        "/etc/passwd",
        "manuals\\a.pdf",
        "manuals/a\x00.pdf",
        "manuals//a.pdf",
        "manuals/",
        ".hidden",
        "manuals/a b.pdf",
        "manuals/é.pdf",
        "a" * 513,
        "",
    ],
)
def test_invalid_keys_are_rejected(storage: LocalStorage, key: str) -> None:
    for call in (
        lambda: storage.put(key, b"x", "text/plain"),
        lambda: storage.get(key),
        lambda: storage.exists(key),
        lambda: storage.delete(key),
        lambda: storage.signed_url(key),
    ):
        with pytest.raises(ValueError, match="invalid storage key"):
            call()
    assert not (storage.root.parent / "outside.pdf").exists()


def test_key_length_limit_is_inclusive() -> None:
    key = "/".join(["a" * 127] * 4)
    assert len(key) == 511 and validate_key(key + "b") == key + "b"


def test_expiry_bounds(storage: LocalStorage) -> None:
    for expires_in in (0, -5, 7 * 24 * 3600 + 1):
        with pytest.raises(ValueError, match="expires_in"):
            storage.signed_url(KEY, expires_in=expires_in)


# --- signed URLs through the router ---------------------------------------------------------------------


def test_signed_url_downloads_the_file(storage: LocalStorage, files_client: TestClient) -> None:
    storage.put(KEY, PDF, "application/pdf")
    url = storage.signed_url(KEY, expires_in=60, filename="Boiler manual.pdf", content_type="application/pdf")

    query = httpx.URL(url).params
    assert time.time() < int(query["expires"]) <= time.time() + 60
    r = files_client.get(_relative(url))

    assert r.status_code == 200, r.text
    assert r.content == PDF
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"].startswith('attachment; filename="Boiler manual.pdf"')
    assert r.headers["x-content-type-options"] == "nosniff"


def test_unicode_filename_and_default_content_type(storage: LocalStorage, files_client: TestClient) -> None:
    storage.put(KEY, PDF, "application/pdf")

    r = files_client.get(_relative(storage.signed_url(KEY, filename='Notice chaudière "v2".pdf')))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-disposition"] == (
        'attachment; filename="Notice chaudi_re _v2_.pdf"; '
        "filename*=UTF-8''Notice%20chaudi%C3%A8re%20%22v2%22.pdf"
    )

    inline = files_client.get(_relative(storage.signed_url(KEY)))
    assert inline.status_code == 200 and inline.content == PDF
    assert "content-disposition" not in inline.headers


def test_tampered_urls_are_refused(storage: LocalStorage, files_client: TestClient) -> None:
    storage.put(KEY, PDF, "application/pdf")
    storage.put("manuals/cd/other.pdf", b"someone else's file", "application/pdf")
    url = storage.signed_url(KEY, filename="manual.pdf", content_type="application/pdf")
    sig = httpx.URL(url).params["sig"]

    tampered = [
        _with_param(url, "sig", ("0" if sig[0] != "0" else "1") + sig[1:]),
        _with_param(url, "sig", None),
        _with_param(url, "filename", "evil.html"),
        _with_param(url, "filename", None),
        _with_param(url, "content_type", "text/html"),
        _with_param(url, "expires", str(int(time.time()) + 86400)),
        _with_param(url, "expires", None),
        _relative(url).replace(KEY, "manuals/cd/other.pdf"),
    ]
    for path in tampered:
        assert_problem(files_client.get(path), 403, "invalid_signature")
    assert files_client.get(_relative(url)).status_code == 200


def test_expired_url_is_gone(
    storage: LocalStorage, files_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage.put(KEY, PDF, "application/pdf")
    with monkeypatch.context() as m:
        m.setattr(time, "time", lambda: 1_000_000_000.0)  # signed in 2001, valid for 15 minutes
        url = storage.signed_url(KEY, filename="manual.pdf")
    query = httpx.URL(url).params

    assert_problem(files_client.get(_relative(url)), 410, "url_expired")
    assert not storage.verify(KEY, int(query["expires"]), query["sig"], "manual.pdf")
    # An expired URL with a bad signature says nothing about expiry.
    assert_problem(files_client.get(_with_param(url, "filename", "x.pdf")), 403, "invalid_signature")


def test_verify(storage: LocalStorage) -> None:
    query = httpx.URL(storage.signed_url(KEY, filename="a.pdf", content_type="application/pdf")).params
    expires, sig = int(query["expires"]), query["sig"]

    assert storage.verify(KEY, expires, sig, "a.pdf", "application/pdf")
    assert not storage.verify(KEY, expires, sig, "a.pdf")
    assert not storage.verify(KEY, expires, sig, "b.pdf", "application/pdf")
    other = LocalStorage(storage.root, "another-signing-key", "http://testserver")
    assert not other.verify(KEY, expires, sig, "a.pdf", "application/pdf")


def test_missing_file_with_valid_signature_is_404(storage: LocalStorage, files_client: TestClient) -> None:
    assert_problem(files_client.get(_relative(storage.signed_url(KEY))), 404, "file_not_found")
    storage.put("manuals/ab/x.pdf", PDF, "application/pdf")
    assert_problem(files_client.get(_relative(storage.signed_url("manuals/ab"))), 404, "file_not_found")


# --- configuration ---------------------------------------------------------------------------------------


def test_build_storage_local_default(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, public_base_url="https://homeops.example")
    first, second = build_storage(settings), build_storage(settings)

    assert isinstance(first, LocalStorage) and isinstance(second, LocalStorage)
    assert first.root == tmp_path.resolve() / "files"
    url = first.signed_url(KEY)
    assert url.startswith(f"https://homeops.example/api/v1/files/{KEY}?expires=")
    query = httpx.URL(url).params
    # The generated signing key is persisted in the data directory: URLs survive a restart.
    assert (tmp_path / "secrets" / "storage_signing_key").is_file()
    assert second.verify(KEY, int(query["expires"]), query["sig"])

    explicit = build_storage(Settings(_env_file=None, data_dir=tmp_path, storage_signing_key="explicit-key"))
    assert isinstance(explicit, LocalStorage)
    assert not explicit.verify(KEY, int(query["expires"]), query["sig"])


def test_build_storage_s3_needs_a_bucket(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, storage_backend="s3")
    with pytest.raises(ValueError, match="HOMEOPS_S3_BUCKET"):
        build_storage(settings)


# --- S3 (moto server on loopback) ------------------------------------------------------------------------

BUCKET = "homeops-test"
S3_CREDENTIALS = {"region": "us-east-1", "access_key_id": "testing", "secret_access_key": "testing"}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    boto3 = pytest.importorskip("boto3")
    moto_server = pytest.importorskip("moto.server", reason="moto[server] is not installed (test extra)")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_bucket(Bucket=BUCKET)
    try:
        yield endpoint
    finally:
        server.stop()


@pytest.fixture
def s3(s3_endpoint: str) -> S3Storage:
    return S3Storage(BUCKET, prefix="/tenant-a/", endpoint_url=s3_endpoint, **S3_CREDENTIALS)


def test_s3_put_get_exists_delete(s3: S3Storage) -> None:
    stored = s3.put(KEY, PDF, "application/pdf")

    assert stored == StoredObject(KEY, len(PDF), hashlib.sha256(PDF).hexdigest(), "application/pdf")
    assert s3.exists(KEY) and s3.get(KEY) == PDF
    head = s3._client.head_object(Bucket=BUCKET, Key=f"tenant-a/{KEY}")  # stored under the prefix
    assert head["ContentType"] == "application/pdf" and head["ContentLength"] == len(PDF)

    s3.put(KEY, b"replaced", "application/pdf")
    assert s3.get(KEY) == b"replaced"

    s3.delete(KEY)
    assert not s3.exists(KEY)
    with pytest.raises(ObjectNotFound):
        s3.get(KEY)
    s3.delete(KEY)  # idempotent
    with pytest.raises(ValueError, match="invalid storage key"):
        s3.put("../escape.pdf", b"x", "text/plain")


def test_s3_presigned_url_downloads(s3: S3Storage, s3_endpoint: str) -> None:
    s3.put(KEY, PDF, "application/octet-stream")
    url = s3.signed_url(KEY, expires_in=120, filename="Boiler manual.pdf", content_type="application/pdf")

    assert url.startswith(f"{s3_endpoint}/{BUCKET}/tenant-a/{KEY}?")
    assert "X-Amz-Expires=120" in url and "X-Amz-Signature=" in url
    r = httpx.get(url, trust_env=False)
    assert r.status_code == 200, r.text
    assert r.content == PDF
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"].startswith('attachment; filename="Boiler manual.pdf"')


def test_build_storage_s3(tmp_path: Path, s3_endpoint: str) -> None:
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,
        storage_backend="s3",
        s3_bucket=BUCKET,
        s3_endpoint_url=s3_endpoint,
        s3_region="us-east-1",
        s3_access_key_id="testing",
        s3_secret_access_key="testing",
    )
    storage = build_storage(settings)

    assert isinstance(storage, S3Storage)
    storage.put("photos/x.jpg", b"jpeg", "image/jpeg")
    assert storage.get("photos/x.jpg") == b"jpeg"
    assert not (tmp_path / "files").exists()
