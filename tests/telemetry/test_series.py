"""The series reads' answer: parallel arrays (``ts`` and ``values``), the buckets shared by a home's series,
1-hour buckets straight from the hourly roll-up plus the hour in progress from raw rows, coarser whole hours
re-bucketed from the roll-up, raw points per series, and the gaps."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from statistics import mean

from fastapi.testclient import TestClient

from tests.telemetry.conftest import device_token, hour, iso, rollup, send

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _times(values: list[str] | None) -> list[datetime] | None:
    return None if values is None else [datetime.fromisoformat(t) for t in values]


def _gaps(body_gaps: list[dict[str, str]]) -> list[tuple[datetime, datetime]]:
    return [(datetime.fromisoformat(g["from"]), datetime.fromisoformat(g["to"])) for g in body_gaps]


def test_home_series_share_their_buckets(client: TestClient, household, make_worker) -> None:  # type: ignore[no-untyped-def]
    h = household(devices=4)
    a, b, silent, late = h.devices
    now = datetime.now(UTC)
    base = hour(now) - timedelta(hours=5)  # hours 0–4 rolled up, hour 5 (the current one) raw
    points = {
        a["id"]: [(base + timedelta(hours=k, minutes=m), 10.0 * k + m) for k in (0, 1, 3) for m in (0, 2)]
        + [(hour(now), 55.0)],
        b["id"]: [(base + timedelta(hours=k), 100.0 + k) for k in range(6)],
        late["id"]: [(base + timedelta(hours=k), 200.0 + k) for k in range(2, 6)],  # a run from hour 2
    }
    for dev in (a, b, late):
        token = device_token(client, h, dev)
        items = [{"metric": "temperature", "ts": iso(t), "value": v} for t, v in points[dev["id"]]]
        assert send(client, token, "telemetry", items).status_code == 200
    rollup(make_worker)
    url = f"/api/v1/homes/{h.home_id}/telemetry"
    window = {"metric": "temperature", "from": iso(base), "to": iso(base + timedelta(hours=6))}

    body = client.get(url, params={**window, "interval": "1h"}, headers=h.user.headers).json()
    buckets = [base + timedelta(hours=k) for k in range(6)]
    assert body["source"] == "hourly" and body["interval"] == "1h"
    assert _times(body["ts"]) == buckets
    by_device = {s["device_id"]: s for s in body["series"]}
    assert set(by_device) == {a["id"], b["id"], late["id"]}  # the silent one is left out when none are named
    assert by_device[a["id"]]["ts"] is None
    assert by_device[a["id"]]["values"] == [1.0, 11.0, None, 31.0, None, 55.0]  # hour 5: from raw rows
    assert _gaps(by_device[a["id"]]["gaps"]) == [(buckets[2], buckets[3]), (buckets[4], buckets[5])]
    assert by_device[b["id"]]["values"] == [100.0, 101.0, 102.0, 103.0, 104.0, 105.0]
    assert by_device[b["id"]]["gaps"] == []
    assert by_device[late["id"]]["values"] == [None, None, 202.0, 203.0, 204.0, 205.0]
    assert _gaps(by_device[late["id"]]["gaps"]) == [(buckets[0], buckets[2])]

    # Named devices are all listed, a silent one as nothing but gaps.
    named = client.get(
        url,
        params={**window, "interval": "1h", "device_id": [silent["id"], a["id"]]},
        headers=h.user.headers,
    ).json()
    assert [s["device_id"] for s in named["series"]] == sorted([silent["id"], a["id"]])
    quiet = next(s for s in named["series"] if s["device_id"] == silent["id"])
    assert quiet["values"] == [None] * 6 and _gaps(quiet["gaps"]) == [
        (buckets[0], buckets[-1] + timedelta(hours=1))
    ]

    # Coarser whole hours combine the roll-up rows (and the raw hour) exactly like the points themselves.
    for interval, step in (("2h", timedelta(hours=2)), ("3h", timedelta(hours=3))):
        for agg, fold in (("avg", mean), ("max", max), ("count", len)):
            body = client.get(
                url, params={**window, "interval": interval, "agg": agg}, headers=h.user.headers
            ).json()
            first = _EPOCH + ((base - _EPOCH) // step) * step
            ts = _times(body["ts"])
            assert ts is not None and ts[0] == first and all(y - x == step for x, y in itertools.pairwise(ts))
            for s in body["series"]:
                expected = []
                for start in ts:
                    inside = [v for t, v in points[s["device_id"]] if start <= t < start + step]
                    expected.append(float(fold(inside)) if inside else None)
                assert s["values"] == expected, (interval, agg, s["device_id"])

    # Sub-hour buckets come from raw rows, positioned the same way.
    body = client.get(
        url, params={**window, "interval": "30m", "device_id": [a["id"]]}, headers=h.user.headers
    ).json()
    assert body["source"] == "raw" and len(body["ts"]) == 12
    values = body["series"][0]["values"]
    assert values[0] == 1.0 and values[1] is None and values[2] == 11.0 and values[10] == 55.0

    # Raw points: no shared buckets, each series its own times.
    raw = client.get(url, params=window, headers=h.user.headers).json()
    assert raw["source"] == "raw" and raw["interval"] is None and raw["ts"] is None
    by_device = {s["device_id"]: s for s in raw["series"]}
    assert _times(by_device[b["id"]]["ts"]) == [t for t, _ in points[b["id"]]]
    assert by_device[b["id"]]["values"] == [v for _, v in points[b["id"]]]
    assert len(by_device[a["id"]]["ts"]) == len(by_device[a["id"]]["values"]) == 7


def test_device_series_columns(client: TestClient, household, make_worker) -> None:  # type: ignore[no-untyped-def]
    h = household()
    dev = h.devices[0]
    token = device_token(client, h, dev)
    base = hour(datetime.now(UTC)) - timedelta(hours=3)
    points = [(base + timedelta(minutes=10 * i), 20.0 + i) for i in range(6)]
    send(client, token, "telemetry", [{"metric": "temperature", "ts": iso(t), "value": v} for t, v in points])
    rollup(make_worker)
    url = f"/api/v1/devices/{dev['id']}/telemetry"
    window = {"metric": "temperature", "from": iso(base), "to": iso(base + timedelta(hours=2))}
    raw = client.get(url, params=window, headers=h.user.headers).json()
    assert raw["source"] == "raw" and _times(raw["ts"]) == [t for t, _ in points]
    assert raw["values"] == [v for _, v in points] and raw["gaps"][-1]["to"] is not None
    hourly = client.get(url, params={**window, "interval": "1h", "agg": "min"}, headers=h.user.headers).json()
    assert _times(hourly["ts"]) == [base, base + timedelta(hours=1)]
    assert hourly["values"] == [20.0, None] and _gaps(hourly["gaps"]) == [
        (base + timedelta(hours=1), base + timedelta(hours=2))
    ]
    day = base.replace(hour=0)
    daily = client.get(
        url,
        params={
            "metric": "temperature",
            "from": iso(day),
            "to": iso(day + timedelta(days=1)),
            "interval": "1d",
        },
        headers=h.user.headers,
    ).json()
    assert daily["source"] == "daily" and _times(daily["ts"]) == [day]
    weekly = client.get(
        url,
        params={
            "metric": "temperature",
            "from": iso(day),
            "to": iso(day + timedelta(days=1)),
            "interval": "7d",
        },
        headers=h.user.headers,
    ).json()
    assert len(weekly["ts"]) == 1 and len(weekly["values"]) == 1
    if base.date() == (base + timedelta(minutes=50)).date():  # every point on one day (not around midnight)
        assert daily["values"] == [mean(v for _, v in points)] == weekly["values"]
