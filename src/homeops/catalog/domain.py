from homeops.core.registry import Domain

domain = Domain(
    name="catalog",
    description="Manufacturers, categories, models, common problems, maintenance templates.",
    models=("homeops.catalog.models",),
    routers=("homeops.catalog.api:router",),
)
