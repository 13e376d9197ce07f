"""bench/scene_config.py: the store config for measuring the counts on a recording of your own,
made from the video and its MOTChallenge gt.txt: loadable, calibrated on the annotated feet,
at the recording's real frame rate, untuned; and refused, naming the file, where it cannot be."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from bench.line_views import view_scene
from bench.scene_config import Refusal, fit_floor, frame_rate, main, write_scene_config
from bench.wildtrack import read_frames
from footfall_core.geometry import CameraGeometry
from footfall_core.store import Analysis, Detector, load_config
from tests.gt import pets09_gt

PETS = "datasets/pets09_s2l1"


@pytest.fixture(scope="module")
def pets09_config(assets, tmp_path_factory):
    out = tmp_path_factory.mktemp("scene") / "pets09.yaml"
    assert main([str(assets / PETS / "vtest.avi"), str(assets / PETS / "gt/gt.txt"), "--out", str(out)]) == 0
    return load_config(out)


def feet_and_floor(assets) -> tuple[np.ndarray, np.ndarray]:
    gt = pets09_gt(assets)
    return np.stack([gt["x"] + gt["w"] / 2, gt["y"] + gt["h"]], axis=1), np.stack(
        [gt["wx"], gt["wy"]], axis=1
    )


def test_pets09_config_loads_with_every_setting_at_its_default(pets09_config, assets):
    config = pets09_config
    assert config.analysis == Analysis() and config.detector == Detector()
    (camera,) = config.cameras
    assert camera.fps == 7  # seqinfo.ini, not the AVI's 10
    assert camera.calibration.image_size_px == (768, 576)
    assert config.lines == []
    (zone,) = config.zones
    _, floor_m = feet_and_floor(assets)
    corners = np.array(zone.polygon_m)
    assert (floor_m >= corners.min(axis=0)).all() and (floor_m <= corners.max(axis=0)).all()


def test_pets09_homography_places_the_annotated_feet_within_a_few_cm(pets09_config, assets):
    camera = pets09_config.cameras[0]
    feet_px, floor_m = feet_and_floor(assets)
    stored = CameraGeometry.from_config(camera, (768, 576))
    assert not stored.outliers.any()  # the listed points agree with the stored homography
    errors_m = np.linalg.norm(stored.image_to_floor(feet_px) - floor_m, axis=1)
    cal = camera.calibration
    alone = CameraGeometry.solve(camera.name, cal.image_points_px, cal.floor_points_m)
    alone_m = np.linalg.norm(alone.image_to_floor(feet_px) - floor_m, axis=1)
    print(
        f"generated PETS09 calibration: median {np.median(errors_m):.3f} m, listed points alone "
        f"{np.median(alone_m):.3f} m"
    )
    assert np.median(errors_m) < 0.03  # measured 0.025 m (the example's 8 hand-picked points: 0.030)
    assert np.median(alone_m) < 0.035  # measured 0.026 m


def test_the_annotation_frame_rate_wins_over_the_container(assets, tmp_path):
    video, gt_txt = assets / PETS / "vtest.avi", tmp_path / "gt/gt.txt"
    gt_txt.parent.mkdir()
    shutil.copy(assets / PETS / "gt/gt.txt", gt_txt)
    container = frame_rate(video, gt_txt, None)
    assert container.fps == 10 and "container" in container.source
    shutil.copy(assets / PETS / "seqinfo.ini", tmp_path / "seqinfo.ini")
    seqinfo = frame_rate(video, gt_txt, None)
    assert seqinfo.fps == 7 and "seqinfo.ini" in seqinfo.source and "container says 10" in seqinfo.source
    assert frame_rate(video, gt_txt, 6.5).fps == 6.5


def test_a_video_of_another_size_than_the_annotation_is_refused(assets, tmp_path):
    gt_txt = tmp_path / "gt/gt.txt"
    gt_txt.parent.mkdir()
    shutil.copy(assets / PETS / "gt/gt.txt", gt_txt)
    seqinfo = (assets / PETS / "seqinfo.ini").read_text().replace("imWidth=768", "imWidth=1536")
    (tmp_path / "seqinfo.ini").write_text(seqinfo)
    with pytest.raises(Refusal, match="frames are 768x576 px but .* drawn on 1536x576"):
        write_scene_config(assets / PETS / "vtest.avi", gt_txt, tmp_path / "out.yaml", None, None)


def test_a_gt_without_floor_positions_is_refused_naming_the_file(assets, tmp_path, capsys):
    gt_txt = assets / "datasets/tud_campus/gt/gt.txt"
    out = tmp_path / "tud.yaml"
    assert main([str(assets / "datasets/tud_campus/TUD-Campus.mp4"), str(gt_txt), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert f"{gt_txt}: line 1:" in error and "no floor position" in error
    assert not out.exists()


GOOD_ROW = "1,9,499,158,31.03,75.17,1,-4.1554,-7.3591,0"


@pytest.mark.parametrize(
    "bad_row",
    [
        "1,9,499,158,31.03,75.17,1,-4.1554",  # too few columns
        "1,9,499,abc,31.03,75.17,1,-4.1554,-7.3591,0",  # not a number
        "1,9,499,158,31.03,nan,1,-4.1554,-7.3591,0",  # not finite
    ],
)
def test_a_malformed_row_is_refused_naming_the_line(assets, tmp_path, bad_row):
    gt_txt = tmp_path / "gt.txt"
    gt_txt.write_text(f"{GOOD_ROW}\n{GOOD_ROW}\n{bad_row}\n{GOOD_ROW}\n")
    with pytest.raises(Refusal, match=rf"{gt_txt}: line 3: expected MOTChallenge 2015"):
        write_scene_config(assets / PETS / "vtest.avi", gt_txt, tmp_path / "out.yaml", 7, None)


def test_a_later_motchallenge_layout_is_refused_naming_it(assets, tmp_path):
    """MOT16/17/20 put class and visibility where MOTChallenge 2015 puts wx, wy: read as a floor
    they would be fitted, and refused only for a poor fit, not for what they are."""
    gt_txt = tmp_path / "gt.txt"
    gt_txt.write_text("1,1,912,484,97,109,1,1,0.86\n")
    with pytest.raises(Refusal, match=rf"{gt_txt}: line 1: 9 numbers, the MOT16/17/20 layout"):
        write_scene_config(assets / PETS / "vtest.avi", gt_txt, tmp_path / "out.yaml", 7, None)


def test_a_fit_too_poor_to_count_lines_with_is_refused(assets, tmp_path, capsys):
    """Floor positions off by 0.4 m each way (a careless annotation, or a lens left uncorrected)
    place one foot in twenty further than a body's width: exit 2 naming the file, nothing written."""
    rows = [line.split(",") for line in (assets / PETS / "gt/gt.txt").read_text().splitlines()]
    noise_m = np.random.default_rng(0).normal(0.0, 0.4, (len(rows), 2))
    moved = [
        row[:7] + [f"{float(row[7]) + dx:.4f}", f"{float(row[8]) + dy:.4f}"] + row[9:]
        for row, (dx, dy) in zip(rows, noise_m)
    ]
    gt_txt = tmp_path / "gt.txt"
    gt_txt.write_text("".join(",".join(row) + "\n" for row in moved))
    out = tmp_path / "out.yaml"
    assert main([str(assets / PETS / "vtest.avi"), str(gt_txt), "--out", str(out), "--fps", "7"]) == 2
    error = capsys.readouterr().err
    assert f"error: {gt_txt}: " in error and "body's width" in error
    assert not out.exists()


def test_seven_other_cameras_fit_as_well(assets):
    """WILDTRACK's views (annotations without video): other heights, angles and lenses (the boxes
    are on undistorted frames), fitted the same way from each view's annotated feet."""
    frames = read_frames(assets / "datasets/wildtrack_dev")
    for view in range(7):
        fit = fit_floor(view_scene(frames, view), assets / "wildtrack", f"view{view}", (1920, 1080))
        print(f"WILDTRACK view {view}: feet placed median {fit.median_m:.3f} m, p95 {fit.p95_m:.3f} m")
        assert fit.median_m < 0.04 and fit.p95_m < 0.1  # measured 0.013-0.035 m and 0.034-0.095 m


def test_a_container_frame_rate_no_camera_records_at_is_refused(tmp_path):
    """Some containers give 1000 (a timestamp tick, not a rate): the config would not load
    (a source's fps is at most 120), so it is refused naming the video, asking for --fps."""
    import cv2

    video, gt_txt = tmp_path / "ticks.avi", tmp_path / "gt/gt.txt"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 1000.0, (64, 48))
    for _ in range(3):
        writer.write(np.zeros((48, 64, 3), np.uint8))
    writer.release()
    with pytest.raises(Refusal, match=r"ticks\.avi: the container says 1000 .*give --fps"):
        frame_rate(video, gt_txt, None)
    assert frame_rate(video, gt_txt, 25.0).fps == 25.0


@pytest.fixture(scope="module")
def pets09_sequence(assets, tmp_path_factory):
    """PETS09's first 30 frames as a MOTChallenge sequence folder: img1/000001.jpg on, gt/gt.txt
    (those frames' rows) and seqinfo.ini, as MOTChallenge ships its recordings."""
    import cv2

    folder = tmp_path_factory.mktemp("mot") / "PETS09-S2L1"
    (folder / "img1").mkdir(parents=True)
    (folder / "gt").mkdir()
    capture = cv2.VideoCapture(str(assets / PETS / "vtest.avi"))
    for index in range(1, 31):
        ok, image = capture.read()
        assert ok
        cv2.imwrite(str(folder / "img1" / f"{index:06d}.jpg"), image)
    capture.release()
    rows = (assets / PETS / "gt/gt.txt").read_text().splitlines()
    (folder / "gt/gt.txt").write_text("".join(row + "\n" for row in rows if int(row.split(",")[0]) <= 30))
    shutil.copy(assets / PETS / "seqinfo.ini", folder / "seqinfo.ini")
    return folder


def test_an_image_sequence_is_read_as_its_pattern_from_the_folder_or_the_pattern(
    pets09_sequence, assets, tmp_path
):
    """MOTChallenge ships recordings as images: the sequence folder, its images' folder and
    their pattern give the same config, whose source the edge reads (counted from 1), at
    seqinfo.ini's rate, with the homography the video gives on the same annotation."""
    from calibration.frames import source_frame_size

    gt_txt = pets09_sequence / "gt/gt.txt"
    texts = []
    for given in (pets09_sequence, pets09_sequence / "img1", pets09_sequence / "img1/%06d.jpg"):
        out = tmp_path / "seq.yaml"
        assert main([str(given), str(gt_txt), "--out", str(out)]) == 0
        texts.append(out.read_text())
    assert texts[0] == texts[1] == texts[2]
    config = load_config(tmp_path / "seq.yaml")
    (camera,) = config.cameras
    assert camera.name == "pets09-s2l1" and camera.fps == 7 and camera.start_index == 1
    assert camera.source == str(pets09_sequence.resolve() / "img1/%06d.jpg")
    assert source_frame_size(config, camera.name) == (768, 576)
    write_scene_config(assets / PETS / "vtest.avi", gt_txt, tmp_path / "video.yaml", None, None)
    from_video = load_config(tmp_path / "video.yaml").cameras[0].calibration
    np.testing.assert_allclose(camera.calibration.homography, from_video.homography)


def test_an_image_sequence_without_its_first_image_is_refused_naming_it(pets09_sequence, tmp_path, capsys):
    gt_txt, out = pets09_sequence / "gt/gt.txt", tmp_path / "out.yaml"
    assert main([str(pets09_sequence / "img1/%05d.jpg"), str(gt_txt), "--out", str(out)]) == 2
    assert f"no first image {pets09_sequence / 'img1/00001.jpg'}" in capsys.readouterr().err
    assert main([str(pets09_sequence / "gt"), str(gt_txt), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert f"{pets09_sequence / 'gt'}: a folder with neither seqinfo.ini nor images" in error
    assert not out.exists()


def test_line_accuracy_replays_an_image_sequence_given_as_its_folder(pets09_sequence, tmp_path):
    import subprocess
    import sys

    from footfall_core.assets import REPO_ROOT

    gt_txt, out = pets09_sequence / "gt/gt.txt", tmp_path / "seq.yaml"
    assert main([str(pets09_sequence), str(gt_txt), "--out", str(out)]) == 0
    bench = [sys.executable, str(REPO_ROOT / "bench/line_accuracy.py"), "--config", str(out)]
    bench += ["--gt", str(gt_txt)]
    run = subprocess.run(
        [*bench, "--video", str(pets09_sequence), "--seeds", "1", "--lines", "5"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    assert run.returncode == 0, run.stderr
    assert "all 30 frames" in run.stdout and "seed 1: 5 lines, line accuracy" in run.stdout
    missing = subprocess.run([*bench, "--video", str(tmp_path / "none")], capture_output=True, text=True)
    assert missing.returncode == 1 and f"error: {tmp_path / 'none'}: no such file" in missing.stderr
