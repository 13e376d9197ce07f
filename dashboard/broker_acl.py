"""`python -m dashboard broker-acl`: the central Mosquitto's users, client ids and ACLs.

Written as the configuration of Mosquitto's dynamic-security plugin (shipped with Mosquitto
2.0, `mosquitto_dynamic_security.so`), because it binds a user to one client id, which a
password file and an ACL file cannot. Who may do what (docs/security.md):
- each store's device user `edge-<store>` may connect only as client id
  `footfall-edge-<store>` (so a stolen box cannot take over another client's session), publish
  only under `footfall/v1/<store>/#` and read only its confirmations,
  `footfall/v1/<store>/confirm`;
- `ingest` reads everything under `footfall/v1/#` and publishes only confirmations
  (`footfall/v1/+/confirm`); its workers' client ids are unguessable (dashboard/ingest.py);
- `dashboard` (the live bridge) reads everything under `footfall/v1/#` and publishes nothing;
- `alerts` (the alert evaluator) reads everything under `footfall/v1/#` and publishes only
  the stores' alert states (`footfall/v1/+/alerts`), which no device may publish.
Anything not granted is refused (the default access is deny).

Passwords are random (32 bytes, URL-safe base64) and kept in `<out>/passwords/<user>` (mode 600)
so that running the command again after adding a store keeps the old devices' passwords. The
plugin stores PBKDF2-SHA512 hashes (12-byte salt, 101 iterations, as `mosquitto_ctrl` writes).
The plugin reads its file when Mosquitto starts (a reload does not re-read it).
`--broker rabbitmq` writes the same rules for a RabbitMQ cluster instead
(dashboard/broker_acl_rabbitmq.py), with the same passwords directory.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import logging
import re
import secrets
from pathlib import Path

import yaml

from footfall_core.contract import TOPIC_ROOT, alerts_topic, confirm_topic, device_client_id
from footfall_core.secrets import read_password

log = logging.getLogger(__name__)

READERS = ("ingest", "dashboard", "alerts")
PBKDF2_ITERATIONS = 101  # what mosquitto_ctrl 2.0 writes; the plugin reads the count from the file
STORE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
CONFIG_NAME = "dynamic-security.json"


def device_user(store: str) -> str:
    return f"edge-{store}"


def _client(user: str, password: str, role: str, client_id: str | None = None) -> dict:
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ITERATIONS)
    client = {
        "username": user,
        "password": base64.b64encode(digest).decode(),
        "salt": base64.b64encode(salt).decode(),
        "iterations": PBKDF2_ITERATIONS,
        "roles": [{"rolename": role}],
    }
    if client_id:
        client["clientid"] = client_id
    return client


def _acl(kind: str, topic: str, allow: bool = True, priority: int = 0) -> dict:
    return {"acltype": kind, "topic": topic, "allow": allow, "priority": priority}


def _read_all(topic: str) -> list[dict]:
    return [_acl("subscribePattern", topic), _acl("publishClientReceive", topic)]


def roles(stores: list[str]) -> list[dict]:
    """The central readers' roles and one role per store."""
    everything = f"{TOPIC_ROOT}/#"
    out = [
        {
            "rolename": "ingest",
            "acls": [
                *_read_all(everything),
                # the plugin checks a shared subscription's filter with its $share/<group>/ prefix
                _acl("subscribePattern", f"$share/+/{everything}"),
                _acl("publishClientSend", confirm_topic("+")),
            ],
        },
        {"rolename": "dashboard", "acls": _read_all(everything)},
        {
            "rolename": "alerts",
            "acls": [*_read_all(everything), _acl("publishClientSend", alerts_topic("+"))],
        },
    ]
    for store in stores:
        acls = [
            _acl("publishClientSend", confirm_topic(store), allow=False, priority=1),  # only ingest confirms
            _acl("publishClientSend", alerts_topic(store), allow=False, priority=1),  # only the evaluator
            _acl("publishClientSend", f"{TOPIC_ROOT}/{store}/#"),
            *_read_all(confirm_topic(store)),
        ]
        out.append({"rolename": f"store-{store}", "acls": acls})
    return out


def dynamic_security(stores: list[str], passwords: dict[str, str]) -> dict:
    """The plugin's configuration: users (device users bound to their client id) and roles."""
    clients = [_client(reader, passwords[reader], reader) for reader in READERS]
    clients += [
        _client(device_user(s), passwords[device_user(s)], f"store-{s}", device_client_id(s)) for s in stores
    ]
    return {
        "clients": clients,
        "groups": [],
        "roles": roles(stores),
        "defaultACLAccess": {
            "publishClientSend": False,
            "publishClientReceive": False,
            "subscribe": False,
            "unsubscribe": True,
        },
    }


def _password(directory: Path, user: str) -> str:
    """The user's password, created on first use and kept: read as the client reads its copy
    (footfall_core.secrets.read_password), so that the broker gets the password the client sends."""
    path = directory / user
    if path.exists():
        return read_password(path, "broker password file")
    password = secrets.token_urlsafe(32)
    path.touch(mode=0o600)
    path.write_text(password + "\n")
    return password


def write_files(stores: list[str], out: Path, broker: str = "mosquitto") -> dict[str, Path]:
    """Write the broker's file (`dynamic-security.json` for Mosquitto, `definitions.json` for
    RabbitMQ) and `passwords/<user>` under `out`; returns their paths."""
    bad = [s for s in stores if not STORE_ID.match(s)]
    if bad:
        raise ValueError(
            f"store id(s) {', '.join(map(repr, bad))} are not valid topic names "
            "(lower-case letters, digits, _ and -)"
        )
    stores = sorted(set(stores))
    out.mkdir(parents=True, exist_ok=True)
    secrets_dir = out / "passwords"
    secrets_dir.mkdir(mode=0o700, exist_ok=True)
    users = list(READERS) + [device_user(s) for s in stores]
    passwords = {user: _password(secrets_dir, user) for user in users}
    if broker == "rabbitmq":
        from dashboard import broker_acl_rabbitmq

        config = out / broker_acl_rabbitmq.CONFIG_NAME
        content = broker_acl_rabbitmq.definitions(stores, passwords)
    else:
        config = out / CONFIG_NAME
        content = dynamic_security(stores, passwords)
    config.touch(mode=0o600)
    config.write_text(json.dumps(content, indent=1) + "\n")
    return {"config": config, "passwords": secrets_dir}


def stores_from_yaml(path: Path) -> list[str]:
    """Store ids from a YAML list: `stores: [shop-1, ...]` or `stores: [{id: shop-1}, ...]`."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read: {exc}") from None
    items = data.get("stores") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ValueError(f"{path}: stores: expected a list of store ids or of {{id: ...}} mappings")
    ids = [item.get("id") if isinstance(item, dict) else item for item in items]
    missing = [i for i, value in enumerate(ids) if not isinstance(value, str)]
    if missing:
        raise ValueError(f"{path}: stores.{missing[0]}: expected a store id")
    return ids


def stores_from_db(url: str) -> list[str]:
    """Store ids from the dashboard's store registry."""
    import sqlalchemy as sa

    from dashboard import tables
    from dashboard.storage import Storage

    with Storage(url).engine.connect() as conn:
        return list(conn.scalars(sa.select(tables.stores.c.id).where(tables.stores.c.simulated.is_(False))))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--stores", type=Path, help="YAML file with `stores: [id, ...]`")
    source.add_argument("--db", help="take the stores from this dashboard database's registry")
    parser.add_argument(
        "--broker",
        choices=("mosquitto", "rabbitmq"),
        default="mosquitto",
        help="mosquitto: its dynamic-security plugin's file (default); rabbitmq: a definitions file "
        "for the clustered broker (rabbitmqctl import_definitions, or load_definitions)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help=f"directory for {CONFIG_NAME} and passwords/ (e.g. /etc/mosquitto/footfall)",
    )


def main(args: argparse.Namespace) -> int:
    stores = stores_from_yaml(args.stores) if args.stores else stores_from_db(args.db)
    paths = write_files(stores, args.out, args.broker)
    if args.broker == "rabbitmq":
        log.info(
            "wrote %s for %d store(s); device passwords are in %s (copy each to its edge box's "
            "mqtt.password_file); apply it with rabbitmqctl import_definitions %s",
            paths["config"],
            len(stores),
            paths["passwords"],
            paths["config"],
        )
        return 0
    log.info(
        "wrote %s for %d store(s); device passwords are in %s (copy each to its edge box's "
        "mqtt.password_file), then restart Mosquitto (systemctl restart mosquitto: the plugin "
        "reads its file only when the broker starts)",
        paths["config"],
        len(stores),
        paths["passwords"],
    )
    return 0
