"""Demo data: a few users of different roles, homes with members and rooms, a contractor organization with
its owner, manager and technician. Idempotent.

Runs as the database owner (an operator action): it creates users with roles the API role cannot grant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy.engine import URL

from homeops.core.database import libpq_dsn
from homeops.core.security import hash_password
from homeops.core.storage import Storage

DEMO_PASSWORD = "homeops-demo-2026"


@dataclass(frozen=True)
class DemoUser:
    email: str
    full_name: str
    role: str


DEMO_USERS = [
    DemoUser("admin@demo.homeops.org", "Ada Admin", "admin"),
    DemoUser("alice@demo.homeops.org", "Alice Homeowner", "homeowner"),
    DemoUser("bob@demo.homeops.org", "Bob Homeowner", "homeowner"),
    DemoUser("carol@demo.homeops.org", "Carol Guest", "homeowner"),
    DemoUser("tom@demo.homeops.org", "Tom Technician", "technician"),
    DemoUser("sam@demo.homeops.org", "Sam Support", "support"),
    DemoUser("pat@demo.homeops.org", "Pat Provider", "provider"),
    DemoUser(
        "max@demo.homeops.org", "Max Manager", "homeowner"
    ),  # a manager by membership, not by platform role
    # Marketplace providers (verified, see homeops.demo_marketplace): a company and two engineers.
    DemoUser("noura@demo.homeops.org", "Noura Al-Harbi", "provider"),
    DemoUser("khalid@demo.homeops.org", "Khalid Al-Otaibi", "provider"),
    DemoUser("yusuf@demo.homeops.org", "Yusuf Al-Ghamdi", "provider"),
]

# A contractor (seed 001): its roles come from membership (organization_members), not from users.role.
DEMO_ORGANIZATION: dict[str, Any] = {
    "kind": "contractor",
    "name": "Springfield Fire & HVAC",
    "slug": "springfield-fire-hvac",
    "contact": {"email": "office@springfield-fire.example", "phone": "+1 217 555 0142"},
    "members": [
        ("pat@demo.homeops.org", "owner"),
        ("max@demo.homeops.org", "manager"),
        ("tom@demo.homeops.org", "technician"),
    ],
}

DEMO_HOMES: list[dict[str, Any]] = [
    {
        "owner": "alice@demo.homeops.org",
        "name": "Maple Street House",
        "timezone": "America/Chicago",
        "address": {"line1": "12 Maple Street", "city": "Springfield", "region": "IL", "country": "US"},
        "members": [("bob@demo.homeops.org", "member"), ("carol@demo.homeops.org", "guest")],
        "rooms": [
            ("Kitchen", "kitchen", 0),
            ("Basement", "basement", -1),
            ("Garage", "garage", 0),
            ("Living Room", "living", 0),
            ("Laundry", "utility", -1),
        ],
    },
    {
        "owner": "bob@demo.homeops.org",
        "name": "Lakeside Cabin",
        "timezone": "Europe/Oslo",
        "address": {"line1": "Fjordveien 3", "city": "Bergen", "country": "NO"},
        "members": [("alice@demo.homeops.org", "admin")],
        "rooms": [("Kitchen", "kitchen", 0), ("Boiler Room", "utility", 0)],
    },
]


# manufacturer, model number, product name, category, specs, problems, maintenance templates
DEMO_MODELS: list[dict[str, Any]] = [
    {
        "maker": "Daikin",
        "number": "FTXS12WVJU9",
        "name": "Wall-mounted mini-split heat pump",
        "category": "mini_split",
        "electrical": {"voltage": 208.0, "amp_draw_nominal": 17.8, "phase": 1, "frequency": 60},
        "physical": {"filter_size": "washable mesh", "weight_lbs": 22.0},
        "problems": [
            (
                "Indoor unit drips water",
                ["dripping water", "water leak", "ice on coil"],
                ["U4"],
                "Clogged condensate drain",
                "Flush the drain line and clean the drain pan",
                "medium",
                "common",
            ),
            (
                "Unit blinks and stops",
                ["blinking light", "no cooling"],
                ["A5", "E7"],
                "Fan motor lock or high-pressure control",
                "Check the outdoor fan; call a technician",
                "high",
                "occasional",
            ),
        ],
        "templates": [("Clean air filters", 2, "weeks", 0), ("Professional service", 1, "years", 150)],
    },
    {
        "maker": "Acmeheat",
        "number": "ZX-100",
        "name": "50-gallon gas water heater",
        "category": "water_heater",
        "electrical": {},
        "physical": {"capacity_gal": 50},
        "problems": [
            (
                "Pilot light will not stay lit",
                ["no hot water", "pilot goes out"],
                ["PL"],
                "Dirty or failed thermocouple",
                "Clean or replace the thermocouple",
                "high",
                "common",
            ),
            (
                "Rumbling noise when heating",
                ["rumbling noise", "popping sound"],
                [],
                "Sediment build-up",
                "Flush the tank",
                "low",
                "very_common",
            ),
        ],
        "templates": [("Flush the tank", 1, "years", 0), ("Test the relief valve", 6, "months", 0)],
    },
    {
        "maker": "Peerless Pump",
        "number": "8AE20G",
        "name": "Horizontal split-case fire pump",
        "category": "fire_pump",
        "electrical": {"voltage": 480.0, "phase": 3},
        "physical": {},
        "problems": [
            (
                "Pump fails to start on pressure drop",
                ["no start", "breaker trips"],
                ["E1"],
                "Controller fault or seized bearing",
                "Inspect the controller; replace the bearing",
                "critical",
                "occasional",
            ),
        ],
        "templates": [("Weekly churn test", 1, "weeks", 0), ("Annual flow test", 1, "years", 400)],
    },
]

DEMO_DEVICES = [
    # home owner email, home name, nickname, room, maker, model number, category, warranty years from purchase
    (
        "alice@demo.homeops.org",
        "Maple Street House",
        "Basement water heater",
        "Basement",
        "Acmeheat",
        "ZX-100",
        "water_heater",
        6,
    ),
    (
        "alice@demo.homeops.org",
        "Maple Street House",
        "Living room heat pump",
        "Living Room",
        "Daikin",
        "FTXS12WVJU9",
        "mini_split",
        5,
    ),
    (
        "alice@demo.homeops.org",
        "Maple Street House",
        "Kitchen fridge",
        "Kitchen",
        "Frigidaire",
        "FFTR1835VW",
        "refrigerator",
        1,
    ),
    (
        "bob@demo.homeops.org",
        "Lakeside Cabin",
        "Boiler",
        "Boiler Room",
        "Viessmann",
        "Vitodens 100",
        "boiler",
        10,
    ),
]


def _load_catalog(conn: psycopg.Connection, created: dict[str, int]) -> dict[tuple[str, str], str]:
    models: dict[tuple[str, str], str] = {}
    for m in DEMO_MODELS:
        maker = conn.execute(
            "INSERT INTO manufacturers (name) VALUES (%s) ON CONFLICT ((lower(name))) DO UPDATE SET name = EXCLUDED.name "
            "RETURNING id",
            (m["maker"],),
        ).fetchone()
        assert maker is not None
        row = conn.execute(
            """INSERT INTO device_models (manufacturer_id, model_number, product_name, category_code, electrical_specs,
                   physical_specs, data_source)
               VALUES (%s, %s, %s, %s, %s, %s, 'HomeOps demo data')
               ON CONFLICT (manufacturer_id, upper(model_number)) DO NOTHING RETURNING id""",
            (maker[0], m["number"], m["name"], m["category"], Jsonb(m["electrical"]), Jsonb(m["physical"])),
        ).fetchone()
        if row is None:
            row = conn.execute(
                "SELECT id FROM device_models WHERE manufacturer_id = %s AND upper(model_number) = %s",
                (maker[0], m["number"].upper()),
            ).fetchone()
        else:
            created["models"] += 1
            for desc, symptoms, codes, cause, solution, severity, frequency in m["problems"]:
                conn.execute(
                    """INSERT INTO common_problems (model_id, problem_description, symptoms, error_codes, root_cause,
                           solution, severity, frequency) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
                    (row[0], desc, Jsonb(symptoms), Jsonb(codes), cause, solution, severity, frequency),
                )
            for task, interval, unit, cost in m["templates"]:
                conn.execute(
                    """INSERT INTO model_maintenance_templates (model_id, task_name, interval, interval_unit,
                           estimated_cost) VALUES (%s, %s, %s, %s, %s)""",
                    (row[0], task, interval, unit, cost),
                )
        assert row is not None
        models[(m["maker"].lower(), m["number"].upper())] = str(row[0])
    return models


def _load_devices(
    conn: psycopg.Connection, ids: dict[str, str], models: dict[tuple[str, str], str], created: dict[str, int]
) -> None:
    for email, home_name, nickname, room, maker, number, category, warranty_years in DEMO_DEVICES:
        home = conn.execute(
            "SELECT id FROM homes WHERE owner_id = %s AND name = %s", (ids[email], home_name)
        ).fetchone()
        assert home is not None
        if conn.execute(
            "SELECT 1 FROM devices WHERE home_id = %s AND nickname = %s", (home[0], nickname)
        ).fetchone():
            continue
        room_row = conn.execute(
            "SELECT id FROM rooms WHERE home_id = %s AND lower(name) = lower(%s)", (home[0], room)
        ).fetchone()
        device = conn.execute(
            """INSERT INTO devices (home_id, room_id, added_by, model_id, manufacturer_name, model_number,
                   category_code, nickname, purchase_date, warranty_start, warranty_end)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, current_date - 400, current_date - 400,
                       current_date - 400 + make_interval(years => %s)) RETURNING id, model_id""",
            (
                home[0],
                room_row[0] if room_row else None,
                ids[email],
                models.get((maker.lower(), number.upper())),
                maker,
                number,
                category,
                nickname,
                warranty_years,
            ),
        ).fetchone()
        assert device is not None
        created["devices"] += 1
        # The model's maintenance templates as schedules (as the API does for new devices), due within weeks
        # so the demo's "upcoming maintenance" and calendar feed have something to show.
        cur = conn.execute(
            """INSERT INTO maintenance_schedules (device_id, home_id, template_id, task_name, interval, interval_unit,
                   anchor, series_start, next_due, lead_days, estimated_cost)
               SELECT %s, %s, t.id, t.task_name, t.interval, t.interval_unit, 'completion',
                      current_date + (3 + 9 * row_number() OVER (ORDER BY t.task_name))::int,
                      current_date + (3 + 9 * row_number() OVER (ORDER BY t.task_name))::int, 7, t.estimated_cost
               FROM model_maintenance_templates t WHERE t.model_id = %s""",
            (device[0], home[0], device[1]),
        )
        created["schedules"] += cur.rowcount


def load_demo(owner: URL, rounds: int = 12, storage: Storage | None = None) -> dict[str, int]:
    """Creates what is missing; running it twice changes nothing. Returns counts of rows created.

    ``storage`` receives the marketplace portfolio images (default: the one the environment's settings select).
    """
    from homeops.demo_marketplace import load_marketplace

    if storage is None:
        from homeops.core.config import Settings
        from homeops.core.storage import build_storage

        storage = build_storage(Settings())
    created = {
        "users": 0,
        "homes": 0,
        "members": 0,
        "rooms": 0,
        "organizations": 0,
        "org_members": 0,
        "models": 0,
        "devices": 0,
        "schedules": 0,
    }
    password_hash = hash_password(DEMO_PASSWORD, rounds)
    with psycopg.connect(libpq_dsn(owner)) as conn, conn.transaction():
        ids: dict[str, str] = {}
        for u in DEMO_USERS:
            row = conn.execute(
                """INSERT INTO users (email, full_name, role, password_hash, is_verified)
                   VALUES (%s, %s, %s, %s, true)
                   ON CONFLICT ((lower(email))) DO NOTHING RETURNING id""",
                (u.email, u.full_name, u.role, password_hash),
            ).fetchone()
            if row:
                created["users"] += 1
            found = conn.execute("SELECT id FROM users WHERE lower(email) = lower(%s)", (u.email,)).fetchone()
            assert found is not None
            ids[u.email] = str(found[0])
        for h in DEMO_HOMES:
            owner_id = ids[h["owner"]]
            home = conn.execute(
                "SELECT id FROM homes WHERE owner_id = %s AND name = %s", (owner_id, h["name"])
            ).fetchone()
            if home is None:
                home = conn.execute(
                    "INSERT INTO homes (owner_id, name, timezone, address) VALUES (%s, %s, %s, %s) RETURNING id",
                    (owner_id, h["name"], h["timezone"], Jsonb(h["address"])),
                ).fetchone()
                created["homes"] += 1
            assert home is not None
            home_id = home[0]
            conn.execute(
                """INSERT INTO home_members (home_id, user_id, role) VALUES (%s, %s, 'owner')
                   ON CONFLICT (home_id, user_id) DO NOTHING""",
                (home_id, owner_id),
            )
            for email, role in h["members"]:
                cur = conn.execute(
                    """INSERT INTO home_members (home_id, user_id, role, invited_by) VALUES (%s, %s, %s, %s)
                       ON CONFLICT (home_id, user_id) DO NOTHING""",
                    (home_id, ids[email], role, owner_id),
                )
                created["members"] += cur.rowcount
            for name, room_type, floor in h["rooms"]:
                cur = conn.execute(
                    """INSERT INTO rooms (home_id, name, room_type, floor) VALUES (%s, %s, %s, %s)
                       ON CONFLICT (home_id, lower(name)) DO NOTHING""",
                    (home_id, name, room_type, floor),
                )
                created["rooms"] += cur.rowcount
        _load_organization(conn, ids, created)
        models = _load_catalog(conn, created)
        _load_devices(conn, ids, models, created)
        load_marketplace(conn, ids, storage, created)
    return created


def _load_organization(conn: psycopg.Connection, ids: dict[str, str], created: dict[str, int]) -> None:
    o = DEMO_ORGANIZATION
    owner_id = ids[o["members"][0][0]]
    row = conn.execute(
        """INSERT INTO organizations (kind, name, slug, contact, created_by) VALUES (%s, %s, %s, %s, %s)
           ON CONFLICT (slug) DO NOTHING RETURNING id""",
        (o["kind"], o["name"], o["slug"], Jsonb(o["contact"]), owner_id),
    ).fetchone()
    created["organizations"] += 1 if row else 0
    org = row or conn.execute("SELECT id FROM organizations WHERE slug = %s", (o["slug"],)).fetchone()
    assert org is not None
    for email, role in o["members"]:
        cur = conn.execute(
            """INSERT INTO organization_members (organization_id, user_id, role, invited_by) VALUES (%s, %s, %s, %s)
               ON CONFLICT (organization_id, user_id) DO NOTHING""",
            (org[0], ids[email], role, None if role == "owner" else owner_id),
        )
        created["org_members"] += cur.rowcount


def create_user(owner: URL, email: str, full_name: str, password: str, role: str, rounds: int = 12) -> str:
    """Operator path (e.g. ``homeops users create-admin``): any role, as the owner."""
    with psycopg.connect(libpq_dsn(owner)) as conn, conn.transaction():
        row = conn.execute(
            """INSERT INTO users (email, full_name, role, password_hash, is_verified)
               VALUES (%s, %s, %s, %s, true)
               ON CONFLICT ((lower(email))) DO UPDATE SET role = EXCLUDED.role,
                   password_hash = EXCLUDED.password_hash, is_active = true, deleted_at = NULL
               RETURNING id""",
            (email, full_name, role, hash_password(password, rounds)),
        ).fetchone()
        assert row is not None
        return str(row[0])
