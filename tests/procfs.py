"""A process tree read from /proc (Linux), for the tests and benchmarks that watch the edge's
camera processes: who forked whom, who still runs, and how much memory each holds."""

from __future__ import annotations

from pathlib import Path


def children(pid: int) -> list[int]:
    """Child processes of `pid` (of all its threads)."""
    return [
        int(c)
        for task in Path(f"/proc/{pid}/task").iterdir()
        for c in (task / "children").read_text().split()
    ]


def descendants(pid: int) -> list[int]:
    below = children(pid)
    return below + [d for c in below for d in descendants(c)]


def state_and_parent(pid: int) -> tuple[str, int]:
    """(state letter, parent pid) of a process, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return fields[0], int(fields[1])


def running(pid: int) -> bool:
    """The process exists and is not a zombie (exited, not yet reaped)."""
    try:
        return state_and_parent(pid)[0] != "Z"
    except FileNotFoundError:
        return False


def command(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")


def memory_mb(pid: int) -> dict[str, float]:
    """PSS (own pages plus a share of the shared ones), private (pages only it maps) and peak
    RSS of a process, MB."""
    rows = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:])
    kb = {key: int(value.split()[0]) for key, value in rows.items()}
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return {
        "pss": kb["Pss"] / 1024,
        "private": (kb["Private_Clean"] + kb["Private_Dirty"]) / 1024,
        "peak_rss": int(status["VmHWM"].split()[0]) / 1024,
    }


def listening_addresses(pid: int, port: int) -> set[str]:
    """The IPv4 addresses on which process `pid` itself listens on TCP `port` ("0.0.0.0": all
    interfaces), from /proc/PID/net/tcp matched to the process's own socket descriptors."""
    import os

    mine = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            mine.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:  # closed meanwhile
            continue
    found = set()
    for row in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
        fields = row.split()  # sl, local address:port (hex, little-endian), remote, state, ..., inode
        address, port_hex = fields[1].split(":")
        if fields[3] == "0A" and int(port_hex, 16) == port and f"socket:[{fields[9]}]" in mine:
            found.add(".".join(str(b) for b in reversed(bytes.fromhex(address))))
    return found
