"""`python -m dashboard stores ...` and `python -m dashboard users ...`: the store registry and
the users, from the command line (the API offers the same to hq users).

    stores import STORE.yaml...       register stores from edge store configs (floor plan, zones, lines,
                                      cameras, alert rules); zones, lines and cameras a file no longer
                                      lists are retired from the layout (their history stays); a plan
                                      image it names is checked and uploaded; prints the changes
    stores plan ID IMAGE --m-per-px S [--origin-m X,Y]
                                      upload a store's floor plan image (as PUT /stores/{id}/plan)
    stores add ID [--name --region --tags a,b --timezone --width-m --height-m --area-m2]
    stores list [--region R] [--tag T]
    stores remove ID --yes            delete a store and all its data
    users add NAME --role hq|manager [--stores a,b] --password-file F
    users password NAME --password-file F
                                      change a password: every session of the user ends
    users token NAME [--days N] [--label TEXT]
                                      print a new API bearer token (valid 90 days by default)
    users tokens [NAME]               list API tokens: id, user, label, created, expires, last used
    users token-revoke ID             revoke one API token by its listed id
    users revoke NAME                 end every session and delete every API token of a user
    users list
    users remove NAME                 delete a user with its sessions and API tokens
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

import sqlalchemy as sa

from dashboard import auth, plans, registry, repository
from dashboard import tables as t
from dashboard.alerts import rules
from dashboard.settings import add_db_argument
from dashboard.storage import Storage
from footfall_core.secrets import read_password
from footfall_core.store import ConfigError, load_config

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    add_db_argument(parser)
    actions = parser.add_subparsers(dest="action", required=True)
    if command == "stores":
        imp = actions.add_parser(
            "import", help="register stores from edge store YAML files (retires what a file no longer lists)"
        )
        imp.add_argument("configs", nargs="+", type=Path)
        imp.add_argument(
            "--data-dir", type=Path, default=Path(os.environ.get("FOOTFALL_DATA_DIR", "var/data"))
        )
        plan = actions.add_parser("plan", help="upload a store's floor plan image (PNG, JPEG or SVG)")
        plan.add_argument("id")
        plan.add_argument("image", type=Path)
        plan.add_argument("--m-per-px", type=float, required=True, help="floor metres per image pixel")
        plan.add_argument("--origin-m", default=None, help="x,y: floor metres of the top-left corner")
        plan.add_argument(
            "--data-dir", type=Path, default=Path(os.environ.get("FOOTFALL_DATA_DIR", "var/data"))
        )
        add = actions.add_parser("add", help="create or update one store by hand")
        add.add_argument("id")
        add.add_argument("--name", default="")
        add.add_argument("--region", default="")
        add.add_argument("--tags", default="", help="comma-separated")
        add.add_argument("--timezone", default="UTC", help="IANA name (default UTC)")
        add.add_argument("--width-m", type=float, help="floor plan width in metres")
        add.add_argument("--height-m", type=float, help="floor plan height in metres")
        add.add_argument("--area-m2", type=float, help="sales area (default width × height)")
        lst = actions.add_parser("list", help="list the registry")
        lst.add_argument("--region")
        lst.add_argument("--tag")
        remove = actions.add_parser("remove", help="delete a store with all its data and history")
        remove.add_argument("id")
        remove.add_argument("--yes", action="store_true", help="confirm: nothing of the store is kept")
    else:
        add = actions.add_parser("add", help="create or replace a user")
        add.add_argument("name")
        add.add_argument("--role", required=True, choices=auth.ROLES)
        add.add_argument("--stores", default="", help="comma-separated store ids (managers)")
        add.add_argument(
            "--password-file", required=True, type=Path, help="file whose first line is the password"
        )
        password = actions.add_parser("password", help="change a password (ends the user's sessions)")
        password.add_argument("name")
        password.add_argument(
            "--password-file", required=True, type=Path, help="file whose first line is the password"
        )
        token = actions.add_parser("token", help="print a new API bearer token for a user")
        token.add_argument("name")
        token.add_argument(
            "--days", type=int, default=auth.TOKEN_DAYS, help=f"lifetime (default {auth.TOKEN_DAYS} days)"
        )
        token.add_argument("--label", default="", help="what the token is for (shown by `users tokens`)")
        tokens = actions.add_parser("tokens", help="list API tokens (of one user, or everyone's)")
        tokens.add_argument("name", nargs="?")
        token_revoke = actions.add_parser("token-revoke", help="revoke one API token by its listed id")
        token_revoke.add_argument("id")
        revoke = actions.add_parser("revoke", help="end every session and delete every API token of a user")
        revoke.add_argument("name")
        actions.add_parser("list", help="list users, roles and stores")
        remove = actions.add_parser("remove", help="delete a user with its sessions and API tokens")
        remove.add_argument("name")


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _stores(conn: sa.Connection, args: argparse.Namespace) -> None:
    if args.action == "import":
        for path in args.configs:
            config = load_config(path)
            change = registry.save(conn, registry.StoreRecord.from_config(config))
            rules.save(conn, config.store.id, config.alerts)
            rules_text = f", {len(config.alerts.rules)} alert rules" if config.alerts.rules else ""
            print(
                f"{config.store.id}: {len(config.zones)} zones, {len(config.lines)} lines, "
                f"{len(config.cameras)} cameras{rules_text} from {path}; {change}"
            )
            if config.floor_plan.image:
                _upload(
                    conn,
                    args.data_dir,
                    config.store.id,
                    Path(config.resolve(config.floor_plan.image)),
                    config,
                )
    elif args.action == "plan":
        origin = tuple(float(v) for v in args.origin_m.split(",")) if args.origin_m else None
        store = repository.get_store(conn, args.id)
        placement = plans.Placement(origin or tuple(store.floor_plan.origin_m), args.m_per_px)
        image = plans.save(conn, args.data_dir, args.id, _read(args.image), placement)
        print(f"{args.id}: plan {image.width_px} × {image.height_px} px ({image.media_type}) saved")
    elif args.action == "add":
        plan = dict(width_m=args.width_m, height_m=args.height_m) if args.width_m and args.height_m else None
        record = registry.StoreRecord.model_validate(
            dict(
                store=dict(
                    id=args.id,
                    name=args.name,
                    region=args.region,
                    tags=_split(args.tags),
                    timezone=args.timezone,
                ),
                floor_plan=plan,
                area_m2=args.area_m2,
            )
        )
        registry.save(conn, record)
        print(f"{args.id}: saved")
    elif args.action == "remove":
        if not args.yes:
            raise ValueError(
                f"stores remove {args.id}: deletes the store and all its data; add --yes to confirm"
            )
        deleted = registry.remove(conn, args.id)
        print(f"{args.id}: removed ({', '.join(f'{n} {table}' for table, n in deleted.items())} rows)")
    else:
        for s in repository.list_stores(conn, None, args.region, args.tag):
            fields = [
                s.id,
                s.name,
                s.region,
                ",".join(s.tags),
                s.timezone,
                f"{len(s.zones)} zones",
                f"{len(s.lines)} lines",
                f"{len(s.cameras)} cameras",
            ]
            print("\t".join(fields + (["auto-registered"] if s.auto_registered else [])))


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror}") from None


def _upload(conn: sa.Connection, data_dir: Path, store_id: str, path: Path, config) -> None:
    """A config's plan image, checked as an upload; it spans the plan's width, from its origin."""
    data = _read(path)
    sniffed = plans.sniff(data)
    placement = plans.Placement(config.floor_plan.origin_m, config.floor_plan.width_m / sniffed.width_px)
    plans.save(conn, data_dir, store_id, data, placement)
    print(f"{store_id}: plan image {path} uploaded ({sniffed.width_px} × {sniffed.height_px} px)")


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def _users(conn: sa.Connection, args: argparse.Namespace) -> None:
    if args.action == "add":
        password = read_password(args.password_file, "--password-file")
        auth.add_user(conn, args.name, args.role, password, _split(args.stores))
        print(f"{args.name}: {args.role}")
    elif args.action == "password":
        ended = auth.set_password(conn, args.name, read_password(args.password_file, "--password-file"))
        print(f"{args.name}: password changed, {ended} session(s) ended")
    elif args.action == "token":
        print(auth.new_token(conn, args.name, args.days, args.label))
    elif args.action == "tokens":
        print("id\tuser\tlabel\tcreated (UTC)\texpires (UTC)\tlast used (UTC)")
        for info in auth.list_tokens(conn, args.name):
            fields = (info.created_at, info.expires_at, info.last_used_at)
            print("\t".join([info.id, info.user, info.label or "-", *(_when(v) for v in fields)]))
    elif args.action == "token-revoke":
        if not auth.revoke_token(conn, args.id):
            raise auth.AuthError(f"no API token {args.id!r} (see `users tokens`)")
        print(f"token {args.id}: revoked")
    elif args.action == "revoke":
        if auth.principal(conn, args.name) is None:
            raise auth.AuthError(f"no user {args.name!r}")
        sessions, tokens = auth.revoke(conn, args.name)
        print(f"{args.name}: {sessions} session(s) ended, {tokens} API token(s) deleted")
    elif args.action == "remove":
        auth.remove_user(conn, args.name)
        print(f"{args.name}: removed")
    else:
        for name, role in conn.execute(sa.select(t.users.c.name, t.users.c.role).order_by(t.users.c.name)):
            user = auth.principal(conn, name)
            print(f"{name}\t{role}\t{'*' if user.stores is None else ','.join(sorted(user.stores))}")


def main(args: argparse.Namespace) -> int:
    storage = Storage(args.db)
    storage.migrate()
    try:
        with storage.engine.begin() as conn:
            (_stores if args.command == "stores" else _users)(conn, args)
    except (ConfigError, auth.AuthError, ValueError) as exc:
        log.error("%s", exc)
        return 2
    return 0
