"""Settings (``HOMEOPS_*`` environment variables) and the data directory's generated secrets."""

from __future__ import annotations

import base64
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, PrivateAttr, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

APP_DB_ROLE = "homeops_app"
"""The login role the API connects as: owns nothing, no BYPASSRLS (created by the migrations)."""
WORKER_DB_ROLE = "homeops_worker"
"""The login role the background worker connects as: owns nothing, no BYPASSRLS; only the grants and row
policies its jobs need (see docs/security.md)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOMEOPS_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        default=Path(".homeops"), description="Embedded database, secrets and local files."
    )
    database_url: str | None = Field(
        default=None,
        description="Owner connection (runs migrations). Unset: HomeOps starts its embedded PostgreSQL.",
    )
    app_database_url: str | None = Field(
        default=None,
        description="Connection for the API role. Unset: derived from database_url with the homeops_app role.",
    )
    app_db_password: SecretStr | None = None
    worker_database_url: str | None = Field(
        default=None,
        description="Connection for the worker role. Unset: derived from database_url with the homeops_worker role.",
    )
    worker_db_password: SecretStr | None = None
    jwt_secret: SecretStr | None = None
    field_encryption_key: SecretStr | None = None
    access_token_minutes: int = 15
    refresh_token_days: int = 30
    refresh_reuse_grace_seconds: int = Field(
        default=10,
        ge=0,
        le=300,
        description="A refresh token exchanged less than this long ago is rejected without ending the session "
        "(a client racing itself); any other reuse of a rotated refresh token revokes the session.",
    )
    # Sign-in throttling (docs/security.md, "Sign-in throttling").
    login_max_failures: int = Field(
        default=5, ge=1, description="Failures per (email, client address) before backoff starts."
    )
    login_backoff_seconds: int = Field(default=30, ge=1, description="First backoff; doubles per failure.")
    login_backoff_max_seconds: int = Field(default=900, ge=1, description="Longest backoff.")
    login_backoff_window_hours: int = Field(
        default=24, ge=1, description="Failures of an (email, address) pair are remembered this long."
    )
    login_email_max_failures: int = Field(
        default=20,
        ge=1,
        description="Failures per email from all addresses within login_window_minutes before addresses that "
        "never signed in to the account must wait.",
    )
    login_window_minutes: int = 15
    login_known_address_days: int = Field(
        default=30, ge=1, description="An address that signed in to an account stays 'known' this long."
    )
    register_max_per_address: int = Field(
        default=10, ge=1, description="Registrations per client address within register_window_minutes."
    )
    register_window_minutes: int = 60
    email_verification_hours: int = Field(
        default=48, ge=1, description="Validity of an e-mail verification link."
    )
    password_reset_minutes: int = Field(default=60, ge=5, description="Validity of a password-reset link.")
    account_email_max: int = Field(
        default=3,
        ge=1,
        description="Verification resends per account, and password-reset e-mails per address, within "
        "account_email_window_minutes.",
    )
    password_reset_max_per_address: int = Field(
        default=10, ge=1, description="Password-reset requests per client address within the window."
    )
    account_email_window_minutes: int = 60
    bcrypt_rounds: int = Field(default=12, ge=4, le=16)
    db_pool_size: int = 10
    db_null_pool: bool = False
    log_level: str = "INFO"
    log_json: bool = True
    public_base_url: str | None = Field(
        default=None,
        description="Base of signed download URLs, calendar links and e-mailed links. Unset: the request's own "
        "scheme, host and port (e-mails: the server's own address; never the client's Host header).",
    )
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated addresses/networks of reverse proxies whose X-Forwarded-For, "
        "X-Forwarded-Proto and X-Forwarded-Host headers are believed. Empty: none.",
    )
    embedder: str | None = Field(
        default=None, description="Manual embeddings: 'hashing:384' or 'sentence-transformers:<local path>'."
    )
    max_manual_upload_mb: int = Field(default=100, ge=1, le=2048)
    max_request_body_kb: int = Field(
        default=1024,
        ge=1,
        le=1024 * 1024,
        description="Largest request body (JSON, forms) in KB; a larger one is a 413. Upload routes declare "
        "their own limits (homeops.core.routing.body_limit).",
    )
    run_worker: bool = Field(default=True, description="`homeops serve` runs the job worker in-process.")
    storage_backend: Literal["local", "s3"] = "local"
    s3_bucket: str | None = None
    s3_prefix: str = ""
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    storage_signing_key: SecretStr | None = None
    transcriber: str | None = Field(
        default=None,
        description="Media transcription: 'faster-whisper:<local model dir>' (extra 'transcription').",
    )
    smtp_host: str | None = Field(
        default=None, description="E-mail notifications via SMTP; unset: in-app only."
    )
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "homeops@localhost"
    smtp_starttls: bool = False
    mqtt_url: str | None = Field(
        default=None,
        description="MQTT ingest: mqtt://[user[:password]@]host[:port][/topic prefix] (mqtts:// for TLS); "
        "unset: no subscription (homeops.telemetry.mqtt).",
    )

    _secrets: dict[str, str] = PrivateAttr(default_factory=dict)

    @property
    def data_path(self) -> Path:
        return self.data_dir.expanduser().resolve()

    def secret(self, name: str) -> str:
        """A secret from the environment, else from ``<data_dir>/secrets/<name>`` (created 0600 on first use)."""
        explicit: SecretStr | None = getattr(self, name, None)
        if explicit is not None:
            return explicit.get_secret_value()
        cached = self._secrets.get(name)
        if cached is None:  # read once: the JWT key is needed on every request
            cached = self._secrets[name] = load_or_create_secret(self.data_path / "secrets", name)
        return cached


def load_or_create_secret(directory: Path, name: str) -> str:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / name
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    value = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)
    return value


@lru_cache
def get_settings() -> Settings:
    return Settings()
