"""Helpers of the identity tests: requests from another client address, real concurrency, and a local SMTP
server (aiosmtpd, as the reminder tests use) that receives the account e-mails."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.header import decode_header, make_header
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from homeops.core.runtime import Runtime
from homeops.notifications.email import Mailer
from homeops.notifications.tasks import MAILER

TOKEN_RE = re.compile(r"\b[0-9]{1,11}\.[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}\b")


@contextmanager
def from_address(client: TestClient, ip: str) -> Iterator[TestClient]:
    """Requests of the block come from client address ``ip`` (the test client's transport sets the ASGI
    ``client``; the app is the shared one, with its running event loop and pool)."""
    transport = client._transport  # type: ignore[attr-defined]
    previous = transport.client
    transport.client = (ip, 50000)
    try:
        yield client
    finally:
        transport.client = previous


def at_once(n: int, call: Callable[[int], httpx.Response]) -> list[httpx.Response]:
    """``call(i)`` for i in range(n) from n threads released together: real concurrent requests against the
    app's event loop and connection pool."""
    barrier = threading.Barrier(n)
    results: list[httpx.Response | BaseException | None] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = call(i)
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    out: list[httpx.Response] = []
    for r in results:
        if isinstance(r, BaseException):
            raise r
        assert r is not None
        out.append(r)
    return out


@dataclass
class Message:
    to: list[str]
    sender: str
    subject: str
    body: str

    @property
    def token(self) -> str:
        found = TOKEN_RE.search(self.body)
        assert found, self.body
        return found.group(0)


@dataclass
class Mailbox:
    envelopes: list[Any] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
        self.envelopes.append(envelope)
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        out = []
        for e in self.envelopes:
            if e.rcpt_tos == [address]:
                msg = message_from_bytes(e.content)
                subject = str(make_header(decode_header(msg["Subject"])))
                out.append(Message(e.rcpt_tos, e.mail_from, subject, msg.get_payload(decode=True).decode()))
        return out

    def last(self, address: str) -> Message:
        messages = self.to(address)
        assert messages, f"no e-mail to {address}"
        return messages[-1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def mailbox(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    """A local SMTP server, and the app's mailer pointed at it for one test."""
    box, port = Mailbox(), _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setitem(runtime.resources, MAILER, Mailer("127.0.0.1", port, sender="homeops@test.invalid"))
    try:
        yield box
    finally:
        controller.stop()
