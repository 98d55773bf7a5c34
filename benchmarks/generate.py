"""Bulk-load a synthetic HomeOps data set for the seed 000 query benchmarks.

    python benchmarks/generate.py [--users 100000] [--devices-per-user 5] [--links-per-device 3]
                                  [--reuse 0.8] [--schedules-per-device 2] [--sessions-per-user 20]
                                  [--only core,maintenance,troubleshooting] [--data-dir benchmarks/.data]
                                  [--seed 1] [--reset]

Starts (or attaches to) the embedded PostgreSQL in ``--data-dir`` (or uses ``HOMEOPS_DATABASE_URL``),
migrates it, and loads - as the table OWNER, with ``COPY ... FROM STDIN`` streamed from generators -
step "core": users, one home per user (+ the owner's home_members row), devices, a shared manual library
with heavy reuse, and device_manuals links; step "maintenance": maintenance schedules per device (seed 000
Query 4); step "troubleshooting": troubleshooting sessions per user (Query 5). The last two read the devices
back from the database, so they also run alone on a loaded data set (``--only maintenance,troubleshooting``).
A step whose data is already present is skipped unless ``--reset``. Finishes with ``VACUUM ANALYZE``.

Everything is derived from ``--seed`` (ids, names, hashes, dates relative to the start time).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
import uuid
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path

import psycopg
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from sqlalchemy.engine import make_url

from homeops.bootstrap import prepare_database
from homeops.catalog.models import IntervalUnit
from homeops.core.config import Settings
from homeops.core.database import libpq_dsn
from homeops.core.security import hash_password
from homeops.maintenance.recurrence import add_interval, nth_due

BENCH_DOMAIN = "bench.homeops.org"
BENCH_PASSWORD = "bench-password-1"
BENCH_TABLES = ("users", "homes", "home_members", "devices", "manuals", "device_manuals")
CHUNK_ROWS = 5000  # rows per COPY write

console = Console()


def bench_email(n: int) -> str:
    return f"bench-{n}@{BENCH_DOMAIN}"


# --------------------------------------------------------------------------------------------------------
# Reference data: categories, brands, model-number shapes, nicknames.
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    category: str  # device_categories.code (seeded by migration 0003)
    weight: float  # how common in a household
    brands: tuple[tuple[str, float], ...]
    shapes: tuple[str, ...]  # model-number templates: L = letter, D = digit
    nicknames: tuple[str, ...]
    price: tuple[int, int]
    warranty_years: tuple[int, int]


KINDS: tuple[Kind, ...] = (
    Kind(
        "refrigerator",
        1.0,
        (
            ("Samsung", 3),
            ("LG", 3),
            ("Whirlpool", 3),
            ("GE", 3),
            ("Frigidaire", 2),
            ("KitchenAid", 1.5),
            ("Bosch", 1),
            ("Maytag", 1),
            ("Sub-Zero", 0.3),
        ),
        ("RF##L####LL", "LRMV####L", "WRF###LLLL##", "GNE##LLL", "FRSS####LL"),
        ("Kitchen fridge", "Garage fridge", "Basement fridge", "Main fridge"),
        (800, 4500),
        (1, 2),
    ),
    Kind(
        "dishwasher",
        0.85,
        (
            ("Bosch", 3),
            ("Whirlpool", 2.5),
            ("KitchenAid", 2),
            ("GE", 2),
            ("Samsung", 1.5),
            ("LG", 1.2),
            ("Miele", 0.6),
            ("Frigidaire", 1),
        ),
        ("SHX##L#LL", "WDT###LLLL#", "KDTM###LLL#", "GDT###LLL#LL", "DW##L####LL"),
        ("Dishwasher", "Kitchen dishwasher"),
        (450, 1800),
        (1, 2),
    ),
    Kind(
        "washing_machine",
        0.8,
        (
            ("LG", 3),
            ("Samsung", 3),
            ("Whirlpool", 2.5),
            ("Maytag", 2),
            ("GE", 1.5),
            ("Speed Queen", 0.7),
            ("Electrolux", 0.8),
        ),
        ("WM####LLL", "WF##L####LL", "WTW####LW#", "MHW####LW#", "GFW###LLL#LL"),
        ("Washer", "Laundry washer", "Basement washer"),
        (500, 1600),
        (1, 3),
    ),
    Kind(
        "dryer",
        0.75,
        (
            ("LG", 3),
            ("Samsung", 3),
            ("Whirlpool", 2.5),
            ("Maytag", 2),
            ("GE", 1.5),
            ("Speed Queen", 0.6),
            ("Electrolux", 0.7),
        ),
        ("DLEX####L", "DVE##L####LL", "WED####LW#", "MED####LW#", "GFD##LSLLLL"),
        ("Dryer", "Laundry dryer"),
        (450, 1500),
        (1, 2),
    ),
    Kind(
        "range",
        0.6,
        (
            ("GE", 3),
            ("Whirlpool", 2),
            ("Frigidaire", 2),
            ("Samsung", 2),
            ("LG", 1.5),
            ("KitchenAid", 1),
            ("Wolf", 0.3),
        ),
        ("JB###LLLL", "WFE###L#LL", "FCRE####LL", "NX##L####LL", "LRGL####L"),
        ("Stove", "Range", "Kitchen range"),
        (600, 3500),
        (1, 2),
    ),
    Kind(
        "microwave",
        0.7,
        (
            ("Panasonic", 2.5),
            ("GE", 2.5),
            ("Whirlpool", 2),
            ("Samsung", 2),
            ("LG", 1.5),
            ("Sharp", 1.5),
            ("Toshiba", 1),
        ),
        ("NN-SN###L", "JVM####LLL", "WMH##L##LL", "ME##L####LL", "R-###LL"),
        ("Microwave", "Over-the-range microwave"),
        (100, 700),
        (1, 1),
    ),
    Kind(
        "range_hood",
        0.3,
        (("Broan", 3), ("Zephyr", 1.5), ("GE", 1), ("Bosch", 1), ("Cosmo", 1)),
        ("QS#L##LL", "ZSA-E##LL", "JVX####LLL", "HCP##L##LL"),
        ("Range hood", "Vent hood"),
        (150, 1500),
        (1, 2),
    ),
    Kind(
        "garbage_disposal",
        0.45,
        (("InSinkErator", 5), ("Waste King", 2), ("Moen", 1)),
        ("EVOLUTION ###", "BADGER #XP", "L-####", "GX##L"),
        ("Garbage disposal", "Disposal"),
        (90, 450),
        (2, 10),
    ),
    Kind(
        "water_heater",
        0.9,
        (
            ("Rheem", 3),
            ("A. O. Smith", 3),
            ("Bradford White", 2),
            ("Rinnai", 1.5),
            ("Navien", 1.2),
            ("Noritz", 0.6),
            ("State", 1),
        ),
        ("XE##L##LL##L##L", "GCR-## ###", "RE##L#-#LL", "RU###LL", "NPE-###L#"),
        ("Water heater", "Tankless water heater", "Basement water heater"),
        (500, 3500),
        (6, 12),
    ),
    Kind(
        "furnace",
        0.55,
        (
            ("Carrier", 3),
            ("Trane", 3),
            ("Lennox", 2.5),
            ("Goodman", 2.5),
            ("Rheem", 2),
            ("York", 1.5),
            ("Bryant", 1.2),
        ),
        ("##LLL####L##", "S#L#L###L#LLL", "EL###LUH###LV##L", "GM##S##LLL#L", "R##LL-####L"),
        ("Furnace", "Basement furnace", "Attic furnace"),
        (2500, 7000),
        (5, 10),
    ),
    Kind(
        "air_conditioner",
        0.6,
        (("Carrier", 3), ("Trane", 3), ("Lennox", 2.5), ("Goodman", 2.5), ("Rheem", 2), ("Daikin", 1.5)),
        ("##LLL###L###", "#TTR####L1000LL", "ML##LLL-###-###", "GSX##L####", "RA##L##LJ#LLL"),
        ("Central AC", "AC condenser", "Outdoor AC unit"),
        (3000, 8000),
        (5, 10),
    ),
    Kind(
        "heat_pump",
        0.2,
        (("Mitsubishi Electric", 2), ("Daikin", 2), ("Carrier", 1.5), ("Trane", 1.5), ("Fujitsu", 1)),
        ("PUZ-HA##LLA#", "DZ##LL####", "##LLL###L###", "AOU##RLX#"),
        ("Heat pump", "Mini-split"),
        (3500, 9000),
        (7, 12),
    ),
    Kind(
        "thermostat",
        0.65,
        (("Google Nest", 3), ("ecobee", 3), ("Honeywell Home", 3), ("Emerson", 1)),
        ("T####LL####", "EB-STATE#-##", "RTH####L####", "#L##L-###"),
        ("Thermostat", "Hallway thermostat", "Upstairs thermostat"),
        (80, 280),
        (1, 2),
    ),
    Kind(
        "smoke_detector",
        0.7,
        (("Kidde", 3), ("First Alert", 3), ("Google Nest", 1)),
        ("PI####", "SC####", "S##LL-#", "i####-#"),
        ("Smoke alarm", "Hallway smoke detector", "Bedroom smoke alarm"),
        (20, 130),
        (5, 10),
    ),
    Kind(
        "co_detector",
        0.3,
        (("Kidde", 3), ("First Alert", 3)),
        ("KN-COB-LL", "CO###", "C####L"),
        ("CO detector", "Basement CO alarm"),
        (25, 80),
        (5, 7),
    ),
    Kind(
        "garage_door_opener",
        0.45,
        (("Chamberlain", 3), ("LiftMaster", 2.5), ("Genie", 2), ("Craftsman", 1)),
        ("B####L", "####LM", "####L-TKV", "CMXEOCG###"),
        ("Garage door opener",),
        (180, 600),
        (1, 5),
    ),
    Kind(
        "dehumidifier",
        0.3,
        (("Frigidaire", 2), ("hOmeLabs", 2), ("GE", 1.5), ("Midea", 1.5)),
        ("FFAD####L#", "HME####LLL#", "APEL##LL", "MAD##L#LWW"),
        ("Dehumidifier", "Basement dehumidifier"),
        (150, 400),
        (1, 2),
    ),
    Kind(
        "sump_pump",
        0.25,
        (("Zoeller", 3), ("Wayne", 2), ("Superior Pump", 1.5)),
        ("M##", "CDU###", "#####"),
        ("Sump pump",),
        (100, 500),
        (1, 5),
    ),
    Kind(
        "water_softener",
        0.2,
        (("Culligan", 2), ("Whirlpool", 2), ("GE", 1.5), ("Morton", 1)),
        ("HE-## LL", "WHES##", "GXSH##L", "MSD####"),
        ("Water softener",),
        (400, 2500),
        (1, 10),
    ),
)
KIND_CUM_WEIGHTS = list(accumulate(k.weight for k in KINDS))
BRAND_CUM_WEIGHTS = [list(accumulate(w for _, w in k.brands)) for k in KINDS]
N_BRAND_PAIRS = sum(len(k.brands) for k in KINDS)
MANUALS_PER_MODEL_TARGET = 5  # sizes the model universe: unique manuals / (pairs * this)

LOCATIONS = (
    "Kitchen",
    "Laundry room",
    "Basement",
    "Garage",
    "Utility closet",
    "Hallway",
    "Attic",
    "Outside",
    "Upstairs",
    "Master bedroom",
    None,
    None,
    None,
)
CITIES = (
    ("Springfield", "IL"),
    ("Portland", "OR"),
    ("Austin", "TX"),
    ("Madison", "WI"),
    ("Raleigh", "NC"),
    ("Denver", "CO"),
    ("Columbus", "OH"),
    ("Tampa", "FL"),
    ("Boise", "ID"),
    ("Albany", "NY"),
    ("Tucson", "AZ"),
    ("Richmond", "VA"),
    ("Omaha", "NE"),
    ("Burlington", "VT"),
    ("Fresno", "CA"),
)
TIMEZONES = {
    "IL": "America/Chicago",
    "OR": "America/Los_Angeles",
    "TX": "America/Chicago",
    "WI": "America/Chicago",
    "NC": "America/New_York",
    "CO": "America/Denver",
    "OH": "America/New_York",
    "FL": "America/New_York",
    "ID": "America/Boise",
    "NY": "America/New_York",
    "AZ": "America/Phoenix",
    "VA": "America/New_York",
    "NE": "America/Chicago",
    "VT": "America/New_York",
    "CA": "America/Los_Angeles",
}
FIRST = (
    "Alex",
    "Sam",
    "Jordan",
    "Taylor",
    "Morgan",
    "Casey",
    "Riley",
    "Jamie",
    "Avery",
    "Quinn",
    "Maria",
    "Wei",
    "Priya",
    "Omar",
    "Elena",
    "Kenji",
    "Fatima",
    "Lucas",
    "Chloe",
    "Noah",
    "Aisha",
    "Diego",
    "Hana",
    "Liam",
)
LAST = (
    "Smith",
    "Johnson",
    "Garcia",
    "Chen",
    "Patel",
    "Nguyen",
    "Kim",
    "Müller",
    "Rossi",
    "Silva",
    "Okafor",
    "Kowalski",
    "Haddad",
    "Tanaka",
    "Brown",
    "Lopez",
    "Novak",
    "Ivanova",
    "Dubois",
    "Andersen",
)
STREETS = (
    "Maple",
    "Oak",
    "Pine",
    "Cedar",
    "Elm",
    "Willow",
    "Lakeview",
    "Hillcrest",
    "Sunset",
    "River",
    "Park",
)
DEVICE_STATUSES = (
    ("active", 0.88),
    ("inactive", 0.05),
    ("replaced", 0.03),
    ("archived", 0.02),
    ("removed", 0.02),
)

# The order in which a model's manuals appear in the library: (manual_type, version). The composite
# de-dup key is brand + model number + type + version, so each pair is unique per model.
MANUAL_SEQUENCE = (
    ("user", ""),
    ("installation", ""),
    ("troubleshooting", ""),
    ("service", ""),
    ("quick_start", ""),
    ("parts", ""),
    ("warranty", ""),
    ("user", "Rev B"),
    ("installation", "Rev B"),
    ("service", "Rev B"),
    ("troubleshooting", "Rev B"),
    ("other", ""),
    ("user", "Rev C"),
    ("parts", "Rev B"),
)
MANUAL_TYPE_TITLES = {
    "user": "Use & Care Guide",
    "installation": "Installation Instructions",
    "troubleshooting": "Troubleshooting Guide",
    "service": "Service Manual",
    "quick_start": "Quick Start Guide",
    "parts": "Parts List",
    "warranty": "Warranty",
    "other": "Product Information",
}


def manual_kind(seq: int) -> tuple[str, str]:
    if seq < len(MANUAL_SEQUENCE):
        return MANUAL_SEQUENCE[seq]
    types = ("user", "installation", "troubleshooting", "service", "parts", "quick_start")
    extra = seq - len(MANUAL_SEQUENCE)
    return types[extra % len(types)], f"Rev {chr(ord('D') + extra // len(types))}" if extra // len(
        types
    ) < 22 else f"v{extra}"


# --------------------------------------------------------------------------------------------------------
# Generation state
# --------------------------------------------------------------------------------------------------------


def new_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def ts(value: datetime) -> str:
    return value.isoformat()


def copy_text(value: object) -> str:
    """One field in COPY text format. Generated values never hold tabs, newlines or backslashes."""
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value)


def line(*values: object) -> str:
    return "\t".join(map(copy_text, values)) + "\n"


@dataclass
class Catalog:
    """Model numbers per (kind, brand), drawn lazily and deterministically."""

    rng: random.Random
    per_brand: int  # distinct model numbers per (kind, brand)
    numbers: dict[tuple[int, int], list[str]] = field(default_factory=dict)

    def model_numbers(self, kind_i: int, brand_i: int) -> list[str]:
        key = (kind_i, brand_i)
        found = self.numbers.get(key)
        if found is None:
            rng = random.Random(f"{self.rng.random()}:{key}")
            shapes = KINDS[kind_i].shapes
            seen: set[str] = set()
            found = []
            while len(found) < self.per_brand:
                shape = shapes[len(found) % len(shapes)]
                number = "".join(
                    rng.choice("ABCDEFGHJKLMNPRSTUVWXZ")
                    if ch == "L"
                    else str(rng.randrange(10))
                    if ch == "#"
                    else ch
                    for ch in shape
                ).upper()
                if number in seen:  # small shapes run out of combinations: add a variant suffix
                    number = f"{number}-{len(found)}"
                seen.add(number)
                found.append(number)
            self.numbers[key] = found
        return found


@dataclass
class Manual:
    kind_i: int
    brand_i: int
    model_i: int
    seq: int
    created_at: datetime
    uploaded_by: str


@dataclass
class Plan:
    """What the device pass decided: manuals to create, links to make (device index → manual index)."""

    manuals: list[Manual] = field(default_factory=list)
    pools: dict[tuple[int, int, int], list[int]] = field(default_factory=dict)  # model → manual indexes
    link_device: array = field(default_factory=lambda: array("l"))
    link_manual: array = field(default_factory=lambda: array("l"))
    forced_new: int = 0


# --------------------------------------------------------------------------------------------------------
# Row generators (COPY text lines)
# --------------------------------------------------------------------------------------------------------


@dataclass
class World:
    args: argparse.Namespace
    now: datetime
    rng: random.Random
    password_hash: str
    user_ids: list[str] = field(default_factory=list)
    user_created: list[datetime] = field(default_factory=list)
    home_ids: list[str] = field(default_factory=list)
    devices_per_user: array = field(default_factory=lambda: array("l"))
    device_ids: list[str] = field(default_factory=list)
    device_user: array = field(default_factory=lambda: array("l"))
    device_created: list[datetime] = field(default_factory=list)
    plan: Plan = field(default_factory=Plan)

    def __post_init__(self) -> None:
        self.catalog = Catalog(random.Random(self.args.seed * 7919 + 1), 20)

    def size_catalog(self, n_links: int) -> None:
        """Enough models that each holds a realistic handful of manuals (capped at len(MANUAL_SEQUENCE))."""
        unique = n_links * (1.0 - self.args.reuse)
        self.catalog.per_brand = max(20, int(unique / (N_BRAND_PAIRS * MANUALS_PER_MODEL_TARGET)) + 1)

    # ---- users / homes ------------------------------------------------------------------------------
    def users(self) -> Iterator[str]:
        rng, start = self.rng, self.now - timedelta(days=3 * 365)
        span = (self.now - start).total_seconds()
        for n in range(1, self.args.users + 1):
            uid = new_uuid(rng)
            created = start + timedelta(seconds=rng.random() * span * 0.95)
            self.user_ids.append(uid)
            self.user_created.append(created)
            name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            last_login = created + timedelta(seconds=rng.random() * (self.now - created).total_seconds())
            # id, email, full_name, role, password_hash, is_verified, is_active, last_login_at, created_at, updated_at
            yield line(
                uid,
                bench_email(n),
                name,
                "homeowner",
                self.password_hash,
                True,
                True,
                ts(last_login),
                ts(created),
                ts(created),
            )

    def homes(self) -> Iterator[str]:
        rng = self.rng
        for i, owner in enumerate(self.user_ids):
            hid = new_uuid(rng)
            self.home_ids.append(hid)
            city, state = rng.choice(CITIES)
            address = json.dumps(
                {
                    "street": f"{rng.randint(1, 9999)} {rng.choice(STREETS)} St",
                    "city": city,
                    "state": state,
                    "postal_code": f"{rng.randint(10000, 99999)}",
                    "country": "US",
                }
            )
            created = self.user_created[i] + timedelta(minutes=rng.randint(1, 120))
            name = rng.choice(("Home", "Main house", "Our place", f"{city} house", "Apartment", "Cottage"))
            # id, owner_id, name, address, timezone, created_at, updated_at
            yield line(hid, owner, name, address, TIMEZONES[state], ts(created), ts(created))

    def home_members(self) -> Iterator[str]:
        rng = self.rng
        for i, owner in enumerate(self.user_ids):
            # id, home_id, user_id, role, created_at  (what trg_homes_owner_member would have inserted)
            yield line(
                new_uuid(rng),
                self.home_ids[i],
                owner,
                "owner",
                ts(self.user_created[i] + timedelta(minutes=121)),
            )

    # ---- devices (and the link plan) ----------------------------------------------------------------
    def draw_device_counts(self) -> int:
        rng, mean = random.Random(self.args.seed * 104729 + 3), self.args.devices_per_user
        for _ in range(self.args.users):
            if mean <= 1:
                n = max(0, round(mean))
            else:  # 1 + exponential: most homes have a handful, ~1% have 20+ (the seed's "~20 appliances")
                n = min(60, 1 + round(rng.expovariate(1.0 / (mean - 1))))
            self.devices_per_user.append(n)
        return sum(self.devices_per_user)

    def devices(self) -> Iterator[str]:
        rng, args, plan = self.rng, self.args, self.plan
        statuses, status_w = zip(*DEVICE_STATUSES, strict=True)
        status_cum = list(accumulate(status_w))
        kind_range = range(len(KINDS))
        links, reuse = args.links_per_device, args.reuse
        slots = 0
        for u, count in enumerate(self.devices_per_user):
            owner, home, joined = self.user_ids[u], self.home_ids[u], self.user_created[u]
            age = (self.now - joined).total_seconds()
            for _ in range(count):
                did = new_uuid(rng)
                d_index = len(self.device_ids)
                self.device_ids.append(did)
                self.device_user.append(u)
                kind_i = rng.choices(kind_range, cum_weights=KIND_CUM_WEIGHTS)[0]
                kind = KINDS[kind_i]
                brand_i = rng.choices(range(len(kind.brands)), cum_weights=BRAND_CUM_WEIGHTS[kind_i])[0]
                brand = kind.brands[brand_i][0]
                # Popular models are far more common (Zipf-like): many homes own the same fridge.
                model_i = int(self.catalog.per_brand * rng.random() ** 3)
                number = self.catalog.model_numbers(kind_i, brand_i)[model_i]
                created = joined + timedelta(seconds=rng.random() * age)
                self.device_created.append(created)
                purchased = (created - timedelta(days=rng.randint(0, 6 * 365))).date()
                warranty_end = purchased + timedelta(days=365 * rng.randint(*kind.warranty_years))
                status = rng.choices(statuses, cum_weights=status_cum)[0]
                location = rng.choice(LOCATIONS)
                nickname = rng.choice(kind.nicknames)
                price = f"{rng.uniform(*kind.price):.2f}"
                installed = purchased + timedelta(days=rng.randint(0, 21)) if rng.random() < 0.6 else None
                # id, home_id, added_by, manufacturer_name, model_number, category_code, nickname, location_detail,
                # purchase_date, purchase_price, installation_date, warranty_start, warranty_end, status,
                # created_at, updated_at
                yield line(
                    did,
                    home,
                    owner,
                    brand,
                    number,
                    kind.category,
                    nickname,
                    location,
                    purchased,
                    price,
                    installed,
                    purchased,
                    warranty_end,
                    status,
                    ts(created),
                    ts(created),
                )

                # Links: the device's manuals come from its model's pool; a new manual is "uploaded" only
                # when the running share of new manuals is below 1 - reuse and the model has fewer than
                # len(MANUAL_SEQUENCE) manuals, or when the pool has nothing left for this device.
                model = (kind_i, brand_i, model_i)
                pool = plan.pools.setdefault(model, [])
                chosen: list[int] = []
                for _ in range(links):
                    slots += 1
                    candidates = [m for m in pool if m not in chosen]
                    want_new = len(plan.manuals) < (1.0 - reuse) * slots and len(pool) < len(MANUAL_SEQUENCE)
                    if candidates and not want_new:
                        # Earlier manuals (the user manual, installation guide) are the popular ones.
                        m = candidates[int(len(candidates) * rng.random() ** 2)]
                    else:
                        if not candidates and not want_new:
                            plan.forced_new += 1
                        m = len(plan.manuals)
                        plan.manuals.append(Manual(kind_i, brand_i, model_i, len(pool), created, owner))
                        pool.append(m)
                    chosen.append(m)
                    plan.link_device.append(d_index)
                    plan.link_manual.append(m)

    # ---- manuals / links ----------------------------------------------------------------------------
    def manuals(self) -> Iterator[str]:
        seed = self.args.seed
        rng = random.Random(seed * 31337 + 5)
        self.manual_ids: list[str] = []
        for i, m in enumerate(self.plan.manuals):
            mid = new_uuid(rng)
            self.manual_ids.append(mid)
            kind = KINDS[m.kind_i]
            brand = kind.brands[m.brand_i][0]
            numbers = self.catalog.model_numbers(m.kind_i, m.brand_i)
            # A manual often covers a series: the model and a few siblings.
            covered = [numbers[m.model_i]]
            if rng.random() < 0.35:
                covered += [
                    numbers[j] for j in rng.sample(range(len(numbers)), rng.randint(1, 3)) if j != m.model_i
                ]
            manual_type, version = manual_kind(m.seq)
            language = "en" if rng.random() < 0.9 else rng.choice(("es", "fr", "de"))
            year = min(self.now.year, max(2005, m.created_at.year - rng.randint(0, 8)))
            fhash = hashlib.sha256(f"bench-file:{seed}:{i}".encode()).hexdigest()
            chash = hashlib.sha256(f"bench-text:{seed}:{i}".encode()).hexdigest()
            title = f"{brand} {numbers[m.model_i]} {MANUAL_TYPE_TITLES[manual_type]}" + (
                f" ({version})" if version else ""
            )
            file_name = f"{brand.replace(' ', '_')}_{numbers[m.model_i].replace(' ', '_')}_{manual_type}.pdf"
            processed = m.created_at + timedelta(seconds=rng.randint(5, 600))
            model_array = "{" + ",".join(f'"{n}"' for n in covered) + "}"
            # id, brand, model_numbers, category_code, manual_type, language, version, year, title, file_name,
            # file_hash, content_hash, file_size, page_count, storage_key, processor, status, indexed, embedded,
            # processed_at, uploaded_by, created_at, updated_at, visibility, provenance, verified_at
            yield line(
                mid,
                brand,
                model_array,
                kind.category,
                manual_type,
                language,
                version,
                year,
                title[:500],
                file_name[:255],
                fhash,
                chash,
                rng.randint(150_000, 25_000_000),
                rng.randint(4, 180),
                f"manuals/{fhash[:2]}/{fhash}.pdf",
                "pypdf",
                "ready",
                True,
                False,
                ts(processed),
                m.uploaded_by,
                ts(m.created_at),
                ts(processed),
                "shared",  # the shared library (issue 9's trust model): an operator import, verified
                "operator",
                ts(processed),
            )

    def device_manuals(self) -> Iterator[str]:
        rng = random.Random(self.args.seed * 6151 + 7)
        plan = self.plan
        for d, m in zip(plan.link_device, plan.link_manual, strict=True):
            u = self.device_user[d]
            made = max(self.device_created[d], plan.manuals[m].created_at)
            auto = rng.random() < 0.7
            # device_id, manual_id, home_id, linked_by, auto_linked, linked_at
            yield line(
                self.device_ids[d],
                self.manual_ids[m],
                self.home_ids[u],
                None if auto else self.user_ids[u],
                auto,
                ts(made + timedelta(seconds=rng.randint(1, 3600))),
            )


# --------------------------------------------------------------------------------------------------------
# Maintenance schedules and troubleshooting sessions (seed 000 Queries 4 and 5). These steps read the
# devices back from the database, so they also run alone on an already loaded data set (--only).
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    name: str
    interval: int
    unit: str  # interval_unit: days / weeks / months / years
    weight: float  # how often owners schedule it (of the kind's tasks)
    cost: tuple[int, int] | None  # estimated_cost range; None: free (DIY, no parts)
    parts: tuple[str, ...] = ()


# Per category: the recurring tasks a manual or a technician would recommend. Monthly chores are scheduled
# less often than the yearly service, which keeps the share due within any 30 days realistic (~5-10 %).
TASKS: dict[str, tuple[Task, ...]] = {
    "refrigerator": (
        Task("Replace water filter", 6, "months", 2, (30, 60), ("Water filter",)),
        Task("Clean condenser coils", 1, "years", 3, None),
        Task("Check door gaskets", 1, "years", 1, None),
        Task("Replace air filter", 1, "years", 1, (10, 25), ("Air filter",)),
    ),
    "dishwasher": (
        Task("Clean filter", 6, "months", 2, None),
        Task("Run cleaning cycle with descaler", 6, "months", 1, (8, 15), ("Dishwasher cleaner",)),
        Task("Inspect spray arms and door seal", 1, "years", 3, None),
        Task("Check drain hose", 2, "years", 1.5, None),
    ),
    "washing_machine": (
        Task("Run tub clean cycle", 1, "months", 0.2, (5, 12), ("Washer cleaner",)),
        Task("Clean drain pump filter", 6, "months", 2, None),
        Task("Inspect inlet hoses", 1, "years", 3, None),
        Task("Replace inlet hoses", 5, "years", 2, (20, 45), ("Inlet hose set",)),
    ),
    "dryer": (
        Task("Clean dryer vent duct", 1, "years", 3, (100, 180)),
        Task("Deep-clean lint trap housing", 1, "years", 2, None),
        Task("Inspect exterior vent flap", 2, "years", 1, None),
    ),
    "range": (
        Task("Clean oven (self-clean cycle)", 1, "years", 2, None),
        Task("Check burner igniters and gas connections", 1, "years", 2, (0, 120)),
        Task("Clean cooktop burner caps", 6, "months", 1, None),
    ),
    "microwave": (
        Task("Replace charcoal filter", 1, "years", 2, (15, 35), ("Charcoal filter",)),
        Task("Clean grease filters", 6, "months", 1.5, None),
        Task("Check door seal", 1, "years", 1, None),
    ),
    "range_hood": (
        Task("Clean grease filters", 6, "months", 2, None),
        Task("Replace charcoal filter", 1, "years", 3, (20, 50), ("Charcoal filter",)),
        Task("Check fan and light", 1, "years", 1, None),
    ),
    "garbage_disposal": (
        Task("Clean and deodorize", 3, "months", 0.5, None),
        Task("Inspect for leaks", 1, "years", 2, None),
        Task("Sharpen impellers (ice cycle)", 1, "years", 1, None),
    ),
    "water_heater": (
        Task("Flush tank sediment", 1, "years", 3, (0, 150)),
        Task("Test T&P relief valve", 1, "years", 2, None),
        Task("Inspect anode rod", 3, "years", 2, (40, 250), ("Anode rod",)),
        Task("Descale heat exchanger", 1, "years", 1, (20, 200), ("Descaling solution",)),
    ),
    "furnace": (
        Task("Replace air filter", 3, "months", 1, (15, 40), ("Air filter",)),
        Task("Annual furnace tune-up", 1, "years", 3, (90, 200)),
        Task("Inspect flue and vent pipe", 2, "years", 2, None),
    ),
    "air_conditioner": (
        Task("Professional AC tune-up", 1, "years", 3, (90, 180)),
        Task("Clean outdoor condenser coil", 1, "years", 2, None),
        Task("Replace return air filter", 3, "months", 1, (15, 40), ("Air filter",)),
    ),
    "heat_pump": (
        Task("Clean indoor unit filters", 3, "months", 0.7, None),
        Task("Annual heat pump service", 1, "years", 3, (100, 220)),
        Task("Clear debris around outdoor unit", 1, "years", 1.5, None),
    ),
    "thermostat": (
        Task("Replace batteries", 1, "years", 3, (5, 10), ("AA batteries",)),
        Task("Review heating/cooling schedule", 1, "years", 1.5, None),
        Task("Check firmware update", 1, "years", 0.5, None),
    ),
    "smoke_detector": (
        Task("Test alarm", 1, "months", 0.3, None),
        Task("Replace battery", 1, "years", 3, (5, 12), ("9V battery",)),
        Task("Replace detector (end of life)", 10, "years", 3, (20, 60), ("Smoke alarm",)),
    ),
    "co_detector": (
        Task("Test alarm", 1, "months", 0.3, None),
        Task("Replace battery", 1, "years", 3, (5, 12), ("AA batteries",)),
        Task("Replace detector (end of life)", 7, "years", 3, (25, 60), ("CO alarm",)),
    ),
    "garage_door_opener": (
        Task("Lubricate rollers, hinges and chain", 1, "years", 3, (8, 15), ("Garage lubricant",)),
        Task("Test auto-reverse safety", 6, "months", 1, None),
        Task("Replace remote batteries", 2, "years", 2, (5, 10), ("Coin cell battery",)),
    ),
    "dehumidifier": (
        Task("Clean air filter", 2, "weeks", 0.3, None),
        Task("Clean bucket and float", 6, "months", 2, None),
        Task("Clean coils", 1, "years", 2, None),
    ),
    "sump_pump": (
        Task("Test pump (pour water into pit)", 6, "months", 2, None),
        Task("Clean intake screen", 1, "years", 2, None),
        Task("Replace backup battery", 3, "years", 2, (150, 300), ("Backup battery",)),
    ),
    "water_softener": (
        Task("Add salt", 3, "months", 1, (10, 25), ("Softener salt",)),
        Task("Clean brine tank", 1, "years", 2, None),
        Task("Add resin cleaner", 1, "years", 1.5, (10, 20), ("Resin cleaner",)),
    ),
}
TASK_DESCRIPTIONS = (
    "See the manual's maintenance section.",
    "Recommended by the installer.",
    "Set up from the manufacturer's schedule.",
    "Reminder for the technician visit.",
)
UNIT_DAYS = {"days": 1, "weeks": 7, "months": 30.4, "years": 365.25}
SCHEDULE_OVERDUE = 0.07  # share of schedules that were not done on time (next_due in the past)

# ~60 symptoms, most common first. "*": any appliance; otherwise the categories where an owner would report
# it. Per category the candidates are ranked in this order, generic ones GENERIC_SYMPTOM_DELAY places later,
# and drawn with the Zipf-like weight 1/rank^SYMPTOM_ZIPF. Stored as the API stores them: trimmed, lower-case.
SYMPTOM_ZIPF = 1.0
GENERIC_SYMPTOM_DELAY = 6
SYMPTOMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("not turning on", ("*",)),
    ("making loud noise", ("*",)),
    (
        "leaking water",
        (
            "refrigerator",
            "dishwasher",
            "washing_machine",
            "water_heater",
            "air_conditioner",
            "dehumidifier",
            "water_softener",
            "garbage_disposal",
            "heat_pump",
        ),
    ),
    (
        "error code displayed",
        (
            "refrigerator",
            "dishwasher",
            "washing_machine",
            "dryer",
            "range",
            "microwave",
            "water_heater",
            "furnace",
            "air_conditioner",
            "heat_pump",
            "thermostat",
        ),
    ),
    ("not cooling", ("refrigerator", "air_conditioner", "heat_pump")),
    ("not heating", ("dryer", "range", "microwave", "furnace", "heat_pump", "water_heater")),
    ("not draining", ("dishwasher", "washing_machine")),
    ("beeping", ("*",)),
    ("not spinning", ("washing_machine",)),
    ("no hot water", ("water_heater",)),
    ("ice maker not working", ("refrigerator",)),
    ("chirping", ("smoke_detector", "co_detector")),
    ("turns off by itself", ("*",)),
    ("dishes not clean", ("dishwasher",)),
    ("takes too long to dry", ("dryer",)),
    ("blowing cold air", ("furnace", "heat_pump")),
    ("short cycling", ("furnace", "air_conditioner", "heat_pump")),
    (
        "display not working",
        (
            "refrigerator",
            "dishwasher",
            "washing_machine",
            "dryer",
            "range",
            "microwave",
            "thermostat",
            "dehumidifier",
        ),
    ),
    ("vibrating excessively", ("washing_machine", "dryer", "refrigerator", "air_conditioner")),
    ("burning smell", ("*",)),
    ("door won't close", ("garage_door_opener", "dishwasher", "refrigerator")),
    ("false alarm", ("smoke_detector", "co_detector")),
    ("water dispenser not working", ("refrigerator",)),
    ("weak airflow", ("furnace", "air_conditioner", "heat_pump", "range_hood")),
    ("clicking noise", ("*",)),
    ("tripping the breaker", ("*",)),
    ("not drying", ("dishwasher", "dryer")),
    ("remote not working", ("garage_door_opener", "air_conditioner", "heat_pump")),
    ("jammed", ("garbage_disposal",)),
    ("freezer too cold", ("refrigerator",)),
    ("not enough hot water", ("water_heater",)),
    (
        "wifi not connecting",
        (
            "refrigerator",
            "dishwasher",
            "washing_machine",
            "dryer",
            "thermostat",
            "garage_door_opener",
            "smoke_detector",
        ),
    ),
    ("frost buildup", ("refrigerator",)),
    ("door won't unlock", ("washing_machine",)),
    ("burner won't light", ("range",)),
    ("oven not heating evenly", ("range",)),
    ("wrong temperature reading", ("thermostat", "refrigerator")),
    ("pilot light out", ("water_heater", "furnace")),
    ("humming but not grinding", ("garbage_disposal",)),
    ("pump runs constantly", ("sump_pump",)),
    ("bad smell", ("dishwasher", "washing_machine", "garbage_disposal", "refrigerator", "dehumidifier")),
    ("door reverses before closing", ("garage_door_opener",)),
    ("not collecting water", ("dehumidifier",)),
    ("squeaking", ("dryer", "garage_door_opener", "furnace")),
    ("sparking inside", ("microwave",)),
    ("turntable not rotating", ("microwave",)),
    ("ice on coils", ("air_conditioner", "heat_pump", "dehumidifier")),
    ("rumbling noise", ("water_heater",)),
    ("blank screen", ("thermostat",)),
    ("low battery warning", ("smoke_detector", "co_detector", "thermostat")),
    ("not filling with water", ("washing_machine", "dishwasher")),
    ("detergent not dispensing", ("dishwasher", "washing_machine")),
    ("pump not turning on", ("sump_pump",)),
    ("hard water", ("water_softener",)),
    ("salt bridge", ("water_softener",)),
    ("not regenerating", ("water_softener",)),
    ("fan not working", ("range_hood", "microwave", "air_conditioner", "furnace")),
    ("light not working", ("refrigerator", "range_hood", "microwave", "range", "garage_door_opener")),
    ("end of life warning", ("smoke_detector", "co_detector")),
    ("rusty water", ("water_heater",)),
    ("float switch stuck", ("sump_pump",)),
    ("running constantly", ("refrigerator", "air_conditioner", "dehumidifier")),
)
ERROR_CODES = (
    "E1",
    "E2",
    "E4",
    "E15",
    "E24",
    "F21",
    "F5E1",
    "OE",
    "LE",
    "UE",
    "DE",
    "5E",
    "IE",
    "ERFF",
    "22E",
    "H2O",
    "PF",
    "CL",
    "DOOR",
    "SUD",
    "F9E1",
    "E03",
    "C9",
    "LC",
    "FL",
    "33",
    "13",
    "LO",
)
SUMMARY_SUFFIXES = (
    "",
    "",
    "",
    " since yesterday",
    " after a power outage",
    " intermittently",
    " again",
    " since the last service",
    " for a week",
)
RESOLUTIONS = (
    "Reset the appliance (power off for 5 minutes)",
    "Cleaned the filter",
    "Followed the manual's troubleshooting table",
    "Replaced a part ordered online",
    "Technician visit fixed it",
    "Reset the breaker",
    "Cleared a blockage in the drain hose",
    "Updated the firmware",
    "Replaced the batteries",
    "Re-leveled the appliance",
)
SESSION_STATUSES = (("resolved", 0.58), ("abandoned", 0.22), ("escalated", 0.10), ("open", 0.10))
SATISFACTION = ((5, 0.40), (4, 0.30), (3, 0.15), (2, 0.08), (1, 0.07))
SYMPTOM_COUNTS = ((1, 0.38), (2, 0.34), (3, 0.19), (4, 0.09))


@dataclass
class DeviceRow:
    """A bench device as read back from the database (for the maintenance / troubleshooting steps)."""

    id: str
    home_id: str
    owner_id: str
    category: str
    nickname: str
    active: bool
    created: datetime


@dataclass
class History:
    """Schedules and sessions over the devices already in the database (ordered by owner, then device)."""

    args: argparse.Namespace
    now: datetime
    devices: list[DeviceRow]
    stats: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_owner: list[list[int]] = []
        last = None
        for i, d in enumerate(self.devices):
            if d.owner_id != last:
                self.by_owner.append([])
                last = d.owner_id
            self.by_owner[-1].append(i)
        # Symptoms: the category's candidates, its own symptoms ahead of the generic ones (a fridge owner
        # reports "not cooling" before "not turning on"), with Zipf weights by that rank.
        self.symptoms_for: dict[str, tuple[list[str], list[float]]] = {}
        for category in TASKS:
            ranked = sorted(
                (rank + (GENERIC_SYMPTOM_DELAY if "*" in cats else 0), s)
                for rank, (s, cats) in enumerate(SYMPTOMS)
                if "*" in cats or category in cats
            )
            names = [s for _, s in ranked]
            weights = [1 / (i + 1) ** SYMPTOM_ZIPF for i in range(len(names))]
            self.symptoms_for[category] = (names, list(accumulate(weights)))
        self.symptom_hits: dict[str, int] = {}

    @staticmethod
    def load(conn: psycopg.Connection, args: argparse.Namespace, now: datetime) -> History:
        rows = conn.execute(
            "SELECT d.id::text, d.home_id::text, h.owner_id::text, d.category_code, d.nickname, "
            "d.status = 'active', d.created_at FROM devices d JOIN homes h ON h.id = d.home_id "
            "JOIN users u ON u.id = h.owner_id WHERE lower(u.email) LIKE %s "
            "ORDER BY h.owner_id, d.created_at, d.id",
            (f"%@{BENCH_DOMAIN}",),
        ).fetchall()
        return History(args, now, [DeviceRow(*r) for r in rows])

    def n_schedules(self) -> int:
        return sum(min(self.args.schedules_per_device, len(TASKS[d.category])) for d in self.devices)

    def session_counts(self) -> list[int]:
        """Per owner: 1 + Exp(mean - 1), capped at 10x the mean - a few owners use the assistant a lot."""
        rng, mean = random.Random(self.args.seed * 7907 + 11), self.args.sessions_per_user
        if mean <= 1:
            return [max(0, round(mean))] * len(self.by_owner)
        cap = int(10 * mean)
        return [min(cap, 1 + round(rng.expovariate(1.0 / (mean - 1)))) for _ in self.by_owner]

    # ---- maintenance_schedules ----------------------------------------------------------------------
    def maintenance_schedules(self) -> Iterator[str]:
        rng = random.Random(self.args.seed * 4099 + 13)
        today = self.now.date()
        horizon = today + timedelta(days=30)
        st = self.stats
        for key in ("due_30", "overdue", "reminder", "active", "q4_30"):
            st[key] = 0
        for d in self.devices:
            tasks = TASKS[d.category]
            weights = [t.weight for t in tasks]
            chosen: list[Task] = []
            while len(chosen) < min(self.args.schedules_per_device, len(tasks)):
                t = rng.choices(tasks, weights=weights)[0]
                if t not in chosen:
                    chosen.append(t)
            created_day = d.created.date()
            for task in chosen:
                unit = IntervalUnit(task.unit)
                period = max(1, round(task.interval * UNIT_DAYS[task.unit]))
                # Where the schedule stands today: a stationary series is due uniformly within one period;
                # some were let slip (overdue by up to a period, at most half a year).
                overdue = rng.random() < SCHEDULE_OVERDUE
                if overdue:
                    target = today - timedelta(days=rng.randint(1, max(1, min(period, 180))))
                else:
                    target = today + timedelta(days=rng.randrange(period))
                target = max(target, created_day + timedelta(days=1))
                last_performed = None
                if rng.random() < 0.7:
                    anchor = "schedule"
                    # The series started around the device's installation: count whole periods back.
                    occurrence = max(0, (target - created_day).days // period)
                    while True:
                        series_start = add_interval(target, -occurrence * task.interval, unit)
                        if occurrence == 0 or series_start > created_day:
                            break
                        occurrence -= 1
                    next_due = nth_due(series_start, occurrence, task.interval, unit)
                    if occurrence > 0:
                        prev = nth_due(series_start, occurrence - 1, task.interval, unit)
                        last_performed = min(today, prev + timedelta(days=rng.randint(-3, 10)))
                else:
                    anchor = "completion"
                    series_start = add_interval(target, -task.interval, unit)
                    occurrence = 1
                    if series_start <= created_day or series_start > today:
                        series_start, occurrence = target, 0
                    else:
                        last_performed = series_start
                    next_due = nth_due(series_start, occurrence, task.interval, unit)
                end_date = (
                    next_due + timedelta(days=rng.randint(365, 5 * 365)) if rng.random() < 0.03 else None
                )
                reminder = rng.random() < 0.9
                active = rng.random() < (0.97 if d.active else 0.2)
                cost = f"{rng.uniform(*task.cost):.2f}" if task.cost and rng.random() < 0.85 else None
                parts = json.dumps([{"name": p, "quantity": 1} for p in task.parts])
                created = min(self.now, d.created + timedelta(minutes=rng.randint(1, 60 * 24 * 30)))
                updated = (
                    max(created, datetime.combine(last_performed, datetime.min.time(), UTC))
                    if last_performed
                    else created
                )
                updated = min(updated, self.now)
                st["due_30"] += today <= next_due <= horizon
                st["overdue"] += next_due < today
                st["reminder"] += reminder
                st["active"] += active
                st["q4_30"] += active and reminder and d.active and today <= next_due <= horizon
                # id, device_id, home_id, task_name, description, interval, interval_unit, anchor, series_start,
                # occurrence, next_due, last_performed, lead_days, end_date, parts_needed, estimated_cost,
                # reminder_enabled, is_active, created_at, updated_at
                yield line(
                    new_uuid(rng),
                    d.id,
                    d.home_id,
                    task.name,
                    rng.choice(TASK_DESCRIPTIONS) if rng.random() < 0.3 else None,
                    task.interval,
                    task.unit,
                    anchor,
                    series_start,
                    occurrence,
                    next_due,
                    last_performed,
                    rng.choice((7, 7, 7, 3, 14)),
                    end_date,
                    parts,
                    cost,
                    reminder,
                    active,
                    ts(created),
                    ts(updated),
                )

    # ---- troubleshooting_sessions -------------------------------------------------------------------
    def troubleshooting_sessions(self, counts: list[int]) -> Iterator[str]:
        rng = random.Random(self.args.seed * 3571 + 17)
        statuses, status_w = zip(*SESSION_STATUSES, strict=True)
        sat_values, sat_w = zip(*SATISFACTION, strict=True)
        n_values, n_w = zip(*SYMPTOM_COUNTS, strict=True)
        start = self.now - timedelta(days=730)
        st, hits = self.stats, self.symptom_hits
        for key in ("sessions", "symptoms", "open", "resolved"):
            st[key] = 0
        for owner_devices, count in zip(self.by_owner, counts, strict=True):
            weights = [3.0 if self.devices[i].active else 1.0 for i in owner_devices]
            for _ in range(count):
                d = self.devices[rng.choices(owner_devices, weights=weights)[0]]
                names, cum = self.symptoms_for[d.category]
                k = rng.choices(n_values, weights=n_w)[0]
                symptoms: list[str] = []
                for _ in range(8 * k):  # draw without replacement by rejection (small lists, k <= 4)
                    s = rng.choices(names, cum_weights=cum)[0]
                    if s not in symptoms:
                        symptoms.append(s)
                        if len(symptoms) == k:
                            break
                codes: list[str] = []
                if "error code displayed" in symptoms or rng.random() < 0.12:
                    codes = rng.sample(ERROR_CODES, 2 if rng.random() < 0.15 else 1)
                begin = max(start, d.created)
                created = begin + timedelta(
                    seconds=rng.random() * max(60.0, (self.now - begin).total_seconds())
                )
                created = min(created, self.now)
                recent = (self.now - created).days < 3
                status = (
                    "open" if recent and rng.random() < 0.5 else rng.choices(statuses, weights=status_w)[0]
                )
                resolved_at = resolution = satisfaction = None
                if status == "resolved":
                    resolved_at = min(self.now, created + timedelta(minutes=rng.randint(3, 60 * 24 * 5)))
                    resolution = rng.choice(RESOLUTIONS)
                    satisfaction = rng.choices(sat_values, weights=sat_w)[0] if rng.random() < 0.7 else None
                elif status == "abandoned" and rng.random() < 0.2:
                    satisfaction = rng.choice((1, 2, 3))
                updated = resolved_at or min(self.now, created + timedelta(minutes=rng.randint(1, 90)))
                summary = f"{d.nickname} {symptoms[0]}{rng.choice(SUMMARY_SUFFIXES)}"
                if codes:
                    summary += f", shows {codes[0]}"
                st["sessions"] += 1
                st["symptoms"] += len(symptoms)
                st[status] = st.get(status, 0) + 1
                for s in symptoms:
                    hits[s] = hits.get(s, 0) + 1
                # id, user_id, device_id, home_id, issue_summary, symptoms, error_codes, status, resolution,
                # resolved_at, user_satisfaction, created_at, updated_at
                yield line(
                    new_uuid(rng),
                    d.owner_id,
                    d.id,
                    d.home_id,
                    summary,
                    json.dumps(symptoms),
                    json.dumps(codes),
                    status,
                    resolution,
                    ts(resolved_at) if resolved_at else None,
                    satisfaction,
                    ts(created),
                    ts(updated),
                )


COLUMNS = {
    "users": "id, email, full_name, role, password_hash, is_verified, is_active, last_login_at, created_at, updated_at",
    "homes": "id, owner_id, name, address, timezone, created_at, updated_at",
    "home_members": "id, home_id, user_id, role, created_at",
    "devices": "id, home_id, added_by, manufacturer_name, model_number, category_code, nickname, location_detail, "
    "purchase_date, purchase_price, installation_date, warranty_start, warranty_end, status, created_at, "
    "updated_at",
    "manuals": "id, brand, model_numbers, category_code, manual_type, language, version, year, title, file_name, "
    "file_hash, content_hash, file_size, page_count, storage_key, processor, status, indexed, embedded, "
    "processed_at, uploaded_by, created_at, updated_at, visibility, provenance, verified_at",
    "device_manuals": "device_id, manual_id, home_id, linked_by, auto_linked, linked_at",
    "maintenance_schedules": "id, device_id, home_id, task_name, description, interval, interval_unit, anchor, "
    "series_start, occurrence, next_due, last_performed, lead_days, end_date, "
    "parts_needed, estimated_cost, reminder_enabled, is_active, created_at, updated_at",
    "troubleshooting_sessions": "id, user_id, device_id, home_id, issue_summary, symptoms, error_codes, status, "
    "resolution, resolved_at, user_satisfaction, created_at, updated_at",
}


# --------------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------------


def copy_rows(
    conn: psycopg.Connection,
    table: str,
    rows: Iterator[str],
    progress: Progress | None = None,
    task: object = None,
    columns: str | None = None,
) -> int:
    """COPY text rows into ``table`` (its ``COLUMNS`` unless ``columns`` is given) in ``CHUNK_ROWS`` writes."""
    n = 0
    names = columns if columns is not None else COLUMNS[table]
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        buf: list[str] = []
        for row in rows:
            buf.append(row)
            if len(buf) >= CHUNK_ROWS:
                copy.write("".join(buf))
                n += len(buf)
                if progress is not None:
                    progress.update(task, advance=len(buf))  # type: ignore[arg-type]
                buf.clear()
        if buf:
            copy.write("".join(buf))
            n += len(buf)
            if progress is not None:
                progress.update(task, advance=len(buf))  # type: ignore[arg-type]
    return n


def existing_bench_users(conn: psycopg.Connection) -> int:
    row = conn.execute(
        "SELECT count(*) FROM users WHERE lower(email) LIKE %s", (f"%@{BENCH_DOMAIN}",)
    ).fetchone()
    return int(row[0]) if row else 0


def refuse_unless_bench_only(conn: psycopg.Connection, what: str) -> None:
    others = conn.execute(
        "SELECT count(*) FROM users WHERE lower(email) NOT LIKE %s", (f"%@{BENCH_DOMAIN}",)
    ).fetchone()
    if others and others[0]:
        raise SystemExit(
            f"--reset refused: this database has {others[0]} non-bench users; {what} would destroy "
            "their data. Use a dedicated database (the default --data-dir does that)."
        )


def reset(conn: psycopg.Connection) -> None:
    """TRUNCATE ... CASCADE the bench tables - only in a database that holds nothing but bench data."""
    refuse_unless_bench_only(conn, "TRUNCATE ... CASCADE")
    notices: list[str] = []
    conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
    with conn.transaction():
        # users is not truncated: its CASCADE would reach system_settings (last_modified_by). Everything under
        # homes/devices/manuals (rooms, groups, chunks, links, schedules, sessions ...) is bench data here,
        # checked above.
        conn.execute("TRUNCATE device_manuals, manuals, devices, home_members, homes CASCADE")
        deleted = conn.execute(
            "DELETE FROM users WHERE lower(email) LIKE %s", (f"%@{BENCH_DOMAIN}",)
        ).rowcount
    conn.execute("VACUUM users")  # the reload reuses the deleted rows' space instead of growing the table
    for note in notices:
        console.print(f"  [dim]{note}[/dim]")
    console.print(f"[yellow]reset:[/yellow] truncated bench tables, deleted {deleted} bench users")


def reset_table(conn: psycopg.Connection, table: str) -> None:
    """--reset for one of the later steps: TRUNCATE its table (CASCADE: occurrences, tickets ... hanging off it)."""
    refuse_unless_bench_only(conn, f"TRUNCATE {table} CASCADE")
    notices: list[str] = []
    conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
    with conn.transaction():
        conn.execute(f"TRUNCATE {table} CASCADE")
    for note in notices:
        console.print(f"  [dim]{note}[/dim]")
    console.print(f"[yellow]reset:[/yellow] truncated {table}")


STEPS = ("core", "maintenance", "troubleshooting")
STEP_TABLES = {
    "core": BENCH_TABLES,
    "maintenance": ("maintenance_schedules",),
    "troubleshooting": ("troubleshooting_sessions",),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument(
        "--devices-per-user", type=float, default=5, help="mean; the distribution has a long tail"
    )
    parser.add_argument("--links-per-device", type=int, default=3)
    parser.add_argument(
        "--reuse", type=float, default=0.8, help="share of links pointing at an already-used manual"
    )
    parser.add_argument(
        "--schedules-per-device",
        type=int,
        default=2,
        help="maintenance schedules per device (distinct tasks of its category)",
    )
    parser.add_argument(
        "--sessions-per-user",
        type=float,
        default=20,
        help="troubleshooting sessions per user: mean; the distribution has a long tail",
    )
    parser.add_argument(
        "--only",
        default=",".join(STEPS),
        help="comma-separated steps to run: core (users ... device_manuals), maintenance, "
        "troubleshooting. A step whose data is present is skipped unless --reset",
    )
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parent / ".data")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--reset",
        action="store_true",
        help="empty the selected steps' tables first (bench-only databases) and reload them",
    )
    args = parser.parse_args(argv)
    if not 0 <= args.reuse < 1:
        parser.error("--reuse must be in [0, 1)")
    steps = [s.strip() for s in args.only.split(",") if s.strip()]
    if not steps or any(s not in STEPS for s in steps):
        parser.error(f"--only: a comma-separated subset of {', '.join(STEPS)}")

    t_all = time.perf_counter()
    settings = Settings(data_dir=args.data_dir)
    if settings.database_url:  # an external server (e.g. a Citus coordinator); secrets still in --data-dir
        shown = make_url(settings.database_url)
        where = f"HOMEOPS_DATABASE_URL {shown.host}:{shown.port}/{shown.database}"
    else:
        where = f"embedded PostgreSQL in {settings.data_path}"
    with console.status(f"Starting / migrating {where}…"):
        urls = prepare_database(settings)
    timings: list[tuple[str, int, float]] = []
    world: World | None = None
    history: History | None = None
    counts: list[int] = []
    try:
        with psycopg.connect(libpq_dsn(urls.owner)) as conn:
            conn.execute("SET synchronous_commit = off")
            conn.commit()
            version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
            console.print(
                f"PostgreSQL {version} ({where}); owner role: {urls.owner.username}; "
                f"steps: {', '.join(steps)}"
            )
            todo = [s for s in STEPS if s in steps]
            conn.rollback()
            conn.autocommit = True
            if "core" in todo and (existing := existing_bench_users(conn)):
                if args.reset:
                    reset(conn)  # its CASCADE empties maintenance_schedules and troubleshooting_sessions too
                else:
                    console.print(
                        f"[yellow]{existing} bench users already exist[/yellow]: step core skipped "
                        "(--reset to reload it)"
                    )
                    todo.remove("core")
            for step in ("maintenance", "troubleshooting"):
                table = STEP_TABLES[step][0]
                # A plain LIMIT 1 read: Citus 14 rejects "SELECT EXISTS (SELECT FROM t)" on a distributed table
                # ("a column definition list is required for functions returning record").
                if step in todo and conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is not None:
                    if args.reset:
                        reset_table(conn, table)
                    else:
                        n = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
                        console.print(
                            f"[yellow]{table} already holds {n:,} rows[/yellow]: step {step} skipped "
                            "(--reset to reload it)"
                        )
                        todo.remove(step)
            conn.autocommit = False
            if not todo:
                console.print("Nothing to do.")
                return 0

            now = datetime.now(UTC).replace(microsecond=0)
            if "core" in todo:
                t = time.perf_counter()
                password_hash = hash_password(BENCH_PASSWORD, settings.bcrypt_rounds)
                console.print(
                    f"bcrypt hash ({settings.bcrypt_rounds} rounds) computed once in "
                    f"{time.perf_counter() - t:.2f}s"
                )
                world = World(args, now, random.Random(args.seed), password_hash)
                n_devices = world.draw_device_counts()
                n_links = n_devices * args.links_per_device
                world.size_catalog(n_links)
                console.print(
                    f"plan: {args.users:,} users/homes, {n_devices:,} devices, {n_links:,} links, "
                    f"~{int(n_links * (1 - args.reuse)):,} manuals (reuse {args.reuse:.0%}); "
                    f"{world.catalog.per_brand} model numbers per brand and category"
                )

            progress = Progress(
                TextColumn("{task.description:<24}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=console,
            )

            def load(table: str, rows: Callable[[], Iterator[str]], total: int) -> None:
                task = progress.add_task(table, total=total, rate="")
                start = time.perf_counter()
                n = copy_rows(conn, table, rows(), progress, task)
                conn.commit()
                elapsed = time.perf_counter() - start
                progress.update(task, rate=f"{n / elapsed:,.0f} rows/s")  # type: ignore[arg-type]
                timings.append((table, n, elapsed))

            with progress:
                if world is not None:
                    load("users", world.users, args.users)
                    # One transaction: the homes and their owners' memberships (no trigger makes those any
                    # more - the homes service inserts the owner's row, as this does). A failure loads neither.
                    try:
                        task = progress.add_task("homes", total=args.users, rate="")
                        start = time.perf_counter()
                        n = copy_rows(conn, "homes", world.homes(), progress, task)
                        timings.append(("homes", n, time.perf_counter() - start))
                        task = progress.add_task("home_members", total=args.users, rate="")
                        start = time.perf_counter()
                        n = copy_rows(conn, "home_members", world.home_members(), progress, task)
                        conn.commit()
                        timings.append(("home_members", n, time.perf_counter() - start))
                    except BaseException:
                        conn.rollback()
                        raise
                    load("devices", world.devices, n_devices)
                    load("manuals", world.manuals, len(world.plan.manuals))
                    load("device_manuals", world.device_manuals, len(world.plan.link_device))

                if "maintenance" in todo or "troubleshooting" in todo:
                    # Read the devices back (whether loaded just now or by an earlier run). No trigger needs
                    # disabling: the only ones on these tables are BEFORE UPDATE (updated_at).
                    start = time.perf_counter()
                    history = History.load(conn, args, now)
                    conn.commit()
                    timings.append(("(read devices back)", len(history.devices), time.perf_counter() - start))
                    if not history.devices:
                        progress.stop()
                        console.print("[red]No bench devices[/red]: run the core step first.")
                        return 2
                    if "maintenance" in todo:
                        load("maintenance_schedules", history.maintenance_schedules, history.n_schedules())
                    if "troubleshooting" in todo:
                        counts = history.session_counts()
                        load(
                            "troubleshooting_sessions",
                            lambda: history.troubleshooting_sessions(counts),
                            sum(counts),
                        )

            conn.autocommit = True
            conn.execute("SET maintenance_work_mem = '512MB'")
            loaded = [t for s in todo for t in STEP_TABLES[s]]
            for table in loaded:
                with console.status(f"VACUUM ANALYZE {table}…"):
                    start = time.perf_counter()
                    conn.execute(f"VACUUM ANALYZE {table}")
                    timings.append((f"vacuum analyze {table}", 0, time.perf_counter() - start))
            # Every home needs its owner's membership: row security and the identity (homeops_begin) read
            # home_members, never homes.owner_id.
            ownerless = conn.execute(
                "SELECT count(*) FROM homes h WHERE NOT EXISTS (SELECT 1 FROM home_members m WHERE "
                "m.home_id = h.id AND m.user_id = h.owner_id AND m.role = 'owner')"
            ).fetchone()[0]  # type: ignore[index]
            citus = conn.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')"
            ).fetchone()[0]  # type: ignore[index]
            if citus:
                # On a cluster the rows live on the workers' shards: citus_total_relation_size sums them.
                sizes = conn.execute(
                    "SELECT logicalrelid::text, pg_size_pretty(citus_total_relation_size(logicalrelid)) "
                    "FROM pg_dist_partition WHERE logicalrelid::text = ANY(%s)",
                    (loaded,),
                ).fetchall()
                kinds = conn.execute(
                    "SELECT p.logicalrelid::text, p.partmethod, column_to_column_name(p.logicalrelid, p.partkey), "
                    "(SELECT count(*) FROM pg_dist_shard s WHERE s.logicalrelid = p.logicalrelid) "
                    "FROM pg_dist_partition p WHERE p.logicalrelid::text = ANY(%s) ORDER BY 1",
                    (loaded,),
                ).fetchall()
                nodes = conn.execute(
                    "SELECT count(*) FROM pg_dist_node WHERE noderole = 'primary'"
                ).fetchone()[0]  # type: ignore[index]
                placement = f"Citus, {nodes} nodes: " + ", ".join(
                    f"{name} " + ("reference" if method == "n" else f"by {column} ({shards} shards)")
                    for name, method, column, shards in kinds
                )
                db_size = (
                    "(coordinator only) "
                    + conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[
                        0
                    ]
                )  # type: ignore[index]
            else:
                sizes = conn.execute(
                    "SELECT relname, pg_size_pretty(pg_total_relation_size(oid)) FROM pg_class "
                    "WHERE relname = ANY(%s) AND relkind = 'r'",
                    (loaded,),
                ).fetchall()
                placement = "one server"
                db_size = conn.execute(
                    "SELECT pg_size_pretty(pg_database_size(current_database()))"
                ).fetchone()[0]  # type: ignore[index]
    finally:
        urls.stop()

    table = Table("table / step", "rows", "seconds", "rows/s", "size", title="Load summary")
    size_of = dict(sizes)
    for name, n, secs in timings:
        table.add_row(
            name, f"{n:,}" if n else "", f"{secs:.1f}", f"{n / secs:,.0f}" if n else "", size_of.get(name, "")
        )
    console.print(table)
    if world is not None:
        plan = world.plan
        reused = len(plan.link_device) - len(plan.manuals)
        console.print(
            f"manuals: {len(plan.manuals):,} unique for {len(plan.link_device):,} links → "
            f"{reused / max(1, len(plan.link_device)):.1%} of links reuse an already-used manual "
            f"({plan.forced_new:,} created although the reuse quota was met, because the device's model "
            f"had no manual left to reuse); models with manuals: {len(plan.pools):,}, "
            f"model numbers per brand and category: {world.catalog.per_brand}"
        )
    if history is not None:
        st = history.stats
        if "maintenance" in todo:
            n = max(1, history.n_schedules())
            console.print(
                f"maintenance_schedules: {n:,} for {len(history.devices):,} devices; next_due within 30 days "
                f"{st['due_30'] / n:.1%}, overdue {st['overdue'] / n:.1%}, reminder_enabled {st['reminder'] / n:.1%}, "
                f"is_active {st['active'] / n:.1%}; what Query 4 lists (active schedule, reminder on, active "
                f"device, due within 30 days): {st['q4_30']:,} = {st['q4_30'] / n:.1%}"
            )
        if "troubleshooting" in todo:
            n = max(1, st["sessions"])
            top = sorted(history.symptom_hits.items(), key=lambda kv: -kv[1])
            mix = ", ".join(f"{s} {st.get(s, 0) / n:.0%}" for s, _ in SESSION_STATUSES)
            common = ", ".join(f"{s!r} {c / n:.1%}" for s, c in top[:5])
            rarest = f"{top[-1][0]!r} {top[-1][1] / n:.2%}" if top else "-"
            console.print(
                f"troubleshooting_sessions: {n:,} for {len(counts):,} owners (mean {n / max(1, len(counts)):.1f}, "
                f"max {max(counts, default=0)}, ≥ 60: {sum(c >= 60 for c in counts):,} owners); "
                f"{st['symptoms'] / n:.2f} symptoms per session, {len(top)} distinct symptoms; status: {mix}; "
                f"most common (share of sessions): {common}; rarest: {rarest}"
            )
    console.print(
        f"homes without their owner's membership: {ownerless:,}; {placement}; database size {db_size}"
    )
    console.print(
        f"[bold]total {time.perf_counter() - t_all:.1f}s[/bold] (password for every bench user: "
        f"{BENCH_PASSWORD!r}, emails bench-<n>@{BENCH_DOMAIN})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
