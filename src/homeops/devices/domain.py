from homeops.core.registry import Domain

domain = Domain(
    name="devices",
    description="The device registry, groups, and each device's manuals.",
    models=("homeops.devices.models",),
    routers=("homeops.devices.api:router", "homeops.devices.api:manuals_router"),
    pages=("homeops.devices.pages:pages",),
    subscriptions=("homeops.devices.handlers:SUBSCRIPTIONS",),
)
