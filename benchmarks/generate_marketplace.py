"""Bulk-load the marketplace (seed 002, issue 11) on top of a data set made by ``generate.py``.

    python benchmarks/generate_marketplace.py [--data-dir benchmarks/.data] [--providers 10000]
        [--requests 300000] [--quotes 1000000] [--projects 200000] [--messages 5000000] [--ratings 150000]
        [--seed 2] [--reset]

Needs the core step of ``generate.py`` (the bench homeowners and their homes: the requesters, their cities and
addresses). Loads, **as the table owner** with ``COPY … FROM STDIN`` streamed from generators:

* provider users (``prov-<n>@providers.bench.homeops.org``, role ``provider``, the bench password), one
  ``provider`` organization per company (30 %, its owner's membership), ``provider_profiles`` (85 % verified,
  services from the 15 reference categories, coverage from the homes' 15 cities with districts, a quarter with
  a service centre and radius);
* ``service_requests`` by the homeowners (in their home's city, a few with a location) in every state,
  ``quotes`` (0–8 per request, only by verified providers whose services and coverage match the request, one
  live quote per provider), ``request_views`` (each quoting provider viewed the request), ``projects`` (the
  accepted quotes), ``chat_messages`` (per project skewed, with the services' system messages), ``ratings``
  (on completed projects).

Rows are what the application writes: keyed by the requester (``requester_id``) with the provider side
denormalised from the profile (``provider_user_id``, ``provider_org_id``), states and timestamps following the
workflows (a request's other pending quotes rejected when one is accepted, expired after their validity …).
The per-requester tables are COPYed with ``session_replication_role = replica`` (no foreign-key triggers —
the requests and their selected quotes reference each other — and no guard triggers, which are BEFORE UPDATE
only anyway), their secondary indexes dropped first and rebuilt after; every foreign key is then checked with
one anti-join each (must be 0 violations). The counters the database maintains are set in bulk afterwards
with the formulas of their functions: ``quotes_count`` (every quote submitted), ``views_count`` (the request's
``request_views``), and the providers' aggregates exactly as ``homeops_refresh_provider_stats`` computes them
(checked on a sample by calling that function: no change). Rows are written in time order (requests by
creation, quotes by submission, messages by sending time), as they would arrive.

Deterministic for a given ``--seed`` (dates relative to the start time). ``--reset`` empties the marketplace
tables and deletes the provider users first (refused unless every user is a bench user).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from array import array
from bisect import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any

import psycopg
from rich.console import Console
from rich.table import Table

from homeops.bootstrap import prepare_database
from homeops.core.config import Settings
from homeops.core.database import libpq_dsn
from homeops.core.security import hash_password

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from generate import BENCH_DOMAIN, BENCH_PASSWORD, CITIES, FIRST, LAST, copy_rows, line, new_uuid, ts

PROVIDER_DOMAIN = "providers.bench.homeops.org"
console = Console()

# (code, weight of requests): the p014 reference categories, the common trades most asked for.
CATEGORIES = (
    ("plumbing", 20),
    ("electrical", 14),
    ("hvac", 16),
    ("appliance_repair", 12),
    ("carpentry", 5),
    ("painting", 6),
    ("roofing", 4),
    ("structural", 2),
    ("waterproofing", 3),
    ("flooring", 3),
    ("pest_control", 4),
    ("locksmith", 3),
    ("landscaping", 3),
    ("cleaning", 3),
    ("general", 2),
)
CODES = [c for c, _ in CATEGORIES]
CAT_CUM = list(accumulate(w for _, w in CATEGORIES))
# Trades offered together (a provider's extra services are drawn from its primary's list first).
RELATED = {
    "plumbing": ("waterproofing", "appliance_repair", "general", "hvac"),
    "electrical": ("hvac", "appliance_repair", "locksmith", "general"),
    "hvac": ("electrical", "appliance_repair", "plumbing", "cleaning"),
    "appliance_repair": ("electrical", "hvac", "plumbing"),
    "carpentry": ("flooring", "painting", "general", "structural"),
    "painting": ("carpentry", "flooring", "waterproofing", "general"),
    "roofing": ("waterproofing", "structural", "carpentry"),
    "structural": ("roofing", "waterproofing", "carpentry"),
    "waterproofing": ("roofing", "plumbing", "painting"),
    "flooring": ("carpentry", "painting", "cleaning"),
    "pest_control": ("cleaning", "landscaping"),
    "locksmith": ("electrical", "carpentry", "general"),
    "landscaping": ("pest_control", "cleaning", "general"),
    "cleaning": ("pest_control", "landscaping", "hvac"),
    "general": ("carpentry", "painting", "plumbing", "electrical"),
}
TRADE_NAMES = {
    "plumbing": ("Plumbing", "Plumbing & Drains", "Pipe Works"),
    "electrical": ("Electric", "Electrical Services", "Wiring Co"),
    "hvac": ("Heating & Cooling", "HVAC", "Air Comfort"),
    "appliance_repair": ("Appliance Repair", "Appliance Doctors", "Fix-It Appliances"),
    "carpentry": ("Carpentry", "Woodworks", "Cabinet & Door"),
    "painting": ("Painting", "Paint Pros", "Colour & Coat"),
    "roofing": ("Roofing", "Roof & Gutter", "Top Roofing"),
    "structural": ("Structural Repair", "Foundation Experts", "Wall & Crack"),
    "waterproofing": ("Waterproofing", "Damp Solutions", "Dry Home"),
    "flooring": ("Flooring", "Tile & Floor", "Floor Masters"),
    "pest_control": ("Pest Control", "Bug Busters", "Pest Away"),
    "locksmith": ("Locksmith", "Lock & Key", "Secure Home"),
    "landscaping": ("Landscaping", "Garden Care", "Green Yards"),
    "cleaning": ("Cleaning", "Deep Clean", "Spotless Homes"),
    "general": ("Handyman", "Home Repairs", "Fix Anything"),
}
# Per category: (title, description) of typical requests, and a cost range for one job (currency units).
JOBS: dict[str, tuple[tuple[tuple[str, str], ...], tuple[int, int]]] = {
    "plumbing": (
        (
            ("Kitchen sink drains slowly", "The kitchen sink takes minutes to drain and smells."),
            ("Leaking pipe under the bathroom sink", "Water drips from the trap; the cabinet floor is wet."),
            (
                "Water heater makes banging noises",
                "The tank heater bangs when it heats and the water is lukewarm.",
            ),
            (
                "Toilet keeps running",
                "The toilet refills every few minutes; the flapper was replaced already.",
            ),
            ("Low water pressure upstairs", "Showers upstairs barely run since last month."),
        ),
        (120, 2500),
    ),
    "electrical": (
        (
            (
                "Breaker trips when the oven is on",
                "The kitchen breaker trips a few minutes after the oven starts.",
            ),
            ("Install outdoor lighting", "We want four wall lights and a motion sensor on the driveway."),
            ("Sockets in the living room dead", "Three sockets stopped working; the breaker looks fine."),
            ("Replace the old fuse panel", "The house still has a fuse box; we want a modern breaker panel."),
        ),
        (90, 3500),
    ),
    "hvac": (
        (
            ("AC not cooling", "The split AC blows warm air since last week; the outdoor unit is noisy."),
            ("Furnace does not start", "The furnace clicks but does not ignite; the thermostat has power."),
            ("Annual AC service", "Clean the coils and filters and check the refrigerant of two units."),
            ("Heat pump ices up", "The outdoor unit of the heat pump is covered in ice every morning."),
        ),
        (100, 6000),
    ),
    "appliance_repair": (
        (
            ("Dishwasher does not drain", "Water stays at the bottom after every cycle; error code shown."),
            ("Fridge not cold enough", "The fridge runs constantly but stays at 10 degrees."),
            ("Washer stops mid-cycle", "The washing machine stops during the spin and shows an error."),
            ("Oven does not heat", "The oven lights come on but it never gets hot."),
        ),
        (80, 900),
    ),
    "carpentry": (
        (
            (
                "Interior door does not close",
                "The bedroom door sticks and the latch misses the strike plate.",
            ),
            ("Build shelves in the study", "A wall of shelves, about 3 m wide, painted white."),
            ("Repair kitchen cabinet doors", "Two hinges broke and one door hangs crooked."),
        ),
        (100, 4000),
    ),
    "painting": (
        (
            ("Repaint the living room", "Walls and ceiling of a 25 m2 living room, colour change."),
            ("Exterior trim painting", "Window frames and trim are peeling on the south side."),
            ("Paint two bedrooms", "Two bedrooms, walls only, we supply the paint."),
        ),
        (250, 5000),
    ),
    "roofing": (
        (
            ("Roof leak after heavy rain", "Water comes through the ceiling of the upstairs hallway."),
            ("Clean and repair gutters", "Gutters overflow and one section hangs loose."),
            ("Replace missing shingles", "The storm took off a dozen shingles on the back slope."),
        ),
        (200, 9000),
    ),
    "structural": (
        (
            ("Crack in the basement wall", "A diagonal crack in the foundation wall got wider this year."),
            ("Sagging floor in the kitchen", "The kitchen floor dips near the island."),
        ),
        (500, 15000),
    ),
    "waterproofing": (
        (
            (
                "Damp patch on the bedroom wall",
                "A damp patch with mould spreads from the corner of the room.",
            ),
            ("Basement takes water", "After rain there is water along one basement wall."),
        ),
        (300, 7000),
    ),
    "flooring": (
        (
            ("Replace cracked tiles", "Six tiles in the kitchen are cracked and one is loose."),
            ("Refinish wood floors", "Sand and refinish about 60 m2 of oak floor."),
        ),
        (200, 6000),
    ),
    "pest_control": (
        (
            ("Ants in the kitchen", "Ant trails along the counter every morning."),
            ("Mice in the attic", "We hear scratching at night and found droppings in the attic."),
        ),
        (80, 700),
    ),
    "locksmith": (
        (
            ("Change the front door locks", "New locks on the front and back doors, keyed alike."),
            ("Install a smart lock", "Replace the deadbolt with a smart lock we bought."),
        ),
        (60, 600),
    ),
    "landscaping": (
        (
            ("Fix the irrigation system", "Two zones of the sprinklers do not come on."),
            ("Trim the hedges and trees", "A long hedge and three trees need trimming."),
        ),
        (100, 3000),
    ),
    "cleaning": (
        (
            ("Deep clean after renovation", "Dust everywhere after a kitchen renovation, 120 m2 house."),
            ("Clean the air ducts", "Ducts were never cleaned; allergies in the family."),
        ),
        (100, 1200),
    ),
    "general": (
        (
            ("Small repairs around the house", "Hang shelves, fix a dripping tap and a loose handrail."),
            ("Assemble furniture", "A wardrobe and two beds to assemble."),
        ),
        (60, 800),
    ),
}
DISTRICTS = (
    "Downtown",
    "Northside",
    "Southside",
    "East End",
    "West End",
    "Riverside",
    "Old Town",
    "University",
)
CITY_CENTRES = {
    "Springfield": (39.80, -89.65),
    "Portland": (45.52, -122.68),
    "Austin": (30.27, -97.74),
    "Madison": (43.07, -89.40),
    "Raleigh": (35.78, -78.64),
    "Denver": (39.74, -104.99),
    "Columbus": (39.96, -83.00),
    "Tampa": (27.95, -82.46),
    "Boise": (43.62, -116.20),
    "Albany": (42.65, -73.75),
    "Tucson": (32.22, -110.97),
    "Richmond": (37.54, -77.44),
    "Omaha": (41.26, -95.93),
    "Burlington": (44.48, -73.21),
    "Fresno": (36.74, -119.79),
}
CITY_NAMES = [c for c, _ in CITIES]
ANOTHER_ACCEPTED = "Another quote was accepted."  # quotes.ANOTHER_ACCEPTED
HOMEOWNER_CANCELLED = "The homeowner cancelled the request."  # RequestService.cancel
CANCEL_REASONS = (
    "We fixed it ourselves.",
    "The quotes were too expensive.",
    "We are moving out.",
    "A friend will do it.",
    None,
)
VALIDITY_DAYS = 14  # quote_validity_days default
EXPIRY_DAYS = 30  # request_expiry_days default

REQUESTER_LINES = (
    "Hi, when could you come by?",
    "Is the price including materials?",
    "Thanks! Tuesday morning works for us.",
    "Could you send a photo of the part you need?",
    "The problem got worse since yesterday.",
    "Someone will be home after 3 pm.",
    "Please ring the bell at the side door.",
    "Great, see you then.",
    "How long will the work take?",
    "Can you also look at the {thing} while you are here?",
    "We found the warranty papers, sending them over.",
    "Thank you for the quick reply.",
    "Is parking on the street ok for your van?",
    "The noise started again this morning.",
)
PROVIDER_LINES = (
    "Hello, I can come on {day} between 9 and 11.",
    "Yes, the quote includes all materials.",
    "I will bring the replacement part.",
    "Running about 20 minutes late, sorry.",
    "Work is done, please check and let me know.",
    "I need to order the part, it takes two days.",
    "Could you turn off the water before I arrive?",
    "Here is what I found: the {thing} is worn out.",
    "I'll send the invoice after the job.",
    "Thanks for your patience.",
    "Please keep the area clear so we can start early.",
    "All cleaned up. The warranty covers parts and labour.",
    "We can start {day} if that suits you.",
)
THINGS = ("valve", "seal", "filter", "switch", "hinge", "thermostat", "drain", "fan", "socket", "gutter")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
REVIEW_TITLES = {
    5: ("Excellent work", "Highly recommended", "Fast and professional", "Could not be happier"),
    4: ("Good job", "Solid work", "Would hire again", "Reliable and friendly"),
    3: ("Okay overall", "Decent but slow", "Average experience"),
    2: ("Disappointing", "Took too long", "Not great"),
    1: ("Terrible experience", "Would not recommend", "Poor workmanship"),
}
REVIEW_TEXTS = {
    5: (
        "Arrived on time, explained everything and left the place spotless.",
        "Fixed the {thing} in an hour, fair price and great communication.",
        "Very knowledgeable, found the real cause quickly.",
    ),
    4: (
        "Good work on the {thing}, a little later than promised.",
        "Friendly and competent, the price was as quoted.",
        "Did a careful job; one follow-up visit was needed.",
    ),
    3: (
        "The job got done but communication could be better.",
        "Fair work, needed two visits to finish the {thing}.",
    ),
    2: (
        "Came late twice and the {thing} still makes noise.",
        "The final price was higher than the quote.",
    ),
    1: (
        "Did not show up on the agreed day and left a mess.",
        "The {thing} broke again a week later and no reply since.",
    ),
}
RESPONSES = (
    "Thank you for the kind words!",
    "Thanks, it was a pleasure working with you.",
    "Sorry for the delay, we have changed our scheduling since.",
    "We are sorry to hear that, please call us and we will make it right.",
)

# --- columns COPYed --------------------------------------------------------------------------------------
COLUMNS = {
    "users": "id, email, full_name, role, password_hash, is_verified, is_active, last_login_at, created_at, updated_at",
    "organizations": "id, kind, name, slug, created_by, created_at, updated_at",
    "organization_members": "id, organization_id, user_id, role, created_at, updated_at",
    "provider_profiles": "id, user_id, organization_id, provider_type, business_name, description, "
    "services_offered, certifications, coverage_areas, service_center_lat, service_center_lon, service_radius_km, "
    "license_number, years_of_experience, contact_phone, is_verified, verified_at, verified_by, is_featured, "
    "created_at, updated_at",
    "service_requests": "requester_id, id, home_id, problem_title, problem_description, problem_category, "
    "preferred_provider_type, preferred_service_date, property_type, city, district, latitude, longitude, "
    "property_address, contact_name, status, selected_quote_id, selected_provider_id, selected_provider_user_id, "
    "selected_provider_org_id, selected_at, cancelled_at, cancellation_reason, quotes_count, views_count, "
    "expires_at, created_at, updated_at",
    "quotes": "requester_id, id, request_id, provider_id, provider_user_id, provider_org_id, estimated_cost, "
    "cost_breakdown, estimated_duration_days, technical_assessment, proposed_solution, materials_included, "
    "warranty_period_months, validity_period_days, status, rejection_reason, response_hours, submitted_at, "
    "expires_at, accepted_at, rejected_at, withdrawn_at, updated_at",
    "request_views": "requester_id, request_id, provider_id, viewed_at",
    "projects": "requester_id, id, request_id, quote_id, provider_id, provider_user_id, provider_org_id, home_id, "
    "project_title, project_description, status, scheduled_start_date, actual_start_date, scheduled_end_date, "
    "actual_completion_date, agreed_cost, actual_cost, cost_difference_reason, payment_status, warranty_months, "
    "warranty_start_date, warranty_end_date, disputed_from, dispute_reason, dispute_opened_by, dispute_opened_at, "
    "cancellation_reason, cancelled_by, started_at, completed_at, created_at, updated_at",
    "chat_messages": "requester_id, id, project_id, provider_user_id, provider_org_id, sender_id, receiver_id, "
    "sender_side, message_text, message_type, is_read, read_at, deleted_by_requester, deleted_by_provider, "
    "created_at",
    "ratings": "requester_id, id, project_id, provider_id, provider_user_id, provider_org_id, reviewer_name, "
    "overall_rating, quality_rating, timeliness_rating, professionalism_rating, value_rating, "
    "communication_rating, review_title, review_text, would_recommend, response_from_provider, response_at, "
    "response_by, is_featured, created_at, updated_at",
}
# Loaded in this order; the per-requester ones (from service_requests on) under session_replication_role.
MARKETPLACE = ("service_requests", "quotes", "request_views", "projects", "chat_messages", "ratings")
DIRECTORY = ("users", "organizations", "organization_members", "provider_profiles")


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


@dataclass(slots=True)
class Provider:
    id: str
    user_id: str
    org_id: str | None
    kind: str  # company | engineer
    verified: bool
    weight: float  # popularity (Pareto): how often it quotes and wins
    quality: float  # mean overall rating of its work
    name: str
    services: list[str]
    coverage: list[dict[str, Any]]
    centre: tuple[float, float] | None
    radius: float | None


@dataclass(slots=True)
class Req:
    requester: str
    id: str
    home: str
    category: str
    city: str
    district: str | None
    created: float  # epoch seconds
    ptype: str = "any"  # preferred provider type
    title: str = ""
    status: str = "open"
    quotes: list[list[Any]] = field(default_factory=list)  # [id, provider index, submitted, cents, status, …]
    selected: int = -1  # index into quotes
    event: float = 0.0  # selected / cancelled at


class Plan:
    def __init__(self, args: argparse.Namespace, now: datetime, rng: random.Random) -> None:
        self.args, self.now, self.rng = args, now, rng
        self.now_s = now.timestamp()
        self.providers: list[Provider] = []
        self.match: dict[tuple[str, str], list[int]] = {}  # (category, city) → provider indexes
        self.requests: list[Req] = []
        self.stats: dict[str, int] = {}

    # --- providers ---------------------------------------------------------------------------------------

    def provider_rows(self, password_hash: str, admin_id: str) -> dict[str, list[str]]:
        rng, args = self.rng, self.args
        out: dict[str, list[str]] = {t: [] for t in DIRECTORY}
        start = self.now_s - 3 * 365 * 86400
        for n in range(1, args.providers + 1):
            uid = new_uuid(rng)
            created = start + rng.random() * (self.now_s - start - 86400)
            first, last = rng.choice(FIRST), rng.choice(LAST)
            primary = CODES[bisect(CAT_CUM, rng.random() * CAT_CUM[-1])]
            services = [primary]
            extra = rng.choices((0, 1, 2, 3), (35, 35, 20, 10))[0]
            services.extend(rng.sample(RELATED[primary], min(extra, len(RELATED[primary]))))
            home_city = rng.choice(CITY_NAMES)
            cities = [home_city] + rng.sample(
                [c for c in CITY_NAMES if c != home_city], rng.choices((0, 1, 2), (60, 28, 12))[0]
            )
            coverage: list[dict[str, Any]] = []
            for city in cities:
                districts = [] if rng.random() < 0.55 else sorted(rng.sample(DISTRICTS, rng.randint(1, 4)))
                coverage.append({"city": city, "districts": districts})
            company = rng.random() < 0.30
            kind = "company" if company else "engineer"
            trade = rng.choice(TRADE_NAMES[primary])
            name = f"{last} {trade}" if company else f"{first} {last}, {trade.lower()} specialist"
            verified = rng.random() < 0.85
            centre = radius = None
            if rng.random() < 0.25:
                lat, lon = CITY_CENTRES[home_city]
                centre = (round(lat + rng.uniform(-0.08, 0.08), 6), round(lon + rng.uniform(-0.08, 0.08), 6))
                radius = float(rng.choice((10, 15, 20, 25, 30, 40)))
            org_id = new_uuid(rng) if company else None
            p = Provider(
                id=new_uuid(rng),
                user_id=uid,
                org_id=org_id,
                kind=kind,
                verified=verified,
                weight=rng.paretovariate(1.3),
                quality=min(4.95, max(2.2, rng.gauss(4.25, 0.45))),
                name=name,
                services=services,
                coverage=coverage,
                centre=centre,
                radius=radius,
            )
            self.providers.append(p)
            email = f"prov-{n:05d}@{PROVIDER_DOMAIN}"
            c = ts(datetime.fromtimestamp(created, UTC))
            login = ts(datetime.fromtimestamp(created + rng.random() * (self.now_s - created), UTC))
            full = f"{first} {last}"
            out["users"].append(line(uid, email, full, "provider", password_hash, True, True, login, c, c))
            if org_id:
                slug = f"bench-provider-{n:05d}"
                out["organizations"].append(line(org_id, "provider", name, slug, uid, c, c))
                out["organization_members"].append(line(new_uuid(rng), org_id, uid, "owner", c, c))
            names = ", ".join(services)
            areas = ", ".join(a["city"] for a in coverage)
            description = (
                f"{'Licensed team' if company else 'Licensed specialist'} for {names.replace('_', ' ')} "
                f"in {areas}. {rng.choice(('Free estimates.', 'Same-day service.', 'Fully insured.', 'Warranty on all work.'))}"
            )
            certs = []
            if rng.random() < 0.4:
                issued = datetime.fromtimestamp(created, UTC).date()
                certs.append(
                    {
                        "name": f"{primary.replace('_', ' ').title()} licence",
                        "issuer": "State licensing board",
                        "number": f"LIC-{rng.randint(100000, 999999)}",
                        "issue_date": issued.isoformat(),
                        "expiry_date": (issued + timedelta(days=3 * 365)).isoformat(),
                    }
                )
            verified_at = ts(datetime.fromtimestamp(created + 2 * 86400, UTC)) if verified else None
            featured = verified and rng.random() < 0.03
            out["provider_profiles"].append(
                line(
                    p.id,
                    uid,
                    org_id,
                    kind,
                    name,
                    description,
                    json.dumps(services),
                    json.dumps(certs),
                    json.dumps(coverage),
                    centre[0] if centre else None,
                    centre[1] if centre else None,
                    radius,
                    f"LIC-{rng.randint(100000, 999999)}" if rng.random() < 0.7 else None,
                    rng.randint(1, 35),
                    f"+1 555 {rng.randint(1000000, 9999999)}",
                    verified,
                    verified_at,
                    admin_id if verified else None,
                    featured,
                    c,
                    c,
                )
            )
            if verified:
                index = len(self.providers) - 1
                for code in services:
                    for area in coverage:
                        self.match.setdefault((code, area["city"]), []).append(index)
        return out

    def covers(self, p: Provider, city: str, district: str | None) -> bool:
        """The matching rule of ``homeops_matching_requests`` (city/district part)."""
        for area in p.coverage:
            if area["city"] == city:
                return not area["districts"] or (district is not None and district in area["districts"])
        return False

    # --- requests, quotes, projects ---------------------------------------------------------------------

    def plan_requests(self, owners: list[tuple[str, str, str, str, str]]) -> None:
        """``owners``: (user id, full name, home id, city, address text) of the bench homeowners."""
        rng, args = self.rng, self.args
        weights = list(accumulate(rng.lognormvariate(0, 1.0) for _ in owners))
        span = 730 * 86400
        reqs: list[Req] = []
        for _ in range(args.requests):
            o = owners[bisect(weights, rng.random() * weights[-1])]
            category = CODES[bisect(CAT_CUM, rng.random() * CAT_CUM[-1])]
            # A growing marketplace: density rises linearly towards today (8 % in the last 30 days).
            created = self.now_s - span * (1 - math.sqrt(rng.random())) - rng.uniform(60, 3600)
            city = o[3] if o[3] in CITY_CENTRES else rng.choice(CITY_NAMES)
            district = rng.choice(DISTRICTS) if rng.random() < 0.8 else None
            ptype = rng.choices(("any", "company", "engineer"), (80, 10, 10))[0]
            reqs.append(Req(o[0], new_uuid(rng), o[2], category, city, district, created, ptype))
        reqs.sort(key=lambda r: r.created)
        recent = [r for r in reqs if self.now_s - r.created < EXPIRY_DAYS * 86400]
        older = [r for r in reqs if self.now_s - r.created >= EXPIRY_DAYS * 86400]
        selected_recent = 0
        for r in recent:
            r.status = rng.choices(
                ("open", "quotes_received", "provider_selected", "cancelled"), (28, 47, 18, 7)
            )[0]
            selected_recent += r.status == "provider_selected"
        n_selected = max(0, min(len(older), args.projects - selected_recent))
        chosen = set(rng.sample(range(len(older)), n_selected))
        for i, r in enumerate(older):
            r.status = (
                "provider_selected" if i in chosen else ("cancelled" if rng.random() < 0.4 else "expired")
            )
        self.requests = reqs
        # Quotes: per state a count distribution (0–8), limited by the matching verified providers.
        dist = {
            "open": ((0,), (1,)),
            "quotes_received": ((1, 2, 3, 4, 5, 6, 7, 8), (18, 20, 18, 14, 11, 8, 6, 5)),
            "provider_selected": ((1, 2, 3, 4, 5, 6, 7, 8), (9, 13, 16, 17, 15, 12, 9, 9)),
            "cancelled": ((0, 1, 2, 3, 4, 5, 6), (20, 18, 18, 15, 12, 10, 7)),
            "expired": ((0, 1, 2, 3, 4, 5, 6), (14, 16, 17, 16, 14, 12, 11)),
        }
        planned = sum(
            sum(c * w for c, w in zip(*dist[r.status], strict=True)) / sum(dist[r.status][1]) for r in reqs
        )
        scale = args.quotes / max(1.0, planned)
        for r in reqs:
            counts, w = dist[r.status]
            k = rng.choices(counts, w)[0]
            if r.status != "open" and scale != 1.0:
                # Scaled to the target with probabilistic rounding (keeps the 0–8 range).
                scaled = k * scale
                k = int(scaled) + (rng.random() < scaled - int(scaled))
                k = max(1 if r.status in ("quotes_received", "provider_selected") else 0, min(8, k))
            self._quotes_for(r, k)

    def _quotes_for(self, r: Req, k: int) -> None:
        rng = self.rng
        pool = [
            i
            for i in self.match.get((r.category, r.city), ())
            if self.covers(self.providers[i], r.city, r.district)
            and r.ptype in ("any", self.providers[i].kind)
        ]
        if not pool:
            if r.status in ("quotes_received", "provider_selected"):
                r.status = "open" if self.now_s - r.created < EXPIRY_DAYS * 86400 else "expired"
            return
        k = min(k, len(pool))
        if k == 0:
            if r.status == "quotes_received":
                r.status = "open"
            return
        cum = list(accumulate(self.providers[i].weight for i in pool))
        chosen: list[int] = []
        while len(chosen) < k:
            i = pool[bisect(cum, rng.random() * cum[-1])]
            if i not in chosen:
                chosen.append(i)
        alive_until = min(self.now_s - 60, r.created + EXPIRY_DAYS * 86400 - 60)
        span = max(120.0, alive_until - r.created)
        lo, hi = JOBS[r.category][1]
        base = rng.lognormvariate(math.log(math.sqrt(lo * hi)), 0.45)
        for i in chosen:
            submitted = r.created + min(span * 0.95, rng.expovariate(1 / (20 * 3600)) + 600)
            cents = int(max(lo, min(hi, base * rng.uniform(0.75, 1.35))) * 100)
            r.quotes.append([new_uuid(rng), i, submitted, cents, "pending", None, None])
        r.quotes.sort(key=lambda q: q[2])
        if r.status == "provider_selected":
            last = r.quotes[-1][2]
            r.event = min(self.now_s - 300, last + rng.expovariate(1 / (30 * 3600)) + 300)
            live = [j for j, q in enumerate(r.quotes) if q[2] + VALIDITY_DAYS * 86400 > r.event]
            if not live:  # every quote lapsed: accept the last one, right after it came in
                r.event = min(self.now_s - 60, last + 3600)
                live = [len(r.quotes) - 1]
            wcum = list(accumulate(self.providers[r.quotes[j][1]].weight for j in live))
            r.selected = live[bisect(wcum, rng.random() * wcum[-1])]
        elif r.status == "cancelled":
            r.event = min(
                self.now_s - 60, (r.quotes[-1][2] if r.quotes else r.created) + rng.uniform(600, 5 * 86400)
            )
        for j, q in enumerate(r.quotes):
            withdrawn = j != r.selected and rng.random() < 0.03
            end = r.event if r.status in ("provider_selected", "cancelled") else self.now_s
            if r.status == "expired":
                end = r.created + EXPIRY_DAYS * 86400
            if withdrawn:
                q[4], q[5] = "withdrawn", q[2] + rng.uniform(0.1, 0.9) * max(60.0, end - q[2])
            elif j == r.selected:
                q[4], q[5] = "accepted", r.event
            elif q[2] + VALIDITY_DAYS * 86400 <= end or r.status == "expired":
                q[4], q[5] = "expired", min(end, q[2] + VALIDITY_DAYS * 86400)
            elif r.status == "provider_selected":
                q[4], q[5], q[6] = "rejected", r.event, ANOTHER_ACCEPTED
            elif r.status == "cancelled":
                q[4], q[5], q[6] = "rejected", r.event, HOMEOWNER_CANCELLED
        if r.status == "quotes_received" and not r.quotes:
            r.status = "open"


def fmt(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat()


def day(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).date().isoformat()


class Writer:
    """Turns the plan into COPY lines (time-ordered) for each per-requester table."""

    def __init__(self, plan: Plan, owners: dict[str, tuple[str, str, str, str, str]]) -> None:
        self.plan, self.owners, self.rng = plan, owners, plan.rng
        self.projects: list[tuple[Any, ...]] = []  # per project: what chat and ratings need
        self.stats: dict[str, int] = {}

    def requests(self) -> Iterator[str]:
        p, rng = self.plan, self.rng
        for r in p.requests:
            o = self.owners[r.requester]
            title, description = rng.choice(JOBS[r.category][0])
            r.title = title
            sel = r.quotes[r.selected] if r.selected >= 0 else None
            prov = p.providers[sel[1]] if sel else None
            lat = lon = None
            if rng.random() < 0.5:
                clat, clon = CITY_CENTRES[r.city]
                lat, lon = (
                    round(clat + rng.uniform(-0.15, 0.15), 6),
                    round(clon + rng.uniform(-0.15, 0.15), 6),
                )
            preferred = r.created + rng.uniform(1, 14) * 86400
            updated = max([r.created, r.event] + [q[2] for q in r.quotes])
            self.stats[r.status] = self.stats.get(r.status, 0) + 1
            yield line(
                r.requester,
                r.id,
                r.home,
                title,
                description,
                r.category,
                r.ptype,
                day(preferred),
                rng.choices(("house", "apartment", "villa", "other"), (55, 30, 12, 3))[0],
                r.city,
                r.district,
                lat,
                lon,
                o[4],
                o[1],
                r.status,
                sel[0] if sel else None,
                prov.id if prov else None,
                prov.user_id if prov else None,
                prov.org_id if prov else None,
                fmt(r.event) if sel else None,
                fmt(r.event) if r.status == "cancelled" else None,
                rng.choice(CANCEL_REASONS) if r.status == "cancelled" else None,
                len(r.quotes),  # quotes_count: every quote submitted (homeops_submit_quote)
                len(r.quotes),  # views_count: each quoting provider viewed it once (request_views below)
                fmt(r.created + EXPIRY_DAYS * 86400),
                fmt(r.created),
                fmt(updated),
            )

    def quotes(self) -> Iterator[str]:
        p, rng = self.plan, self.rng
        rows: list[tuple[float, str]] = []
        for r in p.requests:
            for q in r.quotes:
                qid, pi, submitted, cents, status, at, reason = q
                prov = p.providers[pi]
                labour = int(cents * rng.uniform(0.35, 0.7))
                items = [{"category": "labor", "description": "Labour", "amount": money(labour)}]
                rest = cents - labour
                if rng.random() < 0.4 and rest > 200:
                    equipment = int(rest * rng.uniform(0.1, 0.4))
                    items.append(
                        {"category": "equipment", "description": "Equipment", "amount": money(equipment)}
                    )
                    rest -= equipment
                items.append({"category": "materials", "description": "Materials", "amount": money(rest)})
                breakdown = json.dumps({"items": items, "total": money(cents)})
                duration = max(1, min(30, int(rng.expovariate(1 / 2.5)) + 1))
                rows.append(
                    (
                        submitted,
                        line(
                            r.requester,
                            qid,
                            r.id,
                            prov.id,
                            prov.user_id,
                            prov.org_id,
                            money(cents),
                            breakdown,
                            duration,
                            f"Inspected the photos: likely the {rng.choice(THINGS)}.",
                            rng.choice(
                                (
                                    "Replace the worn part and test everything.",
                                    "Repair on site, parts included.",
                                    "Diagnose first, then fix; price covers both.",
                                    "Full replacement with a new unit.",
                                )
                            ),
                            rng.random() < 0.85,
                            rng.choice((0, 3, 6, 12, 12, 24)),
                            VALIDITY_DAYS,
                            status,
                            reason,
                            round((submitted - r.created) / 3600, 2),
                            fmt(submitted),
                            fmt(submitted + VALIDITY_DAYS * 86400),
                            fmt(at) if status == "accepted" else None,
                            fmt(at) if status == "rejected" else None,
                            fmt(at) if status == "withdrawn" else None,
                            fmt(at if at is not None and status != "pending" else submitted),
                        ),
                    )
                )
        rows.sort(key=lambda t: t[0])
        for _, row in rows:
            yield row

    def request_views(self) -> Iterator[str]:
        p, rng = self.plan, self.rng
        rows = [(q[2] - rng.uniform(60, 3600), r, q[1]) for r in p.requests for q in r.quotes]
        rows.sort(key=lambda t: t[0])
        for viewed, r, pi in rows:
            yield line(r.requester, r.id, p.providers[pi].id, fmt(max(r.created + 30, viewed)))

    def project_rows(self) -> Iterator[str]:
        p, rng, now = self.plan, self.rng, self.plan.now_s
        planned: list[tuple[float, str]] = []
        for r in p.requests:
            if r.selected < 0:
                continue
            qid, pi, _submitted, cents, *_ = r.quotes[r.selected]
            prov = p.providers[pi]
            created = r.event
            start_plan = created + rng.uniform(1, 7) * 86400
            started = start_plan + rng.uniform(-0.5, 1.5) * 86400
            duration = max(1, int(rng.expovariate(1 / 2.5)) + 1)
            completed = started + duration * 86400 * rng.uniform(0.7, 1.6)
            status = "scheduled"
            disputed_from = dispute_reason = dispute_by = dispute_at = None
            cancel_reason = cancelled_by = None
            actual_start = actual_done = actual_cost = diff_reason = None
            payment = "pending"
            warranty = rng.choice((0, 3, 6, 12, 12, 24))
            w_start = w_end = None
            end = created  # the project's last status change (chat runs until a little after)
            started_at = completed_at = None
            if now >= started:
                status, actual_start, started_at, end = "in_progress", day(started), started, started
            if now >= completed:
                outcome = rng.choices(("completed", "cancelled", "disputed"), (93, 4, 3))[0]
                if outcome == "cancelled":
                    status, end = "cancelled", started + rng.uniform(0.1, 0.9) * (completed - started)
                    cancel_reason = rng.choice(
                        ("Could not agree on the extra work.", "The homeowner sold the house.")
                    )
                    cancelled_by = r.requester if rng.random() < 0.6 else prov.user_id
                else:
                    status, end = "completed", completed
                    actual_done, completed_at, payment = day(completed), completed, "completed"
                    actual_cost = cents
                    if rng.random() < 0.1:
                        actual_cost = int(cents * rng.uniform(1.05, 1.3))
                        diff_reason = "Extra parts were needed."
                    w_start = day(completed)
                    w_end = (
                        datetime.fromtimestamp(completed, UTC).date() + timedelta(days=30 * warranty)
                    ).isoformat()
                    if outcome == "disputed":
                        status, disputed_from = "disputed", "completed"
                        dispute_at = min(now - 60, completed + rng.uniform(1, 10) * 86400)
                        dispute_reason = "The problem came back after the repair."
                        dispute_by = r.requester
                        end = dispute_at
            index = len(self.projects)
            pid = new_uuid(rng)
            self.projects.append(
                (r.requester, pid, prov, status, created, started_at, completed_at, end, index, dispute_at)
            )
            self.stats[f"project {status}"] = self.stats.get(f"project {status}", 0) + 1
            planned.append(
                (
                    created,
                    line(
                        r.requester,
                        pid,
                        r.id,
                        qid,
                        prov.id,
                        prov.user_id,
                        prov.org_id,
                        r.home,
                        r.title,
                        "Work as quoted.",
                        status,
                        day(start_plan),
                        actual_start,
                        day(start_plan + duration * 86400),
                        actual_done,
                        money(cents),
                        money(actual_cost) if actual_cost is not None else None,
                        diff_reason,
                        payment,
                        warranty,
                        w_start,
                        w_end,
                        disputed_from,
                        dispute_reason,
                        dispute_by,
                        fmt(dispute_at),
                        cancel_reason,
                        cancelled_by,
                        fmt(started_at),
                        fmt(completed_at),
                        fmt(created),
                        fmt(max(created, end)),
                    ),
                )
            )
        planned.sort(key=lambda t: t[0])
        for _, row in planned:
            yield row

    # --- chat: keys sorted by time (26 bits seconds | 18 bits project | 12 bits seq | 3 bits kind) ----------

    def chat(self) -> Iterator[str]:
        p, rng, now = self.plan, self.rng, self.plan.now_s
        epoch0 = now - 800 * 86400
        n = len(self.projects)
        mu = math.log(max(1.0, p.args.messages / max(1, n))) - 0.6
        counts = [min(4000, max(2, int(rng.lognormvariate(mu, 1.1)))) for _ in range(n)]
        factor = p.args.messages / max(1, sum(counts))
        counts = [min(4000, max(2, round(c * factor))) for c in counts]
        keys = array("q")
        status_of: list[str] = []
        for (requester, pid, prov, status, created, started, completed, end, index, dispute_at), count in zip(
            self.projects, counts, strict=True
        ):
            status_of.append(status)
            events: list[tuple[float, int]] = [(created + 1, 2)]  # kind 2: "Quote accepted …" (requester)
            if started is not None:
                events.append((started, 3))
            if status in ("completed", "disputed") and completed is not None:
                events.append((completed + 60, 4))
            if status == "cancelled":
                events.append((end, 5))
            if status == "disputed" and dispute_at is not None:
                events.append((dispute_at, 6))
            last = min(
                now - 5, (end if status in ("completed", "cancelled", "disputed") else now) + 3 * 86400
            )
            last = max(last, created + 600)
            texts = max(0, count - len(events))
            requester_share = rng.uniform(0.35, 0.65)
            for _ in range(texts):
                t = created + rng.random() * (last - created)
                events.append((t, 0 if rng.random() < requester_share else 1))
            events.sort()
            for seq, (t, kind) in enumerate(events[:4095]):
                keys.append((int(t - epoch0) << 33) | (index << 15) | (seq << 3) | kind)
        self.stats["messages"] = len(keys)
        self.stats["max_messages"] = max(counts, default=0)
        ordered = sorted(keys)
        del keys
        for key in ordered:
            kind = key & 7
            index = (key >> 15) & 0x3FFFF
            t = epoch0 + (key >> 33) + rng.random()
            requester, pid, prov, status, *_ = self.projects[index]
            thing, weekday = rng.choice(THINGS), rng.choice(DAYS)
            if kind == 0:
                side, mtype, text = "requester", "text", rng.choice(REQUESTER_LINES).format(thing=thing)
            elif kind == 1:
                side, mtype, text = (
                    "provider",
                    "text",
                    rng.choice(PROVIDER_LINES).format(thing=thing, day=weekday),
                )
            elif kind == 2:
                side, mtype, text = "requester", "system", "Quote accepted. The project is scheduled."
            elif kind == 3:
                side, mtype = "provider", "system"
                text = "The provider changed the project from scheduled to in progress."
            elif kind == 4:
                side, mtype = "provider", "system"
                text = "The provider changed the project from in progress to completed."
            elif kind == 5:
                side, mtype = "requester", "system"
                text = "The homeowner changed the project from in progress to cancelled."
            else:
                side, mtype = "requester", "system"
                text = "The homeowner changed the project from completed to disputed."
            sender, receiver = (requester, prov.user_id) if side == "requester" else (prov.user_id, requester)
            # Read by the other side unless it came in the last two days of a live project.
            unread = (
                status_of[index] in ("scheduled", "in_progress")
                and now - t < 2 * 86400
                and rng.random() < 0.7
            )
            read_at = None if unread else min(now - 1, t + rng.expovariate(1 / 7200) + 5)
            gone = rng.random()
            yield line(
                requester,
                new_uuid(rng),
                pid,
                prov.user_id,
                prov.org_id,
                sender,
                receiver,
                side,
                text,
                mtype,
                not unread,
                fmt(read_at),
                gone < 0.004,
                0.004 <= gone < 0.008,
                fmt(t),
            )

    def ratings(self) -> Iterator[str]:
        p, rng, now = self.plan, self.rng, self.plan.now_s
        done = [pr for pr in self.projects if pr[3] in ("completed", "disputed") and pr[6] is not None]
        share = min(1.0, p.args.ratings / max(1, len(done)))
        rows: list[tuple[float, str]] = []
        for requester, pid, prov, status, _c, _s, completed, _e, _i, _d in done:
            if rng.random() >= share:
                continue
            created = min(now - 60, completed + rng.expovariate(1 / (2 * 86400)) + 600)
            mean = prov.quality - (1.5 if status == "disputed" else 0.0)
            overall = max(1, min(5, round(rng.gauss(mean, 0.8))))
            dims = [max(1, min(5, overall + rng.choice((-1, 0, 0, 0, 1)))) for _ in range(5)]
            owner = self.owners[requester]
            first, _, last = owner[1].partition(" ")
            answered = rng.random() < 0.3
            resp_at = min(now - 30, created + rng.uniform(3600, 5 * 86400)) if answered else None
            rows.append(
                (
                    created,
                    line(
                        requester,
                        new_uuid(rng),
                        pid,
                        prov.id,
                        prov.user_id,
                        prov.org_id,
                        f"{first} {last[:1]}." if last else first,
                        overall,
                        *dims,
                        rng.choice(REVIEW_TITLES[overall]),
                        rng.choice(REVIEW_TEXTS[overall]).format(thing=rng.choice(THINGS)),
                        overall >= 4 if rng.random() < 0.9 else None,
                        rng.choice(RESPONSES) if answered else None,
                        fmt(resp_at),
                        prov.user_id if answered else None,
                        overall == 5 and rng.random() < 0.01,
                        fmt(created),
                        fmt(resp_at or created),
                    ),
                )
            )
        rows.sort(key=lambda t: t[0])
        self.stats["ratings"] = len(rows)
        for _, row in rows:
            yield row


# --------------------------------------------------------------------------------------------------------


def secondary_indexes(conn: psycopg.Connection, table: str) -> list[tuple[str, str]]:
    """(name, definition) of the table's indexes that back no constraint (dropped for the load, rebuilt)."""
    return [
        (str(n), str(d))
        for n, d in conn.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid = %s::regclass AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
            (table,),
        ).fetchall()
    ]


# Every foreign key of the per-requester tables, as (child, columns, parent, columns): checked after the load.
def foreign_keys(
    conn: psycopg.Connection, parents: tuple[str, ...] = ()
) -> list[tuple[str, str, list[str], str, list[str]]]:
    rows = conn.execute(
        "SELECT c.conname, c.conrelid::regclass::text, c.confrelid::regclass::text, "
        "ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, o) "
        "      JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.o)::text[], "
        "ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(n, o) "
        "      JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.o)::text[] "
        "FROM pg_constraint c WHERE c.contype = 'f' AND "
        + ("c.confrelid::regclass::text = ANY(%s)" if parents else "c.conrelid::regclass::text = ANY(%s)"),
        (list(parents or MARKETPLACE),),
    ).fetchall()
    return [(str(n), str(t), list(cols), str(p), list(pcols)) for n, t, p, cols, pcols in rows]


def check_foreign_keys(conn: psycopg.Connection, parents: tuple[str, ...] = ()) -> list[tuple[str, int]]:
    """Rows violating each foreign key (of the marketplace tables, or ``parents``' referencing ones)."""
    out = []
    for name, table, cols, parent, pcols in foreign_keys(conn, parents):
        not_null = " AND ".join(f"c.{x} IS NOT NULL" for x in cols)
        join = " AND ".join(f"p.{y} = c.{x}" for x, y in zip(cols, pcols, strict=True))
        n = conn.execute(
            f"SELECT count(*) FROM {table} c WHERE {not_null} AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE {join})"
        ).fetchone()
        out.append((name, int(n[0]) if n else -1))
    return out


REFRESH_ALL = """
WITH r AS (SELECT provider_id, count(*) AS n, round(avg(overall_rating), 2) AS avg FROM ratings GROUP BY 1),
     pj AS (SELECT provider_id, count(*) FILTER (WHERE status = 'completed') AS done,
                   count(*) FILTER (WHERE status IN ('completed', 'cancelled')) AS closed FROM projects GROUP BY 1),
     q AS (SELECT provider_id, round(avg(response_hours), 2) AS resp FROM quotes GROUP BY 1)
UPDATE provider_profiles p
   SET total_ratings = coalesce(r.n, 0), average_rating = coalesce(r.avg, 0),
       total_projects = coalesce(pj.done, 0), projects_closed = coalesce(pj.closed, 0),
       completion_rate = CASE WHEN coalesce(pj.closed, 0) > 0 THEN round(100.0 * pj.done / pj.closed, 2) ELSE 0 END,
       response_time_hours = q.resp
  FROM provider_profiles p0
  LEFT JOIN r ON r.provider_id = p0.id LEFT JOIN pj ON pj.provider_id = p0.id LEFT JOIN q ON q.provider_id = p0.id
 WHERE p.id = p0.id
"""
STATS_COLUMNS = (
    "total_ratings, average_rating, total_projects, projects_closed, completion_rate, response_time_hours"
)


def reset(conn: psycopg.Connection) -> None:
    """Empties the marketplace tables and deletes the provider users and their organizations. The deletes run
    without per-row foreign-key triggers (``session_replication_role = replica``: with them every deleted user
    scans ``devices.added_by``, ``manuals.uploaded_by`` … — hours); what references the deleted rows is removed
    explicitly, and every foreign key to ``users`` / ``organizations`` is then checked by one anti-join each
    (the transaction is rolled back unless all hold)."""
    others = conn.execute(
        "SELECT count(*) FROM users WHERE lower(email) NOT LIKE %s AND lower(email) NOT LIKE %s",
        (f"%@{BENCH_DOMAIN}", f"%@{PROVIDER_DOMAIN}"),
    ).fetchone()
    if others and others[0]:
        raise SystemExit(f"--reset refused: {others[0]} users are not bench users")
    orgs = "SELECT id FROM organizations WHERE kind = 'provider' AND slug LIKE 'bench-provider-%%'"
    users = "SELECT id FROM users WHERE lower(email) LIKE %s"
    with conn.transaction():
        conn.execute(
            "TRUNCATE rating_votes, ratings, chat_messages, projects, request_views, quotes, service_requests, "
            "portfolio_items, provider_profiles CASCADE"
        )
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute(f"CREATE TEMP TABLE gone_orgs ON COMMIT DROP AS {orgs}")
        conn.execute(f"CREATE TEMP TABLE gone_users ON COMMIT DROP AS {users}", (f"%@{PROVIDER_DOMAIN}",))
        # What the foreign keys' ON DELETE actions would do, set-based: CASCADE deletes, SET NULL clears.
        actions = conn.execute(
            "SELECT c.conrelid::regclass::text, a.attname, c.confrelid::regclass::text, c.confdeltype "
            "FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
            "WHERE c.contype = 'f' AND cardinality(c.conkey) = 1 AND c.confdeltype IN ('c', 'n') "
            "AND c.confrelid::regclass::text IN ('users', 'organizations')"
        ).fetchall()
        for child, column, parent, action in actions:
            gone = "gone_users" if parent == "users" else "gone_orgs"
            if action == "c":
                conn.execute(f"DELETE FROM {child} WHERE {column} IN (SELECT id FROM {gone})")
            else:
                conn.execute(f"UPDATE {child} SET {column} = NULL WHERE {column} IN (SELECT id FROM {gone})")
        conn.execute("DELETE FROM organizations WHERE id IN (SELECT id FROM gone_orgs)")
        n = conn.execute("DELETE FROM users WHERE id IN (SELECT id FROM gone_users)").rowcount
        conn.execute("SET LOCAL session_replication_role = origin")
        dangling = [
            (name, v) for name, v in check_foreign_keys(conn, parents=("users", "organizations")) if v
        ]
        if dangling:
            raise RuntimeError(f"--reset would leave dangling references: {dangling}")
    conn.execute("VACUUM users")
    console.print(f"[yellow]reset:[/yellow] marketplace tables emptied, {n} provider users deleted")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=HERE / ".data")
    parser.add_argument("--providers", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=300_000)
    parser.add_argument("--quotes", type=int, default=1_000_000, help="target (the matching pool limits it)")
    parser.add_argument("--projects", type=int, default=200_000)
    parser.add_argument("--messages", type=int, default=5_000_000)
    parser.add_argument("--ratings", type=int, default=150_000)
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--reset", action="store_true")
    args = parser.parse_args(argv)

    t_all = time.perf_counter()
    settings = Settings(data_dir=args.data_dir)
    with console.status("Starting / migrating the database…"):
        urls = prepare_database(settings)
    timings: list[tuple[str, int, float]] = []
    try:
        with psycopg.connect(libpq_dsn(urls.owner), autocommit=True) as conn:
            conn.execute("SET synchronous_commit = off")
            conn.execute("SET maintenance_work_mem = '512MB'")
            if conn.execute("SELECT 1 FROM provider_profiles LIMIT 1").fetchone():
                if not args.reset:
                    console.print(
                        "[yellow]provider_profiles has rows[/yellow]: nothing done (--reset to reload)"
                    )
                    return 0
                reset(conn)
            t = time.perf_counter()
            owners_rows = conn.execute(
                "SELECT u.id::text, u.full_name, h.id::text, h.address->>'city', "
                "concat_ws(', ', h.address->>'street', h.address->>'city', h.address->>'state') "
                "FROM users u JOIN homes h ON h.owner_id = u.id WHERE u.email LIKE %s ORDER BY u.email",
                (f"%@{BENCH_DOMAIN}",),
            ).fetchall()
            owners = [tuple(map(str, r)) for r in owners_rows]
            if not owners:
                console.print("[red]No bench homeowners[/red]: run benchmarks/generate.py --only core first.")
                return 2
            hash_row = conn.execute(
                "SELECT password_hash FROM users WHERE email LIKE %s LIMIT 1", (f"%@{BENCH_DOMAIN}",)
            ).fetchone()
            password_hash = (
                str(hash_row[0]) if hash_row else hash_password(BENCH_PASSWORD, settings.bcrypt_rounds)
            )
            timings.append(("(read homeowners back)", len(owners), time.perf_counter() - t))
            now = datetime.now(UTC).replace(microsecond=0)
            rng = random.Random(args.seed)
            plan = Plan(args, now, rng)
            admin_id = new_uuid(rng)
            c = ts(now - timedelta(days=1100))
            t = time.perf_counter()
            directory = plan.provider_rows(password_hash, admin_id)
            directory["users"].insert(
                0,
                line(
                    admin_id,
                    f"admin@{PROVIDER_DOMAIN}",
                    "Bench Admin",
                    "admin",
                    password_hash,
                    True,
                    True,
                    c,
                    c,
                    c,
                ),
            )
            plan.plan_requests(owners)  # type: ignore[arg-type]
            timings.append(("(plan)", len(plan.requests), time.perf_counter() - t))
            for table in DIRECTORY:
                start = time.perf_counter()
                with conn.transaction():
                    n = copy_rows(conn, table, iter(directory[table]), columns=COLUMNS[table])
                timings.append((table, n, time.perf_counter() - start))
            writer = Writer(plan, {o[0]: o for o in owners})  # type: ignore[misc]
            sources = {
                "service_requests": writer.requests,
                "quotes": writer.quotes,
                "request_views": writer.request_views,
                "projects": writer.project_rows,
                "chat_messages": writer.chat,
                "ratings": writer.ratings,
            }
            # One transaction: the secondary indexes dropped, every table COPYed, the indexes rebuilt. A failure
            # leaves the schema as it was.
            with conn.transaction():
                conn.execute("SET LOCAL session_replication_role = replica")
                dropped: dict[str, list[tuple[str, str]]] = {}
                for table in MARKETPLACE:
                    dropped[table] = secondary_indexes(conn, table)
                    for name, _ in dropped[table]:
                        conn.execute(f"DROP INDEX {name}")
                # chat_messages: nothing references its primary key, which is rebuilt as well.
                conn.execute("ALTER TABLE chat_messages DROP CONSTRAINT pk_chat_messages")
                for table in MARKETPLACE:
                    start = time.perf_counter()
                    n = copy_rows(conn, table, sources[table](), columns=COLUMNS[table])
                    timings.append((table, n, time.perf_counter() - start))
                    console.print(f"  {table}: {n:,} rows in {time.perf_counter() - start:.1f}s")
                start = time.perf_counter()
                conn.execute(
                    "ALTER TABLE chat_messages ADD CONSTRAINT pk_chat_messages PRIMARY KEY (requester_id, id)"
                )
                for table in MARKETPLACE:
                    for _name, definition in dropped[table]:
                        conn.execute(definition)
                timings.append(("(rebuild indexes)", 0, time.perf_counter() - start))
            start = time.perf_counter()
            violations = check_foreign_keys(conn)
            timings.append(("(check foreign keys)", len(violations), time.perf_counter() - start))
            start = time.perf_counter()
            conn.execute(REFRESH_ALL)
            timings.append(("(provider aggregates)", 0, time.perf_counter() - start))
            for table in (*DIRECTORY, *MARKETPLACE):
                start = time.perf_counter()
                conn.execute(f"VACUUM ANALYZE {table}")
                timings.append((f"vacuum analyze {table}", 0, time.perf_counter() - start))
            # Consistency: the counters against their source rows, and homeops_refresh_provider_stats (the
            # database's own recomputation) changes nothing on a sample of providers.
            bad_counts = conn.execute(
                "SELECT count(*) FROM service_requests r WHERE quotes_count <> (SELECT count(*) FROM quotes q "
                "WHERE q.requester_id = r.requester_id AND q.request_id = r.id) OR views_count <> (SELECT count(*) "
                "FROM request_views v WHERE v.requester_id = r.requester_id AND v.request_id = r.id)"
            ).fetchone()
            sample = [
                str(r[0])
                for r in conn.execute(
                    "SELECT id FROM provider_profiles ORDER BY total_ratings DESC, id LIMIT 20"
                ).fetchall()
            ] + [
                str(r[0])
                for r in conn.execute("SELECT id FROM provider_profiles ORDER BY md5(id::text) LIMIT 80")
            ]
            changed = 0
            with conn.transaction(force_rollback=True):
                for pid in sample:
                    before = conn.execute(
                        f"SELECT {STATS_COLUMNS} FROM provider_profiles WHERE id = %s", (pid,)
                    ).fetchone()
                    conn.execute("SELECT homeops_refresh_provider_stats(%s)", (pid,))
                    after = conn.execute(
                        f"SELECT {STATS_COLUMNS} FROM provider_profiles WHERE id = %s", (pid,)
                    ).fetchone()
                    changed += before != after
            summary = conn.execute(
                "SELECT (SELECT count(*) FROM service_requests), (SELECT count(*) FROM quotes), "
                "(SELECT count(*) FROM projects), (SELECT count(*) FROM chat_messages), (SELECT count(*) FROM ratings), "
                "(SELECT max(total_ratings) FROM provider_profiles), "
                "(SELECT max(n) FROM (SELECT count(*) n FROM chat_messages GROUP BY requester_id, project_id) x), "
                "(SELECT max(quotes_count) FROM service_requests), "
                "(SELECT count(*) FROM service_requests WHERE status IN ('open', 'quotes_received')), "
                "pg_size_pretty(pg_database_size(current_database()))"
            ).fetchone()
            sizes: dict[str, str] = dict(
                conn.execute(
                    "SELECT relname, pg_size_pretty(pg_total_relation_size(oid)) FROM pg_class "
                    "WHERE relname = ANY(%s) AND relkind = 'r'",
                    (list(DIRECTORY + MARKETPLACE),),
                ).fetchall()
            )
    finally:
        urls.stop()

    summary_table = Table("table / step", "rows", "seconds", "rows/s", "size", title="Marketplace load")
    for name, n, secs in timings:
        summary_table.add_row(
            name,
            f"{n:,}" if n else "",
            f"{secs:.1f}",
            f"{n / secs:,.0f}" if n and secs else "",
            sizes.get(name, ""),
        )
    console.print(summary_table)
    console.print(
        f"requests by status: {writer.stats and {k: v for k, v in writer.stats.items() if k in ('open', 'quotes_received', 'provider_selected', 'cancelled', 'expired')}}"
    )
    console.print(
        f"projects by status: { {k: writer.stats.get(f'project {k}', 0) for k in ('scheduled', 'in_progress', 'completed', 'cancelled', 'disputed')} }"
    )
    assert summary is not None
    console.print(
        f"rows: {summary[0]:,} requests ({summary[8]:,} open), {summary[1]:,} quotes (max {summary[7]} per request), "
        f"{summary[2]:,} projects, {summary[3]:,} chat messages (max {summary[6]:,} per project), {summary[4]:,} ratings "
        f"(max {summary[5]:,} per provider); database {summary[9]}"
    )
    bad_fk = [(n, v) for n, v in violations if v]
    console.print(
        f"foreign keys checked: {len(violations)}, violated: {bad_fk or 0}; requests whose quotes_count/views_count "
        f"disagree with their rows: {bad_counts[0] if bad_counts else '?'}; providers changed by "
        f"homeops_refresh_provider_stats (sample of {len(sample)}): {changed}"
    )
    console.print(
        f"[bold]total {time.perf_counter() - t_all:.1f}s[/bold] (provider logins prov-<n>@{PROVIDER_DOMAIN}, password {BENCH_PASSWORD!r})"
    )
    return 1 if bad_fk or changed or (bad_counts and bad_counts[0]) else 0


if __name__ == "__main__":
    sys.exit(main())
