"""A private three-node RabbitMQ cluster on free ports, for the tests and the bench.

Each node has its own config, data and log directory under `workdir`; the nodes find each
other through their own Erlang port mapper (epmd) on a free port with their own cookie, so
neither the system's RabbitMQ nor its epmd are touched. The nodes speak AMQP 0-9-1 (the
ingest) and MQTT 3.1.1 (edge devices, through the `rabbitmq_mqtt` plugin), whose durable
subscription queues are quorum queues, replicated like the ingest's queue
(docs/deploy.md, "A chain that outgrows one broker").

Node `k` can be SIGKILLed (`kill(k)`) and started again (`start_node(k)`) on the same ports,
where its clients reconnect.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from scripts.broker import free_port

RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")
EPMD = shutil.which("epmd") or next(iter(sorted(Path("/usr/lib/erlang").glob("erts-*/bin/epmd"))), "epmd")
NODES = 3
START_TIMEOUT_S = 240.0
BOOT_ATTEMPTS = 3


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class RabbitCluster:
    """Three clustered RabbitMQ nodes. `definitions`: a definitions file (users, permissions,
    topic permissions; `python -m dashboard broker-acl --broker rabbitmq` writes one) loaded
    when a node boots; without it, `admin` (password `admin`) may do anything and MQTT
    clients log in as it."""

    def __init__(self, workdir: Path, definitions: Path | None = None, nodes: int = NODES):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.definitions = definitions
        self.tag = secrets.token_hex(3)
        self.epmd_port = free_port()
        self.amqp_ports = [free_port() for _ in range(nodes)]
        self.mqtt_ports = [free_port() for _ in range(nodes)]
        self.dist_ports = [free_port() for _ in range(nodes)]
        self.home = self.workdir / "home"
        self.home.mkdir(exist_ok=True)
        cookie = self.home / ".erlang.cookie"
        if not cookie.exists():
            cookie.write_text(secrets.token_hex(16))
            cookie.chmod(0o400)
        self._epmd: subprocess.Popen | None = None
        self._nodes: list[subprocess.Popen | None] = [None] * nodes
        self._log_start = [[0, 0] for _ in range(nodes)]  # where each node's last start's logs begin

    # -- addresses -------------------------------------------------------------------------

    def node_name(self, k: int) -> str:
        return f"footfall{self.tag}{k}@localhost"

    def mqtt_url(self, k: int, user: str = "admin", password: str | None = "admin") -> str:
        """Node `k`'s MQTT listener (without a password: the client reads it from a file)."""
        return f"mqtt://{user}{f':{password}' if password else ''}@127.0.0.1:{self.mqtt_ports[k]}"

    def amqp_url(self, k: int, user: str = "admin", password: str | None = "admin") -> str:
        return f"amqp://{user}{f':{password}' if password else ''}@127.0.0.1:{self.amqp_ports[k]}"

    def nodes_url(self, first: int, url: Callable[[int], str]) -> str:
        """Every node's `url(k)`, comma-separated, starting with node `first`: a client's node
        and, in turn, where it goes when that one is lost."""
        return ",".join(url((first + j) % len(self._nodes)) for j in range(len(self._nodes)))

    # -- processes -------------------------------------------------------------------------

    def _env(self, k: int) -> dict[str, str]:
        node = self.workdir / f"node{k}"
        return dict(
            os.environ,
            HOME=str(self.home),
            ERL_EPMD_PORT=str(self.epmd_port),
            ERL_EPMD_ADDRESS="127.0.0.1",
            RABBITMQ_NODENAME=self.node_name(k),
            RABBITMQ_DIST_PORT=str(self.dist_ports[k]),
            RABBITMQ_CONFIG_FILE=str(node / "rabbitmq.conf"),
            RABBITMQ_MNESIA_BASE=str(node / "mnesia"),
            RABBITMQ_LOG_BASE=str(node / "log"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.workdir / "enabled_plugins"),
            RABBITMQ_PID_FILE=str(node / "beam.pid"),
            RABBITMQ_GENERATED_CONFIG_DIR=str(node / "generated"),
            RABBITMQ_SCHEMA_DIR=str(node / "schema"),
            # Schedulers that sleep when idle instead of spinning: three nodes share a few cores
            # with the ingest and the database here.
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="+sbwt none +sbwtdcpu none +sbwtdio none",
        )

    def _write_config(self, k: int) -> None:
        node = self.workdir / f"node{k}"
        node.mkdir(exist_ok=True)
        peers = "".join(
            f"cluster_formation.classic_config.nodes.{j + 1} = {self.node_name(j)}\n"
            for j in range(len(self._nodes))
        )
        users = (
            f"load_definitions = {self.definitions}\n"
            if self.definitions
            else "default_user = admin\ndefault_pass = admin\nmqtt.allow_anonymous = false\n"
        )
        (node / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{self.amqp_ports[k]}\n"
            f"mqtt.listeners.tcp.1 = 127.0.0.1:{self.mqtt_ports[k]}\n"
            "mqtt.allow_anonymous = false\n"
            "mqtt.durable_queue_type = quorum\n"
            "loopback_users = none\n"
            "cluster_formation.peer_discovery_backend = classic_config\n"
            f"{peers}{users}"
            "log.file.level = warning\n"
            "log.console = false\n"
        )
        (self.workdir / "enabled_plugins").write_text("[rabbitmq_mqtt].\n")

    def start(self) -> RabbitCluster:
        """Start the port mapper and every node; return once all of them take AMQP and MQTT
        clients and have joined the cluster."""
        self._epmd = subprocess.Popen(
            [EPMD, "-port", str(self.epmd_port), "-address", "127.0.0.1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            # The first node boots alone: nodes that all boot at once each find no peer with the
            # cluster's tables yet and may form clusters of their own. The others then join it.
            self._launch(0)
            self._await(0)
            for k in range(1, len(self._nodes)):
                self._launch(k)
            for k in range(1, len(self._nodes)):
                self._await(k)
            self._await_cluster()
        except BaseException:
            self.stop()
            raise
        return self

    def _launch(self, k: int) -> None:
        self._write_config(k)
        self._log_start[k] = [path.stat().st_size if path.exists() else 0 for path in self._logs(k)]
        log = open(self._logs(k)[0], "ab")
        self._nodes[k] = subprocess.Popen(
            [str(RABBITMQ_BIN / "rabbitmq-server")],
            env=self._env(k),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the whole node (script, beam, helpers) is one process group
        )
        log.close()

    def _await(self, k: int, attempts: int = BOOT_ATTEMPTS) -> None:
        """Wait until node `k` listens. A node that rejoins after a kill can fail its boot
        waiting for the MQTT plugin's client-id registry (a Raft group) to answer; it is
        started again, up to `attempts` times."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (_listening(self.amqp_ports[k]) and _listening(self.mqtt_ports[k])):
            process = self._nodes[k]
            failed = "BOOT FAILED" in self._tail(k)
            if process is None or process.poll() is not None or failed:
                if attempts > 1:
                    self.kill(k)
                    self._launch(k)
                    return self._await(k, attempts - 1)
                raise RuntimeError(f"rabbitmq node {self.node_name(k)} did not boot: {self._tail(k)}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"rabbitmq node {self.node_name(k)} not listening: {self._tail(k)}")
            time.sleep(0.2)

    def _await_cluster(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            status = self.ctl(0, "cluster_status", check=False)
            running = status.split("Running Nodes", 1)[-1].split("Versions", 1)[0]
            if all(self.node_name(k) in running for k in range(len(self._nodes))):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"rabbitmq cluster did not form: {status}")
            time.sleep(0.5)

    def _logs(self, k: int) -> list[Path]:
        node = self.workdir / f"node{k}"
        return [node / "stdout.log", node / "log" / f"{self.node_name(k)}.log"]

    def _tail(self, k: int) -> str:
        """What node `k` wrote (console and log file) since its last start, the last of it."""
        said = ""
        for path, start in zip(self._logs(k), self._log_start[k]):
            if path.exists():
                with open(path, "rb") as f:
                    f.seek(start)
                    said += f.read().decode(errors="replace")[-3000:]
        return said

    def ctl(self, k: int, *args: str, check: bool = True) -> str:
        """`rabbitmqctl` against node `k`; its output."""
        done = subprocess.run(
            [str(RABBITMQ_BIN / "rabbitmqctl"), "-n", self.node_name(k), *args],
            env=self._env(k),
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} on {self.node_name(k)}: {done.stderr}")
        return done.stdout

    def kill(self, k: int) -> None:
        """SIGKILL node `k` and everything it started: no goodbye to its peers or clients."""
        process = self._nodes[k]
        if process is None:
            return
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()
        self._nodes[k] = None

    def start_node(self, k: int) -> None:
        """Start node `k` again (after `kill`): it rejoins the cluster with its data."""
        self._launch(k)
        self._await(k)
        self._await_cluster()

    def stop(self) -> None:
        for k, process in enumerate(self._nodes):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    self.kill(k)
            self._nodes[k] = None
        if self._epmd is not None:
            self._epmd.terminate()
            self._epmd.wait(10)
            self._epmd = None

    def __enter__(self) -> RabbitCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
