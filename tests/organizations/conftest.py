from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ApiUser


def unique_slug(tag: str = "org") -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def make_org(client: TestClient) -> Callable[..., dict]:
    def _make(
        user: ApiUser, name: str = "Acme Fire & HVAC", kind: str = "contractor", **extra: object
    ) -> dict:
        body = {"kind": kind, "name": name, "slug": unique_slug(), **extra}
        r = client.post("/api/v1/organizations", json=body, headers=user.headers)
        assert r.status_code == 201, r.text
        return r.json()

    return _make


@pytest.fixture
def add_member(client: TestClient) -> Callable[[dict, ApiUser, ApiUser, str], dict]:
    def _add(org: dict, by: ApiUser, user: ApiUser, role: str) -> dict:
        r = client.post(
            f"/api/v1/organizations/{org['id']}/members",
            json={"email": user.email, "role": role},
            headers=by.headers,
        )
        assert r.status_code == 201, r.text
        return r.json()

    return _add
