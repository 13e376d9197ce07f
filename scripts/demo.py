"""`make demo`: the whole loop on the PETS09 sample video, on this machine.

Starts a private Mosquitto (unless FOOTFALL_MQTT_URL names a broker), fills a fresh SQLite
database with a few weeks of simulated history (marked simulated) so the trends and comparison
pages have something to show, with point-of-sale transactions and one simulated campaign (+12 %
footfall on five stores over the last week), then runs ingest, the dashboard and the edge on the video played
at real speed in a loop. Ctrl-C stops every process it started.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from footfall_core.assets import REPO_ROOT, assets_dir
from scripts.broker import ExitedError, Mosquitto, wait_for_listener

PY = sys.executable
VIDEO = "datasets/pets09_s2l1/vtest.avi"


class Processes:
    """Children in their own process groups, stopped together (SIGTERM, then SIGKILL)."""

    def __init__(self, workdir: Path):
        self.children: list[tuple[str, subprocess.Popen]] = []
        self.pidfile = workdir / "pids"
        self.logdir = workdir / "logs"
        self.logdir.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = open(self.logdir / f"{name}.log", "ab")
        child = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=REPO_ROOT
        )
        return self.adopt(name, child)

    def adopt(self, name: str, child: subprocess.Popen) -> subprocess.Popen:
        self.children.append((name, child))
        self.pidfile.write_text("\n".join(str(c.pid) for _, c in self.children) + "\n")
        return child

    def check(self) -> None:
        for name, child in self.children:
            if child.poll() is not None:
                raise SystemExit(f"demo: {name} exited with {child.returncode}; see {self.logdir / name}.log")

    def stop(self) -> None:
        for _, child in reversed(self.children):
            if child.poll() is None:
                self._signal(child, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for _, child in self.children:
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._signal(child, signal.SIGKILL)
                child.wait()

    @staticmethod
    def _signal(child: subprocess.Popen, signum: int) -> None:
        try:
            os.killpg(child.pid, signum)  # the child and anything it started
        except ProcessLookupError:  # not a group leader (the broker): just the process
            child.send_signal(signum)


def run(argv: list[str]) -> None:
    subprocess.run(argv, check=True, cwd=REPO_ROOT)


def demo_config(workdir: Path, mqtt_url: str, plan: Path) -> Path:
    """examples/pets09.yaml, played at real speed in a loop and publishing to the demo broker,
    with `plan` as its floor plan image (uploaded by `stores import`) and alert rules."""
    config = yaml.safe_load((REPO_ROOT / "examples/pets09.yaml").read_text())
    for camera in config["cameras"]:
        camera.update(realtime=True, loop=True)
    config.setdefault("mqtt", {}).update(url=mqtt_url)
    config["floor_plan"]["image"] = str(plan)
    # alert rules (docs/alerts.md): the crossroad at capacity (6 people) for 5 s, a camera dark a minute
    config["alerts"] = dict(
        rules=[
            dict(name="crossroad-crowded", kind="zone_occupancy", zone="crossroad", hold_s=5, clear_s=15),
            dict(name="camera-dark", kind="camera_offline", threshold=60),
        ]
    )
    path = workdir / "pets09-demo.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def demo_campaign(stores: int) -> list[str]:
    """Seed arguments for one simulated campaign: +12 % footfall on up to 5 of the made-up
    stores over the last 7 days (three weeks leave a 14-day pre-period)."""
    treated = [f"store-{i + 1:03d}" for i in range(min(5, stores // 2))]
    return ["--campaign", ",".join(treated), "--campaign-days", "7"] if treated else []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("FOOTFALL_DEMO_PORT", 8000)))
    parser.add_argument("--workdir", type=Path, default=REPO_ROOT / "var/demo")
    parser.add_argument("--weeks", type=int, default=3, help="weeks of simulated history (default 3)")
    parser.add_argument("--stores", type=int, default=12, help="simulated stores besides the demo store")
    args = parser.parse_args(argv)

    video = assets_dir() / VIDEO
    if not video.exists():
        raise SystemExit(f"demo: sample video not found at {video} (set FOOTFALL_ASSETS; see README)")
    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    db_url = f"sqlite:///{args.workdir / 'footfall.sqlite3'}"
    password = secrets.token_urlsafe(9)
    (args.workdir / "password").touch(mode=0o600)  # the demo's secrets: readable by its user only
    (args.workdir / "password").write_text(password + "\n")

    procs = Processes(args.workdir)
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    # Ctrl-C stops the demo even when it was started with SIGINT ignored (a background job of a
    # non-interactive shell inherits that): otherwise the broker, in the same process group,
    # would take the Ctrl-C alone and the demo would report it as a crash.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        mqtt_url = os.environ.get("FOOTFALL_MQTT_URL")
        if not mqtt_url:
            broker = Mosquitto(args.workdir / "mosquitto").start()
            procs.adopt("mosquitto", broker.process)
            mqtt_url = broker.url
        plan = args.workdir / "pets09-plan.png"  # the walkway's empty floor, from the camera itself
        run([PY, "-m", "calibration", "plan", str(REPO_ROOT / "examples/pets09.yaml"), "--out", str(plan)])
        config = demo_config(args.workdir, mqtt_url, plan)
        secret = args.workdir / "session-secret"
        secret.touch(mode=0o600)
        secret.write_text(secrets.token_urlsafe(48) + "\n")
        os.environ["FOOTFALL_SECRET_FILE"] = str(secret)
        os.environ["FOOTFALL_DATA_DIR"] = str(args.workdir / "data")  # uploaded floor plans
        print("demo: preparing the database and simulated history ...", flush=True)
        run([PY, "-m", "dashboard", "migrate", "--db", db_url])
        run([PY, "-m", "dashboard", "stores", "--db", db_url, "import", str(config)])
        run(
            [
                PY,
                "-m",
                "dashboard",
                "seed",
                "--db",
                db_url,
                "--stores",
                str(args.stores),
                "--weeks",
                str(args.weeks),
                "--store-config",
                str(config),
                "--pos",
                *demo_campaign(args.stores),
            ]
        )
        run(
            [
                PY,
                "-m",
                "dashboard",
                "users",
                "--db",
                db_url,
                "add",
                "demo",
                "--role",
                "hq",
                "--password-file",
                str(args.workdir / "password"),
            ]
        )
        procs.start("ingest", [PY, "-m", "dashboard", "ingest", "--mqtt", mqtt_url, "--db", db_url])
        procs.start("alerts", [PY, "-m", "dashboard", "alerts", "--mqtt", mqtt_url, "--db", db_url])
        dashboard = procs.start(
            "dashboard",
            [
                PY,
                "-m",
                "dashboard",
                "serve",
                "--db",
                db_url,
                "--mqtt",
                mqtt_url,
                "--host",
                "127.0.0.1",
                "--port",
                str(args.port),
                "--plain-http",  # the demo is plain HTTP on 127.0.0.1: a Secure cookie would never come back
            ],
        )
        procs.start(
            "edge",
            [
                PY,
                "-m",
                "edge",
                "run",
                "--config",
                str(config),
                "--mqtt",
                "--state-dir",
                str(args.workdir / "edge"),
            ],
        )
        deadline = time.monotonic() + 90
        while True:  # until the dashboard itself listens, failing fast if a process dies
            procs.check()
            try:
                wait_for_listener(dashboard, args.port, timeout_s=1)
                break
            except ExitedError:
                procs.check()  # says which and where its log is
            except TimeoutError as timeout:
                if time.monotonic() > deadline:
                    raise SystemExit(
                        f"demo: the dashboard is not up after 90 s; see {procs.logdir}"
                    ) from timeout
        print(
            f"\nFootfall demo is running: http://127.0.0.1:{args.port}\n"
            f"  login: demo / {password}\n  live page: http://127.0.0.1:{args.port}/stores/pets09/live\n"
            f"  campaign (simulated) and conversion: http://127.0.0.1:{args.port}/campaigns\n"
            f"  logs: {procs.logdir}\nCtrl-C stops everything.\n",
            flush=True,
        )
        while not stop["now"]:
            procs.check()
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        print("demo: stopping ...", flush=True)
        procs.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
