"""One way to build a paho-mqtt 2.x client from the store's `mqtt` settings.

Shared by the edge publisher and the central ingest so that URL parsing, credentials and TLS
behave the same on both sides. Always MQTT 5 (shared subscriptions, session expiry) with the
VERSION2 callback API.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

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


def read_password(path: str) -> str:
    """The first line of a password file (trailing newline stripped)."""
    try:
        text = Path(path).read_text()
        return text.splitlines()[0] if text else ""
    except OSError as exc:
        raise ValueError(f"mqtt.password_file {path}: cannot read: {exc.strerror}") from None


def new_client(
    settings: Mqtt, client_id: str, resolve: Callable[[str], str] = str, manual_ack: bool = False
) -> tuple[paho.Client, BrokerAddress]:
    """A configured, not yet connected client and the address to connect it to.

    `resolve` turns config-relative paths (password file, TLS files) into real ones; pass
    `StoreConfig.resolve`. Credentials in the URL win over `username`/`password_file`.
    """
    address = BrokerAddress.parse(settings.url)
    client = paho.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5, manual_ack=manual_ack
    )
    username = address.username or settings.username
    password = address.password
    if password is None and settings.password_file:
        password = read_password(resolve(settings.password_file))
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
    """
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
    client.loop_start()
