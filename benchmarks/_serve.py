"""What the benchmarks share to run a server beside them: a free port, waiting until it answers, stopping it.

Imported by the scripts as ``from _serve import …`` (a script's own folder is on ``sys.path``)."""

from __future__ import annotations

import socket
import subprocess
import time

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, attempts: int = 300, pause: float = 0.2) -> bool:
    """Whether ``url`` answered 200 within ``attempts`` tries, ``pause`` seconds apart after each failure."""
    for _ in range(attempts):
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            time.sleep(pause)
    return False


def stop(proc: subprocess.Popen[bytes] | None, timeout: float = 20) -> None:
    """Terminate a server subprocess, and kill it if it has not exited after ``timeout`` seconds."""
    if proc is None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
