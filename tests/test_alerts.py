"""Alert rules: the YAML section (errors name the key), the state machine (hold, clear,
hysteresis), what each kind measures, leases (one evaluator per store), transitions and their
deliveries stored, and the API (managers see and acknowledge only their stores).
The whole chain through a real broker is tests/test_alerts_e2e.py."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from dashboard import auth, registry
from dashboard import tables as t
from dashboard.alerts import journal, rules
from dashboard.alerts.evaluate import Measure, Watch, queue_wait_s
from dashboard.alerts.service import Evaluator
from dashboard.alerts.webhooks import Deliverer
from dashboard.app import create_app
from dashboard.live import CameraState, LiveHub, StoreSnapshot
from dashboard.settings import Settings
from dashboard.storage import Storage
from footfall_core.alerting import AlertRule, Alerts
from footfall_core.contract import AlertsMessage, LiveMessage, LiveZone, parse_message
from footfall_core.store import ConfigError, FloorPlan, StoreInfo, Zone, parse_config
from tests import pages_data
from tests.messages import live_msg
from tests.test_config import MINIMAL
from tests.test_pages import client_for

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
ORIGIN = {"Origin": "http://testserver"}
SQUARE = [(0, 0), (4, 0), (4, 4), (0, 4)]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# ---- the store YAML ----------------------------------------------------------------------------


def config_with(alerts: dict, zones=None) -> dict:
    data = copy.deepcopy(MINIMAL)
    data["zones"] = zones or [
        {"name": "tills", "polygon_m": SQUARE, "capacity": 3},
        {"name": "queue", "polygon_m": [(5, 0), (9, 0), (9, 4)], "kind": "queue"},
    ]
    data["alerts"] = alerts
    return data


def test_alert_rules_from_the_yaml_with_defaults():
    config = parse_config(
        config_with(
            {
                "rules": [
                    {"name": "crowded", "kind": "zone_occupancy", "zone": "tills"},
                    {"name": "slow", "kind": "queue_wait", "zone": "queue", "threshold": 180},
                    {"name": "dark", "kind": "camera_offline", "camera": "cam1", "threshold": 60},
                ],
                "webhooks": [{"url": "https://hooks.slack.com/services/T/B/X", "rules": ["crowded"]}],
            }
        )
    )
    crowded = config.alerts.rules[0]
    assert (crowded.threshold, crowded.hold_s, crowded.clear_s) == (None, 10.0, 30.0)
    assert config.alerts.webhooks[0].format == "slack"
    assert config.zones[1].kind == "queue" and config.analysis.queue_window_s == 300


@pytest.mark.parametrize(
    "alerts, key",
    [
        (
            {"rules": [{"name": "x", "kind": "zone_occupancy", "zone": "nowhere"}]},
            "alerts.rules.0.zone: no zone",
        ),
        ({"rules": [{"name": "x", "kind": "queue_wait", "zone": "tills", "threshold": 9}]}, "is not a queue"),
        (
            {"rules": [{"name": "x", "kind": "zone_occupancy"}]},
            "alerts.rules.0: a zone_occupancy rule needs a zone",
        ),
        ({"rules": [{"name": "x", "kind": "store_occupancy"}]}, "needs a threshold"),
        (
            {"rules": [{"name": "x", "kind": "camera_offline", "camera": "cam9", "threshold": 5}]},
            "rules.0.camera",
        ),
        ({"rules": [{"name": "x", "kind": "store_silent", "threshold": 5, "hold_s": -1}]}, "rules.0.hold_s"),
        ({"rules": [{"name": "x", "kind": "sparks", "threshold": 5}]}, "alerts.rules.0.kind"),
        ({"webhooks": [{"url": "ftp://example.com/hook"}]}, "alerts.webhooks.0.url"),
        (
            {"webhooks": [{"url": "https://example.com/h", "rules": ["nope"]}]},
            "alerts.webhooks.0.rules: no rule",
        ),
        (
            {"rules": [{"name": "x", "kind": "store_silent", "threshold": 5}] * 2},
            "alerts.rules.1.name: duplicate rule name",
        ),
        ({"webhooks": [{"url": "https://example.com/h", "format": "discord"}]}, "alerts.webhooks.0.format"),
        (
            {
                "webhooks": [
                    {"url": "https://example.com/h"},
                    {"url": "https://example.com/h", "format": "teams"},
                ]
            },
            "alerts.webhooks.1.format: 'teams', but webhook 0 posts to the same URL as 'slack'",
        ),
    ],
)
def test_bad_alert_rules_are_refused_naming_the_key(alerts, key):
    with pytest.raises(ConfigError) as error:
        parse_config(config_with(alerts), "store.yaml")
    assert key in str(error.value) and str(error.value).startswith("store.yaml: "), str(error.value)


def test_a_zone_occupancy_rule_needs_a_capacity_or_a_threshold():
    zones = [{"name": "tills", "polygon_m": SQUARE}]
    with pytest.raises(ConfigError, match="alerts.rules.0.threshold: zone 'tills' has no capacity"):
        parse_config(
            config_with({"rules": [{"name": "x", "kind": "zone_occupancy", "zone": "tills"}]}, zones)
        )


# ---- the state machine and the measures ---------------------------------------------------------


def test_a_rule_fires_after_hold_and_clears_after_clear_with_hysteresis():
    rule = AlertRule(name="r", kind="zone_occupancy", zone="z", hold_s=5, clear_s=10)
    watch = Watch(rule, 3.0, since=T0)
    assert watch.step(4, at(0)) is None and watch.step(2, at(3)) is None  # dipped below: hold restarts
    assert watch.step(3, at(4)) is None and watch.step(5, at(8.9)) is None
    fired = watch.step(3, at(9))  # at or above since 4 s: 5 s held
    assert (fired.event, fired.value, fired.threshold, fired.at) == ("fired", 3, 3.0, at(9)) and watch.active
    assert watch.step(None, at(10)) is None and watch.active  # unknown moves nothing
    assert watch.step(1, at(11)) is None and watch.step(3, at(15)) is None  # back up: clearing restarts
    assert watch.step(2, at(16)) is None and watch.step(0, at(25.9)) is None
    cleared = watch.step(1, at(26))
    assert (cleared.event, cleared.value, cleared.at) == ("cleared", 1, at(26)) and not watch.active
    assert watch.state().state == "clear" and watch.state().since == at(26)


def test_queue_wait_is_length_over_leaving_rate():
    assert queue_wait_s(6, 2.0) == 180.0  # 6 people, 2 leave a minute: 3 minutes
    assert queue_wait_s(0, None) == 0.0 and queue_wait_s(3, 0.0) is None and queue_wait_s(3, None) is None


def test_measures_from_a_live_snapshot():
    live = LiveMessage(
        store="s1",
        sent_at=at(0),
        cell_m=1.0,
        people=7,
        zones=[LiveZone(zone="tills", occupancy=4), LiveZone(zone="queue", occupancy=5, left_per_min=1.5)],
        cells=[],
        cameras=["cam1", "cam2"],
    )
    cameras = {
        "cam1": CameraState("offline", last_seen=at(-100)),
        "cam2": CameraState("online", last_seen=at(0), health="stalled"),
    }
    snapshot = StoreSnapshot("s1", live, cameras, heard_at=at(-7))
    measure = Measure(started=at(-1000))
    value = lambda **rule: measure.value(AlertRule(name="r", **rule), snapshot, at(0))  # noqa: E731
    assert value(kind="zone_occupancy", zone="tills") == 4
    assert value(kind="store_occupancy", threshold=1) == 7
    assert value(kind="queue_length", zone="queue", threshold=1) == 5
    assert value(kind="queue_wait", zone="queue", threshold=1) == 200.0  # 5 ÷ 1.5 a minute
    assert value(kind="store_silent", threshold=1) == 7.0
    assert value(kind="camera_offline", camera="cam1", threshold=1) == 100.0
    assert value(kind="camera_offline", camera="cam2", threshold=1) == 0.0  # stalled since now
    assert measure.value(AlertRule(name="r", kind="camera_offline", threshold=1), snapshot, at(30)) == 130.0
    assert (
        measure.value(
            AlertRule(name="r", kind="camera_offline", camera="cam2", threshold=1), snapshot, at(30)
        )
        == 30
    )
    assert (
        Measure(started=at(-5)).value(
            AlertRule(name="r", kind="store_silent", threshold=1), StoreSnapshot("x"), at(0)
        )
        == 5
    )


# ---- leases, transitions, deliveries --------------------------------------------------------------


@pytest.fixture
def storage(db_url):
    storage = Storage(db_url)
    storage.migrate()
    with storage.engine.begin() as conn:
        for store in ("north", "south"):
            registry.save(
                conn,
                registry.StoreRecord(
                    store=StoreInfo(id=store),
                    floor_plan=FloorPlan(width_m=20, height_m=12),
                    zones=[Zone(name="tills", polygon_m=SQUARE, capacity=3)],
                    cameras=["cam1"],
                ),
            )
            rules.save(
                conn,
                store,
                Alerts.model_validate(
                    dict(
                        rules=[
                            dict(name="crowded", kind="zone_occupancy", zone="tills", hold_s=0, clear_s=0)
                        ],
                        webhooks=[dict(url="http://127.0.0.1:9/hook")],
                    )
                ),
            )
        auth.add_user(conn, "hq", "hq", pages_data.PASSWORD)
        auth.add_user(conn, "anna", "manager", pages_data.PASSWORD, ["north"])
    return storage


def live(store: str, tills: int, when: datetime) -> bytes:
    return live_msg(store, tills, when).to_json()


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now


def test_one_evaluator_holds_a_store_and_a_standby_takes_over_when_its_lease_expires(storage):
    clock, hub, sent = Clock(), LiveHub(), []
    first = Evaluator(
        storage.engine, hub, lambda topic, payload: sent.append((topic, payload)), "first", clock
    )
    second = Evaluator(
        storage.engine, hub, lambda topic, payload: sent.append((topic, payload)), "second", clock
    )
    first.tick()
    second.tick()
    assert first.stores() == ["north", "south"] and second.stores() == []
    hub.handle("footfall/v1/north/live", live("north", 5, clock.now))
    first.tick()
    second.tick()
    with storage.engine.connect() as conn:
        fired = conn.execute(sa.select(t.alerts)).mappings().all()
        events = conn.execute(sa.select(t.alert_events.c.event)).scalars().all()
        deliveries = conn.execute(sa.select(t.alert_deliveries)).mappings().all()
    assert [(a["store_id"], a["rule"], a["state"], a["value"], a["threshold"]) for a in fired] == [
        ("north", "crowded", "active", 5.0, 3.0)
    ]
    assert events == ["fired"] and len(deliveries) == 1 and deliveries[0]["url"] == "http://127.0.0.1:9/hook"
    state = parse_message(AlertsMessage, [p for topic, p in sent if topic.endswith("north/alerts")][-1])
    assert state.rules[0].state == "active" and state.rules[0].value == 5
    # the first stops renewing: after the lease's 15 s the second takes over, with the alert still active
    clock.now += timedelta(seconds=journal.LEASE_S + 1)
    second.tick()
    assert second.stores() == ["north", "south"] and second.held["north"].watches["crowded"].active
    hub.handle("footfall/v1/north/live", live("north", 1, clock.now))
    first.tick()  # the old holder's write is fenced off: it drops the stores and writes nothing
    assert first.stores() == []
    second.tick()
    with storage.engine.connect() as conn:
        assert conn.execute(
            sa.select(t.alert_events.c.event).order_by(t.alert_events.c.id)
        ).scalars().all() == [
            "fired",
            "cleared",
        ]
        assert conn.scalar(sa.select(t.alerts.c.state)) == "cleared"


def test_a_rule_removed_clears_its_active_alert(storage):
    clock, hub = Clock(), LiveHub()
    evaluator = Evaluator(storage.engine, hub, lambda *_: None, "only", clock)
    hub.handle("footfall/v1/north/live", live("north", 4, clock.now))
    evaluator.tick()
    evaluator.tick()
    with storage.engine.begin() as conn:
        rules.save(conn, "north", Alerts())
    clock.now += timedelta(seconds=3)
    evaluator.tick()
    with storage.engine.connect() as conn:
        assert conn.execute(sa.select(t.alerts.c.state)).scalars().all() == ["cleared"]


def test_each_webhook_gets_the_body_of_its_format(storage):
    """Slack's Markdown text (the default), a Teams Workflows message holding an Adaptive Card,
    or the bare fields; posted by the deliverer to local receivers."""
    from tests.test_alerts_e2e import receiver, wait

    servers = {fmt: receiver() for fmt in ("slack", "teams", "json")}
    urls = {fmt: f"http://127.0.0.1:{server.server_port}/{fmt}" for fmt, server in servers.items()}
    crowded = dict(name="crowded", kind="zone_occupancy", zone="tills", hold_s=0, clear_s=0)
    hooks = [
        dict(url=urls["slack"]),
        dict(url=urls["teams"], format="teams"),
        dict(url=urls["json"], format="json"),
    ]
    with storage.engine.begin() as conn:
        rules.save(conn, "north", Alerts.model_validate(dict(rules=[crowded], webhooks=hooks)))
        rules.save(conn, "south", Alerts())
    clock, hub = Clock(), LiveHub()
    evaluator = Evaluator(storage.engine, hub, lambda *_: None, "formats", clock)
    hub.handle("footfall/v1/north/live", live("north", 5, clock.now))
    evaluator.tick()
    evaluator.tick()
    deliverer = Deliverer(storage.engine, lambda: ["north"], poll_s=0.05).start()
    try:
        wait(lambda: all(s.received for s in servers.values()), 20, "a post to each receiver")
    finally:
        deliverer.stop()
        for server in servers.values():
            server.shutdown()
            server.server_close()
    with storage.engine.connect() as conn:
        event_id = conn.scalar(sa.select(t.alert_events.c.id))
        alert_id = conn.scalar(sa.select(t.alerts.c.id))
    posted = {fmt: server.received for fmt, server in servers.items()}
    assert all(len(p) == 1 for p in posted.values())
    for fmt, [(_, key, _)] in posted.items():
        assert key == journal.idempotency_key(event_id, urls[fmt])
    fields = dict(
        store="north",
        alert_id=alert_id,
        rule="crowded",
        kind="zone_occupancy",
        zone="tills",
        camera=None,
        event="fired",
        at="2026-03-02T10:00:00Z",
        value=5.0,
        threshold=3.0,
        by_user=None,
    )
    [(_, slack_key, slack)] = posted["slack"]
    assert slack == dict(
        text="🔴 *north* · crowded fired: zone tills crowded: 5 people (threshold 3 people)"
        " (2026-03-02 10:00:00 UTC)",
        idempotency_key=slack_key,
        footfall=fields,
    )
    [(_, json_key, bare)] = posted["json"]
    assert bare == dict(idempotency_key=json_key, footfall=fields)
    [(_, _, teams)] = posted["teams"]
    assert set(teams) == {"type", "attachments"} and teams["type"] == "message"
    [attachment] = teams["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    heading, what, facts = card["body"]
    assert heading == dict(
        type="TextBlock", text="🔴 **north** · crowded fired", weight="Bolder", size="Medium", wrap=True
    )
    assert what["text"] == "zone tills crowded: 5 people (threshold 3 people)"
    assert facts["type"] == "FactSet" and {f["title"]: f["value"] for f in facts["facts"]} == {
        "Store": "north",
        "Rule": "crowded (zone_occupancy)",
        "Zone": "tills",
        "Event": "fired",
        "At": "2026-03-02 10:00:00 UTC",
        "Alert": str(alert_id),
    }


# ---- the API ---------------------------------------------------------------------------------


@pytest.fixture
def app(storage, tmp_path):
    clock, hub = Clock(), LiveHub()
    evaluator = Evaluator(storage.engine, hub, lambda *_: None, "api-test", clock)
    for store, people in (("north", 5), ("south", 6)):
        hub.handle(f"footfall/v1/{store}/live", live(store, people, clock.now))
    evaluator.tick()
    evaluator.tick()
    return create_app(
        Settings(
            secure_cookies=False,
            db_url=str(storage.engine.url.render_as_string(hide_password=False)),
            secret_key="alert-tests-" + "Zq9x" * 10,
        )
    )


def test_active_alerts_in_the_api_and_managers_see_only_their_stores(app):
    hq, anna = client_for(app, "hq"), client_for(app, "anna")
    rows = hq.get("/api/v1/alerts?store=north&state=active").json()
    assert [(r["rule"], r["store"], r["zone"], r["state"], r["value"], r["threshold"]) for r in rows] == [
        ("crowded", "north", "tills", "active", 5.0, 3.0)
    ]
    assert rows[0]["started_at"].startswith("2026-03-02T10:00:00")
    assert {r["store"] for r in hq.get("/api/v1/alerts").json()} == {"north", "south"}
    assert {r["store"] for r in anna.get("/api/v1/alerts").json()} == {"north"}
    assert anna.get("/api/v1/alerts?store=south").status_code == 403
    south = hq.get("/api/v1/alerts?store=south").json()[0]["id"]
    assert anna.post(f"/api/v1/alerts/{south}/acknowledge", headers=ORIGIN).status_code == 403
    assert anna.get(f"/api/v1/alerts/{south}/events").status_code == 403
    north = rows[0]["id"]
    acked = anna.post(f"/api/v1/alerts/{north}/acknowledge", headers=ORIGIN)
    assert acked.status_code == 200 and acked.json()["acknowledged_by"] == "anna"
    assert anna.post(f"/api/v1/alerts/{north}/acknowledge", headers=ORIGIN).status_code == 409
    events = anna.get(f"/api/v1/alerts/{north}/events").json()
    assert [(e["event"], e["value"], e["threshold"], e["by_user"]) for e in events] == [
        ("fired", 5.0, 3.0, None),
        ("acknowledged", 5.0, 3.0, "anna"),
    ]
    csv_text = hq.get("/api/v1/alerts?state=active&format=csv").text
    assert csv_text.splitlines()[0].startswith("id,store,rule,kind,zone") and len(csv_text.splitlines()) == 3
    page = anna.get("/alerts?state=active")
    assert (
        page.status_code == 200
        and f'data-alert="{north}"' in page.text
        and "south" not in page.text.split("<table")[1]
    )
    assert anna.get("/alerts?store=south", headers={"accept": "text/html"}).status_code == 403


def test_hq_edits_rules_through_the_api_and_bad_ones_name_the_key(app):
    hq, anna = client_for(app, "hq"), client_for(app, "anna")
    body = dict(rules=[dict(name="busy", kind="store_occupancy", threshold=20)], webhooks=[])
    saved = hq.put("/api/v1/stores/north/alert-rules", json=body, headers=ORIGIN)
    assert saved.status_code == 200 and saved.json()["rules"][0]["hold_s"] == 10.0
    assert hq.get("/api/v1/stores/north/alert-rules").json()["rules"][0]["name"] == "busy"
    bad = dict(rules=[dict(name="x", kind="zone_occupancy", zone="stock-room")])
    refused = hq.put("/api/v1/stores/north/alert-rules", json=bad, headers=ORIGIN)
    assert refused.status_code == 422 and "alerts.rules.0.zone: no zone named 'stock-room'" in refused.text
    assert anna.put("/api/v1/stores/north/alert-rules", json=body, headers=ORIGIN).status_code == 403
    assert anna.get("/api/v1/stores/north/alert-rules").status_code == 403
