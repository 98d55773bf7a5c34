from homeops.core.registry import Domain

domain = Domain(
    name="assistant",
    description="The support assistant: chat, documents and media, complaints, product queries.",
    models=("homeops.assistant.models",),
    routers=("homeops.assistant.api:router",),
    pages=("homeops.assistant.pages:pages",),
    tasks=("homeops.assistant.tasks",),
    resources="homeops.assistant.transcription:resources",
)
