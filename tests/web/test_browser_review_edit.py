"""Issue 11, the homeowner's review on the project page in a real browser: an edit form while the review is
editable (30 days), and why not after. Screenshots: ``test-artifacts/screenshots/marketplace-review-*``."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.conftest import ApiUser
from tests.marketplace.conftest import API, Market
from tests.web.conftest import axe_check, shoot, sign_in_page

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def market(
    client: TestClient, make_user: Callable[..., ApiUser], make_staff: Callable[[str], ApiUser]
) -> Market:
    return Market(client, make_user, make_staff)


def test_the_review_is_edited_then_locked(
    context: Any, market: Market, client: TestClient, owner_conn: psycopg.Connection
) -> None:
    from playwright.sync_api import expect

    owner, pro, project = market.project()
    market.complete(pro, project["id"], actual_cost="850.00")
    rating = market.rating(owner, project["id"], 4, review_title="Good work").json()

    page = context.new_page()
    sign_in_page(page, owner.email)
    page.goto(f"/market/projects/{project['id']}")
    review = page.locator("#review")
    expect(review.get_by_text("You can change your review until")).to_be_visible()
    review.get_by_role("link", name="Edit your review").click()
    review.locator("fieldset", has_text="Overall").get_by_label("5").check()
    review.get_by_label("Your review", exact=True).fill("Came back to fix a drip, free of charge.")
    axe_check(page, "review-edit")
    shoot(page, "marketplace-review-edit")
    review.get_by_role("button", name="Save the review").click()
    expect(page.get_by_text("Your review was updated.")).to_be_visible()
    expect(page.locator("#review > p", has_text="Came back to fix a drip, free of charge.")).to_be_visible()
    body = client.get(f"{API}/ratings/{rating['id']}", headers=owner.headers).json()
    assert body["overall_rating"] == 5 and body["review_title"] == "Good work"

    # Past the 30 days (moved back as the owner: the trigger keeps created_at).
    with owner_conn.transaction(), owner_conn.cursor() as cur:
        # SET LOCAL, which a cluster sends on to the workers (a session SET stays on the coordinator).
        cur.execute("SET LOCAL citus.propagate_set_commands = 'local'")
        cur.execute("SET LOCAL session_replication_role = replica")
        cur.execute(
            "UPDATE ratings SET created_at = now() - interval '40 days' WHERE id = %s", (rating["id"],)
        )
    page.goto(f"/market/projects/{project['id']}?edit_review=true")
    expect(page.locator("#review").get_by_role("link", name="Edit your review")).to_have_count(0)
    expect(page.locator("#review-edit")).to_have_count(0)
    expect(page.locator("#rating-locked")).to_have_text(
        re.compile(
            r"can be changed for 30 days after it is given\. This one was given on .+, so it can no longer"
        )
    )
    axe_check(page, "review-locked")
    shoot(page, "marketplace-review-locked")
