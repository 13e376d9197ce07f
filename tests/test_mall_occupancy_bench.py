"""bench/mall_occupancy.py on a range of Mall's frames: the replay starts at `--first` as the
example does at frame 1, and each bucket is compared with the annotated counts of its own
frames; a dataset without counts.csv is refused naming it."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime, timedelta
from types import SimpleNamespace

import numpy as np

from footfall_core.assets import REPO_ROOT
from tests.pipeline_runs import START
from tests.test_accuracy_mall import bucket_errors


def zones_message(start_s: float, occupancy: float) -> SimpleNamespace:
    begin = datetime.fromisoformat(START.replace("Z", "+00:00")) + timedelta(seconds=start_s)
    roi = SimpleNamespace(zone="roi", mean_occupancy=occupancy)
    return SimpleNamespace(kind="zones", bucket_start=begin, bucket_s=10, zones=[roi])


def test_buckets_are_compared_with_the_counts_of_their_own_frames(tmp_path):
    """Frames 1-100 annotated with their own number as the count; a replay of frames 21-50 at
    2 frames a second fills a bucket with frames 21-40 and one with 41-50 (51 on are not
    replayed)."""
    counts_csv = tmp_path / "counts.csv"
    counts_csv.write_text("frame,count\n" + "".join(f"{k},{k}\n" for k in range(1, 101)))
    run = SimpleNamespace(
        config=SimpleNamespace(cameras=[SimpleNamespace(fps=2.0)]),
        messages=[zones_message(0, 30.0), zones_message(10, 46.0)],
    )
    np.testing.assert_allclose(bucket_errors(run, counts_csv, 21, 50), [30.0 - 30.5, 46.0 - 45.5])
    np.testing.assert_allclose(bucket_errors(run, counts_csv), [30.0 - 10.5, 46.0 - 30.5])


def test_the_bench_measures_a_range_of_frames_and_refuses_a_dataset_without_counts(assets, tmp_path):
    bench = [sys.executable, str(REPO_ROOT / "bench/mall_occupancy.py")]
    out = subprocess.run(
        [*bench, "--first", "401", "--last", "440"], capture_output=True, text=True, check=True
    ).stdout
    print(out)
    assert "40 frames" in out
    assert re.search(r"frames 401-420: MAE \d+\.\d\d, bias [+-]\d+\.\d\d people \(1 buckets\)", out)
    assert re.search(r"frames 421-440: MAE \d+\.\d\d, bias [+-]\d+\.\d\d people \(1 buckets\)", out)
    refused = subprocess.run([*bench, "--dataset", str(tmp_path)], capture_output=True, text=True)
    assert refused.returncode == 1 and f"error: {tmp_path / 'counts.csv'}: no such file" in refused.stderr
