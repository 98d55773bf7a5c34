"""Background jobs of the maintenance domain (registered on import; see homeops.core.jobs)."""
