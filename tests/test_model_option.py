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
