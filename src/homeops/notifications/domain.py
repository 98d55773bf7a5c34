from homeops.core.registry import Domain

domain = Domain(
    name="notifications",
    description="In-app and e-mail notifications.",
    models=("homeops.notifications.models",),
    routers=("homeops.notifications.api:router",),
    tasks=("homeops.notifications.tasks",),
    resources="homeops.notifications.tasks:resources",
)
