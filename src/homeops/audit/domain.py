from homeops.core.registry import Domain

domain = Domain(
    name="audit",
    description="The immutable audit trail.",
    models=("homeops.audit.models",),
    routers=("homeops.audit.api:router",),
    pages=("homeops.audit.pages:pages",),
)
