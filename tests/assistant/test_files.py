from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from homeops.assistant import api as assistant_api
from homeops.assistant import files as assistant_files
from homeops.assistant.transcription import Transcript, TranscriptionError
from tests.assistant.conftest import wav_bytes
from tests.conftest import as_user, assert_problem
from tests.pdf_writer import CORRUPT_PDF, make_pdf

DOCS = "/api/v1/assistant/documents"
MEDIA = "/api/v1/assistant/media"


def _upload(
    client: TestClient, user, url: str, name: str, data: bytes, content_type: str = "application/octet-stream"
):  # type: ignore[no-untyped-def]
    return client.post(url, files={"file": (name, data, content_type)}, headers=user.headers)


def _fetch(client: TestClient, signed_url: str) -> bytes:
    r = client.get("/" + signed_url.split("://", 1)[1].split("/", 1)[1])
    assert r.status_code == 200, r.text
    return r.content


def _files_of(client: TestClient, user) -> list[Path]:  # type: ignore[no-untyped-def]
    root: Path = client.app.state.storage.root
    return [p for p in root.glob(f"*/*/{user.id}/**/*") if p.is_file()]


def _docx(text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr(
            "word/document.xml",
            f'<w:document><w:body><w:p><w:r><w:t xml:space="preserve">{text}</w:t>'
            "</w:r></w:p><w:p><w:r><w:t>Bye &amp; thanks</w:t></w:r></w:p></w:body></w:document>",
        )
    return buf.getvalue()


def test_document_upload_process_download_delete(client: TestClient, make_user, drain, owner_conn) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    pdf = make_pdf(["Receipt for the heater, page one.", "Warranty terms, page two."])
    r = _upload(client, user, DOCS, "../../etc/Mon Reçu (final)!.PDF", pdf, "application/pdf")
    assert r.status_code == 201, r.text
    doc = r.json()
    assert (
        doc["filename"] == "Mon_Recu_final.pdf" and doc["file_type"] == "pdf" and doc["file_size"] == len(pdf)
    )
    assert (
        doc["processing_status"] == "pending"
        and doc["bucket_name"] == "documents"
        and "storage_key" not in doc
    )
    key = owner_conn.execute("SELECT storage_key FROM documents WHERE id = %s", (doc["id"],)).fetchone()[0]
    assert key == f"documents/pdf/{user.id}/{doc['id']}/Mon_Recu_final.pdf"

    assert drain() >= 1
    done = client.get(f"{DOCS}/{doc['id']}", headers=user.headers).json()
    assert done["processing_status"] == "completed" and done["metadata"]["page_count"] == 2
    assert done["last_accessed"] is None

    link = client.get(f"{DOCS}/{doc['id']}/download", headers=user.headers).json()
    assert link["expires_in"] == 900 and _fetch(client, link["url"]) == pdf
    assert client.get(f"{DOCS}/{doc['id']}", headers=user.headers).json()["last_accessed"] is not None

    text = _upload(client, user, DOCS, "notes", b"Filter changed.\nNext time buy two.\n", "text/plain").json()
    word = _upload(client, user, DOCS, "letter.docx", _docx("Hello heater world")).json()
    assert (text["filename"], text["file_type"], word["file_type"]) == ("notes.txt", "txt", "docx")
    drain()
    assert client.get(f"{DOCS}/{text['id']}", headers=user.headers).json()["metadata"]["word_count"] == 6
    docx_meta = client.get(f"{DOCS}/{word['id']}", headers=user.headers).json()["metadata"]
    assert docx_meta["word_count"] == 6 and docx_meta["paragraph_count"] == 2
    listed = client.get(f"{DOCS}?processing_status=completed", headers=user.headers).json()["items"]
    assert [d["id"] for d in listed] == [word["id"], text["id"], doc["id"]]

    assert client.app.state.storage.exists(key)
    assert client.delete(f"{DOCS}/{doc['id']}", headers=user.headers).status_code == 204
    assert_problem(client.get(f"{DOCS}/{doc['id']}", headers=user.headers), 404, "document_not_found")
    assert not client.app.state.storage.exists(key)
    actions = [
        r[0]
        for r in owner_conn.execute(
            "SELECT action_type FROM audit_logs WHERE entity_id = %s ORDER BY created_at", (doc["id"],)
        )
    ]
    assert actions == ["document_uploaded", "document_deleted"]


def test_corrupt_pdf_and_image_metadata(client: TestClient, make_user, drain) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    broken = _upload(client, user, DOCS, "broken.pdf", CORRUPT_PDF).json()
    png = (
        b"\x89PNG\r\n\x1a\n"
        + b"\x00\x00\x00\x0dIHDR"
        + (640).to_bytes(4, "big")
        + (480).to_bytes(4, "big")
        + b"\x08\x02"
    )
    image = _upload(client, user, DOCS, "photo.png", png, "image/png").json()
    app0 = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = (
        b"\xff\xff\xc0\x00\x11\x08"
        + (300).to_bytes(2, "big")
        + (400).to_bytes(2, "big")
        + b"\x03"
        + b"\x00" * 9
    )
    jpeg = _upload(
        client, user, DOCS, "scan.JPG", b"\xff\xd8" + app0 + sof0 + b"\xff\xd9", "image/jpeg"
    ).json()
    assert (jpeg["file_type"], jpeg["filename"]) == ("jpeg", "scan.jpg")
    drain()
    failed = client.get(f"{DOCS}/{broken['id']}", headers=user.headers).json()
    assert failed["processing_status"] == "failed" and failed["metadata"]["failure_reason"] == "corrupt"
    meta = client.get(f"{DOCS}/{image['id']}", headers=user.headers).json()["metadata"]
    assert (meta["width"], meta["height"]) == (640, 480)
    meta = client.get(f"{DOCS}/{jpeg['id']}", headers=user.headers).json()["metadata"]
    assert (meta["width"], meta["height"]) == (400, 300)


def test_refused_uploads_write_nothing(client: TestClient, make_user, owner_conn, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    pdf = make_pdf(["A real PDF."])
    cases = [
        (DOCS, "virus.exe", b"MZ\x90\x00binary", 415, "unsupported_media_type"),
        (DOCS, "photo.png", pdf, 415, "unsupported_media_type"),  # the content is not what the name says
        (DOCS, "blob", b"\x00\x01\x02\xff\xfe", 415, "unsupported_media_type"),
        (DOCS, "empty.txt", b"", 422, "empty_file"),
        (MEDIA, "clip.avi", b"RIFF\x00\x00\x00\x00AVI LIST", 415, "unsupported_media_type"),
        (MEDIA, "song.mp3", wav_bytes(0.1), 415, "unsupported_media_type"),
        (MEDIA, "notes.txt", b"just text", 415, "unsupported_media_type"),
    ]
    for url, name, data, status, code in cases:
        assert_problem(_upload(client, user, url, name, data), status, code)
    monkeypatch.setattr(assistant_api, "DOCUMENT_MAX_BYTES", 100)
    monkeypatch.setattr(assistant_files, "DOCUMENT_MAX_BYTES", 100)
    assert_problem(_upload(client, user, DOCS, "big.txt", b"x" * 101), 413, "file_too_large")

    for table in ("documents", "media_files"):
        assert (
            owner_conn.execute(f"SELECT count(*) FROM {table} WHERE user_id = %s", (user.id,)).fetchone()[0]
            == 0
        )
    assert _files_of(client, user) == []


def test_media_without_transcriber(client: TestClient, make_user, drain, no_transcriber) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    r = _upload(client, user, MEDIA, "Voice memo.wav", wav_bytes(2.2), "audio/wav")
    assert r.status_code == 201, r.text
    media = r.json()
    assert (media["media_type"], media["content_type"], media["filename"]) == (
        "audio",
        "audio/wav",
        "Voice_memo.wav",
    )
    assert media["processing_status"] == "pending" and media["transcription_status"] == "pending"
    webm = _upload(client, user, MEDIA, "clip.webm", b"\x1a\x45\xdf\xa3" + b"\x00" * 64, "audio/webm").json()
    assert (webm["media_type"], webm["content_type"]) == ("audio", "audio/webm")
    drain()
    done = client.get(f"{MEDIA}/{media['id']}", headers=user.headers).json()
    assert done["processing_status"] == "completed" and done["duration"] == 2
    assert done["transcription_status"] == "unavailable"
    assert (
        done["metadata"]["transcript"] == "unavailable"
        and done["metadata"]["reason"] == "no transcriber installed"
    )
    assert client.get(f"{MEDIA}/{media['id']}/transcriptions", headers=user.headers).json() == []
    other = client.get(f"{MEDIA}/{webm['id']}", headers=user.headers).json()
    assert other["processing_status"] == "completed" and other["duration"] is None
    link = client.get(f"{MEDIA}/{media['id']}/download", headers=user.headers).json()
    assert _fetch(client, link["url"]) == wav_bytes(2.2)


class FakeTranscriber:
    name = "fake:1"

    def __init__(self, fail: bool = False, probe: Callable[[], object] | None = None) -> None:
        self.fail = fail
        self.probe = probe or (lambda: None)
        self.calls: list[tuple[int, str, str, object]] = []

    def transcribe(self, data: bytes, *, filename: str, content_type: str) -> Transcript:
        self.calls.append((len(data), filename, content_type, self.probe()))
        if self.fail:
            raise TranscriptionError("no speech found")
        return Transcript(
            text="The pilot light went out again.", language="en", confidence=0.87, metadata={"segments": 1}
        )


def test_media_with_a_transcriber(client: TestClient, make_user, drain, use_transcriber, owner_conn) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    audio = wav_bytes(3)
    media = _upload(client, user, MEDIA, "call.wav", audio, "audio/x-wav").json()
    # While the job runs, other connections already see "processing".
    status = "SELECT processing_status::text FROM media_files WHERE id = %s"
    fake = FakeTranscriber(probe=lambda: owner_conn.execute(status, (media["id"],)).fetchone()[0])
    use_transcriber(fake)
    drain()
    assert fake.calls == [(len(audio), "call.wav", "audio/wav", "processing")]
    done = client.get(f"{MEDIA}/{media['id']}", headers=user.headers).json()
    assert done["transcription_status"] == "completed" and done["duration"] == 3
    assert done["metadata"]["engine"] == "fake:1"
    [t] = client.get(f"{MEDIA}/{media['id']}/transcriptions", headers=user.headers).json()
    assert (t["content"], t["language"], t["confidence_score"]) == (
        "The pilot light went out again.",
        "en",
        0.87,
    )
    assert t["metadata"] == {"engine": "fake:1", "segments": 1} and t["media_id"] == media["id"]

    use_transcriber(FakeTranscriber(fail=True))
    bad = _upload(client, user, MEDIA, "silence.wav", wav_bytes(1), "audio/wav").json()
    drain()
    failed = client.get(f"{MEDIA}/{bad['id']}", headers=user.headers).json()
    assert failed["processing_status"] == "failed" and failed["transcription_status"] == "failed"
    assert failed["metadata"]["reason"] == "no speech found"
    assert client.get(f"{MEDIA}/{bad['id']}/transcriptions", headers=user.headers).json() == []


def test_another_user_cannot_touch_files(  # type: ignore[no-untyped-def]
    client: TestClient, make_user, drain, use_transcriber, app_conn: psycopg.Connection, owner_conn
) -> None:
    alice, bob = make_user(), make_user()
    use_transcriber(FakeTranscriber())
    doc = _upload(client, alice, DOCS, "private.txt", b"my secret notes").json()
    media = _upload(client, alice, MEDIA, "memo.wav", wav_bytes(1), "audio/wav").json()
    drain()
    for path in (f"{DOCS}/{doc['id']}", f"{DOCS}/{doc['id']}/download"):
        assert_problem(client.get(path, headers=bob.headers), 404, "document_not_found")
    assert_problem(client.delete(f"{DOCS}/{doc['id']}", headers=bob.headers), 404, "document_not_found")
    for path in ("", "/download", "/transcriptions"):
        assert_problem(
            client.get(f"{MEDIA}/{media['id']}{path}", headers=bob.headers), 404, "media_not_found"
        )
    assert_problem(client.delete(f"{MEDIA}/{media['id']}", headers=bob.headers), 404, "media_not_found")
    assert client.get(DOCS, headers=bob.headers).json()["items"] == []
    assert client.get(MEDIA, headers=bob.headers).json()["items"] == []

    with app_conn.transaction():
        as_user(app_conn, bob.id, "homeowner")
        for table, row_id in (("documents", doc["id"]), ("media_files", media["id"])):
            assert (
                app_conn.execute(f"SELECT count(*) FROM {table} WHERE id = %s", (row_id,)).fetchone()[0] == 0
            )
            assert app_conn.execute(f"DELETE FROM {table} WHERE id = %s", (row_id,)).rowcount == 0
        assert (
            app_conn.execute(
                "SELECT count(*) FROM transcriptions WHERE media_id = %s", (media["id"],)
            ).fetchone()[0]
            == 0
        )
    with pytest.raises(psycopg.errors.InsufficientPrivilege), app_conn.transaction():
        as_user(app_conn, bob.id, "homeowner")
        app_conn.execute(
            "INSERT INTO documents (user_id, filename, file_type, file_size, storage_key) "
            "VALUES (%s, 'x.txt', 'txt', 1, 'documents/other/x')",
            (alice.id,),
        )
    assert (
        owner_conn.execute(
            "SELECT count(*) FROM transcriptions WHERE media_id = %s", (media["id"],)
        ).fetchone()[0]
        == 1
    )
    assert client.get(f"{DOCS}/{doc['id']}", headers=alice.headers).status_code == 200
