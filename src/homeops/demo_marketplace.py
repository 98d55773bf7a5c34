"""Marketplace demo data (issue 11): three verified providers in Riyadh/Jeddah with a portfolio item each, and
service requests of the demo homeowner (alice) in every state. Idempotent; called by :func:`homeops.demo.load_demo`.

Like the rest of the demo loader it runs as the database owner, i.e. as "the system" of the marketplace's
triggers (no party identity: Python never sets the identity settings, see docs/security.md), and writes the
rows the services and the database's functions would write (the request's quote counter and status as
``homeops_submit_quote`` does); provider aggregates through ``homeops_refresh_provider_stats``. Rows are found
again by natural keys (provider by user, portfolio item by title, request by requester + title): a second load
creates nothing.
"""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg
from PIL import Image, ImageDraw
from psycopg.types.json import Jsonb

from homeops.core.storage import Storage
from homeops.marketplace.images import sanitize_image
from homeops.marketplace.schemas import QuoteIn, RatingIn

ALICE = "alice@demo.homeops.org"
ADMIN = "admin@demo.homeops.org"

# email, business name, type, company (organization) slug, services, coverage, license, years, description,
# portfolio (title, category, location, colour)
DEMO_PROVIDERS: list[dict[str, Any]] = [
    {
        "email": "noura@demo.homeops.org",
        "type": "company",
        "business_name": "Najd Home Services",
        "organization": {"name": "Najd Home Services", "slug": "najd-home-services"},
        "description": "Air conditioning, electrical and painting for villas and apartments across Riyadh and Jeddah.",
        "services": ["hvac", "electrical", "painting"],
        "coverage": [
            {"city": "Riyadh", "districts": ["Al Olaya", "Al Malqa", "Al Yasmin"]},
            {"city": "Jeddah", "districts": []},
        ],
        "license": "CR-1010-445566",
        "years": 12,
        "phone": "+966 11 555 0101",
        "featured": True,
        "portfolio": ("Villa AC overhaul in Al Malqa", "hvac", "Riyadh, Al Malqa", (32, 110, 180)),
    },
    {
        "email": "khalid@demo.homeops.org",
        "type": "engineer",
        "business_name": "Khalid Al-Otaibi, electrical engineer",
        "organization": None,
        "description": "Licensed electrical engineer: rewiring, lighting, panels and split AC units in Riyadh.",
        "services": ["electrical", "hvac"],
        "coverage": [{"city": "Riyadh", "districts": []}],
        "license": "SCE-EE-20931",
        "years": 8,
        "phone": "+966 50 555 0202",
        "featured": False,
        "portfolio": (
            "Garden lighting for a villa in Al Yasmin",
            "electrical",
            "Riyadh, Al Yasmin",
            (220, 160, 30),
        ),
    },
    {
        "email": "yusuf@demo.homeops.org",
        "type": "engineer",
        "business_name": "Yusuf Al-Ghamdi, plumbing engineer",
        "organization": None,
        "description": "Plumbing and waterproofing engineer: leak detection, bathrooms, roofs, in Jeddah and Riyadh.",
        "services": ["plumbing", "waterproofing"],
        "coverage": [
            {"city": "Jeddah", "districts": ["Al Rawdah", "Al Shati", "Al Hamra"]},
            {"city": "Riyadh", "districts": ["Al Olaya"]},
        ],
        "license": "SCE-CE-17402",
        "years": 15,
        "phone": "+966 55 555 0303",
        "featured": False,
        "portfolio": ("Bathroom leak repair in Al Rawdah", "plumbing", "Jeddah, Al Rawdah", (20, 150, 120)),
    },
]


def _quote(solution: str, days: int, warranty: int, items: list[tuple[str, str, str]]) -> dict[str, Any]:
    """A quote body as the API takes it (``QuoteIn``: categorised lines adding up to the total), dumped as the
    quote service stores it. ``items``: (category, description, amount)."""
    total = sum((Decimal(amount) for _, _, amount in items), Decimal(0))
    body = QuoteIn.model_validate(
        {
            "estimated_cost": total,
            "cost_breakdown": {
                "items": [{"category": c, "description": d, "amount": Decimal(a)} for c, d, a in items],
                "total": total,
            },
            "estimated_duration_days": days,
            "warranty_period_months": warranty,
            "proposed_solution": solution,
        }
    )
    return body.model_dump(mode="json", exclude={"provider_id"})


# Alice's requests, one per state. "quotes": provider email → quote; "accept": whose quote is accepted.
DEMO_REQUESTS: list[dict[str, Any]] = [
    {
        "title": "Kitchen sink drains slowly",
        "description": "The kitchen sink takes minutes to drain and smells. Plunging did not help.",
        "category": "plumbing",
        "city": "Riyadh",
        "district": "Al Olaya",
        "state": "open",
        "quotes": {},
    },
    {
        "title": "AC not cooling in the majlis",
        "description": "The split AC in the majlis blows warm air since last week; the outdoor unit is noisy.",
        "category": "hvac",
        "city": "Riyadh",
        "district": "Al Olaya",
        "state": "quotes_received",
        "quotes": {
            "noura@demo.homeops.org": _quote(
                "Check the refrigerant, clean the coils and replace the capacitor if needed.",
                1,
                6,
                [
                    ("labor", "Inspection and cleaning", "250"),
                    ("materials", "Capacitor (if needed)", "180"),
                    ("materials", "Refrigerant top-up", "320"),
                ],
            ),
            "khalid@demo.homeops.org": _quote(
                "Diagnose the outdoor unit and recharge the refrigerant.",
                1,
                3,
                [("labor", "Diagnosis", "150"), ("materials", "Refrigerant recharge", "400")],
            ),
        },
    },
    {
        "title": "Rewire the garden lighting",
        "description": "Half of the garden lights stopped working and the breaker trips when it rains.",
        "category": "electrical",
        "city": "Riyadh",
        "district": "Al Olaya",
        "state": "in_progress",
        "quotes": {
            "khalid@demo.homeops.org": _quote(
                "Replace the outdoor cabling with armoured cable and add a weatherproof RCD box.",
                3,
                12,
                [
                    ("materials", "Armoured cable, 60 m", "900"),
                    ("materials", "RCD and enclosure", "350"),
                    ("labor", "Labour", "1200"),
                ],
            ),
            "noura@demo.homeops.org": _quote(
                "Full garden lighting renovation with new LED fixtures.",
                5,
                12,
                [
                    ("materials", "LED fixtures", "1800"),
                    ("materials", "Cabling", "1000"),
                    ("labor", "Labour", "1500"),
                ],
            ),
        },
        "accept": "khalid@demo.homeops.org",
    },
    {
        "title": "Water leak under the bathroom floor",
        "description": "A damp patch is spreading on the wall next to the bathroom and the water bill doubled.",
        "category": "plumbing",
        "city": "Jeddah",
        "district": "Al Rawdah",
        "state": "completed",
        "quotes": {
            "yusuf@demo.homeops.org": _quote(
                "Thermal leak detection, replace the broken pipe section and re-tile the opened area.",
                2,
                12,
                [
                    ("equipment", "Thermal leak detection", "400"),
                    ("labor", "Pipe repair", "650"),
                    ("materials", "Tiling", "550"),
                ],
            ),
        },
        "accept": "yusuf@demo.homeops.org",
        "rating": {
            "overall_rating": 5,
            "quality_rating": 5,
            "timeliness_rating": 4,
            "professionalism_rating": 5,
            "value_rating": 4,
            "communication_rating": 5,
            "review_title": "Found the leak in an hour",
            "review_text": "Yusuf found the leak without breaking half the bathroom and left everything clean.",
            "would_recommend": True,
        },
        "response": "Thank you, Alice! The 12-month warranty covers the repaired section; call us any time.",
    },
    {
        "title": "Repaint the guest room",
        "description": "Two walls of the guest room need a fresh coat of paint.",
        "category": "painting",
        "city": "Riyadh",
        "district": "Al Olaya",
        "state": "cancelled",
        "quotes": {},
        "cancellation_reason": "We decided to paint it ourselves.",
    },
]

MARKETPLACE_COUNTS = ("providers", "portfolio_items", "service_requests", "quotes", "projects", "ratings")


def portfolio_png(title: str, colour: tuple[int, int, int]) -> bytes:
    """A small illustrative PNG drawn in-process (a house on a coloured background)."""
    image = Image.new("RGB", (480, 320), colour)
    draw = ImageDraw.Draw(image)
    draw.rectangle((150, 150, 330, 280), fill=(245, 240, 230), outline=(40, 40, 40), width=3)
    draw.polygon([(130, 155), (240, 70), (350, 155)], fill=(170, 60, 50), outline=(40, 40, 40))
    draw.rectangle((220, 210, 260, 280), fill=(110, 70, 40))
    draw.rectangle((170, 175, 205, 205), fill=(150, 200, 235))
    draw.rectangle((275, 175, 310, 205), fill=(150, 200, 235))
    draw.text((12, 12), title[:60], fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def load_marketplace(
    conn: psycopg.Connection, ids: dict[str, str], storage: Storage, created: dict[str, int]
) -> None:
    for key in MARKETPLACE_COUNTS:
        created.setdefault(key, 0)
    providers = {p["email"]: _load_provider(conn, ids, storage, p, created) for p in DEMO_PROVIDERS}
    for r in DEMO_REQUESTS:
        _load_request(conn, ids, providers, r, created)
    for provider_id in providers.values():
        conn.execute("SELECT homeops_refresh_provider_stats(%s)", (provider_id,))


def _organization(conn: psycopg.Connection, owner_id: str, org: dict[str, str]) -> str:
    row = (
        conn.execute(
            """INSERT INTO organizations (kind, name, slug, created_by) VALUES ('provider', %s, %s, %s)
           ON CONFLICT (slug) DO NOTHING RETURNING id""",
            (org["name"], org["slug"], owner_id),
        ).fetchone()
        or conn.execute("SELECT id FROM organizations WHERE slug = %s", (org["slug"],)).fetchone()
    )
    assert row is not None
    conn.execute(
        """INSERT INTO organization_members (organization_id, user_id, role) VALUES (%s, %s, 'owner')
           ON CONFLICT (organization_id, user_id) DO NOTHING""",
        (row[0], owner_id),
    )
    return str(row[0])


def _load_provider(
    conn: psycopg.Connection,
    ids: dict[str, str],
    storage: Storage,
    p: dict[str, Any],
    created: dict[str, int],
) -> str:
    user_id = ids[p["email"]]
    org_id = _organization(conn, user_id, p["organization"]) if p["organization"] else None
    row = conn.execute(
        """INSERT INTO provider_profiles (user_id, organization_id, provider_type, business_name, description,
               services_offered, coverage_areas, license_number, years_of_experience, contact_phone,
               is_verified, verified_at, verified_by, is_featured)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, true, now(), %s, %s)
           ON CONFLICT (user_id) DO NOTHING RETURNING id""",
        (
            user_id,
            org_id,
            p["type"],
            p["business_name"],
            p["description"],
            Jsonb(p["services"]),
            Jsonb(p["coverage"]),
            p["license"],
            p["years"],
            p["phone"],
            ids[ADMIN],
            p["featured"],
        ),
    ).fetchone()
    if row is not None:
        created["providers"] += 1
    else:
        row = conn.execute("SELECT id FROM provider_profiles WHERE user_id = %s", (user_id,)).fetchone()
    assert row is not None
    provider_id = str(row[0])
    title, category, location, colour = p["portfolio"]
    if conn.execute(
        "SELECT 1 FROM portfolio_items WHERE provider_id = %s AND title = %s", (provider_id, title)
    ).fetchone():
        return provider_id
    item_id = str(uuid.uuid4())
    clean = sanitize_image(portfolio_png(title, colour), max_bytes=10 * 1024 * 1024)
    key = f"portfolio/{provider_id}/{item_id}/{uuid.uuid4().hex}.{clean.extension}"
    image = {
        "key": key,
        "caption": title,
        "order": 0,
        "content_type": clean.content_type,
        "size": len(clean.data),
        "width": clean.width,
        "height": clean.height,
        "uploaded_at": datetime.now(UTC).isoformat(),
    }
    conn.execute(
        """INSERT INTO portfolio_items (id, provider_id, provider_user_id, provider_org_id, provider_public, title,
               description, project_type, images, project_date, location, display_order, is_featured)
           VALUES (%s, %s, %s, %s, true, %s, %s, %s, %s, current_date - 60, %s, 0, true)""",
        (item_id, provider_id, user_id, org_id, title, p["description"], category, Jsonb([image]), location),
    )
    storage.put(key, clean.data, clean.content_type)  # after its row, as the portfolio service does
    created["portfolio_items"] += 1
    return provider_id


def _load_request(
    conn: psycopg.Connection,
    ids: dict[str, str],
    providers: dict[str, str],
    r: dict[str, Any],
    created: dict[str, int],
) -> None:
    alice = ids[ALICE]
    if conn.execute(
        "SELECT 1 FROM service_requests WHERE requester_id = %s AND problem_title = %s", (alice, r["title"])
    ).fetchone():
        return
    row = conn.execute(
        """INSERT INTO service_requests (requester_id, problem_title, problem_description, problem_category,
               city, district, contact_name, preferred_service_date, expires_at)
           VALUES (%s, %s, %s, %s, %s, %s, 'Alice Homeowner', current_date + 7, now() + interval '30 days')
           RETURNING id""",
        (alice, r["title"], r["description"], r["category"], r["city"], r["district"]),
    ).fetchone()
    assert row is not None
    request_id = str(row[0])
    created["service_requests"] += 1
    if r["state"] == "cancelled":
        conn.execute(
            """UPDATE service_requests SET status = 'cancelled', cancelled_at = now(), cancellation_reason = %s
               WHERE requester_id = %s AND id = %s""",
            (r["cancellation_reason"], alice, request_id),
        )
        return
    quote_ids: dict[str, str] = {}
    for email, q in r["quotes"].items():
        quote_ids[email] = _submit_quote(conn, alice, request_id, providers[email], q)
        created["quotes"] += 1
    if "accept" not in r:
        return
    project_id = _accept(conn, alice, request_id, quote_ids[r["accept"]])
    created["projects"] += 1
    conn.execute(
        """UPDATE projects SET status = 'in_progress', actual_start_date = current_date, started_at = now()
           WHERE requester_id = %s AND id = %s""",
        (alice, project_id),
    )
    if r["state"] != "completed":
        return
    conn.execute(
        """UPDATE projects SET status = 'completed', actual_cost = agreed_cost, actual_completion_date = current_date,
               completed_at = now(), payment_status = 'completed', warranty_start_date = current_date,
               warranty_end_date = (current_date + make_interval(months => coalesce(warranty_months, 0)))::date
           WHERE requester_id = %s AND id = %s""",
        (alice, project_id),
    )
    rating = RatingIn.model_validate(r["rating"]).model_dump(mode="json", exclude_none=True)
    project = conn.execute(
        "SELECT provider_id, provider_user_id, provider_org_id FROM projects WHERE requester_id = %s AND id = %s",
        (alice, project_id),
    ).fetchone()
    assert project is not None
    columns = ", ".join(rating)
    placeholders = ", ".join(["%s"] * len(rating))
    rated = conn.execute(
        f"""INSERT INTO ratings (requester_id, project_id, provider_id, provider_user_id, provider_org_id,
                reviewer_name, {columns})
            VALUES (%s, %s, %s, %s, %s, 'Alice H.', {placeholders}) RETURNING id""",
        (alice, project_id, *project, *rating.values()),
    ).fetchone()
    assert rated is not None
    created["ratings"] += 1
    conn.execute(
        """UPDATE ratings SET response_from_provider = %s, response_at = now(), response_by = %s
           WHERE requester_id = %s AND id = %s""",
        (r["response"], project[1], alice, rated[0]),
    )


def _submit_quote(
    conn: psycopg.Connection, alice: str, request_id: str, provider_id: str, q: dict[str, Any]
) -> str:
    """What ``homeops_submit_quote`` writes (that function acts for the provider's identity, which only the
    database's session functions set): the quote, the request's count and ``open → quotes_received``."""
    row = conn.execute(
        """INSERT INTO quotes (requester_id, request_id, provider_id, provider_user_id, provider_org_id,
               estimated_cost, cost_breakdown, estimated_duration_days, proposed_solution, warranty_period_months,
               validity_period_days, response_hours, expires_at)
           SELECT r.requester_id, r.id, p.id, p.user_id, p.organization_id, %s::numeric, %s, %s::int, %s, %s::int, 14,
                  round((extract(epoch FROM now() - r.created_at) / 3600)::numeric, 2), now() + interval '14 days'
             FROM service_requests r, provider_profiles p
            WHERE r.requester_id = %s AND r.id = %s AND p.id = %s AND p.is_verified
           RETURNING id""",
        (
            q["estimated_cost"],
            Jsonb(q["cost_breakdown"]),
            q["estimated_duration_days"],
            q["proposed_solution"],
            q["warranty_period_months"],
            alice,
            request_id,
            provider_id,
        ),
    ).fetchone()
    assert row is not None
    conn.execute(
        """UPDATE service_requests SET quotes_count = quotes_count + 1,
               status = CASE WHEN status = 'open' THEN 'quotes_received'::request_status ELSE status END
           WHERE requester_id = %s AND id = %s""",
        (alice, request_id),
    )
    return str(row[0])


def _accept(conn: psycopg.Connection, alice: str, request_id: str, quote_id: str) -> str:
    """What ``QuoteService.accept`` writes: the quote accepted, the other pending ones rejected, the request
    ``provider_selected``, and the project."""
    conn.execute(
        "UPDATE quotes SET status = 'accepted', accepted_at = now() WHERE requester_id = %s AND id = %s",
        (alice, quote_id),
    )
    conn.execute(
        """UPDATE quotes SET status = 'rejected', rejected_at = now(),
               rejection_reason = 'The homeowner accepted another quote.'
           WHERE requester_id = %s AND request_id = %s AND id <> %s AND status = 'pending'""",
        (alice, request_id, quote_id),
    )
    conn.execute(
        """UPDATE service_requests r SET status = 'provider_selected', selected_quote_id = q.id,
               selected_provider_id = q.provider_id, selected_provider_user_id = q.provider_user_id,
               selected_provider_org_id = q.provider_org_id, selected_at = now()
           FROM quotes q WHERE q.requester_id = r.requester_id AND q.id = %s
             AND r.requester_id = %s AND r.id = %s""",
        (quote_id, alice, request_id),
    )
    row = conn.execute(
        """INSERT INTO projects (requester_id, request_id, quote_id, provider_id, provider_user_id, provider_org_id,
               home_id, device_ids, project_title, project_description, agreed_cost, warranty_months,
               scheduled_start_date)
           SELECT r.requester_id, r.id, q.id, q.provider_id, q.provider_user_id, q.provider_org_id, r.home_id,
                  r.device_ids, r.problem_title, coalesce(q.proposed_solution, r.problem_description),
                  q.estimated_cost, q.warranty_period_months, r.preferred_service_date
             FROM service_requests r JOIN quotes q ON q.requester_id = r.requester_id AND q.request_id = r.id
            WHERE r.requester_id = %s AND r.id = %s AND q.id = %s
           RETURNING id""",
        (alice, request_id, quote_id),
    ).fetchone()
    assert row is not None
    return str(row[0])
