"""`python -m dashboard ingest`: broker → validated aggregates → database, acknowledged after commit.

Several workers may run at once: they join one MQTT 5 shared subscription
(`$share/<group>/footfall/v1/+/+/agg`) and the broker splits the messages between them.
With `--broker cluster` the workers consume a RabbitMQ cluster's replicated queue over AMQP
instead (dashboard/cluster_ingest.py); what each batch goes through is the same
(dashboard/ingest_batch.py).

Why it cannot lose or double anything (docs/mqtt.md):
- the session is persistent (stable client id, clean_start False), and every message is
  acknowledged (paho manual_ack) only after the transaction holding its row has committed; a
  worker that dies before that gets the message again from the broker when it comes back;
- storage is idempotent on the aggregate id, so a redelivery changes nothing;
- every payload ends stored or dead-lettered (dashboard/intake.py): one that breaks the
  contract, lies outside the centre's clock window, is refused by storage (off the plan, a
  conflict, past the registry cap) or by the database for its data goes to the dead-letter table
  with its reason, and is acknowledged: one bad message never blocks the others;
- after the commit each store's device is told which of its aggregates are settled, within a
  second (dashboard/confirm.py): only then does it delete them from its outbox, so a message
  the broker drops after its PUBACK is sent again.

Throughput: messages are written in batches of up to `batch_max`, one transaction per batch.
Camera status messages (retained) come through a plain subscription, since a shared one does
not deliver retained messages; a device's `online` status also carries its cameras' latest
on-site audits, which are stored with it.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import logging
import os
import queue
import signal
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import paho.mqtt.client as paho
from prometheus_client import start_http_server

from dashboard.admission import DEFAULT_NAMES_CAP
from dashboard.cluster_ingest import QueueLimits
from dashboard.confirm import Confirmer
from dashboard.ingest_batch import RETRY_MAX_S, BatchWriter, Received, observe
from dashboard.settings import add_broker_arguments, add_db_argument
from footfall_core.contract import (
    TOPIC_ROOT,
)
from footfall_core.mqtt_link import broker_password, connect_async, new_client
from footfall_core.secrets import MQTT_PASSWORD, read_password, secret_file
from footfall_core.store import Mqtt
from footfall_core.watchdog import Notifier

log = logging.getLogger(__name__)

AGG_FILTER = f"{TOPIC_ROOT}/+/+/agg"
STATUS_FILTER = f"{TOPIC_ROOT}/+/+/status"  # per camera, from edges of an earlier release
DEVICE_STATUS_FILTER = f"{TOPIC_ROOT}/+/status"
CONFIRM_INFLIGHT = 1000  # confirmations in flight to the broker: at most one per store at a time


class Ingest:
    """One ingest worker. `storage` offers write_aggregates, add_dead_letters and camera_status
    (dashboard.storage.Storage); `clock` is the centre's clock (aware UTC), against which
    bucket times are checked. Call `run(stop)`; it returns when `stop` is set."""

    def __init__(
        self,
        storage,
        settings: Mqtt,
        group: str = "ingest",
        client_id: str | None = None,
        batch_max: int = 500,
        batch_wait_s: float = 0.05,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.storage = storage
        self.writer = BatchWriter(storage, clock)
        self.group = group
        self.batch_max = batch_max
        self.batch_wait_s = batch_wait_s
        self.client_id = client_id or default_client_id(group, broker_password(settings))
        self.client, self.address = new_client(settings, self.client_id, manual_ack=True)
        self.client.max_inflight_messages_set(CONFIRM_INFLIGHT)
        self.confirmer = Confirmer(lambda topic, payload: self.client.publish(topic, payload, qos=1))
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.keepalive_s = settings.keepalive_s
        self._inbox: queue.Queue[Received] = queue.Queue()
        self.connected = threading.Event()

    # -- network thread ------------------------------------------------------------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error(
                "broker %s:%d refused ingest %s: %s",
                self.address.host,
                self.address.port,
                self.client_id,
                reason_code,
            )
            return
        # Subscribing again is harmless with a kept session, and needed when the broker lost it.
        client.subscribe(
            [(f"$share/{self.group}/{AGG_FILTER}", 1), (STATUS_FILTER, 1), (DEVICE_STATUS_FILTER, 1)]
        )
        log.info(
            "ingest %s subscribed at %s:%d (session present: %s)",
            self.client_id,
            self.address.host,
            self.address.port,
            flags.session_present,
        )
        self.connected.set()

    def _on_message(self, client, userdata, message: paho.MQTTMessage) -> None:
        self._inbox.put(Received(message.mid, message.qos, message.topic, bytes(message.payload)))

    # -- the writer (caller's thread) ----------------------------------------------------------

    def run(self, stop: threading.Event, notifier: Notifier | None = None) -> None:
        connect_async(self.client, self.address, self.keepalive_s)
        if notifier:
            notifier.ready(f"ingest {self.client_id}")
        try:
            while not stop.is_set():
                batch = self._next_batch(stop)
                if batch:
                    self._handle(batch, stop)
                self.confirmer.flush()
                if notifier:
                    notifier.keepalive(True, f"stored {self.stored}")
        finally:
            if notifier:
                notifier.stopping()
            self.confirmer.flush(everything=True)
            self.client.disconnect()  # unacknowledged messages stay with the broker for our session
            self.client.loop_stop()

    def _next_batch(self, stop: threading.Event) -> list[Received]:
        try:
            batch = [self._inbox.get(timeout=0.5)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + self.batch_wait_s
        while len(batch) < self.batch_max and not stop.is_set():
            try:
                batch.append(self._inbox.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        return batch

    def _handle(self, batch: list[Received], stop: threading.Event) -> None:
        """Validate, store and only then acknowledge; retries while the database is down."""
        started = time.monotonic()
        if not self.writer.commit(batch, stop):
            return  # not acknowledged: the broker redelivers after our restart
        self.confirmer.settled((item.topic, item.payload) for item in batch)
        for item in batch:
            self.client.ack(item.tag, item.qos)
        observe(started)

    @property
    def stored(self) -> int:
        return self.writer.stored


def default_client_id(group: str, password: str | None) -> str:
    """Stable across restarts (the broker keeps unacknowledged messages for this session),
    unique per worker (several workers on one host set FOOTFALL_INGEST_WORKER, e.g. to %i) and,
    with a password, unguessable: it ends in an HMAC of the name under the ingest user's
    password, so nobody without that password can connect under it and take the session over
    (a new password means a new session; the devices re-send what the old one held)."""
    worker = os.environ.get("FOOTFALL_INGEST_WORKER")
    name = f"footfall-ingest-{group}-{socket.gethostname()}" + (f"-{worker}" if worker else "")
    if not password:
        return name
    return f"{name}-{hmac.new(password.encode(), name.encode(), hashlib.sha256).hexdigest()[:24]}"


def _migrate_once_reachable(storage, stop: threading.Event) -> bool:
    """Bring the schema up to date, waiting out a database that cannot be reached (an ingest
    started during an outage: the broker keeps its messages meanwhile); False if stopped first."""
    import sqlalchemy.exc as sa_exc

    delay_s = 0.5
    while True:
        try:
            storage.migrate()
            return True
        except sa_exc.OperationalError as exc:
            log.error("ingest: database unreachable at start: %s; retrying in %.1f s", exc, delay_s)
            if stop.wait(delay_s):
                return False
            delay_s = min(RETRY_MAX_S, delay_s * 2)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--broker",
        choices=("mosquitto", "cluster"),
        default=os.environ.get("FOOTFALL_BROKER", "mosquitto"),
        help="mosquitto: one Mosquitto, MQTT shared subscription (the default); cluster: a RabbitMQ "
        "cluster's quorum queue over AMQP (docs/deploy.md) (default $FOOTFALL_BROKER or mosquitto)",
    )
    parser.add_argument(
        "--amqp",
        default=os.environ.get("FOOTFALL_AMQP_URL", "amqp://ingest@127.0.0.1:5672"),
        help="--broker cluster: the nodes, comma-separated amqp[s]://user[:password]@host[:port] "
        "(default $FOOTFALL_AMQP_URL)",
    )
    parser.add_argument(
        "--queue-max-messages",
        type=int,
        default=QueueLimits.max_messages,
        help=f"--broker cluster: most aggregates the queue holds (default {QueueLimits.max_messages})",
    )
    parser.add_argument(
        "--queue-max-bytes",
        type=int,
        default=QueueLimits.max_bytes,
        help=f"--broker cluster: most bytes the queue holds (default {QueueLimits.max_bytes})",
    )
    add_broker_arguments(parser, "ingest")
    parser.add_argument("--ca-file", help="CA bundle for an mqtts:// broker")
    add_db_argument(parser)
    parser.add_argument(
        "--group", default="ingest", help="shared-subscription group; workers in one group split the load"
    )
    parser.add_argument(
        "--client-id",
        help="stable MQTT client id, unique per worker (default "
        "footfall-ingest-<group>-<hostname>[-$FOOTFALL_INGEST_WORKER]-<HMAC under the password>)",
    )
    parser.add_argument(
        "--batch", type=int, default=500, help="most messages per database transaction (default 500)"
    )
    parser.add_argument(
        "--names-cap",
        type=int,
        default=DEFAULT_NAMES_CAP,
        help="most cameras, zones and lines (each) that messages may register in one store; beyond "
        f"it they are dead-lettered (default {DEFAULT_NAMES_CAP})",
    )
    parser.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on this port")
    parser.add_argument(
        "--metrics-address",
        default="127.0.0.1",
        help="address for --metrics-port (default 127.0.0.1: the counters need no login, so they "
        "are local unless asked otherwise)",
    )


def main(args: argparse.Namespace) -> int:
    from dashboard.storage import Storage
    from footfall_core.store import Tls

    storage = Storage(args.db, names_cap=args.names_cap)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    if not _migrate_once_reachable(storage, stop):
        return 0
    if args.broker == "cluster":
        return _run_cluster(args, storage, stop)
    settings = Mqtt(
        url=args.mqtt,
        password_file=args.password_file,
        tls=Tls(ca_file=args.ca_file) if args.ca_file else None,
    )
    if args.password_file and "@" not in args.mqtt:
        raise SystemExit("--password-file needs a user name in the URL: mqtt://USER@host:port")
    ingest = Ingest(storage, settings, group=args.group, client_id=args.client_id, batch_max=args.batch)
    if args.metrics_port:
        start_http_server(args.metrics_port, addr=args.metrics_address)
        log.info("metrics on http://%s:%d/metrics", args.metrics_address, args.metrics_port)
    log.info("ingest %s: %s → %s", ingest.client_id, args.mqtt, storage.engine.url.render_as_string())
    notifier = Notifier()
    try:
        ingest.run(stop, notifier)
    finally:
        notifier.close()
    log.info("ingest %s stopped after storing %d aggregate(s)", ingest.client_id, ingest.stored)
    return 0


def _run_cluster(args: argparse.Namespace, storage, stop: threading.Event) -> int:
    from dashboard.cluster_ingest import ClusterIngest, node_parameters

    password_file = secret_file(args.password_file, MQTT_PASSWORD)  # the same user as over MQTT
    password = read_password(password_file, "--password-file") if password_file else None
    nodes = node_parameters(args.amqp, password, args.ca_file)
    limits = QueueLimits(args.queue_max_messages, args.queue_max_bytes)
    ingest = ClusterIngest(storage, nodes, batch_max=args.batch, limits=limits)
    if args.metrics_port:
        start_http_server(args.metrics_port, addr=args.metrics_address)
    log.info("ingest on the cluster: %s → %s", args.amqp, storage.engine.url.render_as_string())
    notifier = Notifier()
    try:
        ingest.run(stop, notifier)
    finally:
        notifier.close()
    log.info("ingest on the cluster stopped after storing %d aggregate(s)", ingest.stored)
    return 0
