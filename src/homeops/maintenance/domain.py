from homeops.core.registry import Domain

domain = Domain(
    name="maintenance",
    description="Maintenance schedules, service history, reminders, the calendar feed.",
    models=("homeops.maintenance.models",),
    routers=("homeops.maintenance.api:router",),
    pages=("homeops.maintenance.pages:pages",),
    tasks=("homeops.maintenance.tasks",),
    subscriptions=("homeops.maintenance.handlers:SUBSCRIPTIONS",),
)
