"""Accuracy: how often the campaign lift's 95 % interval covers the true lift, over many
seeded chains.

Each seed makes a chain like `python -m dashboard seed` does (15 made-up stores, six weeks),
with a known lift on the first 5 stores over the last 14 days, and draws each store-day's
footfall from the seed's own model and noise (`daily_footfall`: the line counts the ingest
would have summed, without a database). The pooled difference-in-differences fit
(dashboard.lift) then gives a lift and its interval. It prints, for a +12 % campaign and for
none (the placebo), the share of seeds whose interval covers the truth, the mean estimate and
its spread, and every seed that missed; then how often each treated store's own interval
(lift.per_store) covers the truth, over every store of every seed.

The seed's stores share one weekday pattern and their days are independent draws. Real stores
have shocks of their own that last a few days (a road closed, a local event, a neighbour's
sale): `--shock-rho R --shock-sd S` multiplies each store-day by exp(x), x an AR(1) series per
store with lag-one correlation R and innovations of sd S, to see what that does to both
intervals.

    .venv/bin/python bench/campaign_lift.py [--seeds 50] [--lift 0.12] [--shock-rho 0.6 --shock-sd 0.04]
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
class Shocks:
    """Store-day shocks of a store's own: exp(x), x an AR(1) series per store."""

    rho: float = 0.0
    sd: float = 0.0

    def apply(self, frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        if self.sd == 0:
            return frame
        days = sorted(frame.day.unique())
        x: dict[tuple[str, date], float] = {}
        for store in sorted(frame.store.unique()):
            level = 0.0
            for day in days:
                level = self.rho * level + rng.normal(0.0, self.sd)
                x[store, day] = level
        shock = np.exp([x[s, d] for s, d in zip(frame.store, frame.day, strict=True)])
        return frame.assign(value=frame.value * shock)


@dataclass(frozen=True)
class Coverage:
    true_pct: float
    seeds: list[int]
    estimates_pct: list[float]
    missed: list[tuple[int, float, float, float]]  # (seed, lift, low, high) in percent
    store_intervals: int = 0  # treated stores' own intervals, over every seed
    store_covered: int = 0

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


def chain_lift(
    seed_: int, true_lift: float, shocks: Shocks = Shocks(), per_store: bool = False
) -> tuple[lift.Effect, list[lift.Effect]]:
    """The pooled lift, and each treated store's own, estimated on one seeded chain whose
    treated stores got `true_lift`."""
    rng = np.random.default_rng(seed_)
    stores = [seed.generated_store(i, rng) for i in range(STORES)]
    treated = {s.record.store.id for s in stores[:TREATED]}
    start, last = END - timedelta(days=CAMPAIGN_DAYS), END - timedelta(days=1)
    campaign = SimulatedCampaign("bench", tuple(sorted(treated)), start, last, true_lift)
    days = daily_footfall(stores, END - timedelta(weeks=WEEKS), 7 * WEEKS, rng, campaign)
    frame = pd.DataFrame([(s, d, n) for (s, d), n in days.items()], columns=["store", "day", "value"])
    frame = shocks.apply(frame, rng)
    controls = {s.record.store.id for s in stores} - treated
    panel = lift.prepare(frame, treated, controls, start, last)
    own = [effect for effect, _, _ in lift.per_store(panel).values()] if per_store else []
    return lift.estimate(panel).effect, own


def coverage(seeds: range, true_lift: float, shocks: Shocks = Shocks(), per_store: bool = False) -> Coverage:
    """The pooled interval's coverage over `seeds`; with `per_store`, the treated stores' own too."""
    estimates, missed, store_intervals, store_covered = [], [], 0, 0
    truth = float(np.log1p(true_lift))
    for seed_ in seeds:
        pooled, own = chain_lift(seed_, true_lift, shocks, per_store)
        pct, low, high = pooled.pct
        estimates.append(pct)
        if not low <= 100 * true_lift <= high:
            missed.append((seed_, pct, low, high))
        store_intervals += len(own)
        store_covered += sum(e.log_low <= truth <= e.log_high for e in own)
    return Coverage(100 * true_lift, list(seeds), estimates, missed, store_intervals, store_covered)


def report(result: Coverage) -> str:
    misses = ", ".join(f"seed {s}: {p:+.1f} % ({lo:+.1f} to {hi:+.1f})" for s, p, lo, hi in result.missed)
    mean, sd = statistics.mean(result.estimates_pct), statistics.stdev(result.estimates_pct)
    own = (
        f"; treated stores' own intervals cover it in {result.store_covered} of {result.store_intervals}"
        f" ({result.store_covered / result.store_intervals:.0%})"
        if result.store_intervals
        else ""
    )
    return (
        f"true lift {result.true_pct:+.0f} %: interval covers it in {result.covered} of {len(result.seeds)} "
        f"seeds ({result.covered / len(result.seeds):.0%}); mean estimate {mean:+.2f} %, "
        f"sd {sd:.2f} points; missed: {misses or 'none'}{own}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=50, help="seeds 0 .. N-1 (default 50)")
    parser.add_argument("--lift", type=float, default=0.12, help="true lift (default 0.12)")
    parser.add_argument(
        "--shock-rho", type=float, default=0.0, help="stores' own shocks: lag-one correlation"
    )
    parser.add_argument(
        "--shock-sd", type=float, default=0.0, help="stores' own shocks: sd (default 0: none)"
    )
    args = parser.parse_args()
    shocks = Shocks(args.shock_rho, args.shock_sd)
    print(
        f"{STORES} stores ({TREATED} treated), {WEEKS} weeks, campaign on the last {CAMPAIGN_DAYS} days, "
        f"seeds 0-{args.seeds - 1}, stores' own shocks: AR(1) rho {shocks.rho:g}, sd {shocks.sd:g}"
    )
    for true_lift in (args.lift, 0.0):
        started = time.perf_counter()
        result = coverage(range(args.seeds), true_lift, shocks, per_store=True)
        print(report(result) + f" [{time.perf_counter() - started:.1f} s]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
