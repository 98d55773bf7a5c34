from homeops.core.registry import Domain

domain = Domain(
    name="homes",
    description="Homes (a tenant), their members and rooms.",
    models=("homeops.homes.models",),
    routers=("homeops.homes.api:router",),
    pages=("homeops.homes.pages:pages",),
)
