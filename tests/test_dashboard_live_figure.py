"""The live figure is built once per store change and shared by every open browser of that store
(dashboard.live's snapshot memo, used by dashboard.live_view), without changing what a browser
receives or who may receive it."""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta

import httpx
import paho.mqtt.client as mqtt
import pytest

from dashboard import charts
from dashboard.app import create_app
from dashboard.charts import FloorGeometry, PlanLayer
from dashboard.live import LiveHub, Memo
from dashboard.live_view import live_state
from dashboard.read_models import Camera
from dashboard.settings import Settings
from footfall_core.contract import LiveMessage, StatusMessage, live_topic, status_topic
from footfall_core.store import Mqtt
from tests import pages_data
from tests.browser_support import Server
from tests.live_stream import LiveStream
from tests.messages import live_msg

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
GEOMETRY = FloorGeometry.from_store(pages_data.PLAN)


def live(store: str, people: int, at: datetime = NOW) -> LiveMessage:
    return live_msg(store, people, at, cell=(15, 8))  # on the tills of pages_data's plan


def _settings(database: str, broker, **more) -> Settings:
    """A dashboard on `database` with its live page fed by `broker`, cookies over plain HTTP."""
    return Settings(
        secure_cookies=False,
        db_url=database,
        secret_key="live-tests-" + "Zq9x" * 10,
        mqtt=Mqtt(url=broker.url),
        **more,
    )


@pytest.fixture
def builds(monkeypatch) -> Counter:
    """Counts live figure builds per (store, people); each build is slowed down so that
    concurrent readers really do arrive while it runs."""
    counted: Counter = Counter()
    build = charts.live_floor_figure

    def counting(geometry, message):
        counted[(message.store, message.people) if message else None] += 1
        time.sleep(0.05)
        return build(geometry, message)

    monkeypatch.setattr(charts, "live_floor_figure", counting)
    return counted


def test_memo_builds_each_key_once_for_concurrent_readers():
    memo = Memo()
    calls: Counter = Counter()
    start = threading.Barrier(8)

    def read(key: str) -> str:
        start.wait()

        def build() -> str:
            calls[key] += 1
            time.sleep(0.05)
            return key.upper()

        return memo.get(key, build)

    with ThreadPoolExecutor(8) as pool:
        values = list(pool.map(read, ["a"] * 6 + ["b"] * 2))
    assert values == ["A"] * 6 + ["B"] * 2
    assert calls == {"a": 1, "b": 1}


def test_memo_forgets_a_failed_build():
    memo = Memo()

    def broken() -> str:
        raise ValueError("no plan")

    with pytest.raises(ValueError, match="no plan"):
        memo.get("k", broken)
    assert memo.get("k", lambda: "built") == "built"


def test_readers_share_a_snapshot_until_the_store_changes():
    hub = LiveHub()
    empty = hub.snapshot("s1")
    assert hub.snapshot("s1") is empty and hub.snapshot("s2") is not empty
    hub.handle(live_topic("s1"), live("s1", 3).to_json())
    first = hub.snapshot("s1")
    assert first is not empty and first is hub.snapshot("s1") and first.version == 1
    empty.memo.get("figure", lambda: "old")
    assert first.memo.get("figure", lambda: "new") == "new"  # a new snapshot starts with an empty memo
    hub.handle(
        status_topic("s1", "cam1"), StatusMessage(store="s1", camera="cam1", status="offline").to_json()
    )
    assert (
        hub.snapshot("s1") is not first and hub.snapshot("s1").memo.get("figure", lambda: "newer") == "newer"
    )


def test_live_state_builds_the_figure_once_per_snapshot_and_plan(builds):
    hub = LiveHub()
    hub.handle(live_topic("north"), live("north", 4).to_json())
    hub.handle(live_topic("south"), live("south", 2).to_json())
    registry = [Camera(name="cam1", status="online", status_at=None, last_seen=None)]
    states = [
        live_state(GEOMETRY, hub.snapshot("north"), registry, NOW + timedelta(seconds=s)) for s in range(3)
    ]
    assert builds == {("north", 4): 1}
    assert [s["updated"] for s in states] == ["0 s ago", "1 s ago", "2 s ago"]  # the clock is not cached
    states[0]["figure"]["layout"]["title"]["text"] = "changed by one reader"
    assert states[1]["figure"]["layout"]["title"]["text"] == "Live congestion"  # readers get their own copy
    south = live_state(GEOMETRY, hub.snapshot("south"), [], NOW)
    with_image = live_state(
        FloorGeometry(20, 12, zones=GEOMETRY.zones, image=PlanLayer("/plan.png", 0, 0, 20, 12)),
        hub.snapshot("north"),
        registry,
        NOW,
    )
    assert builds == {("north", 4): 2, ("south", 2): 1}
    assert south["figure"] != states[1]["figure"] and with_image["figure"] != states[1]["figure"]
    hub.handle(live_topic("north"), live("north", 6, NOW + timedelta(seconds=1)).to_json())
    assert live_state(GEOMETRY, hub.snapshot("north"), registry, NOW)["people"] == 6
    assert builds[("north", 6)] == 1


def test_live_state_payload_is_what_a_fresh_build_serialises(builds):
    hub = LiveHub()
    hub.handle(live_topic("north"), live("north", 5).to_json())
    snapshot = hub.snapshot("north")
    live_state(GEOMETRY, snapshot, [], NOW)  # fill the memo
    shared = json.dumps(live_state(GEOMETRY, snapshot, [], NOW))
    fresh = json.loads(charts.figure_json(charts.live_floor_figure(GEOMETRY, snapshot.live)))
    expected = {**json.loads(shared), "figure": fresh}
    assert shared == json.dumps(expected)
    assert json.loads(shared)["figure"]["data"][0]["z"][8][15] == 5.0  # the heat cell of this snapshot


# ---- over HTTP: many open browsers, two stores, one real broker --------------------------


def log_in(client: httpx.Client, user: str) -> None:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    response = client.post(
        "/login",
        data={"username": user, "password": pages_data.PASSWORD, "csrf_token": token},
        headers={"Origin": str(client.base_url).rstrip("/")},
    )
    assert response.status_code == 303, response.text


@contextmanager
def served(app, *users: str) -> Iterator[tuple[Server, list[httpx.Client]]]:
    """`app` served, its live subscriber connected, and a client logged in as each of `users`;
    the live hub closed at the end, before the clients and the server."""
    with Server(app) as server, ExitStack() as clients:
        logged_in = [clients.enter_context(httpx.Client(base_url=server.url)) for _ in users]
        try:
            assert app.state.live_subscriber.connected.wait(10)
            for client, user in zip(logged_in, users):
                log_in(client, user)
            yield server, logged_in
        finally:
            app.state.live_hub.close()


@pytest.fixture(scope="module")
def database(module_db_url) -> str:
    """The live figure's tests on SQLite and on PostgreSQL."""
    pages_data.build(module_db_url)
    return module_db_url


def test_open_browsers_of_a_store_share_one_build_per_update(database, broker, builds):
    app = create_app(_settings(database, broker))
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="live-figure-test")
    publisher.connect("127.0.0.1", broker.port)
    publisher.loop_start()
    with served(app, "hq", "anna") as (server, (hq, anna)):
        assert anna.get("/stores/south/live/events").status_code == 403  # access is unchanged
        north = [LiveStream(server.url, hq.cookies, "north") for _ in range(6)] + [
            LiveStream(server.url, anna.cookies, "north") for _ in range(2)
        ]
        south = [LiveStream(server.url, hq.cookies, "south") for _ in range(3)]
        listeners = north + south
        for listener in listeners:
            listener.start()
        try:
            for listener in listeners:
                listener.wait_for(0)
            hub = app.state.live_hub
            for people, store in ((4, "north"), (7, "south"), (9, "north")):
                message = live(store, people, datetime.now(UTC))
                publisher.publish(live_topic(store), message.to_json(), qos=1).wait_for_publish(5)
                deadline = time.monotonic() + 10
                while getattr(hub.snapshot(store).live, "people", None) != people:
                    assert time.monotonic() < deadline, f"{store}: the hub did not get the message"
                    time.sleep(0.01)
                version = hub.snapshot(store).version
                events = [
                    json.loads(listener.wait_for(version))
                    for listener in listeners
                    if listener.store == store
                ]
                assert all(e["people"] == people and e["figure"] == events[0]["figure"] for e in events)
                heat = next(t for t in events[0]["figure"]["data"] if t["type"] == "heatmap")
                assert heat["z"][8][15] == people  # this store's own cell, not the other store's
        finally:
            for listener in listeners:
                listener.stop.set()
    publisher.disconnect()
    publisher.loop_stop()
    # One build per snapshot, whatever the number of open browsers (8 of north, 3 of south):
    # the empty map of each store, then one per message.
    assert builds == {None: 2, ("north", 4): 1, ("south", 7): 1, ("north", 9): 1}


def test_open_live_streams_hold_no_database_connection(database, broker):
    """More open live pages than the connection pool holds (5 + 10): every stream gets its
    first event and the other pages still answer at once, as each stream gives its connection
    back after the access check."""
    app = create_app(_settings(database, broker))
    with served(app, "hq") as (server, (hq,)):
        listeners = [LiveStream(server.url, hq.cookies, "north") for _ in range(20)]
        for listener in listeners:
            listener.start()
        try:
            for listener in listeners:
                listener.wait_for(0)
            assert hq.get("/stores/north/live").status_code == 200
            assert hq.get("/stores/south/trends").status_code == 200
        finally:
            for listener in listeners:
                listener.stop.set()


def test_an_open_live_stream_ends_when_its_session_is_revoked(database, broker):
    """The stream checks its session every `stream_recheck_s`: `users revoke` (here its
    function) ends anna's open stream while hq's goes on."""
    from dashboard import auth

    app = create_app(_settings(database, broker, stream_recheck_s=0.5))
    with served(app, "hq", "anna") as (server, (hq, anna)):
        hers, his = LiveStream(server.url, anna.cookies, "north"), LiveStream(server.url, hq.cookies, "north")
        for listener in (hers, his):
            listener.start()
        try:
            hers.wait_for(0)
            his.wait_for(0)
            with app.state.engine.begin() as conn:
                assert auth.revoke(conn, "anna")[0] >= 1  # her sessions (earlier tests left some)
            hers.join(15)
            assert not hers.is_alive(), "anna's stream is still open after her session was revoked"
            assert his.is_alive()
            assert anna.get("/stores/north/live/events", follow_redirects=False).status_code == 303
        finally:
            his.stop.set()
            hers.stop.set()
