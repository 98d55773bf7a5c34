"""The device registry: devices belong to a home; guests read, members write (RLS enforces the same), and
each device's links to the shared manual library.

Cross-domain reactions go through events: creating a device publishes ``DeviceCreated`` (maintenance makes
the schedules of the model's templates); a manual that became ready is linked to matching devices by
``devices.handlers`` (``ManualReady``).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row

from homeops.catalog.repository import CatalogRepository
from homeops.catalog.service import ModelNotFound, UnknownCategory
from homeops.core.access import check_home_role
from homeops.core.audit import AuditEntry
from homeops.core.errors import NotFound, UnprocessableEntity
from homeops.core.pagination import InvalidCursor, PageParams, build_page, decode_cursor
from homeops.core.patch import apply_patch, reject_nulls
from homeops.core.tenancy import HomeRole
from homeops.core.uow import UnitOfWork
from homeops.devices.events import DeviceCreated, DeviceRemoved
from homeops.devices.links import LinkRepository
from homeops.devices.models import Device, DeviceStatus
from homeops.devices.repository import DeviceRepository
from homeops.devices.schemas import DeviceIn, DeviceOut, DevicePatch, WarrantyOut
from homeops.homes.access import load_in_home, load_visible, require_home
from homeops.manuals.models import Manual
from homeops.manuals.moderation import ManualModeration
from homeops.manuals.schemas import DeviceManualOut, ManualMeta, QueueItem
from homeops.manuals.service import ManualNotFound, ManualService, Uploaded, UploadTarget

# Columns DeviceIn sets directly (the rest need rules).
_PLAIN = (
    "subcategory",
    "location_detail",
    "purchase_date",
    "purchase_price",
    "installation_date",
    "warranty_start",
    "warranty_end",
    "notes",
    "external_id",
    "firmware_version",
)
# Device columns that DeviceOut carries under the same name (computed once, not per row).
_OUT_COLUMNS = tuple(c.key for c in Device.__table__.columns if c.key in DeviceOut.model_fields)


def _empty_if_null(value: Any) -> Any:
    return {} if value is None else value


class DeviceNotFound(NotFound):
    code, title = "device_not_found", "Device not found"


class LinkNotFound(NotFound):
    code, title = "link_not_found", "Link not found"


def readable_homes(uow: UnitOfWork) -> list[uuid.UUID] | None:
    """The homes whose devices the caller may read: their memberships, or None (every home row security
    shows) for platform admins. Narrowing a point read to these costs no statement (the actor carries them)."""
    return None if uow.actor.is_admin else uow.actor.home_ids()


class DeviceService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.session = uow.session
        self.cipher = uow.runtime.cipher
        self.devices = DeviceRepository(uow.session)
        self.catalog = CatalogRepository(uow.session)
        self.links = LinkRepository(uow.session)

    # --- presentation -------------------------------------------------------------------------------
    def _serial(self, device_id: uuid.UUID, encrypted: bytes | None, role: HomeRole | None) -> str | None:
        if encrypted is None or role is None:
            return None  # clear serials only for members of the device's home
        return self.cipher.decrypt(encrypted, device_id.bytes)

    def out(self, row: Row[Any] | Mapping[str, Any], role: HomeRole | None) -> DeviceOut:
        """A ``DeviceRepository`` summary row (device columns, manual_count, manual_types) as DeviceOut."""
        m = row if isinstance(row, Mapping) else row._mapping
        data: dict[str, Any] = {key: m[key] for key in _OUT_COLUMNS}
        data.update(
            manufacturer=m["manufacturer_name"],
            category=m["category_code"],
            serial_number=self._serial(m["id"], m["serial_number_encrypted"], role),
            manual_count=m["manual_count"],
            manual_types=sorted(str(t) for t in m["manual_types"]),
        )
        return DeviceOut.model_validate(data)

    async def _summary(
        self, device_id: uuid.UUID, need: HomeRole = HomeRole.guest
    ) -> tuple[Row[Any], HomeRole | None]:
        """The device with its manual summary and the caller's role, in one statement (the device's home is
        narrowed to the caller's homes in the query; the role rule is the access layer's)."""
        homes = readable_homes(self.uow)
        row = await self.devices.with_manuals(device_id, homes) if homes != [] else None
        if row is None:
            raise DeviceNotFound()
        home_id = row._mapping["home_id"]
        return row, check_home_role(self.uow, home_id, self.uow.actor.home_role(home_id), need)

    # --- rules --------------------------------------------------------------------------------------
    async def _check_room(self, home_id: uuid.UUID, room_id: uuid.UUID | None) -> None:
        if room_id is None:
            return
        if not await self.devices.room_exists(home_id, room_id):
            raise UnprocessableEntity("The room is not in this device's home.", code="room_not_in_home")

    async def _check_category(self, code: str | None) -> None:
        if code is not None and await self.catalog.category(code) is None:
            raise UnknownCategory(f"No category {code!r}; see GET /api/v1/categories.")

    def _set_serial(self, device: Device, serial: str | None) -> None:
        if serial is None:
            device.serial_number_encrypted = None
            device.serial_number_index = None
            return
        device.serial_number_encrypted = self.cipher.encrypt(serial, device.id.bytes)
        device.serial_number_index = self.cipher.blind_index(serial)

    # --- use cases ----------------------------------------------------------------------------------
    async def create(self, home_id: uuid.UUID, data: DeviceIn) -> DeviceOut:
        role = await require_home(self.uow, home_id, HomeRole.member)
        await self._check_room(home_id, data.room_id)
        manufacturer, model_number, category = data.manufacturer, data.model_number, data.category
        model_id = None
        if data.model_id is not None:
            found = await self.catalog.model(data.model_id)
            if found is None:
                raise ModelNotFound()
            model, manufacturer = found
            model_id, model_number = model.id, model.model_number
            category = category or model.category_code
        elif manufacturer and model_number:
            found = await self.catalog.model_by_make_and_number(manufacturer, model_number)
            if found is not None:  # the free text names a catalog model: link it
                model, manufacturer = found
                model_id, model_number = model.id, model.model_number
                category = category or model.category_code
        await self._check_category(category)
        if data.replaces_device_id is not None:
            old = await self.devices.get(data.replaces_device_id, home_id)
            if old is None:
                raise UnprocessableEntity(
                    "The replaced device is not in this home.", code="device_not_in_home"
                )

        device = Device(
            id=uuid.uuid4(),
            home_id=home_id,
            added_by=self.uow.actor.user_id,
            model_id=model_id,
            manufacturer_name=manufacturer,
            model_number=model_number,
            category_code=category,
            features=data.features or {},
            specifications=data.specifications or {},
            replaces_device_id=data.replaces_device_id,
            ecosystem_id=data.ecosystem_id,
            room_id=data.room_id,
            nickname=data.nickname,
            **{k: getattr(data, k) for k in _PLAIN},
        )
        self._set_serial(device, data.serial_number)
        await self.devices.add(device)
        if data.replaces_device_id is not None:
            await self.devices.mark_replaced(home_id, data.replaces_device_id, device.id)
        linked = 0
        if manufacturer and model_number:
            linked = await self.links.auto_link_device(device.id, home_id, manufacturer, model_number)
        created = DeviceCreated(device.id, home_id, model_id, manufacturer, model_number)
        await self.uow.publish(created)  # maintenance: the model's template schedules
        self.uow.record(
            AuditEntry(
                "device_created",
                "device",
                device.id,
                new_values={
                    **data.model_dump(mode="json", exclude={"serial_number"}),
                    "serial_number": "***" if data.serial_number else None,
                    "auto_linked_manuals": linked,
                    **created.effects,
                },
            )
        )
        row = await self.devices.with_manuals(device.id, [home_id])
        assert row is not None
        return self.out(row, role)

    async def get(self, device_id: uuid.UUID) -> DeviceOut:
        return self.out(*await self._summary(device_id))

    async def update(self, device_id: uuid.UUID, patch: DevicePatch) -> DeviceOut:
        device, role = await load_in_home(
            self.uow, Device, device_id, HomeRole.member, not_found=DeviceNotFound, lock=True
        )
        changes = patch.model_dump(exclude_unset=True)
        not_null = ("nickname", "status")
        reject_nulls(changes, not_null)
        if "room_id" in changes:
            await self._check_room(device.home_id, changes["room_id"])
        if "category" in changes:
            await self._check_category(changes["category"])
        start = changes.get("warranty_start", device.warranty_start)
        end = changes.get("warranty_end", device.warranty_end)
        if start and end and end < start:
            raise UnprocessableEntity("warranty_end is before warranty_start.")
        serial_given = "serial_number" in changes
        serial = changes.pop("serial_number", None)
        old, new = apply_patch(
            device,
            changes,
            not_null=not_null,
            attributes={"category": "category_code"},
            convert={"features": _empty_if_null, "specifications": _empty_if_null},
        )
        if serial_given:
            self._set_serial(device, serial)
            old["serial_number"], new["serial_number"] = "***", "***" if serial else None
        await self.devices.save()
        self.uow.record(AuditEntry("device_updated", "device", device.id, old_values=old, new_values=new))
        row = await self.devices.with_manuals(device.id, [device.home_id])
        assert row is not None
        return self.out(row, role)

    async def delete(self, device_id: uuid.UUID) -> None:
        """Deletes the device; before its row goes, the other devices of the home forget it as what they
        replace or were replaced by, and ``DeviceRemoved`` lets higher domains detach what points at it (no
        foreign key can ``SET NULL`` a key that contains the home)."""
        device, _ = await load_in_home(
            self.uow, Device, device_id, HomeRole.member, not_found=DeviceNotFound, lock=True
        )
        await self.devices.clear_replacement_links(device.home_id, device_id)
        await self.uow.publish(DeviceRemoved(home_id=device.home_id, device_id=device_id))
        await self.devices.delete_in_home(device.home_id, device_id)
        self.uow.record(
            AuditEntry("device_deleted", "device", device_id, old_values={"nickname": device.nickname})
        )

    async def search(
        self,
        page: PageParams,
        *,
        home_id: uuid.UUID | None = None,
        status: DeviceStatus | None = None,
        category: str | None = None,
        serial: str | None = None,
        room_id: uuid.UUID | None = None,
        text: str | None = None,
    ) -> tuple[list[DeviceOut], str | None]:
        """Seed 000 Query 1: the devices of the caller's homes (or of one), newest first, one statement;
        ``text``: a part of the nickname, manufacturer or model number."""
        role = None
        if home_id is not None:
            role = await require_home(self.uow, home_id, HomeRole.guest)
            # None: a platform admin who is not a member; the list is of *their* homes' devices.
            homes = [home_id] if role is not None else []
        else:
            homes = self.uow.actor.home_ids()  # the caller's homes (admins too: not every home)
        if not homes:
            return [], None
        rows = await self.devices.search(
            home_ids=homes,
            status=status,
            category=category,
            serial_index=self.cipher.blind_index(serial) if serial else None,
            room_id=room_id,
            limit=page.limit,
            after=decode_cursor(page.cursor),
            text=text.strip() or None if text else None,
        )
        items, cursor = build_page(rows, page.limit, key=lambda r: (r["created_at"], r["id"]))
        # Every row comes from a home the caller is a member of.
        return [self.out(r, role or HomeRole.guest) for r in items], cursor

    async def warranty_expiring(self, days: int) -> list[WarrantyOut]:
        """Active devices whose warranty ends within ``days`` of *their home's* today (``days_left`` too)."""
        homes = self.uow.actor.home_ids()
        if not homes:
            return []
        # Every home's date is within a day of UTC's: fetch that window, then keep each home's own range.
        utc_today = self.uow.today("UTC")
        rows = await self.devices.warranty_window(
            homes, utc_today - timedelta(days=1), utc_today + timedelta(days=days + 1)
        )
        out = []
        for r in rows:
            today = self.uow.today(r.timezone)
            if today <= r.warranty_end <= today + timedelta(days=days):
                out.append(
                    WarrantyOut(
                        device_id=r.id,
                        home_id=r.home_id,
                        nickname=r.nickname,
                        manufacturer=r.manufacturer_name,
                        model_number=r.model_number,
                        warranty_end=r.warranty_end,
                        days_left=(r.warranty_end - today).days,
                    )
                )
        return out


class DeviceManualService:
    """A device's manuals (seed 000 Query 2), manual links, and search scoped to one device's manuals."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.links = LinkRepository(uow.session)

    async def _device_home(self, device_id: uuid.UUID, need: HomeRole) -> uuid.UUID:
        device, _ = await load_in_home(self.uow, Device, device_id, need, not_found=DeviceNotFound)
        return device.home_id

    async def manuals(self, device_id: uuid.UUID) -> list[DeviceManualOut]:
        """Seed 000 Query 2 in one statement: the device's visibility and its manuals, in Query 2's order."""
        homes = readable_homes(self.uow)
        rows = await self.links.device_manuals(device_id, homes) if homes != [] else None
        if rows is None:
            raise DeviceNotFound()
        home_id = rows[0]["device_home_id"]
        check_home_role(self.uow, home_id, self.uow.actor.home_role(home_id), HomeRole.guest)
        return [DeviceManualOut.model_validate(r) for r in rows if r["id"] is not None]

    async def manual_scope(self, device_id: uuid.UUID) -> list[uuid.UUID]:
        """The ids of the device's manuals (404 if the caller cannot read the device), one statement."""
        return (await self.library_scope(device_id))[1]

    async def library_scope(self, device_id: uuid.UUID) -> tuple[uuid.UUID, list[uuid.UUID]]:
        """The device's home and the ids of its manuals (404 if the caller cannot read the device), one
        statement: a search scoped to the device shows the shared library's and that home's passages only."""
        homes = readable_homes(self.uow)
        found = await self.links.device_scope(device_id, homes) if homes != [] else None
        if found is None:
            raise DeviceNotFound()
        home_id, manual_ids = found
        check_home_role(self.uow, home_id, self.uow.actor.home_role(home_id), HomeRole.guest)
        return home_id, manual_ids

    async def link(self, device_id: uuid.UUID, manual_id: uuid.UUID) -> bool:
        home_id = await self._device_home(device_id, HomeRole.member)
        await load_visible(self.uow, Manual, manual_id, not_found=ManualNotFound)
        if not await self.links.in_home_library(manual_id, home_id):
            raise UnprocessableEntity(
                "This manual is not in the device's home library (another home's upload, or hidden).",
                code="manual_not_in_home",
            )
        created = await self.links.link(device_id, manual_id, home_id, self.uow.actor.user_id, False)
        if created:
            self.uow.record(
                AuditEntry("manual_linked", "device", device_id, new_values={"manual_id": str(manual_id)})
            )
        return created

    async def upload(
        self, device_id: uuid.UUID, data: bytes, file_name: str, meta: ManualMeta, max_bytes: int
    ) -> Uploaded:
        """Uploads a manual for the device's home (member role) and links it to the device; a duplicate the
        home can see is linked instead."""
        home_id = await self._device_home(device_id, HomeRole.member)
        uploaded = await ManualService(self.uow).upload(
            data, file_name, meta, max_bytes, UploadTarget.household(home_id)
        )
        manual_id = uploaded.manual.id
        if await self.links.link(device_id, manual_id, home_id, self.uow.actor.user_id, False):
            self.uow.record(
                AuditEntry("manual_linked", "device", device_id, new_values={"manual_id": str(manual_id)})
            )
        return uploaded

    async def unlink(self, device_id: uuid.UUID, manual_id: uuid.UUID) -> None:
        home_id = await self._device_home(device_id, HomeRole.member)
        if not await self.links.unlink(device_id, manual_id, home_id):
            raise LinkNotFound("This manual is not linked to the device.")
        self.uow.record(
            AuditEntry("manual_unlinked", "device", device_id, old_values={"manual_id": str(manual_id)})
        )


class ModerationQueueService:
    """The manual library's moderation queue (support and admin staff): unverified household uploads and
    shared manuals with open reports, newest first or most-linked first, keyset-paged. Here because it counts
    links to devices (the library knows nothing of devices); the manuals come from ``ManualModeration``."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.links = LinkRepository(uow.session)

    async def queue(self, page: PageParams, *, most_linked: bool) -> tuple[list[QueueItem], str | None]:
        after = _decode_queue_cursor(page.cursor, most_linked)
        rows = await self.links.moderation_queue(most_linked=most_linked, after=after, limit=page.limit)
        items = rows[: page.limit]
        cursor = None
        if len(rows) > page.limit and items:
            last = items[-1]
            cursor = _encode_queue_cursor(last["links"], last["created_at"], last["manual_id"], most_linked)
        return await ManualModeration(self.uow).queue_items(items), cursor


def _encode_queue_cursor(links: int, created: datetime, manual_id: uuid.UUID, most_linked: bool) -> str:
    raw = json.dumps(["ml" if most_linked else "n", links, created.isoformat(), str(manual_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_queue_cursor(cursor: str | None, most_linked: bool) -> tuple[int, datetime, uuid.UUID] | None:
    if not cursor:
        return None
    try:
        tag, links, created, manual_id = json.loads(
            base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        )
        if tag != ("ml" if most_linked else "n") or not isinstance(links, int) or isinstance(links, bool):
            raise ValueError("a cursor of another order")
        return links, datetime.fromisoformat(created), uuid.UUID(manual_id)
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        raise InvalidCursor("The cursor is not one this API issued.") from exc
