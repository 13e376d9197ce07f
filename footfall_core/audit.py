"""The figures of an on-site audit: how far a camera's line counts and zone occupancy are from
what an installer marked by hand on a short recording (docs/calibration.md, docs/accuracy.md).

Line accuracy is the project's one definition (bench/line_accuracy.py): 1 − Σ|counted − marked|
/ Σ marked, over both directions of the lines. Its 95 % interval is Wilson's score interval of
a binomial proportion: of the n crossings marked, k = n − Σ|counted − marked| (at least 0) are
taken as counted right, so that the interval is of the share of crossings the camera counts
right. A crossing missed and another counted twice cancel in the counts but both count as
wrong here; treating crossings as independent trials is the interval's assumption.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from footfall_core.contract import LinesAggregate
from footfall_core.store import LineAudit, ZoneAudit

CONFIDENCE = 0.95


@dataclass(frozen=True)
class LineAccuracy:
    """Line accuracy over some lines: `marked` crossings (n), `right` of them (k), the accuracy
    (1 − Σ|error| / n, negative when the errors outnumber the crossings) and the Wilson 95 %
    interval of k / n; accuracy and interval are None when nothing was marked."""

    marked: int
    counted: int
    abs_error: int
    right: int
    accuracy: float | None
    low: float | None
    high: float | None


def wilson(right: int, trials: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson's score interval of the proportion right / trials (statsmodels), within [0, 1]."""
    from statsmodels.stats.proportion import proportion_confint

    if not 0 <= right <= trials or trials < 1:
        raise ValueError(f"need 0 <= right <= trials and trials >= 1, got right={right}, trials={trials}")
    low, high = proportion_confint(right, trials, alpha=1 - confidence, method="wilson")
    # the exact ends where every trial or none was right (statsmodels' arithmetic misses them by 1e-16)
    return (0.0 if right == 0 else float(low)), (1.0 if right == trials else float(high))


def counted_crossings(messages: Iterable[object]) -> dict[str, tuple[int, int]]:
    """(in, out) per line name, summed over the lines aggregates among `messages` (the others are
    skipped): the counts an audit compares with the marked crossings."""
    counts: dict[str, tuple[int, int]] = {}
    for message in messages:
        if isinstance(message, LinesAggregate):
            for c in message.lines:
                was_in, was_out = counts.get(c.line, (0, 0))
                counts[c.line] = (was_in + c.in_count, was_out + c.out_count)
    return counts


def line_accuracy(lines: Sequence[LineAudit]) -> LineAccuracy:
    """The line accuracy of the audited `lines` together (one line: its own)."""
    marked = sum(x.marked_in + x.marked_out for x in lines)
    counted = sum(x.counted_in + x.counted_out for x in lines)
    error = sum(abs(x.counted_in - x.marked_in) + abs(x.counted_out - x.marked_out) for x in lines)
    right = max(0, marked - error)
    if marked == 0:
        return LineAccuracy(0, counted, error, 0, None, None, None)
    low, high = wilson(right, marked)
    return LineAccuracy(marked, counted, error, right, 1.0 - error / marked, low, high)


def zone_audit(zone: str, marked_people: Sequence[int], pipeline_people: Sequence[float]) -> ZoneAudit:
    """A zone's occupancy error from the people counted by hand at some instants and the
    pipeline's occupancy at the same instants (same order)."""
    if len(marked_people) != len(pipeline_people) or not marked_people:
        raise ValueError(
            f"zone {zone}: need as many pipeline figures as marked instants (at least one), "
            f"got {len(pipeline_people)} and {len(marked_people)}"
        )
    marked = np.asarray(marked_people, dtype=float)
    errors = np.asarray(pipeline_people, dtype=float) - marked
    return ZoneAudit(
        zone=zone,
        moments=len(marked),
        marked_mean_people=round(float(marked.mean()), 3),
        mean_abs_error_people=round(float(np.abs(errors).mean()), 3),
        bias_people=round(float(errors.mean()), 3),
    )
