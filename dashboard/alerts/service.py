"""`python -m dashboard alerts`: the alert evaluator, one process beside the ingest workers.

Why its own process, and how each store gets exactly one evaluator (docs/alerts.md):
- not in the ingest workers: they split the aggregates through a shared subscription, so no
  worker sees all of a store's messages, and a plain subscription in each would evaluate every
  store once per worker; the rules read the live and status streams, which the ingest does not
  store anyway;
- not in the web server: it scales with browsers, restarts with deployments, may run as
  several workers;
- leases in the database (dashboard.alerts.journal): run two for failover and each store is
  held by one of them; a transition is written only under a lease renewed in the same
  transaction, and a standby takes a store over `LEASE_S` after its holder stops renewing (at
  once after a clean stop).

Each process reads `footfall/v1/+/live`, `+/status`, `+/+/status` and `+/health` into a
LiveHub (dashboard.live), steps the rules of its stores every `tick_s`, stores each transition
with its webhook deliveries, publishes the store's rules' state retained on
`footfall/v1/{store}/alerts` (QoS 1) and posts the deliveries (dashboard.alerts.webhooks).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from dashboard.alerts import journal, rules
from dashboard.alerts.evaluate import Measure, Transition, Watch
from dashboard.alerts.webhooks import Deliverer
from dashboard.live import LIVE_TOPICS, LiveHub, LiveSubscriber
from dashboard.settings import add_broker_arguments, add_db_argument
from footfall_core.alerting import Alerts, threshold_of
from footfall_core.contract import AlertsMessage, alerts_topic
from footfall_core.mqtt_link import BrokerAddress, Failover, new_client
from footfall_core.store import Mqtt
from footfall_core.watchdog import Notifier

log = logging.getLogger(__name__)
CLAIM_EVERY_S = 2.0  # leases are claimed and renewed this often (LEASE_S is 15 s)
SOURCE_TOPICS = tuple(topic for topic in LIVE_TOPICS if not topic.endswith("/alerts"))


@dataclass
class Held:
    """A store this evaluator holds: its rules (at `version`) and their watches by rule name."""

    version: int
    alerts: Alerts
    watches: dict[str, Watch]


class Evaluator:
    """Holds stores by lease and steps their rules; `tick()` once per `tick_s`."""

    def __init__(
        self,
        engine: sa.Engine,
        hub: LiveHub,
        publish: Callable[[str, bytes], None],
        owner: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine, self.hub, self.publish, self.owner, self.clock = engine, hub, publish, owner, clock
        self.held: dict[str, Held] = {}
        self.measure = Measure(started=clock())
        self._claimed_at: datetime | None = None
        self._last_event = 0

    def stores(self) -> list[str]:
        return sorted(self.held)

    def tick(self) -> None:
        now = self.clock()
        if self._claimed_at is None or (now - self._claimed_at).total_seconds() >= CLAIM_EVERY_S:
            self._claim(now)
            self._claimed_at = now
            self._acknowledgements()
        for store in list(self.held):
            self._step(store, now)

    def _claim(self, now: datetime) -> None:
        with self.engine.begin() as conn:
            versions = rules.versions(conn)
            mine = journal.claim(conn, versions, self.owner, now)
        for store in set(self.held) - mine:
            log.warning("alerts: lost the lease of store %s to another evaluator", store)
            del self.held[store]
        for store in mine:
            have = self.held.get(store)
            if have is None or have.version != versions[store]:
                self._load(store, versions[store], have, now)

    def _load(self, store: str, version: int, old: Held | None, now: datetime) -> None:
        """(Re)load a store's rules. A watch whose rule is unchanged keeps its state; an alert
        active in the database (from an earlier holder, or a rule just edited) carries on; one
        whose rule is gone is cleared."""
        with self.engine.connect() as conn:
            alerts = rules.load(conn, store)
            capacity = rules.capacities(conn, store)
            active = journal.active(conn, store)
        watches: dict[str, Watch] = {}
        for rule in alerts.rules:
            kept = old.watches.get(rule.name) if old else None
            if kept is not None and kept.rule == rule:
                watches[rule.name] = kept
                continue
            watch = Watch(rule, threshold_of(rule, capacity.get(rule.zone or "")), since=now)
            if rule.name in active:
                watch.alert_id, watch.since, watch.acknowledged = active[rule.name]
                watch.active = True
            watches[rule.name] = watch
        self.held[store] = Held(version, alerts, watches)
        orphans = [alert_id for name, (alert_id, _, _) in active.items() if name not in watches]
        if orphans:
            with self.engine.begin() as conn:
                if not journal.clear_orphans(conn, store, self.owner, orphans, now):
                    log.warning("alerts: lease of store %s lost; dropping it", store)
                    del self.held[store]
                    return
        self._publish(store, now)
        log.info("alerts: holding store %s (%d rules, version %d)", store, len(watches), version)

    def _step(self, store: str, now: datetime) -> None:
        held = self.held[store]
        snapshot = self.hub.snapshot(store)
        pending: list[tuple[Transition, Watch, int | None]] = []
        for watch in held.watches.values():
            alert_id = watch.alert_id  # a clearing transition forgets it
            transition = watch.step(self.measure.value(watch.rule, snapshot, now), now)
            if transition is not None:
                pending.append((transition, watch, alert_id))
        if not pending:
            return
        ids = self._record(store, [(transition, alert_id) for transition, _, alert_id in pending], now)
        if ids is None:
            return
        for (transition, watch, _), alert_id in zip(pending, ids):
            if transition.event == "fired":
                watch.alert_id = alert_id
        self._publish(store, now)

    def _record(
        self, store: str, transitions: list[tuple[Transition, int | None]], now: datetime
    ) -> list[int] | None:
        with self.engine.begin() as conn:
            ids = journal.record(conn, store, self.owner, transitions, self.held[store].alerts, now)
        if ids is None:
            log.warning("alerts: lease of store %s lost; dropping it", store)
            self.held.pop(store, None)
            return None
        for transition, _ in transitions:
            log.info(
                "alerts: %s %s %s (value %s, threshold %s)",
                store,
                transition.rule.name,
                transition.event,
                transition.value,
                transition.threshold,
            )
        return ids

    def _acknowledgements(self) -> None:
        """Acknowledgements come through the API: when any event is new, refresh the
        acknowledged flags of the held stores and republish those that changed."""
        with self.engine.connect() as conn:
            last = journal.last_event_id(conn)
            if last == self._last_event:
                return
            self._last_event = last
            actives = {store: journal.active(conn, store) for store in self.held}
        now = self.clock()
        for store, active in actives.items():
            changed = False
            for name, watch in self.held[store].watches.items():
                acknowledged = watch.active and name in active and active[name][2]
                if acknowledged != watch.acknowledged:
                    watch.acknowledged, changed = acknowledged, True
            if changed:
                self._publish(store, now)

    def _publish(self, store: str, now: datetime) -> None:
        held = self.held.get(store)
        if held is None:
            return
        message = AlertsMessage(store=store, sent_at=now, rules=[w.state() for w in held.watches.values()])
        self.publish(alerts_topic(store), message.to_json())

    def release(self) -> None:
        with self.engine.begin() as conn:
            journal.release(conn, self.owner)
        self.held.clear()


class Publisher:
    """Publishes retained alert states (QoS 1) on a connection of its own; after every
    (re)connect `republish` is set, so that the evaluator sends every held store again."""

    def __init__(self, settings: Mqtt, client_id: str) -> None:
        self.client, _ = new_client(settings, client_id, persistent=False)
        self.nodes = Failover(
            self.client, BrokerAddress.parse_all(settings.url), settings.keepalive_s, session_expiry_s=None
        )
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_connect_fail = lambda client, userdata: self.nodes.advance()
        self.republish = threading.Event()

    @property
    def address(self) -> BrokerAddress:
        return self.nodes.current

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.nodes.lost(reason_code)  # a cluster's next node

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error(
                "alerts: broker %s:%s refused the connection: %s",
                self.address.host,
                self.address.port,
                reason_code,
            )
            return
        self.republish.set()

    def start(self) -> Publisher:
        self.nodes.start()
        return self

    def __call__(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1, retain=True)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def run(
    db_url: str, settings: Mqtt, stop: threading.Event, tick_s: float = 0.2, notifier: Notifier | None = None
) -> None:
    """The evaluator until `stop` is set: subscriber, evaluator, publisher and webhooks."""
    from dashboard.storage import Storage

    storage = Storage(db_url)
    storage.migrate()
    owner = f"{socket.gethostname()}-{os.getpid()}"
    hub = LiveHub()
    subscriber = LiveSubscriber(hub, settings, client_id=f"footfall-alerts-in-{owner}", topics=SOURCE_TOPICS)
    publisher = Publisher(settings, f"footfall-alerts-out-{owner}")
    evaluator = Evaluator(storage.engine, hub, publisher, owner)
    deliverer = Deliverer(storage.engine, evaluator.stores)
    subscriber.start()
    publisher.start()
    deliverer.start()
    if notifier:
        notifier.ready(f"alerts {owner}")
    log.info("alerts: evaluator %s on %s", owner, storage.engine.url.render_as_string())
    try:
        while not stop.wait(tick_s):
            if publisher.republish.is_set():
                publisher.republish.clear()
                for store in evaluator.stores():
                    evaluator._publish(store, evaluator.clock())
            try:
                evaluator.tick()
            except sa.exc.OperationalError as exc:  # the database is away: try again next tick
                log.error("alerts: database error: %s", exc)
            if notifier:
                notifier.keepalive(True, f"holding {len(evaluator.held)} stores")
    finally:
        if notifier:
            notifier.stopping()
        deliverer.stop()
        try:
            evaluator.release()
        except sa.exc.OperationalError as exc:
            log.error("alerts: could not release the leases (they expire on their own): %s", exc)
        subscriber.stop()
        publisher.stop()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_db_argument(parser)
    add_broker_arguments(parser, "alerts")
    parser.add_argument(
        "--mqtt-protocol",
        choices=("5", "3.1.1"),
        default=os.environ.get("FOOTFALL_MQTT_PROTOCOL", "5"),
        help="MQTT version: 5, or 3.1.1 on a RabbitMQ cluster (default $FOOTFALL_MQTT_PROTOCOL or 5)",
    )
    parser.add_argument(
        "--tick", type=float, default=0.2, help="seconds between rule evaluations (default 0.2)"
    )


def main(args: argparse.Namespace) -> int:
    settings = Mqtt(url=args.mqtt, password_file=args.password_file, protocol=args.mqtt_protocol)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    notifier = Notifier()
    try:
        run(args.db, settings, stop, args.tick, notifier)
    finally:
        notifier.close()
    return 0
