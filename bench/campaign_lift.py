"""Accuracy: how often the campaign lift's 95 % interval covers the true lift, over many
seeded chains.

Each seed makes a chain like `python -m dashboard seed` does (15 made-up stores, six weeks),
with a known lift on the first 5 stores over the last 14 days, and draws each store-day's
footfall from the seed's own model and noise (`daily_footfall`: the line counts the ingest
would have summed, without a database). The pooled difference-in-differences fit
(dashboard.lift) then gives a lift and its interval. It prints, for a +12 % campaign and for
none (the placebo), the share of seeds whose interval covers the truth, the mean estimate and
its spread, and every seed that missed.

    .venv/bin/python bench/campaign_lift.py [--seeds 50] [--lift 0.12]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dashboard import lift, seed
from dashboard.seed_o2o import SimulatedCampaign

END = date(2026, 3, 2)  # first day not simulated
WEEKS = 6
STORES = 15
TREATED = 5
CAMPAIGN_DAYS = 14


@dataclass(frozen=True)
class Coverage:
    true_pct: float
    seeds: list[int]
    estimates_pct: list[float]
    missed: list[tuple[int, float, float, float]]  # (seed, lift, low, high) in percent

    @property
    def covered(self) -> int:
        return len(self.seeds) - len(self.missed)


def daily_footfall(
    stores: list[seed.SeedStore],
    first: date,
    days: int,
    rng: np.random.Generator,
    campaign: SimulatedCampaign,
) -> dict[tuple[str, date], int]:
    """(store, local date) → what `seed`'s line counts add up to: the same hourly model and
    noise (seed.hour_rate, a Poisson count per line), without a database."""
    out = {}
    for store in stores:
        store_id = store.record.store.id
        for k in range(days):
            day = first + timedelta(days=k)
            boost = campaign.boost(store_id, day)
            rates = [
                seed.hour_rate(store, h, day.weekday(), k // 7, rng, boost)[0]
                for h in seed.open_hours(store, day)
            ]
            if rates:
                out[store_id, day] = sum(int(rng.poisson(r)) for r in rates for _ in store.record.lines)
    return out


def chain_lift(seed_: int, true_lift: float) -> lift.Effect:
    """The pooled lift estimated on one seeded chain whose treated stores got `true_lift`."""
    rng = np.random.default_rng(seed_)
    stores = [seed.generated_store(i, rng) for i in range(STORES)]
    treated = {s.record.store.id for s in stores[:TREATED]}
    start, last = END - timedelta(days=CAMPAIGN_DAYS), END - timedelta(days=1)
    campaign = SimulatedCampaign("bench", tuple(sorted(treated)), start, last, true_lift)
    days = daily_footfall(stores, END - timedelta(weeks=WEEKS), 7 * WEEKS, rng, campaign)
    frame = pd.DataFrame([(s, d, n) for (s, d), n in days.items()], columns=["store", "day", "value"])
    controls = {s.record.store.id for s in stores} - treated
    return lift.estimate(lift.prepare(frame, treated, controls, start, last)).effect


def coverage(seeds: range, true_lift: float) -> Coverage:
    estimates, missed = [], []
    for seed_ in seeds:
        pct, low, high = chain_lift(seed_, true_lift).pct
        estimates.append(pct)
        if not low <= 100 * true_lift <= high:
            missed.append((seed_, pct, low, high))
    return Coverage(100 * true_lift, list(seeds), estimates, missed)


def report(result: Coverage) -> str:
    misses = ", ".join(f"seed {s}: {p:+.1f} % ({lo:+.1f} to {hi:+.1f})" for s, p, lo, hi in result.missed)
    mean, sd = statistics.mean(result.estimates_pct), statistics.stdev(result.estimates_pct)
    return (
        f"true lift {result.true_pct:+.0f} %: interval covers it in {result.covered} of {len(result.seeds)} "
        f"seeds ({result.covered / len(result.seeds):.0%}); mean estimate {mean:+.2f} %, "
        f"sd {sd:.2f} points; missed: {misses or 'none'}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=50, help="seeds 0 .. N-1 (default 50)")
    parser.add_argument("--lift", type=float, default=0.12, help="true lift (default 0.12)")
    args = parser.parse_args()
    print(
        f"{STORES} stores ({TREATED} treated), {WEEKS} weeks, campaign on the last {CAMPAIGN_DAYS} days, "
        f"seeds 0-{args.seeds - 1}"
    )
    for true_lift in (args.lift, 0.0):
        started = time.perf_counter()
        result = coverage(range(args.seeds), true_lift)
        print(report(result) + f" [{time.perf_counter() - started:.1f} s]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
