"""Motion gating (edge.gating) on PETS09 frames: what counts as motion, when the detector runs,
where (which tiles' passes) when it tiles, and what is re-used; and, on the whole recording
(slow), that the levers keep the counts within 2 % of the pipeline without them while skipping
most detector runs on empty stretches."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from edge.adaptive import AdaptiveRate
from edge.detector import RUN, Detector
from edge.gating import BUSY_SKIP_MAX, CROP_MARGIN, GatedDetector, MotionGate
from edge.merge import Pass
from edge.model import PersonModel
from edge.pipeline import CameraPipeline, Heartbeat
from edge.tiles import Tile, TilePlan
from edge.types import Detections, Frame
from footfall_core.store import ConfigError, Tiling, parse_config
from tests.gt import PETS_FPS
from tests.pipeline_runs import example, run_example
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


def tiled_detector(tiling: Tiling) -> Detector:
    config = example("pets09", "view001")
    camera = config.camera("view001").model_copy(update={"tiling": tiling})
    return Detector.for_camera(camera, config)


def with_blob(image: np.ndarray, x_px: int, y_px: int = 420) -> np.ndarray:
    """`image` with a black 40 × 80 px block at (x_px, y_px): something moving."""
    out = image.copy()
    out[y_px : y_px + 80, x_px : x_px + 40] = 0
    return out


# 2×2 tiles of a 768×576 PETS09 frame, overlapping by 20 %: x 0-427 and 341-768, y 0-320 and
# 256-576. A block at x >= 440, y >= 330 lies in the bottom-right tile (index 3) only.
TILES_2X2 = Tiling(cols=2, rows=2, overlap=0.2)
BLOB_TILE = 3


def blob_frames(still: np.ndarray, count: int, start_s: float = 100.0) -> list[Frame]:
    """`count` frames at 7 fps of a still picture (sensor noise), a block crossing the bottom-right tile."""
    return [
        Frame("view001", i, start_s + i / PETS_FPS, with_blob(noisy(still, i), 440 + 4 * (i % 70)))
        for i in range(count)
    ]


def changed(gate: MotionGate, image: np.ndarray, regions=None) -> list[bool]:
    """Per region, did the gate see motion (a changed part) since that region's reference?"""
    return [box is not None for box in gate.changed_boxes(image, regions)]


def test_sensor_noise_on_a_still_picture_is_not_motion(background):
    gate = MotionGate()
    changed(gate, noisy(background, 1))
    gate.keep_reference()
    assert not any(changed(gate, noisy(background, seed))[0] for seed in range(2, 12))


def test_people_walking_between_frames_are_motion(frames):
    gate = MotionGate()
    moved = []
    for a, b in zip(frames[:40], frames[1:41], strict=True):
        changed(gate, a)
        gate.keep_reference()
        moved.append(changed(gate, b)[0])
    assert np.mean(moved) >= 0.9  # 2-8 people walk in every frame of PETS09


def test_people_entering_an_empty_picture_are_motion(frames, background):
    gate = MotionGate()
    changed(gate, background)
    gate.keep_reference()
    assert all(changed(gate, image)[0] for image in frames[::10])


def test_each_region_is_compared_with_its_own_reference(background):
    """A region's reference moves on only when the detector ran there (`keep_reference` of
    that region): a change in the overlap of two regions stays a change for the region that
    did not run."""
    left, right = (0, 0, 500, 576), (300, 0, 768, 576)
    gate = MotionGate()
    changed(gate, background, [left, right])
    gate.keep_reference()
    assert list(changed(gate, with_blob(background, 600), [left, right])) == [False, True]
    overlap = with_blob(background, 400)
    assert list(changed(gate, overlap, [left, right])) == [True, True]
    gate.keep_reference([left])
    assert list(changed(gate, noisy(overlap, 1), [left, right])) == [False, True]


def test_a_tiling_detector_runs_only_the_tiles_that_changed_and_the_whole_frame(frames):
    detector = tiled_detector(TILES_2X2.model_copy(update={"full_frame": True}))
    assert len(detector.passes(768, 576)) == 5  # 4 tiles, then the whole frame
    gated = GatedDetector(detector, motion=MotionGate(), recheck_s=5.0)
    moving = blob_frames(frames[0], 15)  # 2 s
    first = gated(moving[0]).ran.passes
    ran_before = detector.passes_run
    for frame in moving[1:]:
        last = gated(frame)
        assert last.passes_run == 2  # the block's tile and the whole frame (which changed too)
    assert detector.passes_run - ran_before == 2 * 14 and gated.passes_skipped == 3 * 14
    assert gated.runs == 15 and gated.reused == 0
    same = [a is b for a, b in zip(first, last.ran.passes, strict=True)]
    assert same == [True, True, True, False, False]  # the still tiles' people are those of the first frame
    gated(Frame("view001", 15, moving[-1].timestamp_s + 1 / PETS_FPS, moving[-1].image))  # nothing moved
    assert gated.reused == 1 and gated.passes_skipped == 3 * 14 + 5


def test_a_still_tile_reuses_its_people_and_is_rechecked_after_recheck_s(frames):
    """The people of the three still tiles stay exactly as found at 0 s (their boxes go on to the
    tracker), merged with the fresh pass of the block's tile; at 5 s every tile runs again."""
    detector = tiled_detector(TILES_2X2)
    gated = GatedDetector(detector, motion=MotionGate(), recheck_s=5.0)
    moving = blob_frames(frames[0], 43)  # 6 s
    found = []
    passes = []
    for frame in moving:
        result = gated(frame)
        found.append(result.detections)
        passes.append(result.passes_run)
    assert passes == [4] + [1] * 34 + [4] + [1] * 7  # at 0 s and 5 s (frame 35) all four tiles

    def away_from_the_block(detections):  # boxes wholly outside the block's tile (x >= 341, y >= 256)
        xyxy = detections.xyxy
        return {tuple(box) for box in xyxy[(xyxy[:, 2] < 341) | (xyxy[:, 3] < 256)].tolist()}

    still_people = away_from_the_block(found[0])
    assert len(still_people) >= 2
    assert all(away_from_the_block(f) == still_people for f in found[1:35])
    fresh = away_from_the_block(detector(moving[20].image).detections)  # what running them would have found
    assert fresh != still_people  # sensor noise moves boxes a little: the re-used ones are the 0 s ones


def test_without_tiling_the_gate_runs_the_whole_detector_or_nothing(frames, detector):
    """No tiling: one pass over the whole frame, run whenever anything moved (here the block in
    one corner), as before "where" existed; its people are the detector's own."""
    gated = GatedDetector(detector, motion=MotionGate(), recheck_s=5.0)
    for frame in blob_frames(frames[0], 8):
        found = gated(frame)
        assert found.passes_run == 1
        expected = detector(frame.image).detections
        assert np.array_equal(found.detections.xyxy, expected.xyxy)
    assert gated.runs == 8 and gated.passes_skipped == 0
    with pytest.raises(ValueError, match="steps has 2 passes, a 768x576 px frame gets 1"):
        detector(frames[0], [RUN, RUN])


def test_crops_run_the_model_only_on_the_part_that_moved(frames, detector):
    """With crops, a block moving in one corner of a still picture runs the model on that
    corner only; the people elsewhere are the last whole frame's, re-used; after recheck_s the
    whole frame runs again."""
    gated = GatedDetector(detector, motion=MotionGate(), recheck_s=5.0, crop=True)
    blobs = blob_frames(frames[0], 40)  # 40 frames at 7 fps: the re-check falls at 5 s (frame 35)
    before = detector.input_px_run
    first = gated(blobs[0]).detections
    px_whole = detector.input_px_run - before
    people_outside = []
    for frame in blobs[1:35]:
        before = detector.input_px_run
        result = gated(frame)
        found = result.detections
        [box] = result.crops
        assert box[0] > 200 and box[1] > 200
        assert detector.input_px_run - before <= 0.5 * px_whole
        outside = first[(first.xyxy[:, 2] <= box[0]) | (first.xyxy[:, 3] <= box[1])]
        people_outside.append(len(outside))
        for box in outside.xyxy:  # the same rows, not found again
            assert (found.xyxy == box).all(axis=1).any()
    assert gated.cropped == 34 and min(people_outside) >= 3
    before = detector.input_px_run
    gated(blobs[35])
    assert gated.cropped == 34 and detector.input_px_run - before == px_whole  # the re-check


def test_a_screen_in_the_middle_of_the_picture_runs_the_whole_frame(frames, detector):
    """Motion gating is on by default, so a camera facing a screen or a moving display must
    lose nothing: when what changes spans more than CROP_MAX_SHARE of the frame, the whole
    frame runs and the people are the detector's own."""
    gated = GatedDetector(detector, motion=MotionGate(), recheck_s=5.0, crop=True)
    rng = np.random.default_rng(0)
    for i in range(6):
        image = noisy(frames[0], i)
        image[60:520, 80:700] = rng.integers(0, 255, (460, 620, 3), np.uint8)  # a screen, new each frame
        found = gated(Frame("view001", i, 100.0 + i / PETS_FPS, image)).detections
        assert np.array_equal(found.xyxy, detector(image).detections.xyxy)
    assert gated.runs == 6 and gated.cropped == 0 and gated.reused == 0


def test_a_picture_changing_everywhere_backs_off_the_check_and_a_still_one_resumes_it(frames, detector):
    """On a crowded scene the motion check saves nothing, so after each check that ran every
    pass whole it stops looking for 1, 2, 4 ... BUSY_SKIP_MAX frames; those frames run whole
    (the people are the detector's own). Once the picture is still, a check within
    BUSY_SKIP_MAX + 1 frames finds it so and the people are re-used again."""
    gated = GatedDetector(detector, motion=MotionGate(), recheck_s=60.0, crop=True)
    looks = []
    changed_boxes = gated.motion.changed_boxes
    gated.motion.changed_boxes = lambda image, regions=None: looks.append(1) or changed_boxes(image, regions)
    rng = np.random.default_rng(0)
    busy = 20
    for i in range(busy):
        image = frames[0].copy()
        image[20:560, 20:750] = rng.integers(0, 255, (540, 730, 3), np.uint8)  # everything changes
        found = gated(Frame("view001", i, 100.0 + i / PETS_FPS, image)).detections
        assert np.array_equal(found.xyxy, detector(image).detections.xyxy)
    assert gated.runs == busy and gated.reused == 0
    # frames 2, 4-5, 7-10, 12-19 unchecked; pictures taken: the first frame, 4 checks (frames 1, 3,
    # 6, 11) and the last frame of each back-off (2, 5, 10, 19) as the next check's reference
    assert BUSY_SKIP_MAX == 8 and gated.unchecked == 1 + 2 + 4 + 8 and len(looks) == 1 + 4 + 4
    still = frames[0]
    for i in range(busy, busy + BUSY_SKIP_MAX + 3):
        gated(Frame("view001", i, 100.0 + i / PETS_FPS, still))
    assert gated.reused >= 1, "a still picture is gated again after the back-off"


class ScriptedDetector(Detector):
    """The real detector (letterbox, crops, edge rule, merge) whose model answers from a script:
    a whole-frame pass finds `people`, a crop the boxes `in_region` gives for the image region
    it shows (recorded in `regions`)."""

    def __init__(
        self, model_path, people: list[list[float]], in_region, tiling: Tiling | None = None
    ) -> None:
        model = PersonModel(model_path)
        super().__init__(model, TilePlan(tiling, model.input_size_px))
        self.people, self.in_region, self.regions = np.array(people, np.float32), in_region, []

    def _infer(self, canvas: np.ndarray, scale: float, offset_px=(0, 0)):
        height, width = canvas.shape[:2]
        region = (
            offset_px[0] / scale,
            offset_px[1] / scale,
            (offset_px[0] + width) / scale,
            (offset_px[1] + height) / scale,
        )
        if offset_px == (0, 0) and (width, height) == (416, 320):  # a whole 768x576 frame
            boxes = self.people
        else:
            self.regions.append(region)
            boxes = np.array(self.in_region(region), np.float32).reshape(-1, 4)
        return boxes, np.full(len(boxes), 0.8, np.float32)


def test_a_crop_holds_whole_the_people_it_touches_and_drops_what_its_edge_cuts(frames, assets):
    """A person last seen next to the motion is inside the crop with a margin (found again
    there, not re-used twice); one far from it is re-used; a box the crop's inner edge cuts
    (a still thing the model scores otherwise without its context) is dropped."""
    near, far = [500, 330, 540, 430], [50, 50, 90, 150]  # the block: x 440-484, y 420-500
    moved, cut = [near[0] + 2, near[1], near[2] + 2, near[3]], lambda r: [r[0], 200, r[0] + 30, 280]
    stand_in = ScriptedDetector(
        assets / "models/yolox_nano.onnx", [near, far], lambda r: [moved, cut(r)]
    )  # cut: by the crop's left edge
    gated = GatedDetector(stand_in, motion=MotionGate(), recheck_s=5.0, crop=True)
    blobs = blob_frames(frames[0], 3)
    gated(blobs[0])
    found = gated(blobs[1]).detections
    x0, y0, x1, _ = stand_in.regions[-1]
    margin = CROP_MARGIN * 768
    assert x0 <= near[0] - margin and y0 <= near[1] - margin and x1 >= min(768, near[2] + margin)
    assert x0 > far[2] and gated.cropped == 1
    np.testing.assert_array_equal(found.xyxy, [[502, 330, 542, 430], far])


class ScriptedTiles(Detector):
    """The real detector (passes, plan, merge) whose passes answer from a script, by pass and by
    frame (the frame's number is its first pixel): the whole frame finds a big person walking
    30 px a frame to the right, the bottom-left tile finds the same person (its box as the whole
    frame's), the top-left tile a small person only it finds."""

    def _pass(self, image: np.ndarray, tile, region=None) -> tuple[Pass, int]:
        i = int(image[0, 0, 0])
        big, small = [100 + 30 * i, 300, 160 + 30 * i, 500], [200 + 5 * i, 100, 215 + 5 * i, 140]
        boxes = {(0, 0): [small], (0, 256): [big], (0, 0, "whole"): [big]}.get(
            (tile.x0, tile.y0, "whole") if tile == Tile.whole(768, 576) else (tile.x0, tile.y0), []
        )
        xyxy = np.array(boxes, np.float32).reshape(-1, 4)
        return Pass(xyxy, np.full(len(xyxy), 0.8, np.float32), np.full((len(xyxy), 4), np.nan, np.float32)), 0


def test_tiles_every_other_frame_reuse_only_the_people_the_whole_frame_pass_misses(assets):
    """With tiles_every 2 the tiles run on every other frame, the whole-frame pass on each. On
    the frames between, a tile's person the whole-frame pass also found is not re-used: the
    whole-frame pass finds them afresh, 30 px further on, and their old box beside the new one
    would count them twice. The small person only a tile finds is re-used."""
    tiling = TILES_2X2.model_copy(update={"full_frame": True, "tiles_every": 2})
    stand_in = ScriptedTiles.load(assets / "models/yolox_nano.onnx", tiling=tiling)
    gated = GatedDetector(stand_in, tiles_every=tiling.tiles_every)
    passes, found = [], []
    for i in range(5):
        image = np.zeros((576, 768, 3), np.uint8)
        image[0, 0, 0] = i
        result = gated(Frame("view001", i, 100.0 + i / 5, image))
        found.append(sorted(result.detections.xyxy.tolist()))
        passes.append(result.passes_run)
    assert passes == [5, 1, 5, 1, 5]
    assert gated.passes_skipped == 2 * 4 and gated.runs == 5
    assert found[1] == [[130, 300, 190, 500], [200, 100, 215, 140]]  # the big person once, where they are now
    assert found[2] == [[160, 300, 220, 500], [210, 100, 225, 140]]
    assert found[3] == [[190, 300, 250, 500], [210, 100, 225, 140]]  # the small one re-used from frame 2


def test_tiles_every_needs_a_whole_frame_pass_and_is_named_in_errors():
    data = example("mall", "cam1").model_dump(mode="json", exclude={"path"})
    assert parse_config(data, "mall.yaml").cameras[0].tiling.tiles_every == 2  # as shipped
    for tiling, message in (
        (
            {"cols": 2, "rows": 2, "tiles_every": 2},
            "cameras.0.tiling: .*tiles_every 2 needs a whole-frame pass",
        ),
        ({"cols": 2, "rows": 1, "full_frame": True, "tiles_every": 0}, "cameras.0.tiling.tiles_every"),
        ({"cols": 2, "rows": 1, "full_frame": True, "tiles_every": 11}, "cameras.0.tiling.tiles_every"),
    ):
        bad = {**data, "cameras": [{**data["cameras"][0], "tiling": tiling}]}
        with pytest.raises(ConfigError, match=message):
            parse_config(bad, "mall.yaml")
    one = {**data, "cameras": [{**data["cameras"][0], "tiling": {"cols": 2, "rows": 2, "tiles_every": 1}}]}
    assert parse_config(one, "mall.yaml").cameras[0].tiling.tiles_every == 1


def test_crops_need_a_model_that_takes_any_shape(frames, assets, caplog):
    square = Detector.load(assets / "models/yolox_nano.onnx", letterbox="square")
    with caplog.at_level(logging.INFO, logger="edge.gating"):
        gated = GatedDetector(square, motion=MotionGate(), crop=True)
    assert "yolox_nano.onnx takes a square input only: motion gating runs whole passes" in caplog.text
    for frame in blob_frames(frames[0], 3):
        gated(frame)
    assert gated.runs == 3 and gated.cropped == 0


def test_still_picture_reuses_the_people_and_rechecks_every_recheck_s(frames, detector):
    gated = GatedDetector(detector, motion=MotionGate(), recheck_s=5.0)
    still = frames[0]
    found = [gated(Frame("view001", i, 100.0 + i / PETS_FPS, noisy(still, i))).detections for i in range(84)]
    assert gated.runs == 3 and gated.reused == 81  # at 0 s, 5 s and 10 s
    assert len(found[0]) > 0
    assert all(f is found[0] for f in found[1:35])  # the same people until the re-check at 5 s
    moved = gated(Frame("view001", 84, 112.0, frames[30])).detections
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


def test_motion_gating_is_on_by_default_the_adaptive_rate_off_and_both_validated(detector):
    config = example("pets09", "view001")
    assert config.analysis.motion_gating and config.analysis.motion_crop and not config.analysis.adaptive_rate
    gated = GatedDetector.from_analysis(detector, config.analysis)
    assert gated.motion is not None and gated.rate is None
    data = config.model_dump(mode="json", exclude={"path"})
    data["analysis"]["motion_gating"] = False
    assert GatedDetector.from_analysis(detector, parse_config(data, "store.yaml").analysis).motion is None
    data["analysis"]["motion_min_changed"] = 2
    with pytest.raises(ConfigError, match="analysis.motion_min_changed"):
        parse_config(data, "store.yaml")


def test_a_camera_can_switch_a_lever_of_its_store_on_or_off(detector):
    data = example("pets09", "view001").model_dump(mode="json", exclude={"path"})
    data["analysis"].update(motion_gating=True, adaptive_rate=True)
    data["cameras"][0]["motion_gating"] = False
    config = parse_config(data, "store.yaml")
    pipeline = CameraPipeline(config, "view001", detector=detector)
    assert pipeline.gate.motion is None and pipeline.gate.rate is not None
    assert config.analysis.motion_gating  # the store's setting is untouched
    data["cameras"][0]["adaptive_rate"] = "sometimes"
    with pytest.raises(ConfigError, match="cameras.0.adaptive_rate"):
        parse_config(data, "store.yaml")


def test_a_camera_can_set_its_own_lever_thresholds_within_the_stores_bounds(detector):
    data = example("pets09", "view001").model_dump(mode="json", exclude={"path"})
    data["analysis"].update(motion_gating=True, adaptive_rate=True, motion_min_changed=0.001, empty_fps=1.0)
    data["cameras"][0].update(motion_min_changed=0.02, empty_fps=4.0, motion_recheck_s=2.0)
    config = parse_config(data, "store.yaml")
    gate = CameraPipeline(config, "view001", detector=detector).gate
    assert gate.motion.min_changed == 0.02 and gate.recheck_s == 2.0
    assert config.analysis.motion_crop and config.analysis_for(config.cameras[0]).motion_crop
    crop_off = {**data, "cameras": [{**data["cameras"][0], "motion_crop": False}]}  # its crops span the frame
    crop_off = parse_config(crop_off, "store.yaml")
    assert not crop_off.analysis_for(crop_off.cameras[0]).motion_crop and crop_off.analysis.motion_crop
    assert gate.rate.empty_period_s == 0.25
    assert gate.motion.pixel_delta == config.analysis.motion_pixel_delta  # not overridden: the store's
    assert config.analysis.motion_min_changed == 0.001 and config.analysis.empty_fps == 1.0
    for key, value in (
        ("motion_min_changed", 1.5),
        ("empty_fps", 0),
        ("motion_pixel_delta", 300),
        ("empty_after_s", -1),
        ("motion_crop", "sometimes"),
    ):
        bad = {**data, "cameras": [{**data["cameras"][0], key: value}]}
        with pytest.raises(ConfigError, match=f"cameras.0.{key}"):
            parse_config(bad, "store.yaml")


def _replay(config, detector) -> tuple[tuple, int, int]:
    pipeline = CameraPipeline(config, "view001", detector=detector)
    messages = tuple(m for m in pipeline.run() if not isinstance(m, Heartbeat))
    return messages, pipeline.frames_analysed, pipeline.gate.runs


def _counts(messages) -> dict[str, float]:
    lines = [c for m in messages if getattr(m, "kind", None) == "lines" for c in m.lines]
    grid = [s for m in messages if getattr(m, "kind", None) == "grid" for _, _, s in m.cells]
    return {
        "in": sum(c.in_count for c in lines),
        "out": sum(c.out_count for c in lines),
        "person_s": sum(grid),
    }


@pytest.mark.slow
def test_levers_keep_counts_within_2_percent_on_pets09_after_an_empty_stretch(assets, tmp_path, detector):
    """The whole PETS09 recording after 30 s of its empty walkway, through the whole pipeline,
    without and with each lever: line in/out and person-seconds of heat within 2 %, while the
    levers skip most detector runs on the empty stretch."""
    pattern, empty = write_quiet_clip(assets, tmp_path, empty_s=30)
    base = quiet_config(example("pets09", "view001", cell_m=1.0, motion_gating=False), "view001", pattern)
    levers = {
        "motion": {"motion_gating": True},
        "adaptive": {"adaptive_rate": True},
        "both": {"motion_gating": True, "adaptive_rate": True},
    }
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


@pytest.mark.slow
def test_where_gating_keeps_counts_within_2_percent_on_pets09_in_2x2_tiles(assets, tmp_path):
    """The first 300 PETS09 frames in 2×2 tiles through the whole pipeline, with and without
    motion gating: the grass near the camera (bottom-left tile) is often still, so some tile
    passes are skipped, and line in/out and person-seconds of heat stay within 2 %. A tile
    that changed runs whole (not cropped)."""
    pattern, _ = write_quiet_clip(assets, tmp_path, empty_s=0, count=300)
    base = quiet_config(example("pets09", "view001", cell_m=1.0, motion_gating=False), "view001", pattern)
    cameras = [c.model_copy(update={"tiling": TILES_2X2}) for c in base.cameras]
    base = base.model_copy(update={"cameras": cameras})
    detector = Detector.for_camera(base.camera("view001"), base)
    messages, analysed, _ = _replay(base, detector)
    reference, px_whole = _counts(messages), detector.input_px_run
    assert analysed == 300 and detector.passes_run == 4 * 300 and reference["in"] + reference["out"] >= 4
    gated = base.model_copy(update={"analysis": base.analysis.model_copy(update={"motion_gating": True})})
    messages, analysed, _ = _replay(gated, detector)
    counts, px_gated = _counts(messages), detector.input_px_run - px_whole
    skipped = 4 * 300 * 2 - detector.passes_run
    print(
        f"without gating {reference}; with: {counts}, {skipped} of {4 * 300} tile passes skipped, "
        f"{px_gated / px_whole:.0%} of the model input"
    )
    assert analysed == 300 and skipped >= 0.05 * 4 * 300 and px_gated == px_whole * (1200 - skipped) / 1200
    for key, value in reference.items():
        assert counts[key] == pytest.approx(value, rel=0.02), key


@pytest.mark.slow
def test_crops_keep_counts_within_2_percent_on_busy_pets09(assets, tmp_path, detector):
    """The first 300 PETS09 frames, people walking in every one: gating whole frames skips
    next to nothing, crops run the model on the parts that moved, and line in/out and
    person-seconds of heat stay within 2 % of the pipeline without gating."""
    pattern, _ = write_quiet_clip(assets, tmp_path, empty_s=0, count=300)
    base = quiet_config(example("pets09", "view001", cell_m=1.0, motion_gating=False), "view001", pattern)
    before = detector.input_px_run
    messages, _, _ = _replay(base, detector)
    reference, px_whole = _counts(messages), detector.input_px_run - before
    gated = base.model_copy(update={"analysis": base.analysis.model_copy(update={"motion_gating": True})})
    before = detector.input_px_run
    messages, analysed, _ = _replay(gated, detector)
    counts, px_crops = _counts(messages), detector.input_px_run - before
    print(f"without gating {reference}; with crops: {counts}, {px_crops / px_whole:.0%} of the model input")
    assert analysed == 300 and reference["in"] + reference["out"] >= 4
    assert px_crops <= 0.8 * px_whole
    for key, value in reference.items():
        assert counts[key] == pytest.approx(value, rel=0.02), key


@pytest.mark.slow
def test_tiles_every_other_frame_keep_mall_counts_within_2_percent():
    """Mall as shipped (its far rows' tiles on every other frame) against the same with tiles
    on every frame, all 800 frames: the annotated region's mean occupancy, person-seconds and
    busiest moment per 10 s bucket (on average) within 2 %."""
    shipped = run_example("mall", "cam1", bucket_s=10)
    tiling = shipped.config.cameras[0].tiling
    assert tiling.tiles_every == 2
    every = run_example("mall", "cam1", tiling=tiling.model_copy(update={"tiles_every": 1}), bucket_s=10)

    def counts(run) -> dict[str, float]:
        zones = [z for m in run.messages if getattr(m, "kind", None) == "zones" for z in m.zones]
        return {
            "mean occupancy": float(np.mean([z.mean_occupancy for z in zones])),
            "person-seconds": sum(z.person_seconds for z in zones),
            "busiest moment per bucket": float(np.mean([z.max_occupancy for z in zones])),
        }

    reference, ours = counts(every), counts(shipped)
    print(f"mall, tiles every frame {reference}; every other frame {ours}")
    assert shipped.frames_analysed == every.frames_analysed == 800
    for key, value in reference.items():
        assert ours[key] == pytest.approx(value, rel=0.02), key


def test_adaptive_rate_gates_on_boxes_at_the_score_threshold_only(frames, background, detector):
    """Boxes under the score threshold (passed on only to continue tracks, `edge.tracker.joined`)
    do not keep the scene busy either."""
    doubted = GatedDetector(
        detector,
        rate=AdaptiveRate(2.0, 1.0),
        keep=lambda d: Detections(d.xyxy, np.full(len(d), 0.15)),
        score_threshold=0.3,
    )
    for i in range(70):  # 10 s of the empty walkway, the sign at the top left scored 0.15
        doubted(Frame("view001", i, i / PETS_FPS, noisy(background, i)))
    assert doubted.runs == 14 + 8  # 2 s at the full rate, then once a second
