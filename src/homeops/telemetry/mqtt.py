"""MQTT ingest: HomeOps subscribes to a broker (``HOMEOPS_MQTT_URL``) and writes what devices publish through
the HTTP ingest's write path (``homeops.telemetry.ingest``: same validation, idempotency and row security).

**Topics.** ``<prefix>/<token id>/<kind>``: the prefix is the URL's path (default ``homeops``), the token id
is the ingest token's public ``id`` (as listed by ``GET …/ingest-tokens``), ``kind`` one of ``telemetry``,
``states``, ``energy``, ``errors``, ``network``. The secret never goes in the topic (topics are shown to every
subscriber of a wildcard, in broker logs and ACL files); it travels with the message, either

* as the MQTT 5 user property ``authorization`` (``Bearer hit_…``, as the HTTP header), the payload being
  exactly an HTTP ingest body (a JSON array, one object, or NDJSON), or
* for MQTT 3.1.1 clients, in an envelope: ``{"token": "hit_…", "points": [ …items… ]}``.

A message whose secret belongs to another token than the topic's id is dropped. See docs/security.md, "MQTT
ingest".

**Batches.** Messages are decoded on receipt and collected per (token, kind) until ``batch_points`` items
or ``batch_ms`` after the first one; a group is then written in one transaction (one COPY). A message that
does not decode or validate, or names a device outside the token's scope, is logged (topic and errors, never
the secret or the payload) and dropped alone; the others of its group are written. An unknown or revoked
token writes nothing. Points buffered when the process stops abruptly are lost (the broker acknowledged
them on receipt, QoS 1); a clean stop writes them first.

**Processes.** The subscription is shared (``$share/homeops/…``, MQTT 5): every API process of ``homeops
serve --workers N`` subscribes and the broker hands each message to one of them. The connection is retried
with exponential backoff (1 s … 60 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomqtt
import psycopg
from paho.mqtt.properties import Properties
from sqlalchemy.ext.asyncio import AsyncEngine

from homeops.core.runtime import Runtime
from homeops.telemetry import ingest
from homeops.telemetry.parsing import KINDS, Batch, BatchInvalid, Scope, parse_items, split_items

log = logging.getLogger(__name__)
# paho's debug log prints each PUBLISH's properties, the `authorization` secret among them: never below WARNING.
_client_log = logging.getLogger(f"{__name__}.client")
_client_log.setLevel(logging.WARNING)

SHARE_GROUP = "homeops"
MAX_BACKOFF = 60.0


@dataclass(frozen=True)
class BrokerConfig:
    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool
    prefix: str

    @classmethod
    def from_url(cls, url: str) -> BrokerConfig:
        """``mqtt://[user[:password]@]host[:port][/prefix]`` (``mqtts://`` for TLS, port 8883 by default)."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parts.hostname:
            raise ValueError("HOMEOPS_MQTT_URL: mqtt://[user[:password]@]host[:port][/topic prefix]")
        tls = parts.scheme in ("mqtts", "ssl")
        prefix = parts.path.strip("/") or "homeops"
        if "#" in url or "+" in prefix or not prefix.isascii():
            raise ValueError("HOMEOPS_MQTT_URL: the topic prefix may not contain + or #")
        return cls(
            host=parts.hostname,
            port=parts.port or (8883 if tls else 1883),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=tls,
            prefix=prefix,
        )


@dataclass
class _Message:
    topic: str
    items: list[Any]


@dataclass
class _Group:
    token_id: uuid.UUID
    kind: str
    secret: str
    started: float
    messages: list[_Message] = field(default_factory=list)
    items: int = 0
    attempts: int = 0


@dataclass
class MqttStats:
    """Counters for tests and benchmarks."""

    messages: int = 0
    dropped: int = 0
    batches: int = 0
    points: int = 0
    written: int = 0


class MqttIngest:
    """The subscriber. ``run(stop)`` until ``stop`` is set; ``engine``: the API role's engine (its connections
    are in driver autocommit mode, as the HTTP ingest expects)."""

    def __init__(
        self,
        url: str,
        engine: AsyncEngine,
        runtime: Runtime,
        *,
        batch_points: int = 10_000,
        batch_ms: int = 200,
        writers: int = 2,
        shared: bool = True,
        client_id: str | None = None,
    ) -> None:
        self.broker = BrokerConfig.from_url(url)
        self.engine = engine
        self.runtime = runtime
        self.batch_points = batch_points
        self.batch_delay = batch_ms / 1000
        self.writers = writers
        topic = f"{self.broker.prefix}/+/+"
        self.subscription = f"$share/{SHARE_GROUP}/{topic}" if shared else topic
        self.client_id = client_id or f"homeops-{uuid.uuid4().hex[:12]}"
        self.stats = MqttStats()
        self.connected = asyncio.Event()
        self._pending: dict[tuple[uuid.UUID, str, str], _Group] = {}
        self._inflight = 0  # groups handed to the writers and not yet written or dropped
        self._queue: asyncio.Queue[_Group | None] = asyncio.Queue(maxsize=max(2, writers * 2))

    # --- the loop ------------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        writers = [
            asyncio.create_task(self._writer(), name=f"homeops-mqtt-writer-{i}") for i in range(self.writers)
        ]
        ticker = asyncio.create_task(self._ticker(), name="homeops-mqtt-ticker")
        try:
            await self._connect_loop(stop)
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            for group in list(self._pending.values()):
                await self._flush(group)
            for _ in writers:
                await self._queue.put(None)
            await asyncio.gather(*writers, return_exceptions=True)

    async def _connect_loop(self, stop: asyncio.Event) -> None:
        delay = 1.0
        b = self.broker
        while not stop.is_set():
            try:
                async with aiomqtt.Client(
                    b.host,
                    b.port,
                    username=b.username,
                    password=b.password,
                    identifier=self.client_id,
                    logger=_client_log,
                    protocol=aiomqtt.ProtocolVersion.V5,
                    tls_context=ssl.create_default_context() if b.tls else None,
                    timeout=10,
                ) as client:
                    await client.subscribe(self.subscription, qos=1)
                    log.info(
                        "MQTT ingest subscribed",
                        extra={"broker": f"{b.host}:{b.port}", "topic": self.subscription},
                    )
                    self.connected.set()
                    delay = 1.0
                    receiving = asyncio.create_task(self._receive(client))
                    stopping = asyncio.create_task(stop.wait())
                    try:
                        done, _ = await asyncio.wait(
                            {receiving, stopping}, return_when=asyncio.FIRST_COMPLETED
                        )
                    finally:
                        for task in (receiving, stopping):
                            task.cancel()
                        await asyncio.gather(receiving, stopping, return_exceptions=True)
                    if receiving in done:
                        receiving.result()  # raises what ended the connection
            except aiomqtt.MqttError as exc:
                self.connected.clear()
                log.warning(
                    "MQTT broker unreachable or connection lost; retrying",
                    extra={"broker": f"{b.host}:{b.port}", "error": str(exc)[:200], "retry_in": delay},
                )
            except Exception:  # the subscriber outlives any failure: log, back off, reconnect
                self.connected.clear()
                log.exception("MQTT ingest loop failed; reconnecting", extra={"retry_in": delay})
            if stop.is_set():
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
            delay = min(delay * 2, MAX_BACKOFF)
        self.connected.clear()

    async def _receive(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            self.stats.messages += 1
            try:
                group = self._accept(message.topic.value, message.payload, message.properties)
            except Exception:  # a bad message never stops the loop
                log.exception("MQTT message dropped", extra={"topic": message.topic.value})
                group = None
            if group is not None and group.items >= self.batch_points:
                await self._flush(group)

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(max(self.batch_delay / 4, 0.005))
            limit = time.monotonic() - self.batch_delay
            for group in [g for g in self._pending.values() if g.started <= limit]:
                await self._flush(group)

    async def _flush(self, group: _Group) -> None:
        if self._pending.get((group.token_id, group.kind, group.secret)) is group:
            del self._pending[(group.token_id, group.kind, group.secret)]
            self._inflight += 1
            await self._queue.put(group)

    # --- a message -----------------------------------------------------------------------------------------

    def _drop(self, topic: str, reason: str, errors: list[dict[str, Any]] | None = None) -> None:
        self.stats.dropped += 1
        log.warning("MQTT message dropped: %s", reason, extra={"topic": topic, "errors": (errors or [])[:5]})

    def _accept(self, topic: str, payload: Any, properties: Properties | None) -> _Group | None:
        """Decodes one message into its group (None: dropped)."""
        parts = topic.split("/")
        prefix = self.broker.prefix.split("/")
        if len(parts) != len(prefix) + 2 or parts[: len(prefix)] != prefix:
            self._drop(topic, "not a <prefix>/<token id>/<kind> topic")
            return None
        raw_id, kind = parts[-2], parts[-1]
        if kind not in KINDS:
            self._drop(topic, "unknown kind")
            return None
        try:
            token_id = uuid.UUID(raw_id)
        except ValueError:
            self._drop(topic, "the topic's token id is not a UUID")
            return None
        if isinstance(payload, str):
            payload = payload.encode()
        if not isinstance(payload, bytes | bytearray):
            self._drop(topic, "empty payload")
            return None
        secret = _property_token(properties)
        try:
            items, _numbers, _unit = split_items(bytes(payload))
        except BatchInvalid as exc:
            self._drop(topic, "malformed payload", exc.errors)
            return None
        if secret is None:
            if len(items) == 1 and isinstance(items[0], dict) and "token" in items[0]:
                envelope = items[0]
                secret, points = envelope.get("token"), envelope.get("points")
                if not isinstance(points, list):
                    self._drop(topic, 'the envelope needs "points": [ … ]')
                    return None
                items = points
            if not isinstance(secret, str):
                self._drop(topic, "no ingest token (user property `authorization` or an envelope)")
                return None
        if not ingest.looks_like_token(secret):
            self._drop(topic, "not an ingest token")
            return None
        if not items:
            self._drop(topic, "no points")
            return None
        key = (token_id, kind, secret)
        group = self._pending.get(key)
        if group is None:
            group = self._pending[key] = _Group(token_id, kind, secret, time.monotonic())
        group.messages.append(_Message(topic, items))
        group.items += len(items)
        return group

    # --- writing -------------------------------------------------------------------------------------------

    async def _writer(self) -> None:
        while True:
            group = await self._queue.get()
            if group is None:
                return
            try:
                await self._write_group(group)
            except (psycopg.OperationalError, OSError) as exc:
                group.attempts += 1
                if group.attempts < 3:
                    await asyncio.sleep(2**group.attempts)
                    await self._queue.put(group)  # still in flight
                    continue
                self.stats.dropped += len(group.messages)
                log.error(
                    "MQTT batch lost: the database is unreachable",
                    extra={"kind": group.kind, "token_id": str(group.token_id), "error": str(exc)[:200]},
                )
            except Exception:  # the loop survives any batch
                self.stats.dropped += len(group.messages)
                log.exception(
                    "MQTT batch failed", extra={"kind": group.kind, "token_id": str(group.token_id)}
                )
            self._inflight -= 1

    @property
    def idle(self) -> bool:
        """Nothing buffered and nothing being written."""
        return not self._pending and self._inflight == 0

    async def _write_group(self, group: _Group) -> None:
        async with self.engine.connect() as connection:
            raw = await connection.get_raw_connection()
            conn: psycopg.AsyncConnection[Any] = raw.driver_connection  # type: ignore[assignment]
            messages = group.messages
            while messages:
                now = self.runtime.clock.now()
                try:
                    identity = await ingest.begin(conn, group.secret, kinds=(group.kind,))
                    if identity is None or identity.token_id != group.token_id:
                        await _rollback(conn)
                        for m in messages:
                            self._drop(m.topic, "unknown or revoked token, or not the topic's token")
                        return
                    batch, messages = self._pack(group.kind, messages, ingest.scope_of(identity, now))
                    if batch is None:
                        await _rollback(conn)
                        return
                    result = await ingest.write(
                        conn, identity, batch, now, distributed=self.runtime.distributed
                    )
                    await conn.commit()
                except ingest.UnknownDevices as exc:
                    await _rollback(conn)
                    messages = self._without(messages, exc.errors)
                    continue
                except BaseException:
                    await _rollback(conn)
                    raise
                ingest.staged(conn, (group.kind,))
                await ingest.mark_seen(conn, group.secret, batch, now)
                self.stats.batches += 1
                self.stats.points += result.accepted
                self.stats.written += result.written
                return

    def _pack(self, kind: str, messages: list[_Message], scope: Scope) -> tuple[Batch | None, list[_Message]]:
        """One batch of every valid message (and those messages); the invalid ones are dropped."""
        try:
            return parse_items(kind, [i for m in messages for i in m.items], scope), messages
        except BatchInvalid:
            pass
        good = []
        for m in messages:
            try:
                parse_items(kind, m.items, scope)
            except BatchInvalid as exc:
                self._drop(m.topic, "invalid points", exc.errors)
            else:
                good.append(m)
        if not good:
            return None, []
        try:
            return parse_items(kind, [i for m in good for i in m.items], scope), good
        except BatchInvalid as exc:  # together above the batch limit
            for m in good:
                self._drop(m.topic, "the batch is too large", exc.errors)
            return None, []

    def _without(self, messages: list[_Message], errors: list[dict[str, Any]]) -> list[_Message]:
        """``messages`` without those naming a device the errors report unknown (their item numbers count
        across the group's items)."""
        items = [i for m in messages for i in m.items]
        unknown = set()
        for e in errors:
            line = int(e.get("line", 0))
            if 0 < line <= len(items) and isinstance(items[line - 1], dict):
                unknown.add(_device(items[line - 1]))
        kept = []
        for m in messages:
            if any(_device(i) in unknown for i in m.items if isinstance(i, dict)):
                self._drop(m.topic, "a device outside the token's scope")
            else:
                kept.append(m)
        if len(kept) == len(messages):  # nothing matched (cannot happen): never retry the same group
            for m in messages:
                self._drop(m.topic, "a device outside the token's scope")
            return []
        return kept


def _device(item: dict[str, Any]) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(item.get("device_id")))
    except ValueError:
        return None


def _property_token(properties: Properties | None) -> str | None:
    pairs = getattr(properties, "UserProperty", None) or []
    for key, value in pairs:
        if key.lower() == "authorization":
            scheme, _, token = str(value).partition(" ")
            return token.strip() if scheme.lower() == "bearer" else str(value).strip()
    return None


async def _rollback(conn: psycopg.AsyncConnection[Any]) -> None:
    ingest.forget(conn)
    with contextlib.suppress(psycopg.Error):
        await conn.rollback()


def start(url: str, engine: AsyncEngine, runtime: Runtime, stop: asyncio.Event) -> asyncio.Task[None]:
    """This process's subscriber (the app's lifespan calls it when ``HOMEOPS_MQTT_URL`` is set)."""
    return asyncio.create_task(MqttIngest(url, engine, runtime).run(stop), name="homeops-mqtt")
