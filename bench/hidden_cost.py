"""What counting the people hidden behind others costs a frame (`CameraPipeline._with_hidden`,
`edge.hidden`), on the example configs' whole recordings: PETS09 with each model, Mall with
yolox_nano. Frames are split by what the stage found: nobody lost (it only asks the tracker),
someone lost but hidden behind nobody, someone held. Printed per split: frames, mean and
median µs of wall time (perf_counter; on a shared machine the median is the figure to read, a
burst of other work inflates the mean), beside the pipeline's CPU ms a frame.

    .venv/bin/python bench/hidden_cost.py      # about a minute and a half on an idle machine
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.edge_runs import _served_by, decoding_reader
from edge.model import use_threads
from edge.pipeline import CameraPipeline
from edge.types import Tracks
from tests.pipeline_runs import example

RUNS = (
    ("pets09", "view001", "person_detector_192.onnx"),
    ("pets09", "view001", "yolox_nano.onnx"),
    ("mall", "cam1", "yolox_nano.onnx"),
)


class HiddenTimer:
    """Wraps a pipeline's `_with_hidden` (and its tracker's `lost`, to see whether anyone was
    lost): wall µs of each call, by what it found."""

    def __init__(self, pipeline: CameraPipeline) -> None:
        self.split: dict[str, list[float]] = {"nobody lost": [], "lost, none hidden": [], "held": []}
        self._stage, self._ask, self._lost = pipeline._with_hidden, pipeline.tracker.lost, 0
        pipeline.tracker.lost = self._asked  # type: ignore[method-assign]
        pipeline._with_hidden = self._timed  # type: ignore[method-assign]

    def _asked(self, within_s: float) -> tuple[np.ndarray, np.ndarray]:
        found = self._ask(within_s)
        self._lost = len(found[0])
        return found

    def _timed(self, tracks: Tracks) -> Tracks:
        self._lost = 0
        started = time.perf_counter_ns()
        out = self._stage(tracks)
        us = (time.perf_counter_ns() - started) / 1e3
        held = len(out) > len(tracks)
        self.split["held" if held else "lost, none hidden" if self._lost else "nobody lost"].append(us)
        return out


def main() -> None:
    use_threads(1)  # as a camera's process with the examples' detector.threads
    for name, camera, model in RUNS:
        config = example(name, camera)
        config = config.model_copy(update={"detector": config.detector.model_copy(update={"model": model})})
        pipeline = CameraPipeline(config, camera)
        timer = HiddenTimer(pipeline)
        started_s = time.process_time()
        with _served_by(config, camera, decoding_reader(config, camera, 10**9)):
            for _ in pipeline.run():
                pass
        cpu_s = time.process_time() - started_s
        every = [us for split in timer.split.values() for us in split]
        parts = [
            f"{kind} {len(us)} frames, mean {np.mean(us or [0]):.0f}, median {np.median(us or [0]):.0f}"
            for kind, us in timer.split.items()
        ]
        print(
            f"{name} {model}: {len(every)} frames, pipeline {1e3 * cpu_s / len(every):.1f} CPU ms a frame "
            f"(decode included); µs a frame: {'; '.join(parts)}; all frames mean {np.mean(every):.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
