"""`python -m dashboard broker-acl`: the central Mosquitto's password and ACL files.

Who may do what (docs/security.md):
- each store's device user `edge-<store>` may publish only under `footfall/v1/<store>/#` and
  subscribe to nothing, so a stolen edge box cannot speak for another store nor read anything;
- the central readers (`ingest`, `dashboard`) may subscribe under `footfall/v1/#` and publish
  nothing.

Passwords are random (32 bytes, URL-safe base64) and kept in `<out>/passwords/<user>` (mode 600)
so that running the command again after adding a store keeps the old devices' passwords. The
password file uses Mosquitto 2's own hash format (`$7$`: PBKDF2-SHA512, 101 iterations, 12-byte
salt), so `mosquitto_passwd` is not needed.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import logging
import re
import secrets
from pathlib import Path

import yaml

from footfall_core.contract import TOPIC_ROOT

log = logging.getLogger(__name__)

READERS = ("ingest", "dashboard")
PBKDF2_ITERATIONS = 101  # what mosquitto_passwd 2.0 writes; the broker reads the count from the hash
STORE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def device_user(store: str) -> str:
    return f"edge-{store}"


def mosquitto_hash(password: str, salt: bytes | None = None) -> str:
    """`$7$<iterations>$<salt b64>$<PBKDF2-SHA512 b64>`, as mosquitto_passwd writes it."""
    salt = salt or secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ITERATIONS)
    return f"$7${PBKDF2_ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def acl_text(stores: list[str]) -> str:
    """The Mosquitto ACL: readers read everything of the contract, each device writes its store."""
    lines = ["# Written by `python -m dashboard broker-acl`; do not edit by hand.", ""]
    for reader in READERS:
        lines += [f"user {reader}", f"topic read {TOPIC_ROOT}/#", ""]
    for store in stores:
        lines += [f"user {device_user(store)}", f"topic write {TOPIC_ROOT}/{store}/#", ""]
    return "\n".join(lines)


def _password(directory: Path, user: str) -> str:
    """The user's password, created on first use and kept."""
    path = directory / user
    if path.exists():
        return path.read_text().strip()
    password = secrets.token_urlsafe(32)
    path.touch(mode=0o600)
    path.write_text(password + "\n")
    return password


def write_files(stores: list[str], out: Path) -> dict[str, Path]:
    """Write `passwd`, `acl` and `passwords/<user>` under `out`; returns their paths by name."""
    bad = [s for s in stores if not STORE_ID.match(s)]
    if bad:
        raise ValueError(
            f"store id(s) {', '.join(map(repr, bad))} are not valid topic names "
            "(lower-case letters, digits, _ and -)"
        )
    out.mkdir(parents=True, exist_ok=True)
    secrets_dir = out / "passwords"
    secrets_dir.mkdir(mode=0o700, exist_ok=True)
    users = list(READERS) + [device_user(s) for s in sorted(set(stores))]
    passwd = out / "passwd"
    passwd.touch(mode=0o600)
    passwd.write_text("".join(f"{user}:{mosquitto_hash(_password(secrets_dir, user))}\n" for user in users))
    acl = out / "acl"
    acl.write_text(acl_text(sorted(set(stores))))
    return {"passwd": passwd, "acl": acl, "passwords": secrets_dir}


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
        "--out",
        type=Path,
        required=True,
        help="directory for passwd, acl and passwords/ (e.g. /etc/mosquitto/footfall)",
    )


def main(args: argparse.Namespace) -> int:
    stores = stores_from_yaml(args.stores) if args.stores else stores_from_db(args.db)
    paths = write_files(stores, args.out)
    log.info(
        "wrote %s and %s for %d store(s); device passwords are in %s (copy each to its edge box's "
        "mqtt.password_file), then reload Mosquitto (systemctl reload mosquitto)",
        paths["passwd"],
        paths["acl"],
        len(stores),
        paths["passwords"],
    )
    return 0
