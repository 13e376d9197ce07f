"""The ingest over a RabbitMQ cluster: `python -m dashboard ingest --broker cluster`.

Edge devices keep speaking MQTT (3.1.1: RabbitMQ 3.10's MQTT plugin) to any node; the plugin
routes their topics through the `amq.topic` exchange (`/` becomes `.`), and this worker
consumes them from one quorum queue, `footfall.ingest`, replicated by Raft on every node. Any
number of workers consume it as competing consumers: the queue hands each message to one of
them, and takes back what a worker (or its node) held unacknowledged when it went away.

The same guarantees as over one Mosquitto (docs/mqtt.md, "Delivery"):
- a message is acknowledged (AMQP basic.ack) only after the transaction that stored or
  dead-lettered it has committed (dashboard/ingest_batch.py); storage is idempotent on the
  aggregate id, so whatever the queue hands out again changes nothing;
- after the commit each store's device is told which aggregates are settled, through
  `amq.topic` to `footfall/v1/{store}/confirm`, which the device reads over MQTT from its own
  quorum queue (dashboard/confirm.py); only then does it delete them from its outbox;
- the queue is bounded (messages and bytes) with `reject-publish`: when full, a node refuses
  the edge's publish and the MQTT plugin sends no PUBACK, so the aggregate stays in the
  device's outbox until there is room (docs/deploy.md).

The worker declares the queue and its bindings (idempotent; a queue declared with other limits
is an error naming both) and fails over to the next node of `--amqp` when its node goes away.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

import pika
import pika.exceptions

from dashboard.confirm import Confirmer
from dashboard.ingest_batch import RETRY_MAX_S, BatchWriter, Received, observe
from footfall_core.contract import TOPIC_ROOT
from footfall_core.watchdog import Notifier

log = logging.getLogger(__name__)

QUEUE = "footfall.ingest"
EXCHANGE = "amq.topic"  # where RabbitMQ's MQTT plugin publishes what devices send
_ROOT = TOPIC_ROOT.replace("/", ".")
BINDINGS = (f"{_ROOT}.*.*.agg", f"{_ROOT}.*.status", f"{_ROOT}.*.*.status")
REPLICAS = 3
HEARTBEAT_S = 30


@dataclass(frozen=True)
class QueueLimits:
    """The bounds of the ingest's queue. Past either, publishes are refused (no PUBACK to the
    device) rather than old messages dropped. Defaults: two million aggregates or 4 GiB, about
    7 hours of a 1,000-store chain's aggregates (docs/deploy.md)."""

    max_messages: int = 2_000_000
    max_bytes: int = 4 * 2**30

    def arguments(self) -> dict[str, object]:
        return {
            "x-queue-type": "quorum",
            "x-quorum-initial-group-size": REPLICAS,
            "x-max-length": self.max_messages,
            "x-max-length-bytes": self.max_bytes,
            "x-overflow": "reject-publish",
        }


def node_parameters(urls: str, password: str | None = None, ca_file: str | None = None) -> list:
    """pika ConnectionParameters for each of the comma-separated `amqp[s]://user[:password]@host[:port]`
    (a password in a URL wins over `password`)."""
    out = []
    for url in [u.strip() for u in urls.split(",") if u.strip()]:
        parts = urlsplit(url)
        if parts.scheme not in ("amqp", "amqps") or not parts.hostname:
            raise ValueError(f"--amqp {url!r}: expected amqp[s]://user@host[:port]")
        tls = parts.scheme == "amqps"
        user = unquote(parts.username) if parts.username else "guest"
        secret = unquote(parts.password) if parts.password else password
        ssl_options = None
        if tls:
            ssl_options = pika.SSLOptions(ssl.create_default_context(cafile=ca_file), parts.hostname)
        out.append(
            pika.ConnectionParameters(
                host=parts.hostname,
                port=parts.port or (5671 if tls else 5672),
                credentials=pika.PlainCredentials(user, secret or ""),
                heartbeat=HEARTBEAT_S,
                connection_attempts=1,
                socket_timeout=5,
                ssl_options=ssl_options,
            )
        )
    if not out:
        raise ValueError("--amqp: no broker URL given")
    return out


def declare(channel, limits: QueueLimits) -> None:
    """The ingest's quorum queue and its bindings to the devices' topics (idempotent)."""
    try:
        channel.queue_declare(QUEUE, durable=True, arguments=limits.arguments())
    except pika.exceptions.ChannelClosedByBroker as exc:
        if exc.reply_code == 406:  # PRECONDITION_FAILED: declared before with other arguments
            raise SystemExit(
                f"queue {QUEUE!r} exists with other limits than {limits.arguments()}: {exc.reply_text}"
            ) from None
        raise
    for key in BINDINGS:
        channel.queue_bind(QUEUE, EXCHANGE, routing_key=key)


def topic_of(routing_key: str) -> str:
    """The MQTT topic a routing key came from (store and camera names never hold `.` or `/`)."""
    return routing_key.replace(".", "/")


class ClusterIngest:
    """One ingest worker on the cluster's queue. Call `run(stop)`; it returns when `stop` is set."""

    def __init__(
        self,
        storage,
        nodes: list,
        batch_max: int = 500,
        batch_wait_s: float = 0.05,
        limits: QueueLimits = QueueLimits(),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.writer = BatchWriter(storage, clock)
        self.nodes = nodes
        self.batch_max = batch_max
        self.batch_wait_s = batch_wait_s
        self.limits = limits
        self._out = None  # the channel confirmations go out on, per connection
        self.confirmer = Confirmer(self._publish_confirmation)

    @property
    def stored(self) -> int:
        return self.writer.stored

    def _publish_confirmation(self, topic: str, payload: bytes) -> None:
        if self._out is None:
            raise pika.exceptions.AMQPConnectionError("no connection for confirmations")
        self._out.basic_publish(
            EXCHANGE, topic.replace("/", "."), payload, pika.BasicProperties(delivery_mode=2)
        )

    def run(self, stop: threading.Event, notifier: Notifier | None = None) -> None:
        """Consume from one node after another: a lost node (or connection) costs a reconnect;
        what this worker held unacknowledged goes back to the queue for any worker."""
        if notifier:
            notifier.ready("ingest on the cluster")
        node, delay_s = 0, 0.5
        try:
            while not stop.is_set():
                params = self.nodes[node % len(self.nodes)]
                try:
                    self._consume(params, stop, notifier)
                    delay_s = 0.5
                except (pika.exceptions.AMQPError, OSError) as exc:
                    log.warning(
                        "ingest: node %s:%d: %s: %s; trying the next node in %.1f s",
                        params.host,
                        params.port,
                        type(exc).__name__,
                        exc,
                        delay_s,
                    )
                    node += 1
                    if notifier:  # alive and waiting for a node, as over MQTT while the broker is away
                        notifier.keepalive(True, f"no broker node: {type(exc).__name__}")
                    if stop.wait(delay_s):
                        break
                    delay_s = min(RETRY_MAX_S, delay_s * 2)
        finally:
            if notifier:
                notifier.stopping()

    def _consume(self, params, stop: threading.Event, notifier: Notifier | None) -> None:
        connection = pika.BlockingConnection(params)
        try:
            channel = connection.channel()
            declare(channel, self.limits)
            channel.basic_qos(prefetch_count=2 * self.batch_max)
            self._out = connection.channel()
            inbox: list[Received] = []

            def on_message(_channel, method, _properties, body: bytes) -> None:
                inbox.append(Received(method.delivery_tag, 1, topic_of(method.routing_key), body))

            channel.basic_consume(QUEUE, on_message_callback=on_message)
            log.info("ingest consuming %s at %s:%d", QUEUE, params.host, params.port)
            first_at: float | None = None
            while not stop.is_set():
                if not inbox:
                    connection.process_data_events(time_limit=0.5)
                elif len(inbox) < self.batch_max and time.monotonic() - (first_at or 0) < self.batch_wait_s:
                    connection.process_data_events(time_limit=0.005)
                if inbox and first_at is None:
                    first_at = time.monotonic()
                if inbox and (
                    len(inbox) >= self.batch_max or time.monotonic() - (first_at or 0) >= self.batch_wait_s
                ):
                    batch, inbox[:] = inbox[: self.batch_max], inbox[self.batch_max :]
                    first_at = time.monotonic() if inbox else None
                    self._handle(channel, batch, stop)
                self.confirmer.flush()
                if notifier:
                    notifier.keepalive(True, f"stored {self.stored}")
            self.confirmer.flush(everything=True)
        finally:
            self._out = None
            if connection.is_open:
                try:
                    connection.close()  # unacknowledged messages go back to the queue
                except pika.exceptions.AMQPError:
                    pass

    def _handle(self, channel, batch: list[Received], stop: threading.Event) -> None:
        started = time.monotonic()
        if not self.writer.commit(batch, stop):
            return  # not acknowledged: the queue hands it out again
        self.confirmer.settled((item.topic, item.payload) for item in batch)
        channel.basic_ack(batch[-1].tag, multiple=True)
        observe(started)
