"""Smart-home telemetry (seed 004): ingest tokens, batch and MQTT ingest, time-partitioned series, roll-ups,
retention, device health, dashboards and database monitoring. See ``homeops.telemetry.domain``."""
