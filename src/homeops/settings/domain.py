from homeops.core.registry import Domain

domain = Domain(
    name="settings",
    description="Typed system settings.",
    models=("homeops.settings.models",),
    routers=("homeops.settings.api:router",),
    pages=("homeops.settings.pages:pages",),
)
