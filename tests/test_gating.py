"""Motion gating (edge.gating) on PETS09 frames: what counts as motion, when the detector runs
and what is re-used; and, on the whole recording (slow), that the levers keep the counts
within 2 % of the pipeline without them while skipping most detector runs on empty stretches."""
from __future__ import annotations

import numpy as np
import pytest

from edge.adaptive import AdaptiveRate
from edge.config import ConfigError, parse_config
from edge.detector import Detector
from edge.gating import GatedDetector, MotionGate
from edge.pipeline import CameraPipeline, Heartbeat
from edge.types import Frame
from tests.gt import PETS_FPS
from tests.pipeline_runs import example
from tests.quiet_clip import empty_background, pets09_frames, quiet_config, write_quiet_clip


@pytest.fixture(scope="module")
def frames(assets):
    return pets09_frames(assets, 120)


@pytest.fixture(scope="module")
def background(frames):
    return empty_background(frames)


@pytest.fixture(scope="module")
def detector():
    config = example("pets09", "view001")
    return Detector.for_camera(config.camera("view001"), config)


def noisy(image: np.ndarray, seed: int, sd: float = 2.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(image + rng.normal(0, sd, image.shape), 0, 255).astype(np.uint8)


def test_sensor_noise_on_a_still_picture_is_not_motion(background):
    gate = MotionGate()
    gate.changed(noisy(background, 1))
    gate.keep_reference()
    assert not any(gate.changed(noisy(background, seed)) for seed in range(2, 12))


def test_people_walking_between_frames_are_motion(frames):
    gate = MotionGate()
    changed = []
    for a, b in zip(frames[:40], frames[1:41], strict=True):
        gate.changed(a)
        gate.keep_reference()
        changed.append(gate.changed(b))
    assert np.mean(changed) >= 0.9  # 2-8 people walk in every frame of PETS09


def test_people_entering_an_empty_picture_are_motion(frames, background):
    gate = MotionGate()
    gate.changed(background)
    gate.keep_reference()
    assert all(gate.changed(image) for image in frames[::10])


def test_still_picture_reuses_the_people_and_rechecks_every_recheck_s(frames, detector):
    gated = GatedDetector(detector, motion=MotionGate(), recheck_s=5.0)
    still = frames[0]
    found = [gated(Frame("view001", i, 100.0 + i / PETS_FPS, noisy(still, i))) for i in range(84)]  # 12 s
    assert gated.runs == 3 and gated.reused == 81  # at 0 s, 5 s and 10 s
    assert len(found[0]) > 0
    assert all(f is found[0] for f in found[1:35])  # the same people until the re-check at 5 s
    moved = gated(Frame("view001", 84, 112.0, frames[30]))
    assert gated.runs == 4 and moved is not found[-1]


def test_adaptive_rate_gates_on_people_kept_by_the_mask(frames, background, detector):
    """A 'person' the mask removes does not keep the scene busy: the detector slows down."""
    keep_none = GatedDetector(detector, rate=AdaptiveRate(2.0, 1.0), keep=lambda d: d[np.zeros(len(d), bool)])
    for i in range(70):  # 10 s of the empty walkway
        keep_none(Frame("view001", i, i / PETS_FPS, noisy(background, i)))
    assert keep_none.runs == 14 + 8  # 2 s at the full rate, then once a second
    keep_all = GatedDetector(detector, rate=AdaptiveRate(2.0, 1.0))
    for i in range(70):
        keep_all(Frame("view001", i, i / PETS_FPS, noisy(background, i)))
    assert keep_all.runs == 70  # the detector sees a person in the sign at the top left


def test_levers_are_off_by_default_and_validated():
    config = example("pets09", "view001")
    assert not config.analysis.motion_gating and not config.analysis.adaptive_rate
    gated = GatedDetector.from_analysis(None, config.analysis)
    assert gated.motion is None and gated.rate is None
    data = config.model_dump(mode="json", exclude={"path"})
    data["analysis"]["motion_min_changed"] = 2
    with pytest.raises(ConfigError, match="analysis.motion_min_changed"):
        parse_config(data, "store.yaml")


def test_a_camera_can_switch_a_lever_of_its_store_on_or_off():
    data = example("pets09", "view001").model_dump(mode="json", exclude={"path"})
    data["analysis"].update(motion_gating=True, adaptive_rate=True)
    data["cameras"][0]["motion_gating"] = False
    config = parse_config(data, "store.yaml")
    pipeline = CameraPipeline(config, "view001", detector=lambda frame: None)
    assert pipeline.gate.motion is None and pipeline.gate.rate is not None
    assert config.analysis.motion_gating  # the store's setting is untouched
    data["cameras"][0]["adaptive_rate"] = "sometimes"
    with pytest.raises(ConfigError, match="cameras.0.adaptive_rate"):
        parse_config(data, "store.yaml")


def _replay(config, detector) -> tuple[tuple, int, int]:
    pipeline = CameraPipeline(config, "view001", detector=detector)
    messages = tuple(m for m in pipeline.run() if not isinstance(m, Heartbeat))
    return messages, pipeline.frames_analysed, pipeline.gate.runs


def _counts(messages) -> dict[str, float]:
    lines = [c for m in messages if getattr(m, "kind", None) == "lines" for c in m.lines]
    grid = [s for m in messages if getattr(m, "kind", None) == "grid" for _, _, s in m.cells]
    return {"in": sum(c.in_count for c in lines), "out": sum(c.out_count for c in lines),
            "person_s": sum(grid)}


@pytest.mark.slow
def test_levers_keep_counts_within_2_percent_on_pets09_after_an_empty_stretch(assets, tmp_path, detector):
    """The whole PETS09 recording after 30 s of its empty walkway, through the whole pipeline,
    without and with each lever: line in/out and person-seconds of heat within 2 %, while the
    levers skip most detector runs on the empty stretch."""
    pattern, empty = write_quiet_clip(assets, tmp_path, empty_s=30)
    base = quiet_config(example("pets09", "view001", cell_m=1.0), "view001", pattern)
    levers = {"motion": {"motion_gating": True}, "adaptive": {"adaptive_rate": True},
              "both": {"motion_gating": True, "adaptive_rate": True}}
    messages, analysed, runs = _replay(base, detector)
    reference = _counts(messages)
    print(f"no lever: {runs} detector runs of {analysed} frames, {reference}")
    assert runs == analysed == empty + 795 and reference["in"] > 5 and reference["out"] > 5
    for name, options in levers.items():
        config = base.model_copy(update={"analysis": base.analysis.model_copy(update=options)})
        messages, analysed, runs = _replay(config, detector)
        counts = _counts(messages)
        print(f"{name}: {runs} detector runs of {analysed} frames, {counts}")
        assert analysed == empty + 795
        assert runs <= analysed - 0.6 * empty  # most of the empty stretch skipped
        for key, value in reference.items():
            assert counts[key] == pytest.approx(value, rel=0.02), key
