from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from homeops.app import create_app
from homeops.cli import app as cli
from homeops.manuals.embeddings import load_embedder
from homeops.manuals.tasks import EMBEDDER
from tests.conftest import PgTestDatabase
from tests.manuals.conftest import unique_brand
from tests.pdf_writer import CORRUPT_PDF, make_pdf


def test_import_directory(cli_env, tmp_path: Path, test_db: PgTestDatabase) -> None:  # type: ignore[no-untyped-def]
    brand = unique_brand()
    folder = tmp_path / brand
    folder.mkdir()
    (folder / "a.pdf").write_bytes(make_pdf([f"{brand} dishwasher manual, page one."]))
    (folder / "b.pdf").write_bytes(make_pdf([f"{brand} dishwasher service guide."]))
    (folder / "copy-of-a.pdf").write_bytes(make_pdf([f"{brand} dishwasher manual, page one."]))
    (folder / "broken.pdf").write_bytes(CORRUPT_PDF + b"x")
    (folder / "notes.txt").write_text("ignored")
    result = CliRunner().invoke(cli, ["manuals", "import", str(folder), "--type", "user"])
    assert result.exit_code == 0, result.output
    lines = {
        line.strip("│ ").split("│")[0].strip(): line.split("│")[2].strip()
        for line in result.output.splitlines()
        if line.count("│") == 3
    }
    # a.pdf and b.pdf are new; copy-of-a has a's bytes; broken.pdf is stored and fails processing.
    assert lines == {"new": "2", "duplicate (file_hash)": "1", "failed": "1"}, result.output
    with psycopg.connect(
        test_db.owner.set(drivername="postgresql").render_as_string(hide_password=False)
    ) as conn:
        rows = conn.execute(
            "SELECT status, failure_reason FROM manuals WHERE brand = %s ORDER BY file_name", (brand,)
        ).fetchall()
        trust = conn.execute(
            "SELECT DISTINCT visibility::text, provenance::text, home_id, verified_at IS NOT NULL FROM manuals "
            "WHERE brand = %s",
            (brand,),
        ).fetchall()
        audited = conn.execute(
            "SELECT count(*) FROM audit_logs WHERE request_method = 'CLI' AND request_url LIKE %s",
            ("import:%",),
        ).fetchone()[0]
    assert sorted(rows) == [("failed", "corrupt"), ("ready", None), ("ready", None)]
    assert trust == [("shared", "operator", None, True)]  # the operator's import: the shared library
    assert audited >= 3


def test_hybrid_search_with_an_embedder(
    settings,
    test_db: PgTestDatabase,
    runtime,
    monkeypatch,
    make_user,
    make_home,
    upload,  # type: ignore[no-untyped-def]
    drain,
    owner_conn,
) -> None:
    has_vectors = owner_conn.execute("SELECT to_regclass('manual_chunk_embeddings') IS NOT NULL").fetchone()[
        0
    ]
    if not has_vectors:
        pytest.skip("this PostgreSQL has no pgvector: search is full-text only (tested elsewhere)")
    hybrid_settings = settings.model_copy(update={"embedder": "hashing:384"})
    # The embedder is a process resource: the app and the worker (``drain``) share the runtime.
    monkeypatch.setitem(runtime.resources, EMBEDDER, load_embedder(hybrid_settings.embedder))
    app = create_app(hybrid_settings, test_db.app, runtime=runtime)
    with TestClient(app, client=("203.0.113.9", 1)) as client:
        user = make_user()
        make_home(user)
        brand = unique_brand()
        word = f"descaler{uuid.uuid4().hex[:6]}"
        pdf = make_pdf(
            ["Cover page.", f"Run the {word} cycle every month to remove limescale from the boiler."]
        )
        r = client.post(
            "/api/v1/manuals",
            files={"file": ("m.pdf", pdf, "application/pdf")},
            data={"brand": brand, "model_numbers": ["H-1"]},
            headers=user.headers,
        )
        assert r.status_code == 201
        drain()
        manual = client.get(f"/api/v1/manuals/{r.json()['id']}", headers=user.headers).json()
        assert manual["embedded"] is True
        body = client.get(f"/api/v1/manuals/search?q={word} limescale", headers=user.headers).json()
        assert body["mode"] == "hybrid"
        assert body["items"][0]["manual_id"] == manual["id"] and body["items"][0]["page"] == 2
        assert body["items"][0]["source"] == "household"
    stored = owner_conn.execute(
        "SELECT count(*), min(model), min(visibility::text), min(home_id::text) FROM manual_chunk_embeddings "
        "WHERE manual_id = %s",
        (manual["id"],),
    ).fetchone()
    # The vectors carry the manual's visibility and home (their row policy reads them).
    assert stored[0] >= 1 and stored[1] == "hashing:384"
    assert stored[2] == "household" and stored[3] == manual["home_id"]
