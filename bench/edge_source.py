"""What reading a camera costs when the analysis takes 5 frames a second: the
source with the rate gate before decoding (frames the gate skips are only grabbed:
`FrameSource(admit=...)`, the pipeline's way) against decoding every frame and gating after,
on real recordings: TUD-Campus (H.264, 640×480, 25 fps: a usual IP camera's rate) and PETS09
(XviD, 768×576, about 7 fps). (An image sequence skips more: a skipped image's file is not even
read.)

Prints CPU ms per second of video (what one camera's reading costs a core) and frames decoded,
best of `--rounds`; each recording is read `--passes` times over.

    .venv/bin/python bench/edge_source.py [--fps 5] [--rounds 3] [--passes 10]"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edge.source import RateGate, open_source
from footfall_core.assets import assets_dir
from footfall_core.store import parse_config

RECORDINGS = {  # name: (source, frames per second)
    "tud_campus h264 640x480": ("datasets/tud_campus/TUD-Campus.mp4", 25.0),
    "pets09 xvid 768x576": ("datasets/pets09_s2l1/vtest.avi", 7.0),
}


def cpu_ms_per_video_s(
    source: str, fps: float, analysis_fps: float, gate_first: bool, passes: int
) -> tuple[float, int]:
    """(CPU ms per second of video, frames decoded) reading `source` `passes` times, keeping
    `analysis_fps` frames a second: gated before decoding, or every frame decoded then gated."""
    config = parse_config(
        {
            "store": {"id": "bench"},
            "floor_plan": {"width_m": 10, "height_m": 10},
            "cameras": [
                {
                    "name": "cam",
                    "source": str(assets_dir() / source),
                    "fps": fps,
                    "start_time": "2026-01-01T00:00:00",
                    "calibration": {
                        "image_points_px": [[0, 0], [1, 0], [1, 1], [0, 1]],
                        "floor_points_m": [[0, 0], [1, 0], [1, 1], [0, 1]],
                    },
                }
            ],
        },
        Path("bench.yaml"),
    )
    started, decoded, grabbed = time.process_time(), 0, 0
    for _ in range(passes):
        gate = RateGate(analysis_fps)
        camera = open_source(config.cameras[0], config, admit=gate.admit if gate_first else None)
        for frame in camera:
            decoded += 1
            if not gate_first:
                gate.admit(frame.timestamp_s)
        grabbed += camera.frames_read
    return (time.process_time() - started) * 1000 / (grabbed / fps), decoded


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fps", type=float, default=5.0, help="analysed frames per second (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, best kept (default 3)")
    parser.add_argument(
        "--passes", type=int, default=10, help="reads of each recording per round (default 10)"
    )
    args = parser.parse_args()
    print(
        f"reading a camera analysed at {args.fps:g} frames/s: CPU ms per second of video, "
        f"best of {args.rounds}"
    )
    print(
        f"{'recording':26s} {'fps':>4s} | decode all: {'ms/s':>6s} {'decoded':>7s} | gate first: "
        f"{'ms/s':>6s} {'decoded':>7s} | saved"
    )
    for name, (source, fps) in RECORDINGS.items():
        figures = {}
        for gate_first in (False, True):
            runs = [
                cpu_ms_per_video_s(source, fps, args.fps, gate_first, args.passes) for _ in range(args.rounds)
            ]
            figures[gate_first] = min(runs)
        (all_ms, all_n), (gated_ms, gated_n) = figures[False], figures[True]
        print(
            f"{name:26s} {fps:4g} |             {all_ms:6.1f} {all_n:7d} |             {gated_ms:6.1f} "
            f"{gated_n:7d} | {1 - gated_ms / all_ms:5.0%}",
            flush=True,
        )


if __name__ == "__main__":
    main()
