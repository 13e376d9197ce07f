"""One way to build a paho-mqtt 2.x client from the store's `mqtt` settings.

Shared by the edge publisher and the central ingest so that URL parsing, credentials and TLS
behave the same on both sides. MQTT 5 (shared subscriptions, session expiry) unless the
settings ask for 3.1.1, which a clustered broker may speak only (RabbitMQ 3.10); the VERSION2
callback API either way. A URL may list several nodes of a cluster, comma-separated
(`Failover` moves the client to the next one when a connection is lost or refused).
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from footfall_core.secrets import MQTT_PASSWORD, read_password, secret_file
from footfall_core.store import Mqtt

# The broker keeps a disconnected client's session (its queued messages) this long: longer
# than an edge outbox keeps a message by default (14 days), so that neither a device's
# confirmations nor an ingest worker's aggregates are dropped by an expiry during an outage.
SESSION_EXPIRY_S = 15 * 86400
RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 30


@dataclass(frozen=True)
class BrokerAddress:
    """Where the broker is: from `mqtt://[user[:password]@]host[:port]` or `mqtts://...`."""

    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError(f"broker URL {url!r}: expected mqtt://host[:port] or mqtts://host[:port]")
        tls = parts.scheme == "mqtts"
        try:
            port = parts.port or (8883 if tls else 1883)
        except ValueError:
            raise ValueError(f"broker URL {url!r}: bad port") from None
        return cls(
            parts.hostname,
            port,
            tls,
            unquote(parts.username) if parts.username else None,
            unquote(parts.password) if parts.password else None,
        )

    @classmethod
    def parse_all(cls, urls: str) -> list[BrokerAddress]:
        """Every address of a comma-separated list of broker URLs (the nodes of a cluster)."""
        addresses = [cls.parse(url.strip()) for url in urls.split(",") if url.strip()]
        if not addresses:
            raise ValueError(f"broker URL {urls!r}: no address")
        return addresses


def broker_password(settings: Mqtt, resolve: Callable[[str], str] = str) -> str | None:
    """The password a client of `settings` logs in with: the URL's (its first node's), else the
    systemd `mqtt-password` credential's, else the password file's; None without any."""
    password = BrokerAddress.parse_all(settings.url)[0].password
    if password is not None:
        return password
    password_file = secret_file(
        resolve(settings.password_file) if settings.password_file else None, MQTT_PASSWORD
    )
    return read_password(password_file, "mqtt.password_file") if password_file else None


def new_client(
    settings: Mqtt,
    client_id: str,
    resolve: Callable[[str], str] = str,
    manual_ack: bool = False,
    persistent: bool = True,
) -> tuple[paho.Client, BrokerAddress]:
    """A configured, not yet connected client and the address (the first node) to connect it to.
    `persistent`: MQTT 3.1.1 only (MQTT 5 decides at connect, by the session expiry): whether
    the broker keeps the session across connections.

    `resolve` turns config-relative paths (password file, TLS files) into real ones; pass
    `StoreConfig.resolve`. Credentials in the URL win over `username`/`password_file`; systemd's
    `mqtt-password` credential, when the service was handed one, over `password_file`.
    """
    address = BrokerAddress.parse_all(settings.url)[0]
    v5 = settings.protocol == "5"
    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=paho.MQTTv5 if v5 else paho.MQTTv311,
        clean_session=None if v5 else not persistent,  # 3.1.1: a kept session has no expiry
        manual_ack=manual_ack,
    )
    username = address.username or settings.username
    password = broker_password(settings, resolve)
    if username:
        client.username_pw_set(username, password)
    if address.tls or settings.tls:
        tls = settings.tls
        client.tls_set(
            ca_certs=resolve(tls.ca_file) if tls and tls.ca_file else None,
            certfile=resolve(tls.cert_file) if tls and tls.cert_file else None,
            keyfile=resolve(tls.key_file) if tls and tls.key_file else None,
            cert_reqs=ssl.CERT_REQUIRED,
        )
        if tls and tls.insecure:
            client.tls_insecure_set(True)
    client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
    return client, address


def connect_async(
    client: paho.Client,
    address: BrokerAddress,
    keepalive_s: int,
    session_expiry_s: int | None = SESSION_EXPIRY_S,
) -> None:
    """Start connecting in the background (paho retries with backoff until it works).

    session_expiry_s: keep the session (clean_start False) this long after a disconnect so that
    QoS 1 messages in flight and queued survive a reconnect of either side; None: a clean session.
    MQTT 3.1.1 has no expiry: the client's `clean_session` (False, from `new_client`) decides.
    """
    _point(client, address, keepalive_s, session_expiry_s)
    client.loop_start()


def _point(
    client: paho.Client, address: BrokerAddress, keepalive_s: int, session_expiry_s: int | None
) -> None:
    """Set where (and how) the client's next connection attempt goes."""
    if client.protocol != paho.MQTTv5:
        client.connect_async(address.host, address.port, keepalive=keepalive_s)
        return
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    if session_expiry_s is not None:
        properties.SessionExpiryInterval = session_expiry_s
    client.connect_async(
        address.host,
        address.port,
        keepalive=keepalive_s,
        clean_start=session_expiry_s is None,
        properties=properties,
    )


class Failover:
    """The nodes of a clustered broker, in the order given. `advance()` (from on_disconnect and
    on_connect_fail) points the client at the next node; paho reconnects there after its
    backoff. With one address it does nothing: paho reconnects to the same broker."""

    def __init__(
        self,
        client: paho.Client,
        addresses: list[BrokerAddress],
        keepalive_s: int,
        session_expiry_s: int | None = SESSION_EXPIRY_S,
    ):
        self.client = client
        self.addresses = addresses
        self.keepalive_s = keepalive_s
        self.session_expiry_s = session_expiry_s
        self.index = 0

    @property
    def current(self) -> BrokerAddress:
        return self.addresses[self.index]

    def start(self) -> None:
        connect_async(self.client, self.current, self.keepalive_s, self.session_expiry_s)

    def lost(self, reason_code: object) -> None:
        """From on_disconnect: a connection that failed (not one we closed) moves to the next node."""
        if getattr(reason_code, "is_failure", False):
            self.advance()

    def advance(self) -> None:
        if len(self.addresses) > 1:
            self.index = (self.index + 1) % len(self.addresses)
            _point(self.client, self.current, self.keepalive_s, self.session_expiry_s)
