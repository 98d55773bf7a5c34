"""Bulk-load a synthetic HomeOps data set for the seed 000 query benchmarks.

    python benchmarks/generate.py [--users 100000] [--devices-per-user 5] [--links-per-device 3]
                                  [--reuse 0.8] [--data-dir benchmarks/.data] [--seed 1] [--reset]

Starts (or attaches to) the embedded PostgreSQL in ``--data-dir`` (or uses ``HOMEOPS_DATABASE_URL``),
migrates it, and loads - as the table OWNER, with ``COPY ... FROM STDIN`` streamed from generators -
users, one home per user (+ the owner's home_members row), devices, a shared manual library with heavy
reuse, and device_manuals links. Finishes with ``VACUUM ANALYZE``.

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
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from homeops.bootstrap import prepare_database
from homeops.core.config import Settings
from homeops.core.database import libpq_dsn
from homeops.core.security import hash_password

BENCH_DOMAIN = "bench.homeops.org"
BENCH_PASSWORD = "bench-password-1"
HOME_OWNER_TRIGGER = "trg_homes_owner_member"
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
    Kind("refrigerator", 1.0, (("Samsung", 3), ("LG", 3), ("Whirlpool", 3), ("GE", 3), ("Frigidaire", 2),
                              ("KitchenAid", 1.5), ("Bosch", 1), ("Maytag", 1), ("Sub-Zero", 0.3)),
         ("RF##L####LL", "LRMV####L", "WRF###LLLL##", "GNE##LLL", "FRSS####LL"),
         ("Kitchen fridge", "Garage fridge", "Basement fridge", "Main fridge"), (800, 4500), (1, 2)),
    Kind("dishwasher", 0.85, (("Bosch", 3), ("Whirlpool", 2.5), ("KitchenAid", 2), ("GE", 2), ("Samsung", 1.5),
                             ("LG", 1.2), ("Miele", 0.6), ("Frigidaire", 1)),
         ("SHX##L#LL", "WDT###LLLL#", "KDTM###LLL#", "GDT###LLL#LL", "DW##L####LL"),
         ("Dishwasher", "Kitchen dishwasher"), (450, 1800), (1, 2)),
    Kind("washing_machine", 0.8, (("LG", 3), ("Samsung", 3), ("Whirlpool", 2.5), ("Maytag", 2), ("GE", 1.5),
                                  ("Speed Queen", 0.7), ("Electrolux", 0.8)),
         ("WM####LLL", "WF##L####LL", "WTW####LW#", "MHW####LW#", "GFW###LLL#LL"),
         ("Washer", "Laundry washer", "Basement washer"), (500, 1600), (1, 3)),
    Kind("dryer", 0.75, (("LG", 3), ("Samsung", 3), ("Whirlpool", 2.5), ("Maytag", 2), ("GE", 1.5),
                        ("Speed Queen", 0.6), ("Electrolux", 0.7)),
         ("DLEX####L", "DVE##L####LL", "WED####LW#", "MED####LW#", "GFD##LSLLLL"),
         ("Dryer", "Laundry dryer"), (450, 1500), (1, 2)),
    Kind("range", 0.6, (("GE", 3), ("Whirlpool", 2), ("Frigidaire", 2), ("Samsung", 2), ("LG", 1.5),
                       ("KitchenAid", 1), ("Wolf", 0.3)),
         ("JB###LLLL", "WFE###L#LL", "FCRE####LL", "NX##L####LL", "LRGL####L"),
         ("Stove", "Range", "Kitchen range"), (600, 3500), (1, 2)),
    Kind("microwave", 0.7, (("Panasonic", 2.5), ("GE", 2.5), ("Whirlpool", 2), ("Samsung", 2), ("LG", 1.5),
                           ("Sharp", 1.5), ("Toshiba", 1)),
         ("NN-SN###L", "JVM####LLL", "WMH##L##LL", "ME##L####LL", "R-###LL"),
         ("Microwave", "Over-the-range microwave"), (100, 700), (1, 1)),
    Kind("range_hood", 0.3, (("Broan", 3), ("Zephyr", 1.5), ("GE", 1), ("Bosch", 1), ("Cosmo", 1)),
         ("QS#L##LL", "ZSA-E##LL", "JVX####LLL", "HCP##L##LL"), ("Range hood", "Vent hood"), (150, 1500), (1, 2)),
    Kind("garbage_disposal", 0.45, (("InSinkErator", 5), ("Waste King", 2), ("Moen", 1)),
         ("EVOLUTION ###", "BADGER #XP", "L-####", "GX##L"), ("Garbage disposal", "Disposal"), (90, 450), (2, 10)),
    Kind("water_heater", 0.9, (("Rheem", 3), ("A. O. Smith", 3), ("Bradford White", 2), ("Rinnai", 1.5),
                              ("Navien", 1.2), ("Noritz", 0.6), ("State", 1)),
         ("XE##L##LL##L##L", "GCR-## ###", "RE##L#-#LL", "RU###LL", "NPE-###L#"),
         ("Water heater", "Tankless water heater", "Basement water heater"), (500, 3500), (6, 12)),
    Kind("furnace", 0.55, (("Carrier", 3), ("Trane", 3), ("Lennox", 2.5), ("Goodman", 2.5), ("Rheem", 2),
                          ("York", 1.5), ("Bryant", 1.2)),
         ("##LLL####L##", "S#L#L###L#LLL", "EL###LUH###LV##L", "GM##S##LLL#L", "R##LL-####L"),
         ("Furnace", "Basement furnace", "Attic furnace"), (2500, 7000), (5, 10)),
    Kind("air_conditioner", 0.6, (("Carrier", 3), ("Trane", 3), ("Lennox", 2.5), ("Goodman", 2.5),
                                  ("Rheem", 2), ("Daikin", 1.5)),
         ("##LLL###L###", "#TTR####L1000LL", "ML##LLL-###-###", "GSX##L####", "RA##L##LJ#LLL"),
         ("Central AC", "AC condenser", "Outdoor AC unit"), (3000, 8000), (5, 10)),
    Kind("heat_pump", 0.2, (("Mitsubishi Electric", 2), ("Daikin", 2), ("Carrier", 1.5), ("Trane", 1.5),
                           ("Fujitsu", 1)),
         ("PUZ-HA##LLA#", "DZ##LL####", "##LLL###L###", "AOU##RLX#"), ("Heat pump", "Mini-split"), (3500, 9000),
         (7, 12)),
    Kind("thermostat", 0.65, (("Google Nest", 3), ("ecobee", 3), ("Honeywell Home", 3), ("Emerson", 1)),
         ("T####LL####", "EB-STATE#-##", "RTH####L####", "#L##L-###"),
         ("Thermostat", "Hallway thermostat", "Upstairs thermostat"), (80, 280), (1, 2)),
    Kind("smoke_detector", 0.7, (("Kidde", 3), ("First Alert", 3), ("Google Nest", 1)),
         ("PI####", "SC####", "S##LL-#", "i####-#"), ("Smoke alarm", "Hallway smoke detector", "Bedroom smoke alarm"),
         (20, 130), (5, 10)),
    Kind("co_detector", 0.3, (("Kidde", 3), ("First Alert", 3)), ("KN-COB-LL", "CO###", "C####L"),
         ("CO detector", "Basement CO alarm"), (25, 80), (5, 7)),
    Kind("garage_door_opener", 0.45, (("Chamberlain", 3), ("LiftMaster", 2.5), ("Genie", 2), ("Craftsman", 1)),
         ("B####L", "####LM", "####L-TKV", "CMXEOCG###"), ("Garage door opener",), (180, 600), (1, 5)),
    Kind("dehumidifier", 0.3, (("Frigidaire", 2), ("hOmeLabs", 2), ("GE", 1.5), ("Midea", 1.5)),
         ("FFAD####L#", "HME####LLL#", "APEL##LL", "MAD##L#LWW"), ("Dehumidifier", "Basement dehumidifier"),
         (150, 400), (1, 2)),
    Kind("sump_pump", 0.25, (("Zoeller", 3), ("Wayne", 2), ("Superior Pump", 1.5)),
         ("M##", "CDU###", "#####"), ("Sump pump",), (100, 500), (1, 5)),
    Kind("water_softener", 0.2, (("Culligan", 2), ("Whirlpool", 2), ("GE", 1.5), ("Morton", 1)),
         ("HE-## LL", "WHES##", "GXSH##L", "MSD####"), ("Water softener",), (400, 2500), (1, 10)),
)
KIND_WEIGHTS = [k.weight for k in KINDS]
N_BRAND_PAIRS = sum(len(k.brands) for k in KINDS)
MANUALS_PER_MODEL_TARGET = 5  # sizes the model universe: unique manuals / (pairs * this)

LOCATIONS = ("Kitchen", "Laundry room", "Basement", "Garage", "Utility closet", "Hallway", "Attic", "Outside",
             "Upstairs", "Master bedroom", None, None, None)
CITIES = (("Springfield", "IL"), ("Portland", "OR"), ("Austin", "TX"), ("Madison", "WI"), ("Raleigh", "NC"),
          ("Denver", "CO"), ("Columbus", "OH"), ("Tampa", "FL"), ("Boise", "ID"), ("Albany", "NY"),
          ("Tucson", "AZ"), ("Richmond", "VA"), ("Omaha", "NE"), ("Burlington", "VT"), ("Fresno", "CA"))
TIMEZONES = {"IL": "America/Chicago", "OR": "America/Los_Angeles", "TX": "America/Chicago",
             "WI": "America/Chicago", "NC": "America/New_York", "CO": "America/Denver", "OH": "America/New_York",
             "FL": "America/New_York", "ID": "America/Boise", "NY": "America/New_York", "AZ": "America/Phoenix",
             "VA": "America/New_York", "NE": "America/Chicago", "VT": "America/New_York", "CA": "America/Los_Angeles"}
FIRST = ("Alex", "Sam", "Jordan", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Avery", "Quinn", "Maria", "Wei",
         "Priya", "Omar", "Elena", "Kenji", "Fatima", "Lucas", "Chloe", "Noah", "Aisha", "Diego", "Hana", "Liam")
LAST = ("Smith", "Johnson", "Garcia", "Chen", "Patel", "Nguyen", "Kim", "Müller", "Rossi", "Silva", "Okafor",
        "Kowalski", "Haddad", "Tanaka", "Brown", "Lopez", "Novak", "Ivanova", "Dubois", "Andersen")
STREETS = ("Maple", "Oak", "Pine", "Cedar", "Elm", "Willow", "Lakeview", "Hillcrest", "Sunset", "River", "Park")
DEVICE_STATUSES = (("active", 0.88), ("inactive", 0.05), ("replaced", 0.03), ("archived", 0.02), ("removed", 0.02))

# The order in which a model's manuals appear in the library: (manual_type, version). The composite
# de-dup key is brand + model number + type + version, so each pair is unique per model.
MANUAL_SEQUENCE = (
    ("user", ""), ("installation", ""), ("troubleshooting", ""), ("service", ""), ("quick_start", ""),
    ("parts", ""), ("warranty", ""), ("user", "Rev B"), ("installation", "Rev B"), ("service", "Rev B"),
    ("troubleshooting", "Rev B"), ("other", ""), ("user", "Rev C"), ("parts", "Rev B"),
)
MANUAL_TYPE_TITLES = {"user": "Use & Care Guide", "installation": "Installation Instructions",
                      "troubleshooting": "Troubleshooting Guide", "service": "Service Manual",
                      "quick_start": "Quick Start Guide", "parts": "Parts List", "warranty": "Warranty",
                      "other": "Product Information"}


def manual_kind(seq: int) -> tuple[str, str]:
    if seq < len(MANUAL_SEQUENCE):
        return MANUAL_SEQUENCE[seq]
    types = ("user", "installation", "troubleshooting", "service", "parts", "quick_start")
    extra = seq - len(MANUAL_SEQUENCE)
    return types[extra % len(types)], f"Rev {chr(ord('D') + extra // len(types))}" if extra // len(types) < 22 \
        else f"v{extra}"


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
                    rng.choice("ABCDEFGHJKLMNPRSTUVWXZ") if ch == "L" else str(rng.randrange(10)) if ch == "#" else ch
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
            yield line(uid, bench_email(n), name, "homeowner", self.password_hash, True, True, ts(last_login),
                       ts(created), ts(created))

    def homes(self) -> Iterator[str]:
        rng = self.rng
        for i, owner in enumerate(self.user_ids):
            hid = new_uuid(rng)
            self.home_ids.append(hid)
            city, state = rng.choice(CITIES)
            address = json.dumps({"street": f"{rng.randint(1, 9999)} {rng.choice(STREETS)} St", "city": city,
                                  "state": state, "postal_code": f"{rng.randint(10000, 99999)}", "country": "US"})
            created = self.user_created[i] + timedelta(minutes=rng.randint(1, 120))
            name = rng.choice(("Home", "Main house", "Our place", f"{city} house", "Apartment", "Cottage"))
            # id, owner_id, name, address, timezone, created_at, updated_at
            yield line(hid, owner, name, address, TIMEZONES[state], ts(created), ts(created))

    def home_members(self) -> Iterator[str]:
        rng = self.rng
        for i, owner in enumerate(self.user_ids):
            # id, home_id, user_id, role, created_at  (what trg_homes_owner_member would have inserted)
            yield line(new_uuid(rng), self.home_ids[i], owner, "owner",
                       ts(self.user_created[i] + timedelta(minutes=121)))

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
                kind_i = rng.choices(range(len(KINDS)), KIND_WEIGHTS)[0]
                kind = KINDS[kind_i]
                brand_i = rng.choices(range(len(kind.brands)), [w for _, w in kind.brands])[0]
                brand = kind.brands[brand_i][0]
                # Popular models are far more common (Zipf-like): many homes own the same fridge.
                model_i = int(self.catalog.per_brand * rng.random() ** 3)
                number = self.catalog.model_numbers(kind_i, brand_i)[model_i]
                created = joined + timedelta(seconds=rng.random() * age)
                self.device_created.append(created)
                purchased = (created - timedelta(days=rng.randint(0, 6 * 365))).date()
                warranty_end = purchased + timedelta(days=365 * rng.randint(*kind.warranty_years))
                status = rng.choices(statuses, status_w)[0]
                location = rng.choice(LOCATIONS)
                nickname = rng.choice(kind.nicknames)
                price = f"{rng.uniform(*kind.price):.2f}"
                installed = purchased + timedelta(days=rng.randint(0, 21)) if rng.random() < 0.6 else None
                # id, home_id, added_by, manufacturer_name, model_number, category_code, nickname, location_detail,
                # purchase_date, purchase_price, installation_date, warranty_start, warranty_end, status,
                # created_at, updated_at
                yield line(did, home, owner, brand, number, kind.category, nickname, location, purchased, price,
                           installed, purchased, warranty_end, status, ts(created), ts(created))

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
                covered += [numbers[j] for j in rng.sample(range(len(numbers)), rng.randint(1, 3))
                            if j != m.model_i]
            manual_type, version = manual_kind(m.seq)
            language = "en" if rng.random() < 0.9 else rng.choice(("es", "fr", "de"))
            year = min(self.now.year, max(2005, m.created_at.year - rng.randint(0, 8)))
            fhash = hashlib.sha256(f"bench-file:{seed}:{i}".encode()).hexdigest()
            chash = hashlib.sha256(f"bench-text:{seed}:{i}".encode()).hexdigest()
            title = f"{brand} {numbers[m.model_i]} {MANUAL_TYPE_TITLES[manual_type]}" + (f" ({version})" if version else "")
            file_name = f"{brand.replace(' ', '_')}_{numbers[m.model_i].replace(' ', '_')}_{manual_type}.pdf"
            processed = m.created_at + timedelta(seconds=rng.randint(5, 600))
            model_array = "{" + ",".join(f'"{n}"' for n in covered) + "}"
            # id, brand, model_numbers, category_code, manual_type, language, version, year, title, file_name,
            # file_hash, content_hash, file_size, page_count, storage_key, processor, status, indexed, embedded,
            # processed_at, uploaded_by, created_at, updated_at
            yield line(mid, brand, model_array, kind.category, manual_type, language, version, year, title[:500],
                       file_name[:255], fhash, chash, rng.randint(150_000, 25_000_000), rng.randint(4, 180),
                       f"manuals/{fhash[:2]}/{fhash}.pdf", "pypdf", "ready", True, False, ts(processed),
                       m.uploaded_by, ts(m.created_at), ts(processed))

    def device_manuals(self) -> Iterator[str]:
        rng = random.Random(self.args.seed * 6151 + 7)
        plan = self.plan
        for d, m in zip(plan.link_device, plan.link_manual, strict=True):
            u = self.device_user[d]
            made = max(self.device_created[d], plan.manuals[m].created_at)
            auto = rng.random() < 0.7
            # device_id, manual_id, home_id, linked_by, auto_linked, linked_at
            yield line(self.device_ids[d], self.manual_ids[m], self.home_ids[u], None if auto else self.user_ids[u],
                       auto, ts(made + timedelta(seconds=rng.randint(1, 3600))))


COLUMNS = {
    "users": "id, email, full_name, role, password_hash, is_verified, is_active, last_login_at, created_at, updated_at",
    "homes": "id, owner_id, name, address, timezone, created_at, updated_at",
    "home_members": "id, home_id, user_id, role, created_at",
    "devices": "id, home_id, added_by, manufacturer_name, model_number, category_code, nickname, location_detail, "
               "purchase_date, purchase_price, installation_date, warranty_start, warranty_end, status, created_at, "
               "updated_at",
    "manuals": "id, brand, model_numbers, category_code, manual_type, language, version, year, title, file_name, "
               "file_hash, content_hash, file_size, page_count, storage_key, processor, status, indexed, embedded, "
               "processed_at, uploaded_by, created_at, updated_at",
    "device_manuals": "device_id, manual_id, home_id, linked_by, auto_linked, linked_at",
}


# --------------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------------

def copy_rows(conn: psycopg.Connection, table: str, rows: Iterator[str], progress: Progress, task: object) -> int:
    n = 0
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({COLUMNS[table]}) FROM STDIN") as copy:
        buf: list[str] = []
        for row in rows:
            buf.append(row)
            if len(buf) >= CHUNK_ROWS:
                copy.write("".join(buf))
                n += len(buf)
                progress.update(task, advance=len(buf))  # type: ignore[arg-type]
                buf.clear()
        if buf:
            copy.write("".join(buf))
            n += len(buf)
            progress.update(task, advance=len(buf))  # type: ignore[arg-type]
    return n


def existing_bench_users(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM users WHERE lower(email) LIKE %s", (f"%@{BENCH_DOMAIN}",)).fetchone()
    return int(row[0]) if row else 0


def reset(conn: psycopg.Connection) -> None:
    """TRUNCATE ... CASCADE the bench tables - only in a database that holds nothing but bench data."""
    others = conn.execute(
        "SELECT count(*) FROM users WHERE lower(email) NOT LIKE %s", (f"%@{BENCH_DOMAIN}",)
    ).fetchone()
    if others and others[0]:
        raise SystemExit(
            f"--reset refused: this database has {others[0]} non-bench users; TRUNCATE ... CASCADE would destroy "
            "their data. Use a dedicated database (the default --data-dir does that)."
        )
    notices: list[str] = []
    conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
    with conn.transaction():
        # users is not truncated: its CASCADE would reach system_settings (last_modified_by). Everything under
        # homes/devices/manuals (rooms, groups, chunks, links, ...) is bench data here, checked above.
        conn.execute("TRUNCATE device_manuals, manuals, devices, home_members, homes CASCADE")
        deleted = conn.execute("DELETE FROM users WHERE lower(email) LIKE %s", (f"%@{BENCH_DOMAIN}",)).rowcount
    for note in notices:
        console.print(f"  [dim]{note}[/dim]")
    console.print(f"[yellow]reset:[/yellow] truncated bench tables, deleted {deleted} bench users")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--devices-per-user", type=float, default=5, help="mean; the distribution has a long tail")
    parser.add_argument("--links-per-device", type=int, default=3)
    parser.add_argument("--reuse", type=float, default=0.8, help="share of links pointing at an already-used manual")
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parent / ".data")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reset", action="store_true", help="TRUNCATE the bench tables first if bench data exists")
    args = parser.parse_args(argv)
    if not 0 <= args.reuse < 1:
        parser.error("--reuse must be in [0, 1)")

    t_all = time.perf_counter()
    settings = Settings(data_dir=args.data_dir)
    where = "HOMEOPS_DATABASE_URL" if settings.database_url else f"embedded PostgreSQL in {settings.data_path}"
    with console.status(f"Starting / migrating {where}…"):
        urls = prepare_database(settings)
    timings: list[tuple[str, int, float]] = []
    try:
        with psycopg.connect(libpq_dsn(urls.owner)) as conn:
            conn.execute("SET synchronous_commit = off")
            conn.commit()
            version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
            console.print(f"PostgreSQL {version} ({where}); owner role: {urls.owner.username}")
            if existing := existing_bench_users(conn):
                conn.rollback()
                if not args.reset:
                    console.print(f"[red]{existing} bench users already exist[/red]: rerun with --reset to reload.")
                    return 2
                conn.autocommit = True
                reset(conn)
                conn.autocommit = False
            else:
                conn.rollback()

            t = time.perf_counter()
            password_hash = hash_password(BENCH_PASSWORD, settings.bcrypt_rounds)
            console.print(f"bcrypt hash ({settings.bcrypt_rounds} rounds) computed once in "
                          f"{time.perf_counter() - t:.2f}s")
            world = World(args, datetime.now(UTC).replace(microsecond=0), random.Random(args.seed), password_hash)
            n_devices = world.draw_device_counts()
            n_links = n_devices * args.links_per_device
            world.size_catalog(n_links)
            console.print(f"plan: {args.users:,} users/homes, {n_devices:,} devices, {n_links:,} links, "
                          f"~{int(n_links * (1 - args.reuse)):,} manuals (reuse {args.reuse:.0%}); "
                          f"{world.catalog.per_brand} model numbers per brand and category")

            progress = Progress(TextColumn("{task.description:<15}"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                                console=console)

            def load(table: str, rows: Callable[[], Iterator[str]], total: int) -> None:
                task = progress.add_task(table, total=total, rate="")
                start = time.perf_counter()
                n = copy_rows(conn, table, rows(), progress, task)
                conn.commit()
                elapsed = time.perf_counter() - start
                progress.update(task, rate=f"{n / elapsed:,.0f} rows/s")  # type: ignore[arg-type]
                timings.append((table, n, elapsed))

            with progress:
                load("users", world.users, args.users)
                # One transaction: the owner-membership trigger is off only while homes are copied, and the
                # rows it would have made are COPYed right after. A failure rolls the ALTERs back too.
                conn.execute(f"ALTER TABLE homes DISABLE TRIGGER {HOME_OWNER_TRIGGER}")
                try:
                    task = progress.add_task("homes", total=args.users, rate="")
                    start = time.perf_counter()
                    n = copy_rows(conn, "homes", world.homes(), progress, task)
                    timings.append(("homes", n, time.perf_counter() - start))
                    task = progress.add_task("home_members", total=args.users, rate="")
                    start = time.perf_counter()
                    n = copy_rows(conn, "home_members", world.home_members(), progress, task)
                    conn.execute(f"ALTER TABLE homes ENABLE TRIGGER {HOME_OWNER_TRIGGER}")
                    conn.commit()
                    timings.append(("home_members", n, time.perf_counter() - start))
                except BaseException:
                    conn.rollback()
                    raise
                load("devices", world.devices, n_devices)
                load("manuals", world.manuals, len(world.plan.manuals))
                load("device_manuals", world.device_manuals, len(world.plan.link_device))

            conn.autocommit = True
            conn.execute("SET maintenance_work_mem = '512MB'")
            for table in BENCH_TABLES:
                with console.status(f"VACUUM ANALYZE {table}…"):
                    start = time.perf_counter()
                    conn.execute(f"VACUUM ANALYZE {table}")
                    timings.append((f"vacuum analyze {table}", 0, time.perf_counter() - start))
            enabled = conn.execute(
                "SELECT tgenabled FROM pg_trigger WHERE tgname = %s AND tgrelid = 'homes'::regclass",
                (HOME_OWNER_TRIGGER,),
            ).fetchone()
            sizes = conn.execute(
                "SELECT relname, pg_size_pretty(pg_total_relation_size(oid)) FROM pg_class "
                "WHERE relname = ANY(%s) AND relkind = 'r'", (list(BENCH_TABLES),)
            ).fetchall()
            db_size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]  # type: ignore[index]
    finally:
        urls.stop()

    plan = world.plan
    reused = len(plan.link_device) - len(plan.manuals)
    table = Table("table / step", "rows", "seconds", "rows/s", "size", title="Load summary")
    size_of = dict(sizes)
    for name, n, secs in timings:
        table.add_row(name, f"{n:,}" if n else "", f"{secs:.1f}", f"{n / secs:,.0f}" if n else "",
                      size_of.get(name, ""))
    console.print(table)
    console.print(f"manuals: {len(plan.manuals):,} unique for {len(plan.link_device):,} links → "
                  f"{reused / max(1, len(plan.link_device)):.1%} of links reuse an already-used manual "
                  f"({plan.forced_new:,} forced new: model pool exhausted); models with manuals: {len(plan.pools):,}")
    console.print(f"trigger {HOME_OWNER_TRIGGER} re-enabled: {enabled is not None and enabled[0] == 'O'}; "
                  f"database size {db_size}")
    console.print(f"[bold]total {time.perf_counter() - t_all:.1f}s[/bold] (password for every bench user: "
                  f"{BENCH_PASSWORD!r}, emails bench-<n>@{BENCH_DOMAIN})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
