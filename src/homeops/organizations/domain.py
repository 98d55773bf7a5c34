from homeops.core.registry import Domain

domain = Domain(
    name="organizations",
    description="Organizations (the second kind of tenant: contractors, providers, government bodies, partners) "
    "and their members.",
    models=("homeops.organizations.models",),
    routers=("homeops.organizations.api:router",),
)
