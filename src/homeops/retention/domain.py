from homeops.core.registry import Domain

domain = Domain(
    name="retention",
    description="Retention rules of the seeds (a daily job and a command).",
    tasks=("homeops.retention.tasks",),
    commands=(("retention", "homeops.retention.cli:app"),),
)
