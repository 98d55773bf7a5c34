"""``Base.metadata`` with every domain's tables (Alembic, tests): see ``homeops.domains``."""

from homeops.domains import metadata as _metadata

metadata = _metadata()
