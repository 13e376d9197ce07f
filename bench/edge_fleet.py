"""N cameras under the real edge: memory per camera, and the rate they sustain.

Runs the real `python -m edge run` on a store of N copies of the PETS09 camera, each paced in
real time (7 frames/s) and looped and analysed at 5 frames/s, so that every camera keeps
decoding, detecting and tracking as a live one would. Once every camera has reported (and
`--settle-s` more), it reads each process of the tree from /proc: PSS (its own pages plus its
share of the pages it shares: the PSS of all processes adds up to what they take of RAM),
private pages (only it maps) and peak RSS (VmHWM). At the end of `--run-s` it stops the edge
and reads the cameras' health aggregates (10 s buckets): the frames each camera analysed per
second in every whole bucket after its first. Prints a line per N and what one more camera
adds, (PSS at the largest N − PSS at the smallest) / (difference in N).

    .venv/bin/python bench/edge_fleet.py [--cameras 1,8,16,24,28,32] [--model yolox_nano.onnx]
                                         [--letterbox tight|square] [--no-motion-gating]

Cameras are forked from a fork server that has imported the pipeline's libraries
(edge/supervisor.py, edge/preload.py), so they share those pages; memory depends on the
model (its session and buffers are each camera's own) and little on the machine, the rate on
both. Unlike bench/edge_speed.py's cameras per core, this counts everything a device runs:
grabbing the frames the 5 fps rate skips, every camera's process and threads, the supervisor."""

from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("FOOTFALL_ASSETS", str(REPO.parent / "shared"))

from footfall_core.contract import parse_aggregate  # noqa: E402
from tests.procfs import children, command, memory_mb  # noqa: E402


def roles(parent: int) -> dict[str, list[int]]:
    """The edge process tree by role: the edge process, multiprocessing's resource tracker and
    fork server, and the cameras (forked by the fork server)."""
    found = {"edge": [parent], "resource tracker": [], "fork server": [], "cameras": []}
    for pid in children(parent):
        if "forkserver" in command(pid):
            found["fork server"].append(pid)
            found["cameras"] += children(pid)
        elif "resource_tracker" in command(pid):
            found["resource tracker"].append(pid)
        else:
            found["cameras"].append(pid)  # a camera started otherwise (spawned by the edge process)
    return found


def store_yaml(cameras: int, detector: dict[str, str], folder: Path, motion_gating: bool = True) -> Path:
    data = yaml.safe_load((REPO / "examples/pets09.yaml").read_text())
    data["analysis"].update(fps=5, bucket_s=10, motion_gating=motion_gating)
    camera = dict(data["cameras"][0], realtime=True, loop=True)
    data["cameras"] = [dict(camera, name=f"view{k:03d}") for k in range(1, cameras + 1)]
    data.setdefault("detector", {}).update(detector)
    path = folder / f"store{cameras}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def measure(
    cameras: int,
    detector: dict[str, str],
    settle_s: float,
    run_s: float,
    folder: Path,
    motion_gating: bool = True,
) -> tuple[dict[str, dict[str, float]], list[float]]:
    """`python -m edge run` with `cameras` cameras: memory per role (summed over its processes),
    and the frames per second each camera analysed in each whole bucket after its first."""
    out, log = folder / f"out{cameras}", folder / f"edge{cameras}.log"
    store = store_yaml(cameras, detector, folder, motion_gating)
    command = [
        sys.executable,
        "-m",
        "edge",
        "run",
        "--config",
        str(store),
        "--out",
        str(out),
        "--log-level",
        "WARNING",
    ]
    with log.open("w") as stderr:
        process = subprocess.Popen(command, cwd=REPO, stderr=stderr)
    started = time.monotonic()
    try:
        lives = [out / f"view{k:03d}.live.jsonl" for k in range(1, cameras + 1)]
        while not all(p.exists() and p.stat().st_size for p in lives):
            if process.poll() is not None or time.monotonic() > started + 120:
                raise SystemExit(f"edge run with {cameras} cameras did not report: {log.read_text()[-2000:]}")
            time.sleep(0.5)
        time.sleep(settle_s)
        tree = roles(process.pid)
        if len(tree["cameras"]) != cameras:
            raise SystemExit(f"expected {cameras} camera processes, found {tree}")
        figures = {}
        for role, pids in tree.items():
            each = [memory_mb(pid) for pid in pids]
            figures[role] = {key: sum(m[key] for m in each) for key in ("pss", "private", "peak_rss")}
        time.sleep(max(0.0, started + run_s - time.monotonic()))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    rates = []
    for path in out.glob("*.agg.jsonl"):
        health = [m for m in map(parse_aggregate, path.read_bytes().splitlines()) if m.kind == "health"]
        whole = [m for m in health if m.covered_s >= 0.99 * m.bucket_s]
        rates += [m.frames_analysed / m.covered_s for m in whole[1:]]
    return figures, rates


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--cameras", default="1,8,16,24,28,32", help="camera counts to run (default 1,8,16,24,28,32)"
    )
    parser.add_argument("--model", help="detector model (default: the example's, yolox_nano.onnx)")
    parser.add_argument("--letterbox", choices=["tight", "square"], help="detector.letterbox (default tight)")
    parser.add_argument(
        "--motion-gating",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="analysis.motion_gating: on (the default: crops of the changed part of each "
        "frame) or off (--no-motion-gating: the detector on every analysed frame, whole)",
    )
    parser.add_argument(
        "--settle-s",
        type=float,
        default=10.0,
        help="seconds after every camera has reported before memory is read (default 10)",
    )
    parser.add_argument("--run-s", type=float, default=50.0, help="seconds each run lasts (default 50)")
    args = parser.parse_args()
    counts = sorted({int(n) for n in args.cameras.split(",")})
    detector = {key: value for key, value in (("model", args.model), ("letterbox", args.letterbox)) if value}
    print(
        f"# edge fleet: PETS09 looped in real time (7 frames/s), analysed at 5 frames/s, model "
        f"{args.model or 'yolox_nano.onnx (default)'}, letterbox {args.letterbox or 'tight (default)'}, "
        f"motion gating {'on' if args.motion_gating else 'off'}; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    print(
        f"{'cameras':>7s} {'total PSS MB':>12s} | {'edge':>5s} {'fork server':>11s} {'tracker':>7s} | "
        f"per camera: {'PSS':>5s} {'private':>7s} {'peak RSS':>8s} | analysed frames/s per camera: "
        f"{'min':>5s} {'median':>6s} (buckets)"
    )
    totals, sustained = {}, []
    with tempfile.TemporaryDirectory() as folder:
        for n in counts:
            figures, rates = measure(n, detector, args.settle_s, args.run_s, Path(folder), args.motion_gating)
            totals[n] = sum(f["pss"] for f in figures.values())
            cams = figures["cameras"]
            low, median = (min(rates), statistics.median(rates)) if rates else (float("nan"),) * 2
            if low >= 4.9:
                sustained.append(n)
            print(
                f"{n:7d} {totals[n]:12.0f} | {figures['edge']['pss']:5.0f} "
                f"{figures['fork server']['pss']:11.0f} "
                f"{figures['resource tracker']['pss']:7.0f} | {'':11s} {cams['pss'] / n:5.0f} "
                f"{cams['private'] / n:7.0f} {cams['peak_rss'] / n:8.0f} | {'':30s}"
                f"{low:5.2f} {median:6.2f} ({len(rates)})",
                flush=True,
            )
    if len(counts) > 1:
        lo, hi = counts[0], counts[-1]
        per_camera = (totals[hi] - totals[lo]) / (hi - lo)
        print(
            f"one more camera: +{per_camera:.0f} MB PSS; {totals[lo]:.0f} MB for {lo}, so about "
            f"{(1024 - totals[lo]) / per_camera + lo:.0f} cameras in 1 GB and "
            f"{(4096 - totals[lo]) / per_camera + lo:.0f} in 4 GB (memory alone)"
        )
    if sustained:
        print(
            f"most cameras run with every one at >= 4.9 analysed frames/s: {max(sustained)} "
            f"({max(sustained) / os.cpu_count():.1f} per core)"
        )


if __name__ == "__main__":
    main()
