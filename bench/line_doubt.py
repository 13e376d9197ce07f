"""Does a line's feet doubt (edge/line_doubt.py, from the calibration alone) predict how well the
camera counts it? Reads the per-line counts a line bench printed and relates each line's
|error| / truth to its median doubt across.

    .venv/bin/python bench/line_accuracy.py --seeds 1 2 3 4 5 6 --per-line > pets09_lines.txt
    .venv/bin/python bench/line_doubt.py pets09_lines.txt
    .venv/bin/python bench/line_views.py --seeds 1 2 3 --per-line > wildtrack_lines.txt
    .venv/bin/python bench/line_doubt.py wildtrack_lines.txt --config examples/wildtrack.yaml \
        --frame-size 1920 1080
    .venv/bin/python bench/line_fusion.py --seeds 1 2 3 --group-only --per-line > square_lines.txt
    .venv/bin/python bench/line_doubt.py square_lines.txt --config examples/wildtrack.yaml \
        --frame-size 1920 1080

Each line's camera is the view named by the `seed N VIEW:` row above its table
(bench/line_views.py), else `--camera`; its doubt is that camera's alone (the benches count
each view alone). Where the row names a fusion group (bench/line_fusion.py), the doubt is the
group's (`edge.line_doubt.group_line_doubt`), and the lines the camera an installer would
pick for each (`bench.line_fusion.installer_pick`) would have warned about alone are counted
against those the group warns about. Printed per seed: the Spearman rank correlation of the
median doubt across with |error| / truth (lines with truth), the line accuracy
(1 − Σ|error| / Σ truth) of the lines in each tercile of doubt (bounds over all the file's
lines), and of the lines below and above `--split-m` (default `BODY_WIDTH_M`, the warning's
bound, from the model, not fitted); then the same over all seeds, with the share of 2000
shuffles of the lines' doubts within each seed that split the accuracy at least as far (a
permutation p-value). The per-line file is read as printed: a replay's minutes are paid once.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.line_fusion import installer_pick
from calibration.frames import source_frame_size
from edge.line_doubt import BODY_WIDTH_M, View, group_line_doubt, line_doubt
from footfall_core.assets import REPO_ROOT
from footfall_core.geometry import CameraGeometry
from footfall_core.store import Line, StoreConfig, load_config

_ROW = re.compile(
    r"^(s(\d+)-\d+)\s+\(\s*(\S+),\s*(\S+)\)\s+\(\s*(\S+),\s*(\S+)\)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)"
)
_VIEW = re.compile(r"^seed \d+ (\S+): line accuracy")
SHUFFLES = 2000


@dataclass(frozen=True)
class Scored:
    seed: int
    camera: str
    line: Line
    truth: int  # crossings, in and out
    abs_error: int  # |counted − truth| in plus out
    doubt_m: float = float("nan")  # median feet doubt across the line
    alone_m: float = float("nan")  # a group's line: the installer-picked camera's own median doubt


def read_lines(path: Path, camera: str) -> list[Scored]:
    """The lines of a `--per-line` bench output, each with its camera, truth and error."""
    rows = []
    for text in path.read_text().splitlines():
        if view := _VIEW.match(text):
            camera = view.group(1)
        elif row := _ROW.match(text):
            name, seed, sx, sy, ex, ey, a, b, c, d = row.groups()
            line = Line(name=name, start_m=(float(sx), float(sy)), end_m=(float(ex), float(ey)))
            a_, b_, c_, d_ = int(a), int(b), int(c), int(d)
            rows.append(Scored(int(seed), camera, line, a_ + b_, abs(c_ - a_) + abs(d_ - b_)))
    return rows


def accuracy(rows: list[Scored]) -> str:
    truth = sum(r.truth for r in rows)
    if not truth:
        return f"   -   ({len(rows):3d} lines)"
    return f"{1 - sum(r.abs_error for r in rows) / truth:6.1%} ({len(rows):3d} lines, truth {truth:5d})"


def doubts(config: StoreConfig, row: Scored, views: dict[str, View]) -> tuple[float, float]:
    """The row's line's median doubt, and for a group's line the installer-picked camera's own
    (NaN otherwise)."""
    group = next((g for g in config.fusion if g.name == row.camera), None)
    if group is None:
        view = views[row.camera]
        alone = line_doubt(row.line, view.camera, view.geometry, view.frame_size_px, config.analysis)
        return alone.median_sigma_m, float("nan")
    grouped = [views[name] for name in group.cameras]
    pick = grouped[installer_pick([v.geometry for v in grouped], row.line)]
    alone = line_doubt(row.line, pick.camera, pick.geometry, pick.frame_size_px, config.analysis)
    return group_line_doubt(row.line, group, grouped, config.analysis).median_sigma_m, alone.median_sigma_m


def split_gap(rows: list[Scored], above: np.ndarray) -> float:
    """Accuracy of the lines below minus that of the lines above (points of 1)."""
    truth = np.array([r.truth for r in rows])
    error = np.array([r.abs_error for r in rows])
    return float(error[above].sum() / truth[above].sum() - error[~above].sum() / truth[~above].sum())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("per_line", type=Path, help="a line bench's --per-line output")
    parser.add_argument("--config", type=Path, default=REPO_ROOT / "examples/pets09.yaml")
    parser.add_argument("--camera", help="the lines' camera where the file names none (default: the first)")
    parser.add_argument(
        "--frame-size", type=int, nargs=2, help="frame width height px (default: the camera's source)"
    )
    parser.add_argument(
        "--split-m",
        type=float,
        default=BODY_WIDTH_M,
        help=f"split the lines at this doubt (default {BODY_WIDTH_M:g} m, where the page warns)",
    )
    args = parser.parse_args()
    config = load_config(args.config)
    views = {}
    for camera in config.cameras:
        size = tuple(args.frame_size) if args.frame_size else source_frame_size(config, camera.name)
        views[camera.name] = View(camera, CameraGeometry.from_config(camera, size), size)
    scored = []
    for row in read_lines(args.per_line, args.camera or config.cameras[0].name):
        doubt_m, alone_m = doubts(config, row, views)
        scored.append(Scored(**{**row.__dict__, "doubt_m": doubt_m, "alone_m": alone_m}))
    rows = [r for r in scored if np.isfinite(r.doubt_m)]
    bounds = np.percentile([r.doubt_m for r in rows], [100 / 3, 200 / 3])
    print(
        f"{args.per_line}: {len(rows)} lines ({len(scored) - len(rows)} unseen), median feet doubt "
        f"across {np.median([r.doubt_m for r in rows]):.2f} m; terciles below {bounds[0]:.2f}, "
        f"{bounds[0]:.2f}-{bounds[1]:.2f}, above {bounds[1]:.2f} m; split at {args.split_m:g} m"
    )
    seeds = sorted({r.seed for r in rows})
    for seed in [*seeds, None]:
        of = [r for r in rows if seed is None or r.seed == seed]
        traffic = [r for r in of if r.truth]
        rho = spearmanr([r.doubt_m for r in traffic], [r.abs_error / r.truth for r in traffic]).statistic
        terciles = np.searchsorted(bounds, [r.doubt_m for r in of])
        print(
            f"{'all seeds' if seed is None else f'seed {seed}'}: Spearman {rho:+.2f} ({len(traffic)} lines); "
            + " | ".join(accuracy([r for r, t in zip(of, terciles, strict=True) if t == k]) for k in range(3))
        )
        above = np.array([r.doubt_m >= args.split_m for r in of])
        below_text = accuracy([r for r, a in zip(of, above, strict=True) if not a])
        above_text = accuracy([r for r, a in zip(of, above, strict=True) if a])
        print(f"    below {args.split_m:g} m {below_text}, above {above_text}")
    above = np.array([r.doubt_m >= args.split_m for r in rows])
    if above.all() or not above.any():
        print(f"split at {args.split_m:g} m: every line is on one side")
    else:
        seed_of = np.array([r.seed for r in rows])
        gap, rng, wider = split_gap(rows, above), np.random.default_rng(0), 0
        for _ in range(SHUFFLES):
            shuffled = above.copy()
            for seed in seeds:
                at = np.flatnonzero(seed_of == seed)
                shuffled[at] = rng.permutation(shuffled[at])
            wider += split_gap(rows, shuffled) >= gap
        print(
            f"split at {args.split_m:g} m: the lines above count {100 * gap:.1f} points worse, "
            f"permutation p {wider / SHUFFLES:.3f}"
        )
    grouped = [r for r in rows if np.isfinite(r.alone_m)]
    if grouped:
        warned = [r for r in grouped if r.alone_m >= args.split_m]
        print(
            f"group lines warned about: {sum(r.doubt_m >= args.split_m for r in grouped)} of {len(grouped)} "
            f"by the group, {len(warned)} by the installer-picked camera alone; the group counted those "
            f"{accuracy(warned)}, the others "
            f"{accuracy([r for r in grouped if r.alone_m < args.split_m])}"
        )


if __name__ == "__main__":
    main()
