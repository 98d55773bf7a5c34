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


def wait_ready(url: str, proc: subprocess.Popen[bytes] | None = None, seconds: float = 90) -> None:
    """Returns once ``url`` answers 200; raises if ``proc`` (the server) exits first or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited ({proc.returncode}) before {url} answered")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {seconds:.0f} s")
        time.sleep(0.2)


def stop(proc: subprocess.Popen[bytes] | None, timeout: float = 20) -> None:
    """Terminate a server subprocess, and kill it if it has not exited after ``timeout`` seconds."""
    if proc is None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
