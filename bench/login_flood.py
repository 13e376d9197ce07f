"""Benchmark: what a burst of parallel logins costs `python -m dashboard serve`.

Starts the dashboard of a checkout (this one, or `--repo DIR`, e.g. an older one to compare)
on a scratch SQLite database with one user, sends LOGINS wrong-password logins at once (each
for its own account name, from 127.0.0.1), then the right password, and prints the answers by
status, the server's peak resident memory (VmHWM) before and after, and the wall time, with
the machine's cores and load average at the start and the end (argon2 hashing shares the CPU
with whatever else runs).

    .venv/bin/python bench/login_flood.py [--logins 40] [--repo DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.broker import free_port, wait_for_listener  # noqa: E402

SECRET = "login-flood-" + "Zq9x" * 10


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=40)
    parser.add_argument("--repo", type=Path, default=ROOT)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start", flush=True)
    with tempfile.TemporaryDirectory() as work:
        db = f"sqlite:///{work}/flood.sqlite3"
        Path(work, "pw").write_text("right-password\n")
        Path(work, "secret").write_text(SECRET + "\n")
        env = dict(os.environ, FOOTFALL_SECRET_FILE=f"{work}/secret", FOOTFALL_SECURE_COOKIES="0")
        subprocess.run(
            [sys.executable, "-m", "dashboard", "users", "--db", db, "add", "boss", "--role", "hq"]
            + ["--password-file", f"{work}/pw"],
            cwd=args.repo,
            env=env,
            check=True,
            capture_output=True,
        )
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "dashboard", "serve", "--db", db, "--port", str(port)],
            cwd=args.repo,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_listener(server, port, timeout_s=60)
            url = f"http://127.0.0.1:{port}"
            before = peak_rss_mib(server.pid)

            def login(i: int) -> int:
                body = dict(name=f"guess-{i}", password="wrong-password")
                return httpx.post(
                    f"{url}/api/v1/session", json=body, headers={"origin": url}, timeout=60
                ).status_code

            start = time.perf_counter()
            with ThreadPoolExecutor(args.logins) as pool:
                statuses = Counter(pool.map(login, range(args.logins)))
            took_s = time.perf_counter() - start
            after = peak_rss_mib(server.pid)
            right = httpx.post(
                f"{url}/api/v1/session",
                json=dict(name="boss", password="right-password"),
                headers={"origin": url},
                timeout=60,
            ).status_code
        finally:
            server.terminate()
            server.wait(30)
    print(f"repo {args.repo}: {args.logins} parallel wrong-password logins in {took_s:.2f} s")
    print(f"  answers: {', '.join(f'{n} x {code}' for code, n in sorted(statuses.items()))}")
    print(f"  server peak RSS: {before:.0f} MiB before, {after:.0f} MiB after (+{after - before:.0f} MiB)")
    print(f"  the right password afterwards: {right}")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
