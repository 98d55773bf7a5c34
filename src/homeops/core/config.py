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
    login_max_failures: int = 5
    login_window_minutes: int = 15
    bcrypt_rounds: int = Field(default=12, ge=4, le=16)
    db_pool_size: int = 10
    db_null_pool: bool = False
    log_level: str = "INFO"
    log_json: bool = True
    public_base_url: str = "http://127.0.0.1:8000"
    embedder: str | None = Field(
        default=None, description="Manual embeddings: 'hashing:384' or 'sentence-transformers:<local path>'."
    )
    max_manual_upload_mb: int = Field(default=100, ge=1, le=2048)
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
