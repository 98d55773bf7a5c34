"""Background jobs of the notifications domain (registered on import; see homeops.core.jobs)."""
