"""telemetry: a deleted home's (or device's) series purged in the background, batch by batch

The series have no foreign key to their home (partitioned, distributed by ``home_id``). The ``HomeRemoved``
handler (``telemetry/handlers.py``) deletes a small home's rows in the deletion's transaction under the owner's
identity (~460,000 rows/s measured); a home above ``BACKGROUND_PURGE_ROWS`` is left to the job
``telemetry.purge`` (``telemetry/tasks.py``), which calls ``homeops_telemetry_purge`` in batches. The worker role
has no DELETE on the series (and gets none), so the function is ``SECURITY DEFINER``, executable by the worker
only, with a pinned search path; the partition names come from ``telemetry_partitions`` (no input reaches the
SQL text), and it refuses while the home (or the device) still exists. One call deletes ``home_id = p_home``
(and ``device_id = p_device``) from each partition named after ``p_after``, in name order, until at least
``p_max_rows`` rows went, and returns where it stopped (NULL once every partition and the home's roll-up
invalidations are done). On a cluster each DELETE names the distribution key: one shard per statement.

Revision ID: p017
Revises: p016
"""

from collections.abc import Sequence

from alembic import op

from homeops.core import ddl
from homeops.core.config import WORKER_DB_ROLE

revision: str = "p017"
down_revision: str | None = "p016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PURGE = "homeops_telemetry_purge(uuid, uuid, text, bigint)"


def upgrade() -> None:
    ddl.citus_session()
    op.execute(
        """
        CREATE FUNCTION homeops_telemetry_purge(p_home uuid, p_device uuid, p_after text, p_max_rows bigint)
        RETURNS TABLE (next_after text, deleted bigint)
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS
        $$ #variable_conflict use_column
        DECLARE r record; n bigint; v_total bigint := 0;
        BEGIN
          IF p_home IS NULL OR p_max_rows IS NULL OR p_max_rows < 1 THEN
            RAISE EXCEPTION 'p_home and a positive p_max_rows are required' USING ERRCODE = 'invalid_parameter_value';
          END IF;
          IF p_device IS NULL AND EXISTS (SELECT 1 FROM homes h WHERE h.id = p_home) THEN
            RAISE EXCEPTION 'the home still exists' USING ERRCODE = 'object_in_use';
          END IF;
          IF p_device IS NOT NULL AND EXISTS (SELECT 1 FROM devices d WHERE d.home_id = p_home AND d.id = p_device) THEN
            RAISE EXCEPTION 'the device still exists' USING ERRCODE = 'object_in_use';
          END IF;
          PERFORM set_config('lock_timeout', '10s', true);
          FOR r IN
            SELECT p.partition_name FROM telemetry_partitions p
             WHERE p_after IS NULL OR p.partition_name > p_after
             ORDER BY p.partition_name
          LOOP
            EXECUTE format('DELETE FROM %I WHERE home_id = $1 AND device_id = coalesce($2, device_id)', r.partition_name)
              USING p_home, p_device;
            GET DIAGNOSTICS n = ROW_COUNT;
            v_total := v_total + n;
            IF v_total >= p_max_rows THEN
              next_after := r.partition_name; deleted := v_total;
              RETURN NEXT;
              RETURN;
            END IF;
          END LOOP;
          DELETE FROM rollup_invalidations i WHERE i.home_id = p_home AND i.device_id = coalesce(p_device, i.device_id);
          GET DIAGNOSTICS n = ROW_COUNT;
          next_after := NULL; deleted := v_total + n;
          RETURN NEXT;
        END $$
        """
    )
    ddl.function_grant(_PURGE, WORKER_DB_ROLE)


def downgrade() -> None:
    ddl.citus_session()
    op.execute(f"DROP FUNCTION IF EXISTS {_PURGE}")
