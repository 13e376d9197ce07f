"""The on-site audit in headless Chromium: open PETS09 as the audit clip, mark every crossing of
two lines at the ground truth's times (the example's walkway, and the line of bench
/line_accuracy.py's seed-1 family that the pipeline gets most wrong) and the annotated people in
each zone at three instants, replay and report. The report must say what bench/line_accuracy.py
says for those lines (the same functions compute the expectation here), and the figures land in
the store YAML. A clip of another resolution is refused with an error naming the file."""

from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from bench.edge_runs import decoding_reader, run_pipeline
from calibration.audit import REPLAY_START_S, audit_config
from calibration.store_yaml import write_sections
from calibration.web import create_app
from edge.detector import Detector
from edge.pipeline import recording_config
from footfall_core.audit import line_accuracy
from footfall_core.floor import in_polygon
from footfall_core.store import LineAudit, StoreConfig, load_config
from tests.browser_support import SCREENSHOTS, Server
from tests.gt import pets09_gt
from tests.pipeline_runs import START
from tests.scene_truth import line_counts, of_kind, random_lines, truth_messages
from tests.test_calibration_web import EXAMPLE, CalibrationPage

pytestmark = [pytest.mark.browser, pytest.mark.slow]
CAMERA, LINE = "view001", "walkway"
ZONE_FRAMES = (100, 300, 500)  # gt frames (1-based) at which the zones' people are counted
START_S = datetime.fromisoformat(START.replace("Z", "+00:00")).timestamp()


def bench_figures(assets: Path, base: StoreConfig, bucket_s: int) -> tuple[dict, dict, tuple, int]:
    """What bench/line_accuracy.py computes for PETS09 with the lines of `base` (its replay, its
    truth), with `bucket_s` buckets: (truth line counts, counted line counts, the replay's
    messages, frames)."""
    config = recording_config(base, CAMERA, start=START)
    config = config.model_copy(update={"analysis": config.analysis.model_copy(update={"bucket_s": bucket_s})})
    camera = config.camera(CAMERA)
    run = run_pipeline(
        config, CAMERA, decoding_reader(config, CAMERA, 10**9), Detector.for_camera(camera, config), False
    )
    gt = pets09_gt(assets)
    truth = truth_messages(config, CAMERA, gt[gt["frame"] <= run.frames], START_S, run.frames)
    return line_counts(truth), line_counts(run.messages), run.messages, run.frames


def marked_crossings(assets: Path, store: Path, clip: Path, frames: int) -> list[tuple[str, str, int]]:
    """(line, direction, clip frame index) of every annotated crossing of the store's lines: the
    truth at 1 s buckets, each crossing marked in the middle of its second."""
    config = audit_config(load_config(store), CAMERA, clip)
    gt = pets09_gt(assets)
    truth = truth_messages(config, CAMERA, gt[gt["frame"] <= frames], REPLAY_START_S, frames)
    fps = config.camera(CAMERA).fps
    marks = []
    for message in of_kind(truth, "lines"):
        second = message.bucket_start.timestamp() - REPLAY_START_S
        index = min(frames - 1, round((second + 0.5) * fps))
        for count in message.lines:
            marks += [(count.line, "in", index)] * count.in_count
            marks += [(count.line, "out", index)] * count.out_count
    return marks


def zone_people(assets: Path, frame: int) -> dict[str, int]:
    """Annotated people standing in each zone of the example at gt frame `frame`."""
    gt = pets09_gt(assets)
    rows = gt[gt["frame"] == frame]
    feet = np.stack([rows["wx"], rows["wy"]], axis=1)
    return {zone.name: int(in_polygon(feet, zone.polygon_m).sum()) for zone in load_config(EXAMPLE).zones}


def cell(ui: CalibrationPage, row: str, field: str) -> str:
    return ui.page.text_content(f"#audit-report tr[{row}] td[data-field={field}]").strip()


def seek(ui: CalibrationPage, index: int) -> None:
    ui.page.evaluate(
        """(index) => { const range = document.getElementById('clip-time');
        range.value = index; range.dispatchEvent(new Event('input')); }""",
        index,
    )


def test_audit_of_pets09_reports_the_bench_figures_and_refuses_another_resolution(browser, tmp_path, assets):
    base = load_config(EXAMPLE)
    family = random_lines(pets09_gt(assets), 30, seed=1)  # the bench's default family of seed 1
    with_family = base.model_copy(update={"lines": list(base.lines) + family})
    truth, counted, bench_messages, frames = bench_figures(assets, with_family, bucket_s=1)

    def error(name: str) -> int:
        return abs(counted.get(name, (0, 0))[0] - truth[name][0]) + abs(
            counted.get(name, (0, 0))[1] - truth[name][1]
        )

    worst = max(family, key=lambda line: (error(line.name), line.name))
    lines = [LINE, worst.name]
    store = tmp_path / "pets09.yaml"
    store.write_text(EXAMPLE.read_text())
    write_sections(store, {"lines": [line.model_dump() for line in [*base.lines, worst]]})
    clip = assets / "datasets/pets09_s2l1/vtest.avi"
    crossings = marked_crossings(assets, store, clip, frames)
    assert len(crossings) == sum(sum(truth[name]) for name in lines)  # the bench's truth, one by one

    with Server(create_app(store, token="audit-token")) as server:
        ui = CalibrationPage(browser, server.url + "/?token=audit-token")
        ui.page.fill("#clip-path", str(clip))
        text, css = ui.status_after("#clip-open")
        assert text == f"opened {clip} for camera {CAMERA}" and css == "", text
        assert ui.page.text_content("#clip-info").startswith(f"{clip}: {frames} frames")

        for line, direction, index in crossings:
            seek(ui, index)
            ui.page.click(f'#crossing-buttons button[data-line="{line}"][data-direction={direction}]')
        people = {}
        for frame in ZONE_FRAMES:
            seek(ui, frame - 1)
            people[frame] = zone_people(assets, frame)
            for zone, count in people[frame].items():
                ui.page.fill(f"#zone-inputs input[data-zone={zone}]", str(count))
            ui.page.click("#mark-zones")
        assert ui.page.locator("#marks li").count() == len(crossings) + len(ZONE_FRAMES)
        ui.page.wait_for_function("document.getElementById('clip-frame').complete")
        ui.page.click("#clip-play")  # it plays: the frame moves on, then pauses again
        ui.page.wait_for_function("document.getElementById('clip-clock').textContent.includes('frame 502 ')")
        ui.page.click("#clip-play")

        ui.page.evaluate("document.getElementById('status').textContent = ''")
        ui.page.click("#audit-run")
        ui.page.wait_for_function(
            "document.getElementById('status').textContent.startsWith('audit saved')", timeout=600_000
        )
        assert ui.page.get_attribute("#status", "class") == ""

        expected = [
            LineAudit(
                line=name,
                marked_in=truth[name][0],
                marked_out=truth[name][1],
                counted_in=counted.get(name, (0, 0))[0],
                counted_out=counted.get(name, (0, 0))[1],
            )
            for name in lines
        ]
        for line, figures in [(x.line, line_accuracy([x])) for x in expected] + [
            ("all", line_accuracy(expected))
        ]:
            row = f'data-line="{line}"'
            shown = [int(cell(ui, row, f)) for f in ("marked", "counted", "abs_error")]
            assert shown == [figures.marked, figures.counted, figures.abs_error], line
            assert cell(ui, row, "accuracy") == f"{100 * figures.accuracy:.1f} %", line
            assert cell(ui, row, "interval") == f"{100 * figures.low:.1f} % – {100 * figures.high:.1f} %", (
                line
            )
            print(
                f"audit of PETS09 {line}: marked {figures.marked}, counted {figures.counted}, |error| "
                f"{figures.abs_error}, line accuracy {figures.accuracy:.1%} "
                f"(95 % Wilson {figures.low:.1%}-{figures.high:.1%})"
            )
        for x in expected:
            shown = {
                f: int(cell(ui, f'data-line="{x.line}"', f))
                for f in ("marked_in", "marked_out", "counted_in", "counted_out")
            }
            assert shown == x.model_dump(exclude={"line"})

        saved = load_config(store).audits
        assert len(saved) == 1 and saved[0].camera == CAMERA and saved[0].lines == expected
        assert saved[0].clip_s == pytest.approx(frames / 7, abs=1e-3)
        for zone in saved[0].zones:  # the pipeline's people over the second each instant falls in
            marked = [people[f][zone.zone] for f in ZONE_FRAMES]
            got = []
            for frame in ZONE_FRAMES:
                second = (frame - 1) // 7  # PETS09 is 7 fps
                [bucket] = [
                    m
                    for m in of_kind(bench_messages, "zones")
                    if m.bucket_start.timestamp() - START_S == second
                ]
                got.append(next(z.mean_occupancy for z in bucket.zones if z.zone == zone.zone))
            errors = np.array(got) - np.array(marked)
            assert zone.moments == len(ZONE_FRAMES) and zone.marked_mean_people == pytest.approx(
                np.mean(marked), abs=1e-3
            )
            assert zone.mean_abs_error_people == pytest.approx(np.abs(errors).mean(), abs=1e-3)
            assert cell(ui, f"data-zone={zone.zone}", "bias_people") == f"{zone.bias_people:g}"
        assert {z.zone for z in saved[0].zones} == {z.name for z in load_config(EXAMPLE).zones}
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        ui.page.screenshot(path=str(SCREENSHOTS / "audit.png"), full_page=True)

        phone = tmp_path / "phone-clip.avi"
        writer = cv2.VideoWriter(str(phone), cv2.VideoWriter_fourcc(*"MJPG"), 7, (320, 240))
        for _ in range(5):
            writer.write(np.full((240, 320, 3), 90, np.uint8))
        writer.release()
        ui.page.fill("#clip-path", str(phone))
        text, css = ui.status_after("#clip-open")
        assert css == "error" and text.startswith(
            f"{phone}: the clip is 320x240 px, camera {CAMERA} is 768x576"
        ), text
        assert len(ui.errors) == 1 and "status of 422" in ui.errors.pop()  # the refused clip, as expected
        assert load_config(store).audits == saved  # nothing saved
        assert ui.errors == []
        ui.context.close()
