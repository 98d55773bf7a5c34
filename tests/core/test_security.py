from __future__ import annotations

import os
import stat
from pathlib import Path

from homeops.core.config import Settings, load_or_create_secret
from homeops.core.security import FieldCipher, hash_password, verify_password


def test_production_bcrypt_cost_is_at_least_12() -> None:
    assert Settings().bcrypt_rounds >= 12
    hashed = hash_password("a-long-enough-password")
    assert hashed.startswith("$2b$12$")
    assert verify_password("a-long-enough-password", hashed)
    assert not verify_password("a-long-enough-passwore", hashed)


def test_long_passwords_are_not_truncated() -> None:
    base = "x" * 80
    hashed = hash_password(base + "1", rounds=4)
    assert not verify_password(base + "2", hashed)


def test_secrets_are_generated_once_with_0600(tmp_path: Path) -> None:
    first = load_or_create_secret(tmp_path / "secrets", "jwt_secret")
    assert len(first) >= 40
    path = tmp_path / "secrets" / "jwt_secret"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_or_create_secret(tmp_path / "secrets", "jwt_secret") == first
    settings = Settings(data_dir=tmp_path)
    assert settings.secret("jwt_secret") == first
    assert Settings(data_dir=tmp_path, jwt_secret="explicit").secret("jwt_secret") == "explicit"


def test_field_cipher_round_trip_and_blind_index() -> None:
    cipher = FieldCipher("key-material")
    blob = cipher.encrypt("SN-12345")
    assert b"SN-12345" not in blob
    assert cipher.decrypt(blob) == "SN-12345"
    assert cipher.blind_index(" sn-12345 ") == cipher.blind_index("SN-12345")
    assert FieldCipher("other").blind_index("SN-12345") != cipher.blind_index("SN-12345")
