from homeops.core.registry import Domain

domain = Domain(
    name="notifications",
    description="In-app and e-mail notifications.",
    models=("homeops.notifications.models",),
    routers=("homeops.notifications.api:router",),
    pages=("homeops.notifications.pages:pages",),
    tasks=("homeops.notifications.tasks",),
    subscriptions=("homeops.notifications.handlers:SUBSCRIPTIONS",),
    resources="homeops.notifications.tasks:resources",
)
