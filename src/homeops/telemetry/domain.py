from homeops.core.registry import Domain

domain = Domain(
    name="telemetry",
    description="Device telemetry (seed 004): ingest, roll-ups, retention, health, dashboards, monitoring.",
    models=("homeops.telemetry.models",),
    routers=("homeops.telemetry.api:router",),
    tasks=("homeops.telemetry.tasks",),
    subscriptions=("homeops.telemetry.handlers:SUBSCRIPTIONS",),
)
