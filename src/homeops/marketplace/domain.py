from homeops.core.registry import Domain

domain = Domain(
    name="marketplace",
    description=(
        "The home-services marketplace (seed 002): provider profiles and portfolios, photo diagnostics, service "
        "requests, quotes, projects with realtime chat, ratings."
    ),
    models=("homeops.marketplace.models",),
    routers=("homeops.marketplace.api:router", "homeops.marketplace.realtime:router"),
    pages=("homeops.marketplace.pages:pages",),
    tasks=("homeops.marketplace.tasks",),
    resources="homeops.marketplace.analyzer:resources",
)
