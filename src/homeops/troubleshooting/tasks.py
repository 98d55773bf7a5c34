"""Background jobs of the troubleshooting domain (registered on import; see homeops.core.jobs)."""
