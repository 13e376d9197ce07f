"""Adaptive rate (edge.adaptive): the detector's schedule while a scene is empty and when
somebody shows up, by frame timestamps (seconds)."""

from __future__ import annotations

import pytest

from edge.adaptive import AdaptiveRate

FRAME_S = 1 / 7  # PETS09's frame period


def schedule(rate: AdaptiveRate, people_at: dict[int, int], frames: int) -> list[int]:
    """Frame numbers on which the detector runs; `people_at[i]` = people it finds on frame i."""
    ran = []
    for i in range(frames):
        t = 1000.0 + i * FRAME_S
        if rate.due(t):
            rate.ran(t, people_at.get(i, 0))
            ran.append(i)
    return ran


def test_full_rate_while_people_are_seen():
    rate = AdaptiveRate(empty_after_s=2.0, empty_fps=1.0)
    assert schedule(rate, {i: 3 for i in range(70)}, 70) == list(range(70))


def test_low_rate_once_empty_for_empty_after_s():
    ran = schedule(AdaptiveRate(empty_after_s=2.0, empty_fps=1.0), {}, 70)  # 10 s, nobody
    assert ran[:14] == list(range(14))  # full rate until nobody was seen for 2 s (frame 14)
    assert 14 not in ran
    gaps = [b - a for a, b in zip(ran[13:], ran[14:], strict=False)]
    assert gaps and all(g == 7 for g in gaps)  # then once a second


def test_somebody_found_brings_back_the_full_rate():
    people = {i: 1 for i in range(50, 70)}
    ran = schedule(AdaptiveRate(empty_after_s=2.0, empty_fps=1.0), people, 70)
    first_seen = min(i for i in ran if i >= 50)
    assert first_seen - 50 < 7  # seen within 1 / empty_fps of arriving
    assert ran[ran.index(first_seen) :] == list(range(first_seen, 70))


def test_clock_going_back_runs_the_detector():
    rate = AdaptiveRate(empty_after_s=0.0, empty_fps=0.1)
    rate.ran(100.0, 0)
    assert not rate.due(101.0)
    assert rate.due(50.0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"empty_after_s": -1.0}, "empty_after_s"),
        ({"empty_fps": 0.0}, "empty_fps"),
    ],
)
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AdaptiveRate(**kwargs)
