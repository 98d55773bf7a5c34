"""MQTT ingest against the local Mosquitto broker (127.0.0.1:1883): a round trip into device_telemetry, tokens
that must not write (revoked, unknown, another token's topic, another household's device), bad messages
dropped alone while the subscriber keeps going."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiomqtt
import orjson
import psycopg
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from homeops.core.database import create_app_engine
from homeops.telemetry.mqtt import BrokerConfig, MqttIngest
from tests.telemetry.conftest import Household, ago, iso

BROKER = ("127.0.0.1", 1883)


def _reachable() -> bool:
    try:
        with socket.create_connection(BROKER, timeout=1):
            return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(
    not _reachable(), reason="no MQTT broker on 127.0.0.1:1883 (start mosquitto to run the MQTT ingest tests)"
)


def _token(client: TestClient, h: Household, device: dict[str, Any] | None = None) -> tuple[str, str]:
    """(token id, secret) of a new device token (or a home token when ``device`` is None)."""
    path = f"/api/v1/devices/{device['id']}" if device else f"/api/v1/homes/{h.home_id}"
    r = client.post(f"{path}/ingest-tokens", json={"name": "mqtt"}, headers=h.user.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"]), str(r.json()["token"])


def _count(owner_conn: psycopg.Connection, device_id: str) -> int:
    row = owner_conn.execute(
        "SELECT count(*) FROM device_telemetry WHERE device_id = %s", (device_id,)
    ).fetchone()
    assert row is not None
    return int(row[0])


def _auth(secret: str) -> Properties:
    props = Properties(PacketTypes.PUBLISH)
    props.UserProperty = ("authorization", f"Bearer {secret}")
    return props


def _points(n: int, metric: str = "temperature", **extra: Any) -> list[dict[str, Any]]:
    return [{"metric": metric, "ts": iso(ago(minutes=i + 1)), "value": 20 + i, **extra} for i in range(n)]


Publish = Callable[..., Awaitable[None]]


def _run(
    test_db: Any,
    settings: Any,
    runtime: Any,
    body: Callable[[MqttIngest, Publish, str], Awaitable[None]],
) -> MqttIngest:
    """Starts a subscriber on a topic prefix of its own, runs ``body(subscriber, publish, prefix)``, waits until
    everything received was written or dropped, and stops it."""
    prefix = f"homeops-test-{uuid.uuid4().hex[:8]}"

    async def main() -> MqttIngest:
        engine = create_app_engine(test_db.app, settings)
        sub = MqttIngest(f"mqtt://127.0.0.1:1883/{prefix}", engine, runtime, batch_ms=50, shared=False)
        stop = asyncio.Event()
        task = asyncio.create_task(sub.run(stop))
        try:
            await asyncio.wait_for(sub.connected.wait(), timeout=10)
            async with (
                aiomqtt.Client(*BROKER, protocol=aiomqtt.ProtocolVersion.V5) as v5,
                aiomqtt.Client(*BROKER, protocol=aiomqtt.ProtocolVersion.V311) as v3,
            ):
                sent = 0

                async def publish(topic: str, payload: bytes, secret: str | None = None) -> None:
                    nonlocal sent
                    client = v5 if secret else v3
                    props = _auth(secret) if secret else None
                    await client.publish(f"{prefix}/{topic}", payload, qos=1, properties=props)
                    sent += 1

                await body(sub, publish, prefix)
                deadline = time.monotonic() + 15
                while (sub.stats.messages < sent or not sub.idle) and time.monotonic() < deadline:
                    await asyncio.sleep(0.02)
                assert sub.stats.messages == sent and sub.idle, (sub.stats, sent)
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=15)
            await engine.dispose()
        return sub

    return asyncio.run(main())


def test_round_trip_with_a_device_token_user_property_envelope_and_ndjson(  # type: ignore[no-untyped-def]
    client: TestClient, household, owner_conn, test_db, settings, runtime
) -> None:
    h = household()
    dev = h.devices[0]
    token_id, secret = _token(client, h, dev)
    points = _points(30)

    async def body(sub: MqttIngest, publish: Publish, prefix: str) -> None:
        # MQTT 5: the secret as a user property, the payload exactly an HTTP body (JSON array, NDJSON).
        await publish(f"{token_id}/telemetry", orjson.dumps(points[:10]), secret)
        await publish(f"{token_id}/telemetry", b"\n".join(orjson.dumps(p) for p in points[10:20]), secret)
        # MQTT 3.1.1: the envelope.
        await publish(f"{token_id}/telemetry", orjson.dumps({"token": secret, "points": points[20:]}))
        # The same points again: idempotent.
        await publish(f"{token_id}/telemetry", orjson.dumps(points[:10]), secret)

    sub = _run(test_db, settings, runtime, body)
    assert _count(owner_conn, dev["id"]) == 30
    # (Also on Citus: the shards' RETURNING rows are counted, see homeops.telemetry.ingest.)
    assert sub.stats.dropped == 0 and sub.stats.points == 40 and sub.stats.written == 30
    row = owner_conn.execute(
        "SELECT home_id::text, value FROM device_telemetry WHERE device_id = %s ORDER BY ts DESC LIMIT 1",
        (dev["id"],),
    ).fetchone()
    assert row == (h.home_id, 20.0)
    seen = owner_conn.execute("SELECT last_seen_at IS NOT NULL FROM devices WHERE id = %s", (dev["id"],))
    assert seen.fetchone() == (True,)


def test_revoked_unknown_and_foreign_tokens_write_nothing(  # type: ignore[no-untyped-def]
    client: TestClient, household, owner_conn, test_db, settings, runtime
) -> None:
    h, other = household(devices=2), household()
    a, b = h.devices
    revoked_id, revoked = _token(client, h, a)
    assert client.delete(f"/api/v1/ingest-tokens/{revoked_id}", headers=h.user.headers).status_code == 204
    b_id, b_secret = _token(client, h, b)
    hub_id, hub = _token(client, h)
    intruder_id, intruder = _token(client, other, other.devices[0])

    async def body(sub: MqttIngest, publish: Publish, prefix: str) -> None:
        pts = orjson.dumps(_points(5))
        await publish(f"{revoked_id}/telemetry", pts, revoked)  # revoked
        await publish(f"{b_id}/telemetry", pts, "hit_" + "x" * 43)  # unknown secret
        await publish(f"{b_id}/telemetry", pts, intruder)  # another token's secret on b's topic
        await publish(f"{uuid.uuid4()}/telemetry", pts, b_secret)  # b's secret under another id
        # Another household's token naming this household's device; and a hub naming a foreign device.
        await publish(f"{intruder_id}/telemetry", orjson.dumps(_points(5, device_id=a["id"])), intruder)
        foreign = orjson.dumps(_points(5, device_id=other.devices[0]["id"]))
        await publish(f"{hub_id}/telemetry", foreign, hub)

    sub = _run(test_db, settings, runtime, body)
    assert _count(owner_conn, a["id"]) == 0 and _count(owner_conn, b["id"]) == 0
    assert _count(owner_conn, other.devices[0]["id"]) == 0
    assert sub.stats.dropped == 6 and sub.stats.written == 0


def test_bad_messages_are_dropped_alone_and_the_subscriber_keeps_working(  # type: ignore[no-untyped-def]
    client: TestClient, household, owner_conn, test_db, settings, runtime, caplog
) -> None:
    h, other = household(devices=2), household()
    a, b = h.devices
    hub_id, hub = _token(client, h)
    a_id, a_secret = _token(client, h, a)

    async def body(sub: MqttIngest, publish: Publish, prefix: str) -> None:
        await publish(f"{a_id}/telemetry", b'[{"metric": "t", "value": ', a_secret)  # malformed JSON
        await publish(f"{a_id}/telemetry", orjson.dumps([{"metric": "t", "value": "hot"}]), a_secret)
        await publish(f"{a_id}/telemetry", orjson.dumps({"points": _points(1)}))  # no token
        await publish(f"{a_id}/nonsense", orjson.dumps(_points(1)), a_secret)  # unknown kind
        await publish("not-a-uuid/telemetry", orjson.dumps(_points(1)), a_secret)
        # In one group with a bad one: the good messages are written.
        await publish(f"{hub_id}/telemetry", orjson.dumps(_points(3, device_id=b["id"])), hub)
        await publish(f"{hub_id}/telemetry", orjson.dumps(_points(2, device_id=other.devices[0]["id"])), hub)
        await publish(
            f"{hub_id}/telemetry", orjson.dumps(_points(2, metric="bad metric!", device_id=b["id"])), hub
        )
        await publish(
            f"{hub_id}/telemetry", orjson.dumps(_points(4, metric="humidity", device_id=b["id"])), hub
        )
        while not sub.idle or sub.stats.messages < 9:
            await asyncio.sleep(0.02)
        # After all of that, the subscriber still writes.
        await publish(f"{a_id}/telemetry", orjson.dumps(_points(7)), a_secret)
        await publish(
            f"{a_id}/energy", orjson.dumps([{"ts": iso(ago(minutes=1)), "energy_kwh": 12.5}]), a_secret
        )

    sub = _run(test_db, settings, runtime, body)
    assert _count(owner_conn, a["id"]) == 7
    assert _count(owner_conn, b["id"]) == 7
    assert _count(owner_conn, other.devices[0]["id"]) == 0
    energy = owner_conn.execute("SELECT energy_kwh FROM energy_usage WHERE device_id = %s", (a["id"],))
    assert energy.fetchall() == [(12.5,)]
    assert sub.stats.dropped == 7
    assert a_secret not in caplog.text and hub not in caplog.text


def test_broker_url() -> None:
    c = BrokerConfig.from_url("mqtts://svc:p%40ss@broker.lan/site/a")
    assert (c.host, c.port, c.username, c.password, c.tls, c.prefix) == (
        "broker.lan",
        8883,
        "svc",
        "p@ss",
        True,
        "site/a",
    )
    assert BrokerConfig.from_url("mqtt://127.0.0.1").prefix == "homeops"
    with pytest.raises(ValueError):
        BrokerConfig.from_url("http://broker")
    with pytest.raises(ValueError):
        BrokerConfig.from_url("mqtt://broker/home/#")


def test_no_broker_backs_off_and_stops_cleanly(test_db, settings, runtime, caplog) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        engine = create_app_engine(test_db.app, settings)
        sub = MqttIngest("mqtt://127.0.0.1:1/homeops", engine, runtime)
        stop = asyncio.Event()
        task = asyncio.create_task(sub.run(stop))
        await asyncio.sleep(2.5)  # the first attempt fails at once, the next one after 1 s
        assert not task.done() and not sub.connected.is_set()
        stop.set()
        await asyncio.wait_for(task, timeout=5)
        await engine.dispose()

    asyncio.run(main())
    assert caplog.text.count("MQTT broker unreachable") >= 2


def test_the_app_subscribes_when_mqtt_url_is_set(  # type: ignore[no-untyped-def]
    client: TestClient, household, owner_conn, test_db, settings, runtime
) -> None:
    from homeops.app import create_app

    h = household()
    dev = h.devices[0]
    token_id, secret = _token(client, h, dev)
    prefix = f"homeops-test-{uuid.uuid4().hex[:8]}"
    app = create_app(
        settings.model_copy(update={"mqtt_url": f"mqtt://127.0.0.1:1883/{prefix}"}),
        test_db.app,
        runtime=runtime,
    )

    points = orjson.dumps(_points(3))

    async def publish() -> None:
        async with aiomqtt.Client(*BROKER, protocol=aiomqtt.ProtocolVersion.V5) as c:
            await c.publish(f"{prefix}/{token_id}/telemetry", points, qos=1, properties=_auth(secret))

    with TestClient(app):  # the lifespan subscribes in the background: re-send (idempotent) until written
        deadline = time.monotonic() + 15
        while _count(owner_conn, dev["id"]) < 3 and time.monotonic() < deadline:
            asyncio.run(publish())
            time.sleep(0.5)
    assert _count(owner_conn, dev["id"]) == 3
