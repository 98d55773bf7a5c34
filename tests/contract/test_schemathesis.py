"""The OpenAPI document is the contract (issue 9 §3): schemathesis over every operation the app has, as a
signed-in user, a few generated requests each (positive and negative data).

Checked, with zero failures allowed: no server errors, status codes and content types the document lists,
response bodies that match their schemas, no schema-valid request rejected (positive data accepted), and the
rest of schemathesis's default checks except those listed in ``tests/contract/EXCLUDED.md`` (with the reasons).

Path parameters are replaced by the ids of real objects the user owns (a home, a room, a device, …), so the
operations answer from their success paths too, not only 404; DELETEs get random ids (their objects stay for
the others). The run covers whatever routes exist: an operation whose parameters are unknown here gets random
values (and so its 404). It is bounded: ``MAX_EXAMPLES`` per operation, a fixed seed, no shrinking.
"""

from __future__ import annotations

import itertools
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import positive_data_acceptance
from sqlalchemy.engine import make_url

from homeops.app import create_app
from homeops.core.config import Settings
from tests.conftest import ApiUser, login

MAX_EXAMPLES = 6

# Checks left out, each with its reason in EXCLUDED.md (the file lists them too; a test keeps both in step).
EXCLUDED_CHECKS = ("positive_data_acceptance",)  # replaced by `_positive_data_accepted` below
# Answers to schema-valid data that are not "valid data rejected" (EXCLUDED.md says why, one by one):
# 400: a string the schema cannot tell from a token the server issued.
OPAQUE_TOKEN_CODES = frozenset({"invalid_cursor", "invalid_account_token"})
# 422: rules on state or on the calendar, which no JSON Schema can state.
STATE_RULE_CODES = frozenset(
    {
        "room_not_in_home",
        "device_not_in_home",
        "unknown_category",
        "unknown_service_category",
        "event_in_future",
        "performed_in_future",
        "end_before_due",
        "invalid_series_query",
        "home_required",
    }
)
# ... and the cross-field date order of one body (error type `date_order`).
# ... and the range of a bounded decimal given as a string (`decimal_range`: a pattern cannot state 0 < x ≤ 500).
# ... and amounts that must add up (`amounts_add_up`: lines to a total, quantity × unit price).
STATE_RULE_ERROR_TYPES = frozenset({"date_order", "decimal_range", "amounts_add_up"})

CONFIG = f"""
seed = 9
[generation]
mode = "all"
max-examples = {MAX_EXAMPLES}
allow-x00 = false
no-shrink = true
database = "none"

[phases.examples]
enabled = false
[phases.coverage]
enabled = false
[phases.stateful]
enabled = false
"""

# The document of an app built without a database (the document does not need one); the requests go to the
# test database's app (``live_app``).
_SPEC_APP = create_app(
    Settings(
        data_dir=Path(tempfile.mkdtemp(prefix="homeops-spec-")),
        jwt_secret="spec-only-jwt-secret-0123456789abcdef",
        field_encryption_key="spec-only",
    ),
    make_url("postgresql+psycopg://spec@127.0.0.1:9/spec"),
)
schema = schemathesis.openapi.from_dict(_SPEC_APP.openapi(), config=SchemathesisConfig.from_str(CONFIG))


@pytest.fixture(scope="module")
def live_app(settings: Settings, test_db: Any, runtime: Any) -> Iterator[FastAPI]:
    app = create_app(settings, test_db.app, runtime=runtime)
    yield app


class World:
    """The contract user and the ids of the objects they own, by the path segment that precedes the id."""

    def __init__(self, client: TestClient, user: ApiUser) -> None:
        self.client = client
        self.user = user
        self.ids: dict[str, str] = {}

    def make(self, segment: str, method: str, url: str, **kwargs: Any) -> dict[str, Any] | None:
        r = self.client.request(method, url, headers=self.user.headers, **kwargs)
        if r.status_code >= 300:
            return None  # another domain changed: its operations get random ids (404s) instead
        body: dict[str, Any] = r.json()
        if "id" in body:
            self.ids[segment] = body["id"]
        return body

    def seed(self) -> None:
        home = self.make("homes", "POST", "/api/v1/homes", json={"name": "Contract home"})
        if home is None:
            return
        h = home["id"]
        self.make("rooms", "POST", f"/api/v1/homes/{h}/rooms", json={"name": "Kitchen"})
        device = self.make(
            "devices",
            "POST",
            f"/api/v1/homes/{h}/devices",
            json={"nickname": "Fridge", "manufacturer": "Zeta", "model_number": "FR-9"},
        )
        self.make("device-groups", "POST", f"/api/v1/homes/{h}/device-groups", json={"name": "Kitchen"})
        if device is not None:
            d = device["id"]
            self.make(
                "maintenance-schedules",
                "POST",
                f"/api/v1/devices/{d}/maintenance-schedules",
                json={"task_name": "Filter", "interval": 3, "interval_unit": "months"},
            )
            self.make(
                "service-events",
                "POST",
                f"/api/v1/devices/{d}/service-events",
                json={"event_type": "repair", "description": "Seal"},
            )
            self.make(
                "troubleshooting-sessions",
                "POST",
                "/api/v1/troubleshooting-sessions",
                json={"device_id": d, "problem_description": "It hums"},
            )
        self.make("sessions", "POST", "/api/v1/assistant/sessions", json={"title": "Help"})
        self.make(
            "organizations",
            "POST",
            "/api/v1/organizations",
            json={"kind": "service_provider", "name": "Contract Co", "slug": f"c-{uuid.uuid4().hex[:8]}"},
        )
        self.ids["members"] = str(self.user.id)
        self.ids["attachments"] = "0"

    def path_parameters(self, path: str, generated: dict[str, Any]) -> dict[str, Any]:
        segments = path.strip("/").split("/")
        out = dict(generated)
        for before, segment in itertools.pairwise(segments):
            if segment.startswith("{") and segment.endswith("}"):
                name = segment[1:-1].split(":")[0]
                if name in out and before in self.ids:
                    out[name] = self.ids[before]
        return out


_WORLD: dict[str, World] = {}


@pytest.fixture
def world(client: TestClient, make_user: Any) -> World:
    if "world" not in _WORLD:
        w = World(client, make_user("contract"))
        w.seed()
        _WORLD["world"] = w
    return _WORLD["world"]


def _is_rule_answer(response: Any, multipart: bool) -> bool:
    """Whether a 4xx to schema-valid data is one of the answers EXCLUDED.md lists."""
    status = response.status_code
    try:
        problem = response.json()
    except ValueError:
        return False
    code = problem.get("code")
    if status == 400:
        return code in OPAQUE_TOKEN_CODES
    if status == 415:
        return multipart and code == "unsupported_media_type"  # the file's content is sniffed
    if status == 422:
        if code in STATE_RULE_CODES:
            return True
        kinds = {e.get("type") for e in problem.get("errors", ())}
        return bool(kinds) and kinds <= STATE_RULE_ERROR_TYPES
    return False


def _positive_data_accepted(case: Any, response: Any) -> None:
    """schemathesis's positive_data_acceptance, less the answers EXCLUDED.md explains."""
    try:
        case.validate_response(response, checks=[positive_data_acceptance])
    except FailureGroup:
        if _is_rule_answer(response, multipart="multipart" in (case.media_type or "")):
            return
        raise


@schema.parametrize()
@hypothesis_settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=MAX_EXAMPLES)
def test_operation_conforms(case: Any, world: World, live_app: FastAPI, client: TestClient) -> None:
    positive = case.meta is None or case.meta.generation.mode.is_positive
    if positive and case.path_parameters and case.method.upper() != "DELETE":
        case.path_parameters = world.path_parameters(case.path, case.path_parameters)
    headers = world.user.headers
    if case.method.upper() == "POST" and case.path == "/api/v1/auth/logout":
        headers = {"Authorization": f"Bearer {login(client, world.user.email)['access_token']}"}
    response = case.call(headers=headers, app=live_app)
    case.validate_response(response, headers=headers, excluded_checks=[positive_data_acceptance])
    _positive_data_accepted(case, response)


def test_excluded_checks_are_explained() -> None:
    text = (Path(__file__).parent / "EXCLUDED.md").read_text()
    for check in EXCLUDED_CHECKS:
        assert f"`{check}`" in text
