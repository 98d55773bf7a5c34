"""Issue 11, the chat page and the review on the project page (server-rendered, without the script): photo and
PDF attachments through storage, threaded replies, per-side delete (the row goes once both sides deleted it),
the message fragment the page's script loads, and the homeowner's review edit within 30 days (and why not
after)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from tests.conftest import ApiUser
from tests.marketplace.conftest import API, Market, photo
from tests.web.conftest import Browser

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def _location(r: Any) -> str:
    assert r.status_code == 303, (r.status_code, r.text[:2000])
    return str(r.headers["location"])


def _messages(client: TestClient, who: ApiUser, project_id: str) -> list[dict[str, Any]]:
    r = client.get(f"{API}/projects/{project_id}/messages", headers=who.headers)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def test_attachments_replies_and_delete_for_me(
    browser: Browser, market: Market, client: TestClient, owner_conn: psycopg.Connection
) -> None:
    owner, pro, project = market.project()
    pid = project["id"]
    chat = f"/market/projects/{pid}/chat"

    # The homeowner sends a photo with a caption, then a PDF alone; an empty message is refused.
    browser.switch_to(owner)
    _location(
        browser.post_form(
            chat, chat, {"text": "This is the leak"}, files={"file": ("leak.jpg", photo(), "image/jpeg")}
        )
    )
    _location(
        browser.post_form(chat, chat, {"text": ""}, files={"file": ("quote.pdf", PDF, "application/pdf")})
    )
    empty = browser.post_form(chat, chat, {"text": "  "})
    assert empty.status_code == 422
    bad = browser.post_form(chat, chat, {}, files={"file": ("notes.txt", b"just text", "text/plain")})
    assert bad.status_code == 415, bad.status_code

    items = _messages(client, owner, pid)
    image_msg = next(m for m in items if m["message_type"] == "image")
    pdf_msg = next(m for m in items if m["message_type"] == "file")
    assert (
        image_msg["message_text"] == "This is the leak"
        and pdf_msg["attachments"][0]["file_name"] == "quote.pdf"
    )
    page = browser.get(chat).text
    image_url = f"/market/projects/{pid}/chat/messages/{image_msg['id']}/attachments/0"
    assert f'src="{image_url}"' in page and 'alt="leak.jpg"' in page
    assert "quote.pdf (PDF," in page
    # The attachment link goes to a signed download of the stored (EXIF-stripped) photo.
    r = browser.client.get(image_url, follow_redirects=False)
    download = _location(r)
    got = browser.client.get(download)
    assert got.status_code == 200 and got.headers["content-type"].startswith("image/jpeg")
    assert b"PhoneMaker" not in got.content

    # The provider answers the photo (threaded): the reply quotes it.
    browser.switch_to(pro)
    form = browser.get(f"{chat}?reply_to={image_msg['id']}").text
    assert "Replying to" in form and f'name="reply_to" id="reply-to" value="{image_msg["id"]}"' in form
    _location(
        browser.post_form(chat, chat, {"text": "I see, a corroded joint.", "reply_to": image_msg["id"]})
    )
    reply = next(m for m in _messages(client, pro, pid) if m["message_text"] == "I see, a corroded joint.")
    assert reply["reply_to_message_id"] == image_msg["id"]
    page = browser.get(chat).text
    assert f'href="#m-{image_msg["id"]}">In reply to Homeowner</a>' in page
    # A reply to a message of another project is refused, said on the form.
    _, _, other = market.project()
    foreign = browser.post_form(chat, chat, {"text": "Hmm", "reply_to": other["id"]})
    assert foreign.status_code == 422 and "not part of this conversation" in foreign.text

    # The fragment the page's script loads: the message as the list shows it.
    fragment = browser.get(f"/market/projects/{pid}/chat/messages/{reply['id']}")
    assert fragment.status_code == 200 and fragment.text.lstrip().startswith(f'<li id="m-{reply["id"]}"')
    assert "In reply to Homeowner" in fragment.text and "<html" not in fragment.text

    # Delete for me: the provider deletes the photo message; the homeowner still has it.
    r = browser.post_form(chat, f"/market/projects/{pid}/chat/messages/{image_msg['id']}/delete", {})
    assert _location(r).startswith(chat)
    page = browser.get(chat).text
    assert f'id="m-{image_msg["id"]}"' not in page and "The message was deleted for you." in page
    assert "In reply to a message that is no longer shown." in page  # the reply stays, its quote says why
    gone = browser.get(f"/market/projects/{pid}/chat/messages/{image_msg['id']}")
    assert gone.status_code == 404
    assert any(m["id"] == image_msg["id"] for m in _messages(client, owner, pid))
    with owner_conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM chat_messages WHERE id = %s", (image_msg["id"],))
        assert cur.fetchone() == (1,)

    # The homeowner deletes it too: the row goes.
    browser.switch_to(owner)
    _location(browser.post_form(chat, f"/market/projects/{pid}/chat/messages/{image_msg['id']}/delete", {}))
    assert f'id="m-{image_msg["id"]}"' not in browser.get(chat).text
    with owner_conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM chat_messages WHERE id = %s", (image_msg["id"],))
        assert cur.fetchone() == (0,)
    # Deleting it again: nothing to delete, said plainly.
    again = browser.post_form(chat, f"/market/projects/{pid}/chat/messages/{image_msg['id']}/delete", {})
    assert again.status_code == 404 and "This message does not exist." in again.text


def test_a_third_user_cannot_read_post_or_delete(
    browser: Browser, market: Market, client: TestClient
) -> None:
    owner, _pro, project = market.project()
    pid = project["id"]
    client.post(f"{API}/projects/{pid}/messages", json={"text": "Private"}, headers=owner.headers)
    mid = _messages(client, owner, pid)[0]["id"]
    stranger = market.make_user("stranger")
    browser.switch_to(stranger)
    assert browser.get(f"/market/projects/{pid}/chat/messages/{mid}").status_code == 404
    assert browser.get(f"/market/projects/{pid}/chat/messages/{mid}/attachments/0").status_code == 404
    r = browser.post_form("/market", f"/market/projects/{pid}/chat/messages/{mid}/delete", {})
    assert r.status_code in (303, 404)
    assert any(m["id"] == mid for m in _messages(client, owner, pid))


def test_the_homeowner_edits_the_review_within_30_days(
    browser: Browser, market: Market, client: TestClient, owner_conn: psycopg.Connection
) -> None:
    owner, pro, project = market.project()
    pid = project["id"]
    market.complete(pro, pid, actual_cost="850.00")
    rating = market.rating(owner, pid, 4, review_title="Good").json()
    url = f"/market/projects/{pid}"

    browser.switch_to(owner)
    page = browser.get(url).text
    assert "Edit your review" in page and "You can change your review until" in page
    assert 'name="review_text"' not in page  # the form comes on asking for it
    page = browser.get(f"{url}?edit_review=true").text
    assert 'id="rating-edit-overall_rating-4" name="overall_rating" value="4" checked' in page
    assert 'name="review_title" type="text" value="Good"' in page
    fields = {f"{d}_rating": "5" for d in ("overall", "quality", "timeliness", "professionalism", "value")}
    fields.update(communication_rating="3", review_title="", review_text="Even better after a week.")
    r = browser.post_form(url, f"{url}/rating/edit", {**fields, "overall_rating": "9"})
    assert r.status_code == 422 and 'id="review-edit"' in r.text  # the form again, with what was typed
    r = browser.post_form(url, f"{url}/rating/edit", fields)
    assert _location(r).endswith("#review")
    body = client.get(f"{API}/ratings/{rating['id']}", headers=owner.headers).json()
    assert body["overall_rating"] == 5 and body["communication_rating"] == 3
    assert body["review_title"] is None and body["review_text"] == "Even better after a week."
    assert body["would_recommend"] is False  # the box was left unticked
    assert "Your review was updated." in browser.get(url).text

    # The provider sees the review but no edit form.
    browser.switch_to(pro)
    page = browser.get(url).text
    assert "Even better after a week." in page and "Edit your review" not in page

    # 31 days later (moved back in time as the owner: the trigger refuses changing created_at).
    with owner_conn.transaction(), owner_conn.cursor() as cur:
        # SET LOCAL, which a cluster sends on to the workers (a session SET stays on the coordinator).
        cur.execute("SET LOCAL citus.propagate_set_commands = 'local'")
        cur.execute("SET LOCAL session_replication_role = replica")
        cur.execute(
            "UPDATE ratings SET created_at = now() - interval '31 days' WHERE id = %s", (rating["id"],)
        )
    browser.switch_to(owner)
    page = browser.get(f"{url}?edit_review=true").text
    assert "Edit your review" not in page and 'id="review-edit"' not in page
    locked = re.search(r'<p class="muted" id="rating-locked">([^<]*)</p>', page)
    assert locked, page[page.find('id="review"') :][:1500]
    assert "can be changed for 30 days after it is given. This one was given on" in locked.group(1)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    r = browser.client.post(f"{url}/rating/edit", data={"csrf_token": token.group(1), **fields})
    assert r.status_code == 409 and "The review can no longer be changed." in r.text
    assert (
        client.get(f"{API}/ratings/{rating['id']}", headers=owner.headers).json()["communication_rating"] == 3
    )


def test_edit_without_a_review(browser: Browser, market: Market) -> None:
    owner, pro, project = market.project()
    market.complete(pro, project["id"], actual_cost="850.00")
    url = f"/market/projects/{project['id']}"
    browser.switch_to(owner)
    r = browser.post_form(url, f"{url}/rating/edit", {"overall_rating": "5"})
    assert r.status_code == 422 and "This project has no review yet." in r.text
    assert uuid.UUID(project["id"])
