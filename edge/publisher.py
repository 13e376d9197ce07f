"""The edge's only way out: aggregates from the durable outbox to the broker, plus live and health.

Delivery (see docs/mqtt.md):
- aggregates: written to the Outbox first; a pump thread feeds at most `window` of them to
  paho while connected (QoS 1, oldest first) and deletes each row only after its PUBACK. Paho
  re-sends its in-flight ones after a reconnect; after a crash the outbox sends them again.
  At-least-once: the centre drops duplicates by aggregate id.
  A PUBACK saying "No matching subscribers" (MQTT 5) means nobody will ever get that message
  (no ingest session subscribed: a fresh centre, or a Mosquitto 2.0 restart, which does not
  restore shared subscriptions until the ingest subscribes again): the row stays and is sent
  again every UNROUTED_RETRY_S.
- live: QoS 0, only while connected, never stored (a stale live map is worse than none).
- device health: DeviceHealth every `health_interval_s`, QoS 1 retained, only while connected.
- status: per camera, retained `online` on every connect and `offline` as that camera's
  last will. MQTT allows one will per connection, so each camera has a tiny status-only
  connection (client id `<client_id>-<camera>`); aggregates share one persistent session.
The edge subscribes to nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import paho.mqtt.client as paho

from edge.live import LiveMerger
from edge.outbox import Outbox
from footfall_core.contract import (
    DeviceHealth,
    LiveMessage,
    StatusMessage,
    agg_topic,
    health_topic,
    live_topic,
    status_topic,
)
from footfall_core.mqtt_link import connect_async, new_client
from footfall_core.store import Mqtt, StoreConfig

log = logging.getLogger(__name__)

CameraState = Literal["ok", "reconnecting", "ended", "error", "stalled"]
NO_MATCHING_SUBSCRIBERS = 0x10  # MQTT 5 PUBACK reason code
UNROUTED_RETRY_S = 1.0


def _now() -> datetime:
    return datetime.now(UTC)


class _StatusLink:
    """A status-only connection for one camera: retained online on connect, offline as its will."""

    def __init__(
        self, settings: Mqtt, store: str, camera: str, client_id: str, resolve: Callable[[str], str]
    ):
        self.topic = status_topic(store, camera)
        self.store, self.camera = store, camera
        self.client, self.address = new_client(settings, client_id, resolve)
        offline = StatusMessage(store=store, camera=camera, status="offline").to_json()
        self.client.will_set(self.topic, offline, qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.keepalive_s = settings.keepalive_s

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error(
                "status link for camera %s refused by %s: %s", self.camera, self.address.host, reason_code
            )
            return
        online = StatusMessage(store=self.store, camera=self.camera, status="online", sent_at=_now())
        client.publish(self.topic, online.to_json(), qos=1, retain=True)

    def start(self) -> None:
        connect_async(self.client, self.address, self.keepalive_s, persistent=False)

    def close(self) -> None:
        """A clean stop: say offline ourselves (a clean DISCONNECT suppresses the will)."""
        if self.client.is_connected():
            offline = StatusMessage(store=self.store, camera=self.camera, status="offline", sent_at=_now())
            try:
                self.client.publish(self.topic, offline.to_json(), qos=1, retain=True).wait_for_publish(2)
            except (RuntimeError, ValueError) as exc:  # connection gone: the will says offline instead
                log.info("camera %s: could not say offline before leaving: %s", self.camera, exc)
        self.client.disconnect()
        self.client.loop_stop()


class Publisher:
    """Moves a store's messages to the broker. Thread-safe; call `start()` then `close()`.

    window: most aggregates handed to paho and not yet acknowledged; the rest wait on disk.
    client_id: stable per device (the broker keeps its session across reconnects).
    """

    def __init__(
        self,
        settings: Mqtt,
        store: str,
        cameras: list[str],
        outbox: Outbox,
        *,
        client_id: str,
        resolve: Callable[[str], str] = str,
        window: int = 100,
        live: LiveMerger | None = None,
    ):
        self.settings = settings
        self.store = store
        self.outbox = outbox
        self.window = window
        self.live_merger = live
        self.client, self.address = new_client(settings, client_id, resolve)
        self.client.max_inflight_messages_set(window)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self._status = [
            _StatusLink(settings, store, camera, f"{client_id}-{camera}", resolve) for camera in cameras
        ]
        self._camera_state: dict[str, CameraState] = {camera: "ok" for camera in cameras}
        self._lock = threading.Lock()  # guards the maps below; never held while calling paho
        self._inflight: dict[int, int] = {}  # paho mid -> outbox seq
        self._early_acks: dict[int, bool] = {}  # PUBACKs that beat the bookkeeping of their publish: routed?
        self._untracked: set[int] = set()  # mids of live and health messages (not from the outbox)
        self._unrouted_seq: int | None = None  # oldest seq that found no subscriber: send again from it
        self._retry_at_s = 0.0
        self._acked: list[int] = []  # outbox seqs to delete
        self._cursor = 0  # highest outbox seq handed to paho
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._connected = False
        self.published = 0
        self.on_health: Callable[[DeviceHealth], None] | None = None  # e.g. EdgeMetrics.observe_device
        self._pump = threading.Thread(target=self._run, name=f"publisher-{store}", daemon=True)

    # -- the producer side ---------------------------------------------------------------------

    def publish_aggregate(self, message) -> bool:
        """Store an aggregate durably and wake the pump; False only if the outbox had to drop it.

        Only this store's aggregates are accepted: the broker's ACL refuses any other, and a
        broker may answer a refused publish by closing the connection (Mosquitto 2.0 does, at
        times before its PUBACK is read), so one such row would stall the outbox in a reconnect loop.
        """
        if message.store != self.store:
            raise ValueError(
                f"store {self.store!r}'s publisher was handed an aggregate of store "
                f"{message.store!r} (camera {message.camera!r}): a device publishes only as its own store"
            )
        stored = self.outbox.put(agg_topic(message.store, message.camera), message.to_json())
        self._wake.set()
        return stored

    def publish_live(self, message: LiveMessage) -> bool:
        """Send a store-wide live snapshot now at QoS 0; dropped (False) while offline."""
        if not self._connected:
            return False
        return self._publish_untracked(live_topic(self.store), message.to_json(), qos=0, retain=False)

    def _publish_untracked(self, topic: str, payload: bytes, qos: int, retain: bool) -> bool:
        """Publish something that is not in the outbox, so that its acknowledgement is ignored
        (paho reuses mids: a stale entry in _early_acks would settle a later aggregate)."""
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            return False
        with self._lock:
            if self._early_acks.pop(info.mid, None) is None:
                self._untracked.add(info.mid)
        return True

    def camera_live(self, message: LiveMessage) -> None:
        """A camera's own live snapshot: merged with the others' before it goes out."""
        if self.live_merger is None:
            raise RuntimeError("this publisher was built without a LiveMerger")
        merged = self.live_merger.update(message)
        if merged is not None:
            self.publish_live(merged)

    def set_camera_state(self, camera: str, state: CameraState) -> None:
        """What DeviceHealth reports for a camera."""
        self._camera_state[camera] = state

    @property
    def connected(self) -> bool:
        return self._connected

    def health(self) -> DeviceHealth:
        return DeviceHealth(
            store=self.store,
            sent_at=_now(),
            outbox_depth=self.outbox.depth,
            outbox_dropped=self.outbox.dropped,
            published=self.published,
            connected=self._connected,
            cameras=dict(self._camera_state),
        )

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Publisher:
        for link in self._status:
            link.start()
        connect_async(self.client, self.address, self.settings.keepalive_s, persistent=True)
        self._pump.start()
        return self

    def drain(self, timeout_s: float) -> bool:
        """Wait until the outbox is empty (everything acknowledged); False on timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.outbox.depth == 0:
                return True
            self._wake.set()
            time.sleep(0.05)
        return self.outbox.depth == 0

    def close(self, drain_timeout_s: float = 5.0) -> None:
        """Try to flush the outbox for a while, then disconnect; what is left stays on disk."""
        if self._pump.is_alive():
            self.drain(drain_timeout_s)
            self._stop.set()
            self._wake.set()
            self._pump.join()
        self._delete_acked()
        for link in self._status:
            link.close()
        self.client.disconnect()
        self.client.loop_stop()

    # -- paho callbacks (network thread) -------------------------------------------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error(
                "broker %s:%d refused the store %s publisher: %s",
                self.address.host,
                self.address.port,
                self.store,
                reason_code,
            )
            return
        log.info(
            "connected to %s:%d (session present: %s)",
            self.address.host,
            self.address.port,
            flags.session_present,
        )
        self._connected = True
        self._wake.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self._connected and not self._stop.is_set():
            log.warning(
                "disconnected from %s:%d: %s; %d aggregate(s) wait in the outbox",
                self.address.host,
                self.address.port,
                reason_code,
                self.outbox.depth,
            )
        self._connected = False

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        routed = reason_code.value != NO_MATCHING_SUBSCRIBERS
        with self._lock:
            if mid in self._untracked:
                self._untracked.discard(mid)
                return
            seq = self._inflight.pop(mid, None)
            if seq is None:
                self._early_acks[mid] = routed
            else:
                self._settle(seq, routed)
        if reason_code.is_failure:  # e.g. not authorised: retrying cannot help, so it is dropped too
            log.error(
                "broker %s:%d refused an aggregate of store %s: %s",
                self.address.host,
                self.address.port,
                self.store,
                reason_code,
            )
        self._wake.set()

    def _settle(self, seq: int, routed: bool) -> None:
        """Bookkeeping of one PUBACK (holding self._lock)."""
        if routed:
            self._acked.append(seq)
            return
        if self._unrouted_seq is None:
            log.warning(
                "no subscriber for store %s's aggregates (is the ingest running?): they stay in the "
                "outbox and are sent again every %.0f s",
                self.store,
                UNROUTED_RETRY_S,
            )
        self._unrouted_seq = min(seq, self._unrouted_seq if self._unrouted_seq is not None else seq)
        self._retry_at_s = time.monotonic() + UNROUTED_RETRY_S

    # -- the pump thread -----------------------------------------------------------------------

    def _run(self) -> None:
        next_health_s = time.monotonic()
        while not self._stop.is_set():
            self._wake.wait(timeout=min(self.live_merger.min_gap_s, 1.0) if self.live_merger else 1.0)
            self._wake.clear()
            try:
                self._delete_acked()
                if self._connected:
                    self._fill_window()
                    if time.monotonic() >= next_health_s:
                        health = self.health()
                        self._publish_untracked(
                            health_topic(self.store), health.to_json(), qos=1, retain=True
                        )
                        if self.on_health is not None:
                            self.on_health(health)
                        next_health_s = time.monotonic() + self.settings.health_interval_s
                if self.live_merger is not None and (merged := self.live_merger.due()) is not None:
                    self.publish_live(merged)
            except Exception:  # keep the pump alive: the outbox still holds everything
                log.exception("publisher pump for store %s", self.store)
                time.sleep(1.0)

    def _delete_acked(self) -> None:
        with self._lock:
            acked, self._acked = self._acked, []
        if acked:
            self.outbox.delete(acked)
            self.published += len(acked)

    def _fill_window(self) -> None:
        with self._lock:
            if self._unrouted_seq is not None:  # rewind once the window is empty and the pause is over
                if self._inflight or time.monotonic() < self._retry_at_s:
                    return
                self._cursor, self._unrouted_seq = self._unrouted_seq - 1, None
            room = self.window - len(self._inflight)
            cursor = self._cursor
        if room <= 0:
            return
        for row in self.outbox.peek(room, after_seq=cursor):
            info = self.client.publish(row.topic, row.payload, qos=1)
            if info.rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_NO_CONN):  # NO_CONN: paho queues it
                log.warning("paho refused outbox seq %d: %s", row.seq, paho.error_string(info.rc))
                break
            with self._lock:
                self._cursor = row.seq
                if info.mid in self._early_acks:
                    self._settle(row.seq, self._early_acks.pop(info.mid))
                    self._wake.set()
                else:
                    self._inflight[info.mid] = row.seq


def device_client_id(config: StoreConfig) -> str:
    """Stable per store device: the broker keeps this session across reconnects."""
    return f"footfall-edge-{config.store.id}"


def build_publisher(config: StoreConfig, state_dir: str = ".") -> Publisher:
    """The publisher for a store config, with its outbox in `state_dir` and a live merger."""
    outbox_path = Path(state_dir) / config.mqtt.outbox_path
    outbox = Outbox(outbox_path, config.mqtt.outbox_max_messages, config.mqtt.outbox_max_age_s)
    merger = LiveMerger(config.store.id, config.analysis.live_cell_m, config.analysis.live_interval_s)
    return Publisher(
        config.mqtt,
        config.store.id,
        [c.name for c in config.cameras],
        outbox,
        client_id=device_client_id(config),
        resolve=config.resolve,
        live=merger,
    )
