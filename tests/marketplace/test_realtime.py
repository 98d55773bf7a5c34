"""Issue 11 "Chat": the project chat in real time over ``WS /api/v1/projects/{id}/chat/ws``, fanned out through
PostgreSQL ``LISTEN``/``NOTIFY`` — two API servers (two app instances, each with its own runtime and its own
chat hub, sharing nothing but the database) serve one conversation; a third user cannot connect or read."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import websockets
from tests.conftest import ApiUser, assert_problem
from tests.marketplace.conftest import API, Market
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from homeops.marketplace.realtime import CLOSE_UNAUTHORIZED

WAIT = 5.0  # seconds a frame may take to arrive from the other server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ApiServer:
    url: str
    app: Any

    @property
    def ws(self) -> str:
        return self.url.replace("http://", "ws://", 1)


@pytest.fixture(scope="module")
def servers(settings: Any, test_db: Any) -> Iterator[tuple[ApiServer, ApiServer]]:
    """Two API servers on real ports (uvicorn, each in its own thread with its own event loop): separate app
    instances and runtimes, no background worker, one database."""
    import uvicorn

    from homeops import domains
    from homeops.app import create_app

    started: list[tuple[uvicorn.Server, threading.Thread, ApiServer]] = []
    try:
        for name in ("a", "b"):
            app = create_app(settings, test_db.app, runtime=domains.build_runtime(settings))
            port = _free_port()
            server = uvicorn.Server(
                uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
            )
            thread = threading.Thread(target=server.run, name=f"chat-server-{name}", daemon=True)
            thread.start()
            deadline = time.monotonic() + 30
            while not server.started:
                if time.monotonic() > deadline or not thread.is_alive():
                    raise RuntimeError(f"chat server {name} did not start")
                time.sleep(0.05)
            started.append((server, thread, ApiServer(f"http://127.0.0.1:{port}", app)))
        yield started[0][2], started[1][2]
    finally:
        for server, _, _ in started:
            server.should_exit = True
        for _, thread, _ in started:
            thread.join(30)


@dataclass
class Peer:
    """One chat socket and the frames it received (kept, so waiting for one frame loses none of the others)."""

    ws: ClientConnection
    frames: list[dict[str, Any]] = field(default_factory=list)

    async def expect(self, kind: str, timeout: float = WAIT, **match: Any) -> dict[str, Any]:
        """The first frame of ``kind`` (whose ``message`` has the ``match`` fields, if given), waiting for it."""

        def fits(frame: dict[str, Any]) -> bool:
            if frame.get("type") != kind:
                return False
            message = frame.get("message") or {}
            return all(message.get(k) == v for k, v in match.items())

        deadline = asyncio.get_running_loop().time() + timeout
        seen = 0
        while True:
            for i in range(seen, len(self.frames)):
                if fits(self.frames[i]):
                    return self.frames.pop(i)
            seen = len(self.frames)
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise AssertionError(f"no {kind!r} frame {match} within {timeout}s; got {self.frames}")
            try:
                raw = await asyncio.wait_for(self.ws.recv(), left)
            except TimeoutError:
                continue
            self.frames.append(json.loads(raw))

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(frame))


def chat_url(server: ApiServer, project_id: str) -> str:
    return f"{server.ws}{API}/projects/{project_id}/chat/ws"


async def open_header(server: ApiServer, project_id: str, user: ApiUser) -> Peer:
    """A socket authenticated with ``Authorization: Bearer …`` (as a non-browser client does)."""
    ws = await connect(chat_url(server, project_id), additional_headers=user.headers, open_timeout=WAIT)
    return Peer(ws)


async def open_subprotocol(server: ApiServer, project_id: str, user: ApiUser) -> Peer:
    """A socket authenticated with the subprotocol pair ``bearer, <token>`` (as a browser does)."""
    ws = await connect(
        chat_url(server, project_id),
        subprotocols=[websockets.Subprotocol("bearer"), websockets.Subprotocol(user.access_token)],
        open_timeout=WAIT,
    )
    assert ws.subprotocol == "bearer"  # the server answers ``bearer``, never echoes the token
    return Peer(ws)


async def refused(url: str, **kwargs: Any) -> int:
    """The HTTP status of a refused handshake (fails if the socket opens)."""
    with pytest.raises(InvalidStatus) as caught:
        async with connect(url, open_timeout=WAIT, **kwargs):
            pass
    return caught.value.response.status_code


def test_two_clients_on_two_servers_chat_in_real_time(
    market: Market, servers: tuple[ApiServer, ApiServer]
) -> None:
    a, b = servers
    owner, pro, project = market.project()
    pid = project["id"]

    async def scenario() -> None:
        owner_ws = await open_header(a, pid, owner)  # the homeowner on server A
        pro_ws = await open_subprotocol(b, pid, pro)  # the provider on server B
        try:
            ready_owner = await owner_ws.expect("ready")
            ready_pro = await pro_ws.expect("ready")
            assert ready_owner["project_id"] == pid and ready_owner["side"] == "requester"
            assert ready_pro["project_id"] == pid and ready_pro["side"] == "provider"
            assert isinstance(ready_pro["unread"], int)
            # Each server listens on its own connection: nothing in memory is shared.
            hub_a, hub_b = a.app.state.marketplace_chat_hub, b.app.state.marketplace_chat_hub
            assert hub_a is not hub_b

            # A → B over the WebSocket: the sender gets ``sent``, the other server's socket the message.
            started = time.monotonic()
            await owner_ws.send({"type": "send", "text": "Hello from server A", "client_id": "c-1"})
            sent = await owner_ws.expect("sent")
            assert sent["client_id"] == "c-1" and sent["message"]["mine"] is True
            first = sent["message"]
            got = await pro_ws.expect("message", id=first["id"])
            assert time.monotonic() - started < WAIT
            assert got["message"]["message_text"] == "Hello from server A"
            assert got["message"]["sender_side"] == "requester" and got["message"]["mine"] is False
            assert got["message"]["project_id"] == pid

            # B → A through the REST POST on server B: the homeowner's socket on A gets it, as a reply.
            async with httpx.AsyncClient(base_url=b.url, headers=pro.headers) as http_b:
                r = await http_b.post(
                    f"{API}/projects/{pid}/messages",
                    json={"text": "Reply from server B", "reply_to_message_id": first["id"]},
                )
                assert r.status_code == 201, r.text
                second = r.json()
            got = await owner_ws.expect("message", id=second["id"])
            assert got["message"]["message_text"] == "Reply from server B"
            assert got["message"]["reply_to_message_id"] == first["id"]
            assert got["message"]["sender_side"] == "provider" and got["message"]["mine"] is False
            # The provider's own socket sees it too (each socket reads it under its own user: ``mine``).
            own = await pro_ws.expect("message", id=second["id"])
            assert own["message"]["mine"] is True

            # B → A over the provider's WebSocket (subprotocol-authenticated).
            await pro_ws.send({"type": "send", "text": "And over the socket from B"})
            third = (await pro_ws.expect("sent"))["message"]
            got = await owner_ws.expect("message", id=third["id"])
            assert got["message"]["message_text"] == "And over the socket from B"

            # The read receipt travels too: the homeowner reads up to the last message; B hears of it.
            await owner_ws.send({"type": "read", "up_to": third["id"]})
            marked = await owner_ws.expect("marked")
            assert marked["count"] >= 2
            receipt = await pro_ws.expect("read")
            assert receipt["up_to"] == third["id"]

            # A bad frame is answered, the socket stays open.
            await owner_ws.send({"type": "send", "text": ""})
            assert (await owner_ws.expect("error"))["code"] == "bad_frame"
            await owner_ws.send({"type": "read", "up_to": 12345})
            assert (await owner_ws.expect("error"))["code"] == "bad_frame"
            await owner_ws.send({"type": "shout"})
            assert (await owner_ws.expect("error"))["code"] == "unknown_frame"
            await owner_ws.send({"type": "ping"})
            await owner_ws.expect("pong")

            # Stored: the REST history (on either server) has all three, newest first, read where marked.
            for server, user in ((a, owner), (b, pro)):
                async with httpx.AsyncClient(base_url=server.url, headers=user.headers) as http:
                    h = await http.get(f"{API}/projects/{pid}/messages")
                assert h.status_code == 200, h.text
                texts = [m["id"] for m in h.json()["items"] if m["message_type"] == "text"]
                assert texts == [third["id"], second["id"], first["id"]]
                by_id = {m["id"]: m for m in h.json()["items"]}
                assert by_id[second["id"]]["is_read"] and by_id[third["id"]]["is_read"]
                assert not by_id[first["id"]]["is_read"]  # the provider has not read it
        finally:
            await owner_ws.ws.close()
            await pro_ws.ws.close()

    asyncio.run(scenario())


def test_third_user_cannot_connect_or_read(market: Market, servers: tuple[ApiServer, ApiServer]) -> None:
    a, b = servers
    owner, _pro, project = market.project()
    pid = project["id"]
    stranger = market.make_user("stranger", full_name="Other Homeowner")
    other_pro, _ = market.provider("otherpro")
    url = chat_url(a, pid)

    async def scenario() -> None:
        owner_ws = await open_header(a, pid, owner)
        try:
            await owner_ws.expect("ready")
            # Another homeowner and an unrelated provider: the handshake is refused (HTTP 403), on either
            # server and either way of passing the token.
            for intruder in (stranger, other_pro):
                assert await refused(url, additional_headers=intruder.headers) == 403
                assert (
                    await refused(
                        chat_url(b, pid),
                        subprotocols=[
                            websockets.Subprotocol("bearer"),
                            websockets.Subprotocol(intruder.access_token),
                        ],
                    )
                    == 403
                )
            # No token, a bad token, a token under another scheme: refused too.
            assert await refused(url) == 403
            assert await refused(url, additional_headers={"Authorization": "Bearer not-a-token"}) == 403
            assert (
                await refused(url, additional_headers={"Authorization": f"Basic {owner.access_token}"}) == 403
            )
            assert await refused(url, subprotocols=[websockets.Subprotocol("bearer")]) == 403
            # An unknown project: refused.
            assert (
                await refused(
                    chat_url(a, "00000000-0000-4000-8000-000000000000"), additional_headers=owner.headers
                )
                == 403
            )

            # Nor do they read or write the conversation over REST (404, nothing written, nothing fanned out).
            async with httpx.AsyncClient(base_url=b.url) as http:
                for intruder in (stranger, other_pro):
                    h = await http.get(f"{API}/projects/{pid}/messages", headers=intruder.headers)
                    assert_problem(h, 404, "project_not_found")
                    w = await http.post(
                        f"{API}/projects/{pid}/messages", json={"text": "let me in"}, headers=intruder.headers
                    )
                    assert_problem(w, 404, "project_not_found")
                h = await http.get(f"{API}/projects/{pid}/messages", headers=owner.headers)
                assert h.status_code == 200
                assert all(m["message_text"] != "let me in" for m in h.json()["items"])
            await owner_ws.send({"type": "ping"})
            await owner_ws.expect("pong")
            assert not any(f.get("type") == "message" for f in owner_ws.frames)
        finally:
            await owner_ws.ws.close()

    asyncio.run(scenario())


def test_revoked_session_is_refused_and_closes_an_open_socket(
    market: Market, servers: tuple[ApiServer, ApiServer]
) -> None:
    a, b = servers
    owner, pro, project = market.project()
    pid = project["id"]

    async def scenario() -> None:
        pro_ws = await open_header(b, pid, pro)
        try:
            await pro_ws.expect("ready")
            async with httpx.AsyncClient(base_url=a.url) as http:
                out = await http.post(f"{API}/auth/logout", headers=pro.headers)
                assert out.status_code == 204, out.text
                # The next message is read again under the provider's (now revoked) session: the socket closes.
                r = await http.post(
                    f"{API}/projects/{pid}/messages", json={"text": "are you there?"}, headers=owner.headers
                )
                assert r.status_code == 201, r.text
            with pytest.raises(ConnectionClosed) as closed:
                await pro_ws.expect("message", timeout=WAIT)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == CLOSE_UNAUTHORIZED
            assert not any(f.get("type") == "message" for f in pro_ws.frames)
            # And the revoked token cannot open a new one.
            assert await refused(chat_url(a, pid), additional_headers=pro.headers) == 403
        finally:
            await pro_ws.ws.close()

    asyncio.run(scenario())


def test_a_socket_opening_while_the_last_one_closes_still_hears(test_db: Any) -> None:
    """The hub of one process: the last socket of a process leaves (its LISTEN connection is being closed) just
    as a new one arrives — a page reload. The new socket must still hear the conversation."""
    import uuid

    import psycopg

    from homeops.core.database import libpq_dsn
    from homeops.marketplace.realtime import ChatHub
    from homeops.marketplace.repository import CHAT_CHANNEL

    dsn = libpq_dsn(test_db.app)
    project_id = uuid.uuid4()

    async def scenario() -> None:
        hub = ChatHub(dsn)
        old = await hub.subscribe(project_id)
        leaving = asyncio.create_task(hub.unsubscribe(project_id, old))
        await asyncio.sleep(0)  # the old socket's unsubscribe is now waiting for its listener to stop
        new = await hub.subscribe(project_id)
        await leaving
        try:
            payload = json.dumps({"p": str(project_id), "k": "message", "m": str(uuid.uuid4())})
            async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
                await conn.execute("SELECT pg_notify(%s, %s)", (CHAT_CHANNEL, payload))
            event = await asyncio.wait_for(new.get(), WAIT)
            assert event["p"] == str(project_id)
        finally:
            await hub.unsubscribe(project_id, new)
        assert hub._task is None  # the last socket gone: no LISTEN connection held

    asyncio.run(scenario())
