"""The on-site audit's figures: line accuracy and its Wilson interval, zone occupancy errors, and
the store config's `audits` section (validated, errors naming the file and the key)."""

import copy
import datetime as dt

import pytest
import yaml
from statsmodels.stats.proportion import proportion_confint

from footfall_core.audit import line_accuracy, wilson, zone_audit
from footfall_core.store import ConfigError, LineAudit, load_config, parse_config
from tests.test_config import MINIMAL


def line(name="door", marked=(13, 17), counted=(13, 17)) -> LineAudit:
    return LineAudit(
        line=name, marked_in=marked[0], marked_out=marked[1], counted_in=counted[0], counted_out=counted[1]
    )


@pytest.mark.parametrize(
    "lines, marked, error, right, accuracy",
    [
        ([line()], 30, 0, 30, 1.0),
        ([line(counted=(12, 19))], 30, 3, 27, 0.9),  # one missed in, two extra out: 3 wrong
        ([line(counted=(14, 16))], 30, 2, 28, 28 / 30),  # errors that cancel in the sum still count
        ([line(), line("till", (5, 5), (0, 0))], 40, 10, 30, 0.75),
        ([line(marked=(2, 0), counted=(9, 0))], 2, 7, 0, -2.5),  # more wrong than marked: k is 0
    ],
)
def test_line_accuracy_is_one_minus_errors_over_marked(lines, marked, error, right, accuracy):
    got = line_accuracy(lines)
    assert (got.marked, got.abs_error, got.right) == (marked, error, right)
    assert got.accuracy == pytest.approx(accuracy)
    low, high = proportion_confint(right, marked, alpha=0.05, method="wilson")
    assert (got.low, got.high) == pytest.approx((low, high))
    assert got.low <= max(0.0, got.accuracy) <= got.high


def test_wilson_interval_narrows_with_more_crossings_and_stays_inside_0_1():
    small, large = wilson(27, 30), wilson(270, 300)
    assert 0 < small[0] < large[0] < 0.9 < large[1] < small[1] < 1
    assert wilson(0, 5)[0] == 0 and wilson(5, 5)[1] == pytest.approx(1)
    # the textbook value: 9 of 10, 95 %: 0.596 to 0.982
    assert wilson(9, 10) == pytest.approx((0.5958, 0.9821), abs=1e-4)
    with pytest.raises(ValueError, match="right=6, trials=5"):
        wilson(6, 5)


def test_nothing_marked_has_no_accuracy():
    got = line_accuracy([line(marked=(0, 0), counted=(2, 0))])
    assert got.accuracy is None and got.low is None and got.counted == 2 and got.abs_error == 2


def test_zone_audit_mean_error_and_bias():
    audit = zone_audit("path", [3, 5, 0, 2], [2.5, 5.0, 1.0, 2.0])
    assert audit.moments == 4 and audit.marked_mean_people == 2.5
    assert audit.mean_abs_error_people == pytest.approx((0.5 + 0 + 1 + 0) / 4)
    assert audit.bias_people == pytest.approx((-0.5 + 1) / 4)
    with pytest.raises(ValueError, match="zone path: need as many"):
        zone_audit("path", [1, 2], [1.0])


AUDIT = {
    "date": "2026-03-02",
    "camera": "cam1",
    "clip_s": 113.6,
    "lines": [{"line": "door", "marked_in": 13, "marked_out": 17, "counted_in": 12, "counted_out": 17}],
    "zones": [
        {
            "zone": "path",
            "moments": 3,
            "marked_mean_people": 4.0,
            "mean_abs_error_people": 0.5,
            "bias_people": -0.2,
        }
    ],
}


def test_audits_section_reads_back_and_last_audit_per_camera(tmp_path):
    data = copy.deepcopy(MINIMAL)
    later = {**copy.deepcopy(AUDIT), "date": "2026-04-01", "lines": []}
    data["audits"] = [AUDIT, later]
    path = tmp_path / "store.yaml"
    path.write_text(yaml.safe_dump(data))
    config = load_config(path)
    assert config.audits[0].date == dt.date(2026, 3, 2) and config.audits[0].lines[0].counted_in == 12
    assert config.last_audits() == [config.audits[1]]
    assert load_config(tmp_path / "store.yaml").audits == config.audits
    assert parse_config(MINIMAL).audits == [] and parse_config(MINIMAL).last_audits() == []


@pytest.mark.parametrize(
    "mutate, key",
    [
        (lambda a: a.update(camera="nope"), "audits.0.camera: no camera named 'nope' (have cam1)"),
        (lambda a: a.update(date="yesterday"), "audits.0.date"),
        (lambda a: a.update(clip_s=0), "audits.0.clip_s"),
        (lambda a: a["lines"][0].update(counted_in=-1), "audits.0.lines.0.counted_in"),
        (lambda a: a["lines"].append(dict(a["lines"][0])), "audits.0: lines: door listed twice"),
        (lambda a: a["zones"][0].update(moments=0), "audits.0.zones.0.moments"),
        (lambda a: a.update(clip=b"\x00"), "audits.0.clip"),  # never the clip itself
    ],
)
def test_audit_errors_name_file_and_key(tmp_path, mutate, key):
    data = copy.deepcopy(MINIMAL)
    audit = copy.deepcopy(AUDIT)
    mutate(audit)
    data["audits"] = [audit]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: ") and key in str(caught.value), str(caught.value)
