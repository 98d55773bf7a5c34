"""Imports every domain's models so ``Base.metadata`` is complete (Alembic, tests)."""

from homeops.assistant import models as assistant_models  # noqa: F401
from homeops.audit import models as audit_models  # noqa: F401
from homeops.catalog import models as catalog_models  # noqa: F401
from homeops.core import job_models  # noqa: F401
from homeops.core.models import Base
from homeops.devices import models as devices_models  # noqa: F401
from homeops.homes import models as homes_models  # noqa: F401
from homeops.identity import models as identity_models  # noqa: F401
from homeops.maintenance import models as maintenance_models  # noqa: F401
from homeops.manuals import models as manuals_models  # noqa: F401
from homeops.notifications import models as notifications_models  # noqa: F401
from homeops.settings import models as settings_models  # noqa: F401
from homeops.troubleshooting import models as troubleshooting_models  # noqa: F401

metadata = Base.metadata
