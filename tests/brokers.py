"""Real brokers for tests: private Mosquittos (the same helper `make demo` uses) and a private
three-node RabbitMQ cluster."""

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dashboard import broker_acl
from scripts.broker import Mosquitto, dynsec_config, free_port, wait_for_listener
from scripts.cluster import RabbitCluster

__all__ = [
    "Mosquitto",
    "RabbitCluster",
    "dynsec_config",
    "free_port",
    "secured_mosquitto",
    "wait_for_listener",
]


@contextmanager
def secured_mosquitto(workdir: Path, stores_yaml: str) -> Iterator[tuple[Mosquitto, Path]]:
    """A Mosquitto with the users and ACL that `dashboard broker-acl --stores` writes for the
    stores file `stores_yaml`; yields it and the directory of the users' passwords."""
    stores = workdir / "stores.yaml"
    stores.write_text(stores_yaml)
    out = workdir / "broker"
    parser = argparse.ArgumentParser()
    broker_acl.add_arguments(parser)
    assert broker_acl.main(parser.parse_args(["--stores", str(stores), "--out", str(out)])) == 0
    with Mosquitto(workdir / "mosquitto", dynsec_config(out / broker_acl.CONFIG_NAME)) as broker:
        yield broker, out / "passwords"
