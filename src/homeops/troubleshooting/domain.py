from homeops.core.registry import Domain

domain = Domain(
    name="troubleshooting",
    description="Troubleshooting sessions with explainable suggestions, service tickets.",
    models=("homeops.troubleshooting.models",),
    routers=("homeops.troubleshooting.api:router",),
    pages=("homeops.troubleshooting.pages:pages",),
    tasks=("homeops.troubleshooting.tasks",),
)
