"""What `python -m dashboard seed` simulates for online-to-offline questions: campaigns with a
known footfall lift on chosen stores, and point-of-sale transactions. Both are marked
simulated (the campaign record, the rows, and the footfall the lift multiplies)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import sqlalchemy as sa

from dashboard import campaigns


@dataclass(frozen=True)
class SimulatedCampaign:
    """`lift` more arrivals (0.12: +12 %) at the `treated` stores on the days [start, end]."""

    name: str
    treated: tuple[str, ...]
    start: date
    end: date
    lift: float
    pre_days: int = campaigns.DEFAULT_PRE_DAYS
    channel: campaigns.Channel = "sns"

    def boost(self, store_id: str, day: date) -> float:
        return 1 + self.lift if store_id in self.treated and self.start <= day <= self.end else 1.0

    def save(self, conn: sa.Connection) -> campaigns.Campaign:
        """Record it as a campaign (simulated) with the default controls."""
        record = campaigns.CampaignIn(
            name=self.name,
            channel=self.channel,
            start=self.start,
            end=self.end,
            treated=list(self.treated),
            pre_days=self.pre_days,
        )
        return campaigns.create(conn, record, simulated=True)


def boost(simulated: Sequence[SimulatedCampaign], store_id: str, day: date) -> float:
    """How much the campaigns multiply a store's arrivals on a day."""
    return math.prod(c.boost(store_id, day) for c in simulated)


@dataclass(frozen=True)
class Till:
    """A store's simulated point of sale: each visitor buys with probability `conversion`,
    spending a log-normal basket of mean `basket`."""

    conversion: float
    basket: float

    @classmethod
    def draw(cls, rng: np.random.Generator) -> Till:
        return cls(conversion=float(rng.uniform(0.15, 0.35)), basket=float(rng.uniform(20, 60)))

    def hour_row(
        self, store_id: str, start: datetime, local: datetime, visitors: int, rng: np.random.Generator
    ) -> dict:
        """The `pos_hours` row of one store-hour (`start` naive UTC, `local` the local start)."""
        bought = int(rng.binomial(visitors, self.conversion))
        spent = rng.lognormal(math.log(self.basket) - 0.08, 0.4, bought).sum()
        return dict(
            store_id=store_id,
            period_start=start,
            local_date=local.date(),
            local_hour=local.hour,
            transactions=bought,
            sales_amount=round(float(spent), 2),
            imported_at=start,
        )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--campaign",
        default="",
        help="simulate a campaign on these stores (comma-separated ids) over the last --campaign-days days",
    )
    parser.add_argument(
        "--campaign-lift", type=float, default=0.12, help="its footfall lift (default 0.12: +12 %%)"
    )
    parser.add_argument("--campaign-days", type=int, default=14, help="its length in days (default 14)")
    parser.add_argument(
        "--pos", action="store_true", help="simulate point-of-sale transactions for every store"
    )


def from_args(args: argparse.Namespace, store_ids: set[str], end: date) -> list[SimulatedCampaign]:
    """The campaign `--campaign` asks for (none without it): its last day is the day before
    `end`; its pre-period the days seeded before it, at most 28. ValueError names a store
    that is not seeded."""
    treated = tuple(s.strip() for s in args.campaign.split(",") if s.strip())
    if not treated:
        return []
    unknown = sorted(set(treated) - store_ids)
    if unknown:
        raise ValueError(f"--campaign: {', '.join(unknown)} not among the seeded stores")
    return [
        SimulatedCampaign(
            name=f"Simulated SNS coupon ({args.campaign_lift:+.0%} footfall)",
            treated=treated,
            start=end - timedelta(days=args.campaign_days),
            end=end - timedelta(days=1),
            lift=args.campaign_lift,
            pre_days=max(7, min(campaigns.DEFAULT_PRE_DAYS, 7 * args.weeks - args.campaign_days)),
        )
    ]
