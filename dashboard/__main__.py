"""`python -m dashboard COMMAND`: each command lives in its own module with
`add_arguments(parser)` and `main(args) -> int | None`."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from footfall_core.redact import redact_logs

COMMANDS = {
    "serve": ("dashboard.app", "serve the web app and the JSON API"),
    "ingest": ("dashboard.ingest", "subscribe to the broker and store aggregates"),
    "alerts": ("dashboard.alerts.service", "evaluate the stores' alert rules, publish and post them"),
    "migrate": ("dashboard.storage", "create or upgrade the database schema"),
    "seed": ("dashboard.seed", "fill a database with a simulated chain of stores"),
    "stores": ("dashboard.admin", "manage the store registry"),
    "users": ("dashboard.admin", "manage users and roles"),
    "broker-acl": ("dashboard.broker_acl", "write the Mosquitto password and ACL files"),
    "rollups": ("dashboard.rebuild", "rebuild a store's camera health rollups from raw rows"),
    "campaigns": ("dashboard.campaign_cli", "record campaigns and print their lift"),
    "pos": ("dashboard.pos", "import point-of-sale transactions"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard", description=__doc__)
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR (default INFO)")
    commands = parser.add_subparsers(dest="command", required=True)
    argv = sys.argv[1:] if argv is None else argv
    chosen = next((a for a in argv if a in COMMANDS), None)
    for name, (module_name, help_text) in COMMANDS.items():
        sub = commands.add_parser(name, help=help_text)
        if name == chosen:  # import only the command that runs: serve needs no MQTT, ingest no web stack
            module = importlib.import_module(module_name)
            module.add_arguments(sub) if module_name != "dashboard.admin" else module.add_arguments(sub, name)
            sub.set_defaults(run=module.main)
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    redact_logs()  # no URL's credentials in any line (uvicorn's too: serve logs through the root)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
