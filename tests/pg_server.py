"""A private PostgreSQL server for tests that stop or crash it: Debian's binaries
(/usr/lib/postgresql/<version>/bin: initdb, pg_ctl) on a free port, in a temporary directory,
never the system's server. As root, the server runs as the `postgres` user (PostgreSQL refuses
root); TCP on 127.0.0.1 only, trust authentication, no Unix socket.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.brokers import free_port

BIN_DIRS = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))


class PostgresServer:
    """`start()`, `stop(mode)`, `restart(mode)`; `url` is a SQLAlchemy URL of its `footfall` database."""

    def __init__(self) -> None:
        if not BIN_DIRS:
            raise RuntimeError("no PostgreSQL binaries under /usr/lib/postgresql/*/bin")
        self.bin = Path(BIN_DIRS[-1])
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="footfall-pg-"))
        self.data = self.dir / "data"
        self._user = "postgres" if os.geteuid() == 0 else None
        if self._user:
            shutil.chown(self.dir, self._user)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.start()
        subprocess.run(
            [
                str(self.bin / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "footfall",
            ],
            check=True,
            capture_output=True,
        )

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/footfall"

    def _options(self) -> list[str]:
        settings = f"-p {self.port} -k '' -c listen_addresses=127.0.0.1 -c fsync=off"
        return ["-o", settings]

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if self._user:
            command = ["runuser", "-u", self._user, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if result.returncode:
            log = (self.dir / "log").read_text() if (self.dir / "log").exists() else ""
            raise RuntimeError(f"{tool} failed: {result.stderr[-1000:]}\n{log[-2000:]}")

    def stop(self, mode: str = "fast") -> None:
        """mode `immediate` is a crash: no checkpoint, recovery from the WAL at the next start."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def start(self) -> None:
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"), "-w", "start", *self._options()
        )

    def close(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)
