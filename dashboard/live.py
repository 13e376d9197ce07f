"""The serve process's live view of every store: an MQTT subscriber and an in-memory cache.

The subscriber listens to `footfall/v1/+/live` (current people and zone occupancy),
`footfall/v1/+/status` (the device's retained online/offline for its cameras, offline as its
last will; `footfall/v1/+/+/status` per camera from edges of an earlier release) and
`footfall/v1/+/health` (publisher health) and `footfall/v1/+/alerts` (the alert evaluator's
retained state of each rule, dashboard.alerts). `LiveHub` keeps only the latest state per store,
so memory is bounded by the number of stores, never by time. Web requests read snapshots; every
reader of a store gets the same snapshot object until the store changes, so what the pages
derive from it (the live figure) is built once per change, not once per open browser. The
SSE endpoint awaits `LiveHub.updates(store)`, which wakes on every change of that store (the
MQTT thread hands the wake-up to the listener's event loop) and also every `heartbeat_s`
so "last seen" ages stay current while a store is silent.

Nothing here is history: a message missed while the dashboard was down is simply gone.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TypeVar

import paho.mqtt.client as mqtt

from footfall_core.contract import (
    TOPIC_ROOT,
    AlertsMessage,
    ContractError,
    DeviceHealth,
    DeviceStatus,
    LiveMessage,
    StatusMessage,
    parse_message,
)
from footfall_core.mqtt_link import BrokerAddress, Failover, new_client
from footfall_core.store import Mqtt

log = logging.getLogger(__name__)

LIVE_TOPICS = (
    f"{TOPIC_ROOT}/+/live",
    f"{TOPIC_ROOT}/+/status",
    f"{TOPIC_ROOT}/+/+/status",
    f"{TOPIC_ROOT}/+/health",
    f"{TOPIC_ROOT}/+/alerts",
)
T = TypeVar("T")


@dataclass(frozen=True)
class CameraState:
    """What the centre knows of one camera: its retained status, when it was last heard of
    (UTC), and the publisher's health word for it ("ok", "stalled", ...; None if unknown)."""

    status: str = "unknown"
    last_seen: datetime | None = None
    health: str | None = None


class Memo:
    """Values derived from one snapshot, shared by all its readers. Each key is built once, by
    the first reader to ask; readers asking meanwhile (other web threads) wait for that build
    instead of repeating it. A failed build is forgotten, so the next reader tries again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Keys are compared with ==, so unhashable ones (a FloorGeometry) serve; a snapshot
        # lives until the next change of its store, so this holds a handful of entries.
        self._built: list[tuple[object, Future]] = []

    def get(self, key: object, build: Callable[[], T]) -> T:
        with self._lock:
            shared = next((f for k, f in self._built if k == key), None)
            if shared is None:
                mine: Future = Future()
                self._built.append((key, mine))
        if shared is not None:
            return shared.result()
        try:
            value = build()
        except BaseException as exc:
            with self._lock:
                self._built = [(k, f) for k, f in self._built if f is not mine]
            mine.set_exception(exc)
            raise
        mine.set_result(value)
        return value


@dataclass(frozen=True)
class StoreSnapshot:
    """The latest live state of one store; `version` grows with every change. A change makes
    a new snapshot, and with it an empty `memo`: what was derived from the old state is dropped
    with the old snapshot once its last reader lets go of it."""

    store: str
    live: LiveMessage | None = None
    cameras: dict[str, CameraState] = field(default_factory=dict)
    device: DeviceHealth | None = None
    version: int = 0
    alerts: AlertsMessage | None = None
    heard_at: datetime | None = None  # the centre's clock at the store's latest live message
    memo: Memo = field(default_factory=Memo, init=False, compare=False, repr=False)


class LiveHub:
    """Latest live state per store, written from the MQTT thread, read from the web loop."""

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self._clock = clock
        self._lock = threading.Lock()
        self._stores: dict[str, StoreSnapshot] = {}
        self._listeners: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}
        self.closed = False

    def snapshot(self, store: str) -> StoreSnapshot:
        """The store's latest state, the same object for every reader until it changes. A store
        not heard of yet keeps its empty snapshot from the first ask (callers ask for registered
        stores only, so this stays bounded by the number of stores)."""
        with self._lock:
            snapshot = self._stores.get(store)
            if snapshot is None:
                snapshot = self._stores[store] = StoreSnapshot(store)
            return snapshot

    def handle(self, topic: str, payload: bytes) -> None:
        """Apply one message; raises ContractError naming the topic if it breaks the contract."""
        parts = topic.split("/")
        if len(parts) < 4 or "/".join(parts[:2]) != TOPIC_ROOT:
            raise ContractError(f"topic {topic!r}: not under {TOPIC_ROOT}/")
        store, kind = parts[2], parts[-1]
        try:
            if kind == "live" and len(parts) == 4:
                self._apply_live(store, parse_message(LiveMessage, payload))
            elif kind == "health" and len(parts) == 4:
                self._apply_health(store, parse_message(DeviceHealth, payload))
            elif kind == "status" and len(parts) == 4:
                self._apply_device_status(store, parse_message(DeviceStatus, payload))
            elif kind == "status" and len(parts) == 5:
                self._apply_status(store, parts[3], parse_message(StatusMessage, payload))
            elif kind == "alerts" and len(parts) == 4:
                self._apply_alerts(store, parse_message(AlertsMessage, payload))
            else:
                raise ContractError("not a live, status or health topic")
        except ContractError as exc:
            raise ContractError(f"topic {topic!r}: {exc}") from None

    def _check(self, store: str, message) -> None:
        if message.store != store:
            raise ContractError(f"payload is for store {message.store!r}")

    def _apply_live(self, store: str, message: LiveMessage) -> None:
        self._check(store, message)
        with self._lock:
            old = self._stores.get(store) or StoreSnapshot(store)
            if old.live is not None and message.sent_at < old.live.sent_at:
                return  # a late duplicate must not move the map backwards
            cameras = dict(old.cameras)
            for name in message.cameras:
                state = cameras.get(name, CameraState())
                cameras[name] = replace(
                    state,
                    last_seen=later(state.last_seen, message.sent_at),
                    status="online" if state.status == "unknown" else state.status,
                )
            self._stores[store] = replace(
                old, live=message, cameras=cameras, heard_at=self._clock(), version=old.version + 1
            )
        self._wake(store)

    def _apply_status(self, store: str, camera: str, message: StatusMessage) -> None:
        self._check(store, message)
        if message.camera != camera:
            raise ContractError(f"payload is for camera {message.camera!r}")
        self._set_status(store, [camera], message.status, message.sent_at)

    def _apply_device_status(self, store: str, message: DeviceStatus) -> None:
        self._check(store, message)
        self._set_status(store, message.cameras, message.status, message.sent_at)

    def _set_status(self, store: str, names: list[str], status: str, sent_at: datetime | None) -> None:
        with self._lock:
            old = self._stores.get(store) or StoreSnapshot(store)
            seen = sent_at or (self._clock() if status == "online" else None)
            cameras = dict(old.cameras)
            for name in names:
                state = cameras.get(name, CameraState())
                cameras[name] = replace(state, status=status, last_seen=later(state.last_seen, seen))
            self._stores[store] = replace(old, cameras=cameras, version=old.version + 1)
        self._wake(store)

    def _apply_health(self, store: str, message: DeviceHealth) -> None:
        self._check(store, message)
        with self._lock:
            old = self._stores.get(store) or StoreSnapshot(store)
            cameras = dict(old.cameras)
            for name, word in message.cameras.items():
                cameras[name] = replace(cameras.get(name, CameraState()), health=word)
            self._stores[store] = replace(old, device=message, cameras=cameras, version=old.version + 1)
        self._wake(store)

    def _apply_alerts(self, store: str, message: AlertsMessage) -> None:
        self._check(store, message)
        with self._lock:
            old = self._stores.get(store) or StoreSnapshot(store)
            if old.alerts is not None and message.sent_at < old.alerts.sent_at:
                return
            self._stores[store] = replace(old, alerts=message, version=old.version + 1)
        self._wake(store)

    def close(self) -> None:
        """End every `updates()` stream (server shutdown must not wait for open browsers)."""
        self.closed = True
        for store in list(self._listeners):
            self._wake(store)

    def _wake(self, store: str) -> None:
        with self._lock:
            listeners = list(self._listeners.get(store, ()))
        for loop, event in listeners:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that loop has closed; its listener is leaving anyway
                pass

    async def updates(self, store: str, heartbeat_s: float = 5.0) -> AsyncIterator[StoreSnapshot]:
        """The current snapshot now, then again at every change of `store` and at least every
        `heartbeat_s`. Bursts coalesce: a slow reader gets the latest state, not a backlog."""
        event = asyncio.Event()
        key = (asyncio.get_running_loop(), event)
        with self._lock:
            self._listeners.setdefault(store, set()).add(key)
        try:
            while not self.closed:
                event.clear()
                yield self.snapshot(store)
                try:
                    await asyncio.wait_for(event.wait(), heartbeat_s)
                except TimeoutError:
                    pass
        finally:
            with self._lock:
                self._listeners[store].discard(key)
                if not self._listeners[store]:
                    del self._listeners[store]

    def listener_count(self, store: str) -> int:
        with self._lock:
            return len(self._listeners.get(store, ()))


def later(a: datetime | None, b: datetime | None) -> datetime | None:
    """The later of two aware times, either of which may be unknown."""
    return b if a is None else a if b is None else max(a, b)


class LiveSubscriber:
    """Feeds a LiveHub from the broker on paho's network thread. The client is built by
    footfall_core.mqtt_link (same URL, credential and TLS handling as the edge and ingest); it
    reconnects with backoff and subscribes in on_connect, so subscriptions survive a broker
    restart. The session is clean: live state missed while away is not worth replaying."""

    def __init__(
        self,
        hub: LiveHub,
        settings: Mqtt,
        client_id: str | None = None,
        topics: tuple[str, ...] = LIVE_TOPICS,
    ):
        self.hub = hub
        self.topics = topics
        self.settings = settings
        self.connected = threading.Event()
        self.rejected = 0
        # One id per process: two dashboard workers sharing an id would keep kicking each other off.
        client_id = client_id or f"footfall-dashboard-live-{socket.gethostname()}-{os.getpid()}"
        self._client, _ = new_client(settings, client_id, persistent=False)
        self._nodes = Failover(
            self._client, BrokerAddress.parse_all(settings.url), settings.keepalive_s, session_expiry_s=None
        )
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_connect_fail = lambda client, userdata: self._nodes.advance()
        self._client.on_message = self._on_message

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("live: broker %s:%s refused the connection: %s", self.host, self.port, reason_code)
            return
        client.subscribe([(topic, 0) for topic in self.topics])
        self.connected.set()
        log.info("live: subscribed to %s on %s:%s", ", ".join(self.topics), self.host, self.port)

    @property
    def host(self) -> str:
        return self._nodes.current.host

    @property
    def port(self) -> int:
        return self._nodes.current.port

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        if reason_code.is_failure:
            log.warning("live: lost the broker %s:%s (%s), reconnecting", self.host, self.port, reason_code)
        self._nodes.lost(reason_code)  # a cluster's next node

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        try:
            self.hub.handle(message.topic, message.payload)
        except ContractError as exc:
            self.rejected += 1
            log.warning("live: dropped a message: %s", exc)

    def start(self) -> LiveSubscriber:
        """Connect in the background (the app starts even if the broker is down)."""
        self._nodes.start()
        return self

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        self.connected.clear()


def start_live(state, settings: Mqtt | None) -> None:
    """For the app lifespan: put a LiveHub in `state.live_hub` fed from the broker in
    `settings` (no broker configured: no hub, and the live page answers 503)."""
    state.live_hub = LiveHub() if settings is not None else None
    state.live_subscriber = LiveSubscriber(state.live_hub, settings).start() if settings is not None else None


def stop_live(state) -> None:
    """For the app lifespan: close open live streams and disconnect from the broker."""
    if getattr(state, "live_hub", None) is not None:
        state.live_hub.close()
    if getattr(state, "live_subscriber", None) is not None:
        state.live_subscriber.stop()
