"""Demo data: a few users of different roles, homes with members and rooms. Idempotent.

Runs as the database owner (an operator action): it creates users with roles the API role cannot grant.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from sqlalchemy.engine import URL

from homeops.core.database import libpq_dsn
from homeops.core.security import hash_password

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
]

DEMO_HOMES = [
    {
        "owner": "alice@demo.homeops.org",
        "name": "Maple Street House",
        "timezone": "America/Chicago",
        "address": {"line1": "12 Maple Street", "city": "Springfield", "region": "IL", "country": "US"},
        "members": [("bob@demo.homeops.org", "member"), ("carol@demo.homeops.org", "guest")],
        "rooms": [("Kitchen", "kitchen", 0), ("Basement", "basement", -1), ("Garage", "garage", 0),
                  ("Living Room", "living", 0), ("Laundry", "utility", -1)],
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


def load_demo(owner: URL, rounds: int = 12) -> dict[str, int]:
    """Creates what is missing; running it twice changes nothing. Returns counts of rows created."""
    created = {"users": 0, "homes": 0, "members": 0, "rooms": 0}
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
            home = conn.execute("SELECT id FROM homes WHERE owner_id = %s AND name = %s", (owner_id, h["name"])).fetchone()
            if home is None:
                home = conn.execute(
                    "INSERT INTO homes (owner_id, name, timezone, address) VALUES (%s, %s, %s, %s) RETURNING id",
                    (owner_id, h["name"], h["timezone"], psycopg.types.json.Jsonb(h["address"])),
                ).fetchone()
                created["homes"] += 1
            assert home is not None
            home_id = home[0]
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
    return created


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
