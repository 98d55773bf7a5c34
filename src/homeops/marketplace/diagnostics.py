"""Photo diagnostics (seed 002 ``diagnostics``; Scenario 1 step 2).

An upload is decoded and re-encoded without metadata (``images.sanitize_image``: EXIF and GPS gone), stored
under ``diagnostics/<user>/<id>.<ext>``, analysed by the process's ``DiagnosticAnalyzer`` (offline rules by
default, with the device's known problems from the catalog when a device is named) and recorded with the
seed's fields, the image's metadata and the analyzer's explanation. Results under 70 % confidence carry a
warning; DIY advice only for low risk (also a database constraint). The image is deleted after
``retention.diagnostic_images_days`` (90) by the daily retention job; the row stays.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from anyio import to_thread

from homeops.catalog.repository import CatalogRepository
from homeops.core.audit import AuditEntry
from homeops.core.errors import NotFound, UnprocessableEntity
from homeops.core.pagination import PageParams, build_page, decode_cursor
from homeops.core.schemas import DownloadOut
from homeops.core.storage import signed_download
from homeops.core.tenancy import HomeRole
from homeops.core.uow import UnitOfWork
from homeops.devices.models import Device
from homeops.devices.service import DeviceNotFound
from homeops.homes.access import load_in_home, require_home
from homeops.marketplace.analyzer import (
    ANALYZER,
    LOW_CONFIDENCE,
    AnalysisInput,
    DiagnosticAnalyzer,
    KnownProblem,
    RuleAnalyzer,
)
from homeops.marketplace.common import (
    DiagnosticNotFound,
    UnknownServiceCategory,
    max_image_bytes,
    store,
)
from homeops.marketplace.images import sanitize_image
from homeops.marketplace.models import Diagnostic
from homeops.marketplace.repository import CategoryRepository, DiagnosticRepository
from homeops.marketplace.schemas import DiagnosticOut

MAX_DESCRIPTION = 5000


def warning_for(confidence: Decimal) -> str | None:
    if confidence < LOW_CONFIDENCE:
        return (
            f"Low confidence ({confidence} %): treat this as a first guess and have a professional confirm it "
            "before acting."
        )
    return None


def diagnostic_out(row: Diagnostic) -> DiagnosticOut:
    data = {c.key: getattr(row, c.key) for c in Diagnostic.__table__.columns}
    data["image_available"] = row.image_key is not None
    data["warning"] = warning_for(row.ai_confidence_score)
    return DiagnosticOut.model_validate(data)


class DiagnosticService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.repo = DiagnosticRepository(uow.session)

    def _analyzer(self) -> DiagnosticAnalyzer:
        found = self.uow.runtime.resource(ANALYZER)
        analyzer: DiagnosticAnalyzer = found if found is not None else RuleAnalyzer()
        return analyzer

    async def create(
        self,
        data: bytes,
        file_name: str | None,
        *,
        description: str | None,
        category_hint: str | None,
        home_id: uuid.UUID | None,
        device_id: uuid.UUID | None,
    ) -> DiagnosticOut:
        me = self.uow.actor.require_user_id()
        description = (description or "").strip() or None
        if description and len(description) > MAX_DESCRIPTION:
            raise UnprocessableEntity(f"The description is limited to {MAX_DESCRIPTION} characters.")
        if category_hint and not await CategoryRepository(self.uow.session).known([category_hint]):
            raise UnknownServiceCategory(f"Unknown service category: {category_hint}.")
        device: Device | None = None
        known: tuple[KnownProblem, ...] = ()
        if device_id is not None:
            found, _ = await load_in_home(
                self.uow, Device, device_id, HomeRole.member, not_found=DeviceNotFound
            )
            if home_id is not None and found.home_id != home_id:
                raise DeviceNotFound()
            device, home_id = found, found.home_id
            if found.model_id is not None:
                problems = await CatalogRepository(self.uow.session).problems(found.model_id)
                known = tuple(
                    KnownProblem(
                        p.problem_description,
                        tuple(str(s) for s in p.symptoms or []),
                        p.root_cause,
                        p.solution,
                        p.severity.value,
                        p.estimated_repair_cost,
                    )
                    for p in problems
                )
        elif home_id is not None:
            await require_home(self.uow, home_id, HomeRole.member)
        limit = await max_image_bytes(self.uow)
        clean = await to_thread.run_sync(lambda: sanitize_image(data, max_bytes=limit))
        result = self._analyzer().analyze(
            AnalysisInput(
                image_format=clean.format,
                width=clean.width,
                height=clean.height,
                description=description,
                category_hint=category_hint,
                device_category=device.category_code if device else None,
                device_name=device.nickname if device else None,
                known_problems=known,
            )
        )
        diagnostic_id = uuid.uuid4()
        key = f"diagnostics/{me}/{diagnostic_id}.{clean.extension}"
        metadata = {**clean.metadata(file_name), "upload_timestamp": self.uow.now().isoformat()}
        row = await self.repo.add(
            Diagnostic(
                user_id=me,
                id=diagnostic_id,
                home_id=home_id,
                device_id=device.id if device else None,
                image_key=key,
                image_metadata=metadata,
                description=description,
                category_hint=category_hint,
                risk_level=result.risk_level,
                problem_category=result.problem_category,
                problem_subcategory=result.problem_subcategory,
                probable_cause=result.probable_cause,
                risk_prediction=result.risk_prediction,
                recommended_action=result.recommended_action,
                ai_confidence_score=result.confidence,
                ai_model_version=result.model_version,
                processing_time_ms=result.processing_time_ms,
                is_diy_possible=result.is_diy_possible,
                diy_advice=result.diy_advice,
                estimated_cost_range=result.estimated_cost_range,
                urgency_level=result.urgency,
                explanation=result.explanation,
            )
        )
        await store(self.uow, key, clean.data, clean.content_type)
        self.uow.record(
            AuditEntry(
                "diagnostic_created",
                "diagnostic",
                row.id,
                new_values={
                    "risk_level": result.risk_level.value,
                    "problem_category": result.problem_category,
                    "confidence": str(result.confidence),
                    "model": result.model_version,
                    "exif_removed": clean.had_exif,
                },
            )
        )
        return diagnostic_out(row)

    async def _own(self, diagnostic_id: uuid.UUID) -> Diagnostic:
        row = await self.repo.get_own(self.uow.actor.require_user_id(), diagnostic_id)
        if row is None:
            raise DiagnosticNotFound()
        return row

    async def get(self, diagnostic_id: uuid.UUID) -> DiagnosticOut:
        return diagnostic_out(await self._own(diagnostic_id))

    async def mine(self, page: PageParams) -> tuple[list[DiagnosticOut], str | None]:
        rows = await self.repo.mine(self.uow.actor.require_user_id(), page.limit, decode_cursor(page.cursor))
        items, cursor = build_page(rows, page.limit, key=lambda d: (d.created_at, d.id))
        return [diagnostic_out(d) for d in items], cursor

    async def image(self, diagnostic_id: uuid.UUID) -> DownloadOut:
        row = await self._own(diagnostic_id)
        if row.image_key is None:
            raise NotFound("The image was deleted after the retention period.", code="image_deleted")
        return await signed_download(
            self.uow.runtime.storage,
            row.image_key,
            filename=f"diagnostic-{row.id}.{row.image_key.rsplit('.', 1)[-1]}",
            content_type=str(row.image_metadata.get("content_type", "image/jpeg")),
        )
