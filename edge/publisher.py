"""The edge's only way out: aggregates from the durable outbox to the broker, plus live and health.

Delivery (see docs/mqtt.md):
- aggregates: written to the Outbox first; a pump thread feeds them to paho while connected
  (QoS 1, oldest first, at most `window` awaiting a PUBACK). A PUBACK only says the broker has
  the message, and a broker can still drop it (a full queue, an expired session, a hard
  crash), so a row is deleted only when the centre confirms it has settled it: ingest
  publishes the payload digests it has committed or dead-lettered on
  `footfall/v1/{store}/confirm`, which only this store's device may read. What stays
  unconfirmed for `mqtt.confirm_timeout_s` is sent again (edge/delivery.py keeps the books).
  At-least-once: the centre drops duplicates by aggregate id.
  A PUBACK saying "No matching subscribers" (MQTT 5) means nobody will ever get that message
  (no ingest session subscribed: a fresh centre, or a Mosquitto 2.0 restart, which does not
  restore shared subscriptions until the ingest subscribes again): it is sent again after
  UNROUTED_RETRY_S.
- live: QoS 0, only while connected, never stored (a stale live map is worse than none).
- device health: DeviceHealth every `health_interval_s`, QoS 1 retained, only while connected.
- status: one retained DeviceStatus for all the store's cameras: `online` on every connect,
  `offline` as the connection's last will or on a clean stop; `online` carries each audited
  camera's latest on-site audit (figures only). One connection per device, so
  the broker can bind the device's user to exactly one client id (docs/security.md).
The edge subscribes to its store's confirmations only.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import paho.mqtt.client as paho

from edge.delivery import Delivery
from edge.live import LiveMerger
from edge.outbox import Outbox
from footfall_core.contract import (
    CameraAudit,
    Confirmation,
    ContractError,
    DeviceHealth,
    DeviceStatus,
    LineAuditFigures,
    LiveMessage,
    agg_topic,
    confirm_topic,
    device_client_id,
    device_status_topic,
    health_topic,
    live_topic,
    parse_message,
)
from footfall_core.mqtt_link import SESSION_EXPIRY_S, BrokerAddress, Failover, new_client
from footfall_core.store import Mqtt, StoreConfig

log = logging.getLogger(__name__)

CameraState = Literal["ok", "reconnecting", "ended", "error", "stalled"]
NO_MATCHING_SUBSCRIBERS = 0x10  # MQTT 5 PUBACK reason code
UNROUTED_RETRY_S = 1.0


def _now() -> datetime:
    return datetime.now(UTC)


class Publisher:
    """Moves a store's messages to the broker. Thread-safe; call `start()` then `close()`.

    window: most aggregates handed to paho and not yet acknowledged by the broker; at most
    `settings.confirm_window` are unconfirmed by the centre; the rest wait on disk.
    client_id: stable per device (the broker keeps its session across reconnects).
    clock: monotonic seconds for the confirmation timeouts (injectable for tests).
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
        clock: Callable[[], float] = time.monotonic,
        audits: Sequence[CameraAudit] = (),
    ):
        self.settings = settings
        self.store = store
        self.cameras = list(cameras)
        self.audits = list(audits) or None  # told with every `online`: the centre keeps the latest
        self.outbox = outbox
        self.live_merger = live
        self.delivery = Delivery(
            min(window, settings.confirm_window),
            settings.confirm_window,
            settings.confirm_timeout_s,
            settings.confirm_timeout_max_s,
            UNROUTED_RETRY_S,
            clock,
        )
        self.client, _ = new_client(settings, client_id, resolve)
        expiry_s = max(SESSION_EXPIRY_S, int(outbox.max_age_s))  # confirmations wait that long
        self.nodes = Failover(
            self.client, BrokerAddress.parse_all(settings.url), settings.keepalive_s, expiry_s
        )
        self.client.max_inflight_messages_set(window)
        offline = DeviceStatus(store=store, status="offline", cameras=self.cameras)
        self.client.will_set(device_status_topic(store), offline.to_json(), qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_connect_fail = lambda client, userdata: self.nodes.advance()
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message
        self._camera_state: dict[str, CameraState] = {camera: "ok" for camera in cameras}
        self._refused: list[int] = []  # outbox seqs the broker refused for good
        self._unrouted = False  # the last PUBACK said "No matching subscribers"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._connected = False
        self.published = 0  # aggregates the centre confirmed since the process started
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
        (paho reuses mids: a stale early acknowledgement would settle a later aggregate)."""
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            return False
        self.delivery.untracked(info.mid)
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
    def address(self) -> BrokerAddress:
        """The broker node this publisher is (or will next be) connected to."""
        return self.nodes.current

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
        self.nodes.start()
        self._pump.start()
        return self

    def drain(self, timeout_s: float) -> bool:
        """Wait until the outbox is empty (everything confirmed by the centre); False on timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.outbox.depth == 0:
                return True
            self._wake.set()
            time.sleep(0.05)
        return self.outbox.depth == 0

    def close(self, drain_timeout_s: float = 5.0) -> None:
        """Try to flush the outbox for a while, say offline, then disconnect; what is left stays
        on disk."""
        if self._pump.is_alive():
            self.drain(drain_timeout_s)
            self._stop.set()
            self._wake.set()
            self._pump.join()
        self._apply_confirmed()
        if self.client.is_connected():  # a clean DISCONNECT suppresses the will: say it ourselves
            offline = DeviceStatus(store=self.store, status="offline", cameras=self.cameras, sent_at=_now())
            try:
                self.client.publish(
                    device_status_topic(self.store), offline.to_json(), qos=1, retain=True
                ).wait_for_publish(2)
            except (RuntimeError, ValueError) as exc:  # connection gone: the will says offline instead
                log.info("store %s: could not say offline before leaving: %s", self.store, exc)
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
        client.subscribe(confirm_topic(self.store), qos=1)  # before any publish on this connection
        online = DeviceStatus(
            store=self.store, status="online", cameras=self.cameras, sent_at=_now(), audits=self.audits
        )
        self._publish_untracked(device_status_topic(self.store), online.to_json(), qos=1, retain=True)
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
        if not self._stop.is_set():
            self.nodes.advance()  # a cluster's next node; paho reconnects after its backoff

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        routed = reason_code.value != NO_MATCHING_SUBSCRIBERS
        acked = self.delivery.acked(mid, routed, refused=reason_code.is_failure)
        if acked.refused:
            self._refuse(acked.seq, reason_code)
        if acked.seq is not None:
            self._warn_unrouted(routed)
        self._wake.set()

    def _on_message(self, client, userdata, message: paho.MQTTMessage) -> None:
        try:
            confirmation = parse_message(Confirmation, message.payload)
        except ContractError as exc:
            log.warning("ignored a confirmation on %s: %s", message.topic, exc)
            return
        if confirmation.store != self.store:
            log.warning("ignored a confirmation for store %s on %s", confirmation.store, message.topic)
            return
        self.delivery.confirmed(confirmation.settled)
        self._wake.set()

    def _refuse(self, seq: int, reason_code) -> None:
        """Retrying cannot help (e.g. not authorised): the row is dropped and counted."""
        self._refused.append(seq)
        log.error(
            "broker %s:%d refused an aggregate of store %s: %s; dropped",
            self.address.host,
            self.address.port,
            self.store,
            reason_code,
        )

    def _warn_unrouted(self, routed: bool) -> None:
        """Once per stretch of PUBACKs that found no subscriber."""
        if not routed and not self._unrouted:
            log.warning(
                "no subscriber for store %s's aggregates (is the ingest running?): they stay in the "
                "outbox and are sent again every %.0f s",
                self.store,
                UNROUTED_RETRY_S,
            )
        self._unrouted = not routed

    # -- the pump thread -----------------------------------------------------------------------

    def _run(self) -> None:
        next_health_s = time.monotonic()
        while not self._stop.is_set():
            self._wake.wait(timeout=min(self.live_merger.min_gap_s, 1.0) if self.live_merger else 1.0)
            self._wake.clear()
            try:
                self._apply_confirmed()
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

    def _apply_confirmed(self) -> None:
        confirmed = self.delivery.take_confirmed()
        if confirmed:
            self.published += self.outbox.confirm(confirmed)
        refused, self._refused = self._refused, []
        if refused:
            self.outbox.discard(refused)
            self.delivery.forget(refused)

    def _fill_window(self) -> None:
        due, new = self.delivery.room()
        rows = self.outbox.get(due) if due else []
        if len(rows) < len(due):  # confirmed meanwhile (a late confirmation) or dropped by the bounds
            self.delivery.forget(set(due) - {row.seq for row in rows})
        if new:
            rows += self.outbox.peek(new, after_seq=self.delivery.cursor)
        for row in rows:
            info = self.client.publish(row.topic, row.payload, qos=1)
            if info.rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_NO_CONN):  # NO_CONN: paho queues it
                log.warning("paho refused outbox seq %d: %s", row.seq, paho.error_string(info.rc))
                break
            early = self.delivery.sent(info.mid, row.seq, row.digest)
            if early is not None:
                if early.refused:
                    self._refuse(row.seq, "refused")
                self._wake.set()


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
        client_id=device_client_id(config.store.id),
        resolve=config.resolve,
        live=merger,
        audits=[
            CameraAudit(
                camera=audit.camera,
                date=audit.date,
                clip_s=audit.clip_s,
                lines=[LineAuditFigures(**line.model_dump()) for line in audit.lines],
            )
            for audit in config.last_audits()
        ],
    )
