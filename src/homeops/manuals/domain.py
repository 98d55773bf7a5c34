from homeops.core.registry import Domain

domain = Domain(
    name="manuals",
    description="The shared manual library: uploads, de-duplication, processing, search.",
    models=("homeops.manuals.models",),
    routers=("homeops.manuals.api:router",),
    pages=("homeops.manuals.pages:pages",),
    tasks=("homeops.manuals.tasks",),
    resources="homeops.manuals.tasks:resources",
    commands=(("manuals", "homeops.manuals.cli:app"),),
)
