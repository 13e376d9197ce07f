"""`python -m dashboard broker-acl --broker rabbitmq`: the cluster's users and permissions.

The same rules as on Mosquitto (docs/security.md), as a RabbitMQ definitions file that a node
loads when it boots (`load_definitions` in rabbitmq.conf) or that `rabbitmqctl
import_definitions` applies to a running cluster. RabbitMQ's MQTT plugin publishes what a
device sends to the `amq.topic` exchange with the topic as routing key (`/` becomes `.`), and
checks topic permissions on it: `write` when a client publishes, `read` when it subscribes.
- `edge-<store>` may publish only under `footfall/v1/<store>/` (not its `confirm` nor `alerts`)
  and subscribe only to `footfall/v1/<store>/confirm`; its only queues are the MQTT plugin's
  subscription queues of the client id `footfall-edge-<store>` (a device connecting under
  another store's client id cannot read that store's queue);
- `ingest` declares and consumes the ingest's queue (`footfall.ingest`), reads every topic
  and publishes only confirmations;
- `dashboard` reads everything and publishes nothing; `alerts` reads everything and publishes
  only the stores' alert states; each may use only the queues of its own client ids
  (`footfall-dashboard-…`, `footfall-alerts-…`).
Nothing else is granted: there is no guest user.

Unlike Mosquitto's dynamic-security plugin, RabbitMQ cannot bind a user to one client id:
another store's credentials can connect under a device's client id and so disconnect it (the
device reconnects within seconds), though they cannot read its confirmations nor publish as
its store (docs/security.md, "What is not covered").

Passwords are hashed as RabbitMQ does (`rabbit_password_hashing_sha256`: base64 of a 4-byte
salt followed by the SHA-256 of salt and password).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets

from dashboard.cluster_ingest import EXCHANGE, QUEUE
from footfall_core.contract import TOPIC_ROOT, device_client_id

VHOST = "/"
CONFIG_NAME = "definitions.json"
_ROOT = re.escape(TOPIC_ROOT.replace("/", "."))
_NAME = r"[^.]+"  # one topic level (store and camera names never hold `.`)


def password_hash(password: str) -> str:
    salt = secrets.token_bytes(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def _user(name: str, password: str) -> dict:
    return {
        "name": name,
        "password_hash": password_hash(password),
        "hashing_algorithm": "rabbit_password_hashing_sha256",
        "tags": [],
        "limits": {},
    }


def _queues_of(client_id_pattern: str) -> str:
    """The MQTT plugin's subscription queues of these client ids (`mqtt-subscription-<id>qos<n>`)."""
    return f"mqtt-subscription-{client_id_pattern}qos[01]"


def _permission(user: str, configure: str, write: str, read: str) -> dict:
    return {"user": user, "vhost": VHOST, "configure": configure, "write": write, "read": read}


def _topics(user: str, write: str, read: str) -> dict:
    return {"user": user, "vhost": VHOST, "exchange": EXCHANGE, "write": write, "read": read}


def permissions(stores: list[str]) -> tuple[list[dict], list[dict]]:
    """(vhost permissions, topic permissions) of every user."""
    exchange = re.escape(EXCHANGE)
    queue = re.escape(QUEUE)
    nothing = "^$"
    vhost = [_permission("ingest", f"^{queue}$", f"^({exchange}|{queue})$", f"^({exchange}|{queue})$")]
    topics = [_topics("ingest", f"^{_ROOT}\\.{_NAME}\\.confirm$", f"^{_ROOT}\\..*")]
    for reader, may_publish in (("dashboard", nothing), ("alerts", f"^{_ROOT}\\.{_NAME}\\.alerts$")):
        own = _queues_of(f"footfall-{reader}-.*")
        vhost.append(_permission(reader, f"^{own}$", f"^({exchange}|{own})$", f"^({exchange}|{own})$"))
        topics.append(_topics(reader, may_publish, f"^{_ROOT}\\..*"))
    for store in stores:
        user, own = f"edge-{store}", _queues_of(re.escape(device_client_id(store)))
        vhost.append(_permission(user, f"^{own}$", f"^({exchange}|{own})$", f"^({exchange}|{own})$"))
        mine = f"{_ROOT}\\.{re.escape(store)}"
        topics.append(
            _topics(
                user,
                f"^{mine}\\.(?!(confirm|alerts)$){_NAME}(\\.{_NAME})?$",  # only the ingest confirms
                f"^{mine}\\.confirm$",
            )
        )
    return vhost, topics


def definitions(stores: list[str], passwords: dict[str, str]) -> dict:
    """The definitions file: users, their permissions and topic permissions (queues are declared
    by the ingest, with their limits)."""
    vhost, topics = permissions(stores)
    return {
        "users": [_user(user, passwords[user]) for user in passwords],
        "vhosts": [{"name": VHOST}],
        "permissions": vhost,
        "topic_permissions": topics,
        "parameters": [],
        "global_parameters": [],
        "policies": [],
        "queues": [],
        "exchanges": [],
        "bindings": [],
    }
