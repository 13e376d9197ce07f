"""Overlapping cameras fused on the real edge: camera processes under the supervisor send their
floor measurements, and the supervisor's fusion stage counts the group."""

from __future__ import annotations

import cv2
import pytest

from edge.floor_tracks import LOST_TRACK_S
from edge.pipeline import CameraPipeline, Heartbeat
from edge.supervisor import Supervisor
from footfall_core.contract import LiveMessage
from footfall_core.store import Fusion
from tests.pipeline_runs import example
from tests.quiet_clip import pets09_stream
from tests.test_pipeline_supervisor import ListSink

pytestmark = pytest.mark.slow

FRAMES = 140  # 20 s of PETS09: two 10 s buckets


def _clip(assets, tmp_path) -> str:
    """The first FRAMES frames of PETS09 as an image sequence: both cameras replay the same one."""
    for index, image in enumerate(pets09_stream(assets, FRAMES), start=1):
        cv2.imwrite(str(tmp_path / f"seq_{index:06d}.jpg"), image)
    return str(tmp_path / "seq_%06d.jpg")


def _floor(aggregates, camera: str) -> dict:
    """kind → list of one camera's (or group's) floor aggregates, without the camera's name."""
    out: dict[str, list] = {}
    for message in aggregates:
        if message.camera == camera and message.kind != "health":
            out.setdefault(message.kind, []).append(message.model_dump(exclude={"camera"}))
    return out


def test_two_cameras_that_see_the_same_people_count_them_once(assets, tmp_path):
    """Two cameras with one view and one calibration, in one fusion group, replay the same frames
    from the same start: each person is measured by both at the same floor spot, so the group
    counts what the camera counts alone, bucket by bucket, once the camera, like a group, joins
    a person lost no longer than its tracker keeps a lost track: heat, zones and lines exactly;
    flows but where the camera's tracker moved a track further than a walk from where it was
    (the group gives that person a new id, the camera alone keeps its id: one zone transition
    in this clip). The two cameras send only their health. A group counts nobody its cameras
    lost behind someone (another camera of a group may see them), so the camera alone does not
    either (`hidden_hold_s: 0`)."""
    config = example("pets09", "view001", bucket_s=10, hidden_hold_s=0)
    view = config.cameras[0].model_copy(update={"source": _clip(assets, tmp_path), "fps": 7})
    alone = config.model_copy(update={"cameras": [view]})
    pipeline = CameraPipeline(alone, "view001")
    pipeline.floor_tracks.rejoin_s = LOST_TRACK_S
    expected = [m for m in pipeline.run() if not isinstance(m, (Heartbeat, LiveMessage))]

    fused = config.model_copy(
        update={
            "cameras": [view.model_copy(update={"name": name}) for name in ("first", "second")],
            # replays run as fast as they can, one process each: let one run far ahead of the other
            "fusion": [Fusion(name="walkway", cameras=["first", "second"], max_lag_s=60)],
        }
    )
    sink = ListSink()
    supervisor = Supervisor(fused, sink, log_level="WARNING")
    supervisor.run(lambda: False)  # until both recordings have ended
    stage = supervisor.fusion["walkway"]
    assert stage.slots.late == 0, "no measurement came after its instant was fused"

    assert {m.camera for m in sink.aggregates} == {"walkway", "first", "second"}
    assert all(m.kind == "health" for m in sink.aggregates if m.camera != "walkway")
    assert sum(m.frames_analysed for m in sink.aggregates if m.camera == "first") == FRAMES
    counted = _floor(sink.aggregates, "walkway")
    assert len(counted["grid"]) == 2
    assert sum(s for grid in counted["grid"] for _, _, s in grid["cells"]) > 100  # person-seconds
    alone = _floor(expected, "view001")
    assert {k: v for k, v in counted.items() if k != "flows"} == {
        k: v for k, v in alone.items() if k != "flows"
    }
    for group_flows, camera_flows in zip(counted["flows"], alone["flows"], strict=True):
        transitions = [
            {(t["from_zone"], t["to_zone"]): t["count"] for t in f["transitions"]}
            for f in (group_flows, camera_flows)
        ]
        assert all(abs(transitions[0].get(k, 0) - n) <= 1 for k, n in transitions[1].items())
    assert sink.lives and all(m.cameras == ["walkway"] for m in sink.lives)
