"""Realtime project chat: ``WS /api/v1/projects/{id}/chat/ws``.

* **Authentication**: the bearer access token, as ``Authorization: Bearer …`` or — for browsers, which cannot
  set headers on a WebSocket — as the subprotocol pair ``bearer, <token>`` (the server answers ``bearer``).
  Or the pages' session cookie (the chat page's script): a browser sends the cookie with any handshake, to
  any site's page that opens one, so a cookie-authenticated handshake must come from the app's own pages
  (cross-site WebSocket hijacking) — its ``Origin`` must be the app's own origin (``HOMEOPS_PUBLIC_BASE_URL``
  when set, else the scheme and host the handshake reached, proxy headers only from trusted proxies), it
  must not be marked ``Sec-Fetch-Site: cross-site``, and it carries the page's CSRF token as the subprotocol
  pair ``csrf, <token>`` (the server answers ``csrf``), exactly as the pages' forms do.
  The handshake is refused (HTTP 403) unless the session is live and the project visible to the user under
  row security: a third user cannot connect.
* **Fan-out through PostgreSQL**: a message's transaction sends ``NOTIFY homeops_chat`` (see ``chat.py``). Each
  API process holds one ``LISTEN`` connection while it serves a chat WebSocket (``ChatHub``) and wakes the
  sockets of that project; each socket then reads the message again in a short transaction under its own
  user's identity (``homeops_begin``) — the same row security as the REST history, and a revoked session is
  noticed (the socket closes with 4401). So any number of API processes serve one conversation.
* **Frames** (JSON). Client → server: ``{"type": "send", "text": …, "reply_to": …}``,
  ``{"type": "read", "up_to": …}``, ``{"type": "ping"}``. Server → client: ``ready`` (with the unread count),
  ``message`` (a message, new), ``sent`` (the answer to a send), ``read`` (the other side read up to …),
  ``deleted``, ``error`` (a problem's code and detail), ``pong``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import psycopg
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from starlette.requests import Request

from homeops.audit.repository import write_audit
from homeops.core import urls
from homeops.core.audit import AuditRecorder
from homeops.core.context import end_read
from homeops.core.database import libpq_dsn
from homeops.core.errors import Problem
from homeops.core.security import TokenError, decode_access_token
from homeops.core.uow import UnitOfWork
from homeops.core.web import security as web_security
from homeops.identity.repository import establish_identity
from homeops.marketplace.chat import ChatService
from homeops.marketplace.repository import CHAT_CHANNEL
from homeops.marketplace.schemas import ChatReadIn, ChatSendIn

log = logging.getLogger("homeops.marketplace.chat")

router = APIRouter(tags=["marketplace"])

T = TypeVar("T")

CLOSE_UNAUTHORIZED = 4401
CLOSE_NOT_FOUND = 4404


class SessionEnded(Exception):
    """The session behind the socket's token is no longer live."""


class ChatHub:
    """One LISTEN connection per API process, held while at least one chat socket is open; it hands each
    announcement to the queues of that project's sockets."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.subscribers: dict[uuid.UUID, set[asyncio.Queue[dict[str, Any]]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    async def subscribe(self, project_id: uuid.UUID) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)
        self.subscribers.setdefault(project_id, set()).add(queue)
        if self._task is None or self._task.done():
            self._listening.clear()
            self._task = asyncio.create_task(self._listen(), name="homeops-chat-listen")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), timeout=10)
        return queue

    async def unsubscribe(self, project_id: uuid.UUID, queue: asyncio.Queue[dict[str, Any]]) -> None:
        queues = self.subscribers.get(project_id)
        if queues is not None:
            queues.discard(queue)
            if not queues:
                del self.subscribers[project_id]
        if not self.subscribers and self._task is not None:
            # Detached before waiting: a socket subscribing meanwhile starts a listener of its own.
            task, self._task = self._task, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def dispatch(self, payload: str) -> None:
        try:
            event = json.loads(payload)
            project_id = uuid.UUID(event["p"])
        except (ValueError, KeyError, TypeError):
            return
        for queue in list(self.subscribers.get(project_id, ())):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(event)

    async def _listen(self) -> None:
        delay = 0.5
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHAT_CHANNEL}")
                    self._listening.set()
                    delay = 0.5
                    async for notification in conn.notifies():
                        self.dispatch(notification.payload)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("chat LISTEN connection failed; reconnecting", exc_info=True)
                self._listening.set()  # do not hold up sockets; they still get REST and their own sends
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)


def hub_for(app: Any) -> ChatHub:
    hub: ChatHub | None = getattr(app.state, "marketplace_chat_hub", None)
    if hub is None:
        engine: AsyncEngine = app.state.engine
        hub = ChatHub(libpq_dsn(engine.url.render_as_string(hide_password=False)))
        app.state.marketplace_chat_hub = hub
    return hub


async def run_as(
    app: Any,
    session_id: uuid.UUID,
    user_id: uuid.UUID,
    fn: Callable[[UnitOfWork], Awaitable[T]],
    *,
    write: bool = False,
    what: str = "chat",
) -> T:
    """Runs ``fn`` in one transaction under the user's identity (as an HTTP request does): committed with its
    audit rows when ``write``, rolled back otherwise; after-commit hooks run after the commit."""
    engine: AsyncEngine = app.state.engine
    after: list[Callable[[], Awaitable[None]]] = []
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver: psycopg.AsyncConnection[Any] = raw.driver_connection  # type: ignore[assignment]
        actor = await establish_identity(driver, session_id, user_id)
        if actor is None:
            await driver.rollback()
            raise SessionEnded()
        session = AsyncSession(bind=connection, expire_on_commit=False, autoflush=True)
        session.info["homeops_driver"] = driver
        audit = AuditRecorder(method="WS", url=what, user_id=user_id, session_id=session_id)
        uow = UnitOfWork(session, actor, audit, app.state.runtime, app.state.bus, after, [], driver)
        try:
            result = await fn(uow)
            if write:
                await session.flush()
                entries = audit.take()
                if entries:
                    await write_audit(session, audit, 200, entries)
                await driver.commit()
            else:
                await end_read(driver)  # keeps the connection's prepared statements
        except BaseException:
            await driver.rollback()
            raise
        finally:
            await session.close()
    for hook in after:
        try:
            await hook()
        except Exception:
            log.exception("after-commit hook failed")
    return result


def _token(websocket: WebSocket) -> tuple[str | None, str | None]:
    """The access token and the subprotocol to answer (``bearer`` when it came as one)."""
    authorization = websocket.headers.get("authorization") or ""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token:
        return token.strip(), None
    protocols = _protocols(websocket)
    if len(protocols) >= 2 and protocols[0].lower() == "bearer" and protocols[1]:
        return protocols[1], "bearer"
    return None, None


def _protocols(websocket: WebSocket) -> list[str]:
    return [p.strip() for p in (websocket.headers.get("sec-websocket-protocol") or "").split(",")]


_DEFAULT_PORTS = {"http": 80, "https": 443}
_ORIGIN_HEADERS = frozenset({b"host", b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host"})


def _origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL, lower-cased, without the scheme's default port."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}" + (f":{port}" if port and port != _DEFAULT_PORTS[scheme] else "")


def own_origins(websocket: WebSocket) -> set[str]:
    """The origins of the app's own pages: the configured public URL's, else the one the handshake reached."""
    settings = websocket.app.state.settings
    allowed: set[str] = set()
    if settings.public_base_url:
        configured = _origin_of(settings.public_base_url)
        if configured:
            allowed.add(configured)
        return allowed
    where: dict[bytes, bytes] = {}
    for key, value in websocket.scope.get("headers", ()):
        if key in _ORIGIN_HEADERS:
            where.setdefault(key, value)
    resolved = urls.resolve(websocket.scope, where, getattr(settings, "trusted_proxies", "") or "")
    mine = _origin_of(resolved.base_url)
    if mine:
        allowed.add(mine)
    return allowed


def same_origin_handshake(websocket: WebSocket) -> bool:
    """Whether the handshake comes from one of the app's own pages: an ``Origin`` (browsers always send one on
    a WebSocket handshake) that is the app's own, and not marked cross-site."""
    if websocket.headers.get("sec-fetch-site") == "cross-site":
        return False
    origin = websocket.headers.get("origin")
    if not origin or origin == "null":
        return False
    return _origin_of(origin) in own_origins(websocket)


def _cookie_session(websocket: WebSocket) -> tuple[uuid.UUID, uuid.UUID] | None:
    """The page session of a same-origin handshake carrying the page's CSRF token (``csrf, <token>``)."""
    settings = websocket.app.state.settings
    # The cookie and CSRF helpers read an HTTP request's headers: the handshake's, seen as one.
    request = Request({"type": "http", "headers": websocket.scope.get("headers", [])})
    cookie = web_security.read_session(settings, request)
    if cookie is None:
        return None
    protocols = _protocols(websocket)
    submitted = protocols[1] if len(protocols) >= 2 and protocols[0].lower() == "csrf" else None
    if not same_origin_handshake(websocket) or not web_security.csrf_valid(settings, request, submitted):
        log.warning("refused a cookie chat WebSocket: foreign origin or no valid CSRF token")
        return None
    return cookie.session_id, cookie.user_id


async def _authenticate(websocket: WebSocket) -> tuple[uuid.UUID, uuid.UUID, str | None] | None:
    """(session, user, subprotocol to answer) from the bearer token, else from the page's session cookie."""
    token, subprotocol = _token(websocket)
    if token is not None:
        try:
            claims = decode_access_token(websocket.app.state.settings, token)
        except TokenError:
            return None
        return claims.session_id, claims.user_id, subprotocol
    found = _cookie_session(websocket)
    if found is None:
        return None
    return found[0], found[1], "csrf"


@router.websocket("/api/v1/projects/{project_id}/chat/ws")
async def chat_socket(websocket: WebSocket, project_id: uuid.UUID) -> None:
    """The project's chat in real time (see the module's documentation for the frames)."""
    app = websocket.app
    authenticated = await _authenticate(websocket)
    if authenticated is None:
        await websocket.close(code=CLOSE_UNAUTHORIZED)
        return
    sid, uid, subprotocol = authenticated

    async def opening(uow: UnitOfWork) -> dict[str, Any]:
        svc = ChatService(uow)
        project, side = await svc.project(project_id, write=False)
        return {
            "type": "ready",
            "project_id": str(project.id),
            "side": side.value,
            "unread": await svc.unread_in(project, side),
        }

    try:
        ready = await run_as(app, sid, uid, opening)
    except SessionEnded:
        await websocket.close(code=CLOSE_UNAUTHORIZED)
        return
    except Problem:
        await websocket.close(code=CLOSE_NOT_FOUND)
        return
    await websocket.accept(subprotocol=subprotocol)
    hub = hub_for(app)
    queue = await hub.subscribe(project_id)
    send_lock = asyncio.Lock()

    async def send(frame: dict[str, Any]) -> None:
        async with send_lock:
            await websocket.send_text(json.dumps(frame, default=str))

    async def pump() -> None:
        while True:
            event = await queue.get()
            kind, message_id = event.get("k"), event.get("m")
            if kind == "message" and message_id:
                mid = uuid.UUID(message_id)

                async def read(uow: UnitOfWork) -> dict[str, Any]:
                    return (await ChatService(uow).message(project_id, mid)).model_dump(mode="json")  # noqa: B023

                try:
                    message = await run_as(app, sid, uid, read)
                except Problem:
                    continue  # deleted for this side meanwhile, or no longer visible
                except SessionEnded:
                    await websocket.close(code=CLOSE_UNAUTHORIZED)
                    return
                await send({"type": "message", "message": message})
            elif kind == "read":
                await send({"type": "read", "up_to": message_id})
            elif kind == "deleted":
                await send({"type": "deleted", "message_id": message_id})

    async def handle(frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "ping":
            await send({"type": "pong"})
        elif kind == "send":
            body = ChatSendIn(text=frame.get("text", ""), reply_to_message_id=frame.get("reply_to"))

            async def post(uow: UnitOfWork) -> dict[str, Any]:
                out = await ChatService(uow).send(project_id, body.text, body.reply_to_message_id)
                return out.model_dump(mode="json")

            await send(
                {
                    "type": "sent",
                    "message": await run_as(app, sid, uid, post, write=True, what="chat:send"),
                    "client_id": frame.get("client_id"),
                }
            )
        elif kind == "read":
            up_to = ChatReadIn(up_to_message_id=frame.get("up_to") or None).up_to_message_id

            async def mark(uow: UnitOfWork) -> int:
                return await ChatService(uow).mark_read(project_id, up_to)

            await send(
                {"type": "marked", "count": await run_as(app, sid, uid, mark, write=True, what="chat:read")}
            )
        else:
            await send({"type": "error", "code": "unknown_frame", "detail": "type is send, read or ping"})

    pumping = asyncio.create_task(pump())
    try:
        await send(ready)
        while True:
            raw = await websocket.receive_text()
            try:
                frame = json.loads(raw)
                if not isinstance(frame, dict):
                    raise ValueError("not an object")  # noqa: TRY004  (answered as a bad frame)
                await handle(frame)
            except SessionEnded:
                await websocket.close(code=CLOSE_UNAUTHORIZED)
                return
            except Problem as exc:
                await send({"type": "error", "code": exc.code, "detail": exc.detail})
            except (ValueError, ValidationError) as exc:
                await send({"type": "error", "code": "bad_frame", "detail": str(exc)[:300]})
    except WebSocketDisconnect:
        pass
    finally:
        pumping.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pumping
        await hub.unsubscribe(project_id, queue)
