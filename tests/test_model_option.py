"""The benches' `--model` option (bench/model_option.py): only the model changes, so a bench's
figures with another model are that model's share of the error."""

from __future__ import annotations

import argparse

import pytest

from bench.model_option import add_model_option, with_model
from tests.pipeline_runs import example


def test_another_model_keeps_every_other_setting():
    shipped = example("mall", "cam1")
    other = with_model(shipped, "person_detector_192.onnx")
    assert other.detector.model == "person_detector_192.onnx"
    assert other.detector.model_dump(exclude={"model"}) == shipped.detector.model_dump(exclude={"model"})
    assert other.cameras == shipped.cameras  # the tiling stays the example's
    assert other.analysis == shipped.analysis
    assert with_model(shipped, None) == shipped


def test_another_model_reaches_a_camera_with_its_own_detector():
    """A camera's own `detector` block replaces the store's: the bench's model reaches it too."""
    shipped = example("pets09", "view001")
    camera = shipped.cameras[0].model_copy(update={"detector": shipped.detector})
    own = shipped.model_copy(update={"cameras": [camera]})
    other = with_model(own, "person_detector_192.onnx", 0.1)
    assert other.detector_for(other.cameras[0]).model == "person_detector_192.onnx"
    assert other.detector_for(other.cameras[0]).track_score_threshold == 0.1


@pytest.mark.parametrize("track_score", [0.5, 0.3, -1.0])
def test_a_track_score_the_store_file_would_refuse_is_refused(track_score):
    """Not under PETS09's score threshold (0.3) it would pass on no box; the bench would print it
    as if it had run."""
    with pytest.raises(ValueError, match="track_score_threshold"):
        with_model(example("pets09", "view001"), None, track_score)


@pytest.mark.parametrize(
    "default, argv, model",
    [
        (None, [], None),  # the config's own model
        ("yolox_nano.onnx", [], "yolox_nano.onnx"),
        (None, ["--model", "person_detector_192.onnx"], "person_detector_192.onnx"),
    ],
)
def test_model_option_reads_a_registered_name(default, argv, model):
    parser = argparse.ArgumentParser()
    add_model_option(parser, default)
    assert parser.parse_args(argv).model == model


def test_model_option_refuses_an_unregistered_name(capsys):
    parser = argparse.ArgumentParser()
    add_model_option(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["--model", "yolov8n.onnx"])
    assert "person_detector_192.onnx" in capsys.readouterr().err  # the choices are listed
