from homeops.core.registry import Domain

domain = Domain(
    name="telemetry",
    description="Device telemetry (seed 004): ingest, roll-ups, retention, health, dashboards, monitoring.",
    models=("homeops.telemetry.models",),
    routers=("homeops.telemetry.api:router",),
    pages=("homeops.telemetry.pages:pages", "homeops.telemetry.pages:uplot_assets"),
    tasks=("homeops.telemetry.tasks",),
    subscriptions=("homeops.telemetry.handlers:SUBSCRIPTIONS",),
)
