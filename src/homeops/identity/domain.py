from homeops.core.registry import Domain

domain = Domain(
    name="identity",
    description="Users, sessions, sign-in and profiles.",
    models=("homeops.identity.models",),
    routers=("homeops.identity.api:auth_router", "homeops.identity.api:users_router"),
    pages=("homeops.identity.pages:pages",),
)
