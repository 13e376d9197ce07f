import pytest
import yaml

from footfall_core.store import ConfigError, load_config, parse_config

MINIMAL = {
    "store": {"id": "s1"},
    "floor_plan": {"width_m": 20, "height_m": 10},
    "cameras": [
        {
            "name": "cam1",
            "source": "video.avi",
            "calibration": {
                "image_points_px": [[0, 0], [10, 0], [10, 10], [0, 10]],
                "floor_points_m": [[0, 0], [1, 0], [1, 1], [0, 1]],
            },
        }
    ],
}


def test_minimal_config_gets_documented_defaults(tmp_path):
    path = tmp_path / "store.yaml"
    path.write_text(yaml.safe_dump(MINIMAL))
    config = load_config(path)
    assert config.analysis.fps == 5 and config.analysis.bucket_s == 60 and config.analysis.cell_m == 0.5
    assert config.detector.model == "yolox_nano.onnx"
    assert config.resolve("video.avi") == str(tmp_path / "video.avi")


@pytest.mark.parametrize(
    "mutate, key",
    [
        (lambda c: c["store"].update(id="Bad Id"), "store.id"),
        (
            lambda c: (
                c["analysis"].update(bucket_s=0) if "analysis" in c else c.update(analysis={"bucket_s": 0})
            ),
            "analysis.bucket_s",
        ),
        (lambda c: c.setdefault("analysis", {}).update(hidden_hold_s=2), "analysis.hidden_hold_s"),
        (
            lambda c: c["cameras"][0]["calibration"].update(floor_points_m=[[0, 0]] * 3),
            "cameras.0.calibration",
        ),
        (
            lambda c: c.update(zones=[{"name": "z", "polygon_m": [[0, 0], [1, 1], [2, 2]]}]),
            "zones.0.polygon_m",
        ),
        (lambda c: c.update(surprise=1), "surprise"),
        (lambda c: c["store"].update(timezone="Mars/Olympus"), "store.timezone"),
        (
            lambda c: c.update(lines=[{"name": "door", "start_m": [0, 0], "end_m": [float("inf"), 0]}]),
            "lines.0.end_m",
        ),
        (lambda c: c.update(cameras=[c["cameras"][0], c["cameras"][0]]), "cameras"),
    ],
)
def test_errors_name_file_and_key(tmp_path, mutate, key):
    import copy

    data = copy.deepcopy(MINIMAL)
    mutate(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value) and key in str(err.value)


@pytest.mark.parametrize(
    "mutate, key",
    [
        (lambda c: c.update(detector={"track_score_threshold": 0.3}), "detector"),
        (
            lambda c: c["cameras"][0].update(detector={"score_threshold": 0.4, "track_score_threshold": 0.5}),
            "cameras.0.detector",
        ),
    ],
)
def test_a_track_score_not_under_the_score_is_refused(tmp_path, mutate, key):
    """At or above `score_threshold` it would pass on no box: the file is refused naming both."""
    import copy

    data = copy.deepcopy(MINIMAL)
    mutate(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="track_score_threshold .* must be under score_threshold") as err:
        load_config(path)
    assert str(path) in str(err.value) and key in str(err.value)


def test_unreadable_and_invalid_yaml(tmp_path):
    with pytest.raises(ConfigError, match="missing.yaml: cannot read"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "broken.yaml"
    bad.write_text("store: [unclosed")
    with pytest.raises(ConfigError, match="broken.yaml: not valid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="expected a mapping"):
        parse_config(["a"], "x.yaml")
