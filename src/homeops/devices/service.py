"""The device registry: devices belong to a home; guests read, members write (RLS enforces the same)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from homeops.catalog.repository import CatalogRepository
from homeops.catalog.service import ModelNotFound, UnknownCategory
from homeops.core.context import AuditEntry, RequestContext
from homeops.core.errors import NotFound, UnprocessableEntity
from homeops.core.pagination import PageParams, build_page, decode_cursor
from homeops.core.security import FieldCipher
from homeops.devices.models import Device, DeviceStatus
from homeops.devices.repository import DeviceRepository, DeviceRow
from homeops.devices.schemas import DeviceIn, DeviceOut, DevicePatch, WarrantyOut
from homeops.homes.models import HomeRole
from homeops.homes.repository import RoomRepository
from homeops.homes.service import HomeService
from homeops.identity.service import CurrentUser
from homeops.maintenance.templates import instantiate_templates
from homeops.manuals.repository import LinkRepository

# Columns a PATCH may set directly (the rest need rules).
_PLAIN = (
    "subcategory", "location_detail", "purchase_date", "purchase_price", "installation_date", "warranty_start",
    "warranty_end", "notes", "external_id", "firmware_version", "nickname", "is_online",
)


# Device columns that DeviceOut carries under the same name (computed once, not per row).
_OUT_COLUMNS = tuple(c.key for c in Device.__table__.columns if c.key in DeviceOut.model_fields)


class DeviceNotFound(NotFound):
    code, title = "device_not_found", "Device not found"


class DeviceService:
    def __init__(self, session: AsyncSession, ctx: RequestContext, user: CurrentUser, cipher: FieldCipher) -> None:
        self.session = session
        self.ctx = ctx
        self.user = user
        self.cipher = cipher
        self.devices = DeviceRepository(session)
        self.homes = HomeService(session, ctx, user)
        self.catalog = CatalogRepository(session)
        self.links = LinkRepository(session)

    # --- presentation -------------------------------------------------------------------------------
    def _serial(self, device: Device, role: HomeRole | None) -> str | None:
        if device.serial_number_encrypted is None or role is None:
            return None  # clear serials only for members of the device's home
        return self.cipher.decrypt(device.serial_number_encrypted, device.id.bytes)

    def out(self, row: DeviceRow, role: HomeRole | None) -> DeviceOut:
        device, manual_count, manual_types = row
        data: dict[str, Any] = {key: getattr(device, key) for key in _OUT_COLUMNS}
        data.update(
            manufacturer=device.manufacturer_name,
            category=device.category_code,
            serial_number=self._serial(device, role),
            manual_count=manual_count,
            manual_types=sorted(manual_types),
        )
        return DeviceOut.model_validate(data)

    async def _visible(self, device_id: uuid.UUID, minimum: HomeRole) -> tuple[Device, HomeRole | None]:
        device = await self.devices.get(device_id)
        if device is None:
            raise DeviceNotFound()
        _, role = await self.homes.require(device.home_id, minimum)
        return device, role

    # --- rules --------------------------------------------------------------------------------------
    async def _check_room(self, home_id: uuid.UUID, room_id: uuid.UUID | None) -> None:
        if room_id is None:
            return
        room = await RoomRepository(self.session).get(room_id)
        if room is None or room.home_id != home_id:
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
        _, role = await self.homes.require(home_id, HomeRole.member)
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
            old = await self.devices.get(data.replaces_device_id)
            if old is None or old.home_id != home_id:
                raise UnprocessableEntity("The replaced device is not in this home.", code="device_not_in_home")

        device = Device(
            id=uuid.uuid4(), home_id=home_id, added_by=self.user.id, model_id=model_id,
            manufacturer_name=manufacturer, model_number=model_number, category_code=category,
            features=data.features or {}, specifications=data.specifications or {},
            replaces_device_id=data.replaces_device_id, ecosystem_id=data.ecosystem_id, room_id=data.room_id,
            **{k: getattr(data, k) for k in _PLAIN if k in DeviceIn.model_fields and k != "nickname"},
            nickname=data.nickname,
        )
        self._set_serial(device, data.serial_number)
        await self.devices.add(device)
        if data.replaces_device_id is not None:
            await self.devices.mark_replaced(data.replaces_device_id, device.id)
        linked = 0
        if manufacturer and model_number:
            linked = await self.links.auto_link_device(device.id, home_id, manufacturer, model_number)
        schedules = await instantiate_templates(self.session, device)
        self.ctx.record(
            AuditEntry(
                "device_created", "device", device.id,
                new_values={**data.model_dump(mode="json", exclude={"serial_number"}),
                            "serial_number": "***" if data.serial_number else None, "auto_linked_manuals": linked,
                            "maintenance_schedules": schedules},
            )
        )
        row = await self.devices.get_with_manuals(device.id)
        assert row is not None
        return self.out(row, role)

    async def get(self, device_id: uuid.UUID) -> DeviceOut:
        _, role = await self._visible(device_id, HomeRole.guest)
        row = await self.devices.get_with_manuals(device_id)
        assert row is not None
        return self.out(row, role)

    async def update(self, device_id: uuid.UUID, patch: DevicePatch) -> DeviceOut:
        device, role = await self._visible(device_id, HomeRole.member)
        changes = patch.model_dump(exclude_unset=True)
        if "nickname" in changes and changes["nickname"] is None:
            raise UnprocessableEntity("nickname cannot be null.")
        if "room_id" in changes:
            await self._check_room(device.home_id, changes["room_id"])
        if "category" in changes:
            await self._check_category(changes["category"])
        start = changes.get("warranty_start", device.warranty_start)
        end = changes.get("warranty_end", device.warranty_end)
        if start and end and end < start:
            raise UnprocessableEntity("warranty_end is before warranty_start.")
        old: dict[str, Any] = {}
        for key, value in changes.items():
            attr = {"category": "category_code", "serial_number": None}.get(key, key)
            if attr is None:
                self._set_serial(device, value)
                old[key], changes[key] = "***", "***" if value else None
                continue
            if key == "status" and value is None:
                raise UnprocessableEntity("status cannot be null.")
            old[key] = getattr(device, attr)
            setattr(device, attr, value if value is not None or key not in ("features", "specifications") else {})
        await self.devices.refresh(device)
        self.ctx.record(AuditEntry("device_updated", "device", device.id, old_values=old, new_values=changes))
        row = await self.devices.get_with_manuals(device.id)
        assert row is not None
        return self.out(row, role)

    async def delete(self, device_id: uuid.UUID) -> None:
        device, _ = await self._visible(device_id, HomeRole.member)
        await self.devices.delete(device_id)
        self.ctx.record(AuditEntry("device_deleted", "device", device_id, old_values={"nickname": device.nickname}))

    async def search(
        self,
        page: PageParams,
        *,
        home_id: uuid.UUID | None = None,
        status: DeviceStatus | None = None,
        category: str | None = None,
        serial: str | None = None,
        room_id: uuid.UUID | None = None,
    ) -> tuple[list[DeviceOut], str | None]:
        role = None
        if home_id is not None:
            _, role = await self.homes.require(home_id, HomeRole.guest)
        rows = await self.devices.search(
            member_id=self.user.id, home_id=home_id, status=status, category=category,
            serial_index=self.cipher.blind_index(serial) if serial else None, room_id=room_id,
            limit=page.limit, after=decode_cursor(page.cursor),
        )
        items, cursor = build_page(rows, page.limit, key=lambda r: (r[0].created_at, r[0].id))
        # Every row comes from a home the caller is a member of.
        return [self.out(r, role or HomeRole.guest) for r in items], cursor

    async def warranty_expiring(self, days: int) -> list[WarrantyOut]:
        today = date.today()
        devices = await self.devices.warranty_expiring(self.user.id, today, today + timedelta(days=days))
        return [
            WarrantyOut(
                device_id=d.id, home_id=d.home_id, nickname=d.nickname, manufacturer=d.manufacturer_name,
                model_number=d.model_number, warranty_end=d.warranty_end, days_left=(d.warranty_end - today).days,
            )
            for d in devices
            if d.warranty_end is not None
        ]
