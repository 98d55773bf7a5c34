"""Background jobs of the assistant domain (registered on import; see homeops.core.jobs)."""
