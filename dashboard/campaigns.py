"""Campaigns: what HQ records about an online campaign meant to bring people into stores.

A campaign has a name, a channel, first and last days (the stores' local dates, both
included), the treated stores, optional promoted zones and optional control stores. Without
control stores it is compared with the **default controls**: every other store that shares a
region or a tag with a treated store and is not treated by an overlapping campaign (one whose
days meet this campaign's pre-period or days); they are worked out when asked for, so a
campaign recorded later is taken into account. `pre_days` (default 28) is how many days
before the start the lift compares with (dashboard.campaign_lift).

Validation names the field: `end` before `start`, an unknown store in `treated` or
`control`, a `control` store that is also treated.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from dashboard import tables as t
from dashboard.read_models import ReadModel
from dashboard.repository import NotFound
from dashboard.storage import now_utc

Channel = Literal["sns", "app", "coupon", "web", "other"]
DEFAULT_PRE_DAYS = 28


class CampaignError(ValueError):
    """A campaign that cannot be recorded; `field` is the field at fault."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")


class CampaignEnd(BaseModel):
    """A campaign's new last day (ending it early)."""

    model_config = ConfigDict(extra="forbid")
    end: date = Field(description="last campaign day, included; not before its start")


class CampaignIn(BaseModel):
    """A campaign as HQ records it."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    channel: Channel
    start: date = Field(description="first campaign day (stores' local date)")
    end: date = Field(description="last campaign day, included")
    treated: list[str] = Field(min_length=1, description="store ids the campaign targets")
    control: list[str] = Field(
        default=[], description="store ids to compare with; empty: the default controls"
    )
    promoted_zones: list[str] = Field(
        default=[], description="zone names whose entries the campaign promotes"
    )
    pre_days: int = Field(
        default=DEFAULT_PRE_DAYS, ge=7, le=365, description="days before start compared with"
    )

    @field_validator("end")
    @classmethod
    def _not_before_start(cls, end: date, info: ValidationInfo) -> date:
        start = info.data.get("start")
        if start is not None and end < start:
            raise ValueError(f"end {end} is before start {start}")
        return end

    @field_validator("treated", "control", "promoted_zones")
    @classmethod
    def _no_repeats(cls, names: list[str]) -> list[str]:
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"listed more than once: {', '.join(repeated)}")
        return names

    @field_validator("control")
    @classmethod
    def _not_treated(cls, control: list[str], info: ValidationInfo) -> list[str]:
        both = sorted(set(control) & set(info.data.get("treated") or []))
        if both:
            raise ValueError(f"also treated: {', '.join(both)}")
        return control


class Campaign(ReadModel):
    """A recorded campaign, with the control stores it is compared with."""

    id: int
    name: str
    channel: Channel
    start: date
    end: date
    pre_days: int
    treated: list[str]
    control: list[str]
    control_source: Literal["given", "default"] = Field(description="chosen by hand, or the default controls")
    promoted_zones: list[str]
    simulated: bool
    created_at: datetime

    @property
    def first_day(self) -> date:
        """First day of the pre-period."""
        return self.start - timedelta(days=self.pre_days)


def create(conn: sa.Connection, campaign: CampaignIn, simulated: bool = False) -> Campaign:
    """Record a campaign (the caller commits); CampaignError names an unknown store's field."""
    known = set(
        conn.scalars(sa.select(t.stores.c.id).where(t.stores.c.id.in_(campaign.treated + campaign.control)))
    )
    for field in ("treated", "control"):
        unknown = [s for s in getattr(campaign, field) if s not in known]
        if unknown:
            raise CampaignError(field, f"unknown store(s) {', '.join(unknown)}")
    campaign_id = conn.execute(
        sa.insert(t.campaigns)
        .values(
            name=campaign.name,
            channel=campaign.channel,
            start_date=campaign.start,
            end_date=campaign.end,
            pre_days=campaign.pre_days,
            promoted_zones=campaign.promoted_zones,
            simulated=simulated,
            created_at=now_utc(),
        )
        .returning(t.campaigns.c.id)
    ).scalar_one()
    conn.execute(
        sa.insert(t.campaign_stores),
        [dict(campaign_id=campaign_id, store_id=s, role="treated") for s in campaign.treated]
        + [dict(campaign_id=campaign_id, store_id=s, role="control") for s in campaign.control],
    )
    return get(conn, campaign_id)


def _stores_by_role(conn: sa.Connection, ids: list[int]) -> dict[int, dict[str, list[str]]]:
    cs = t.campaign_stores.c
    out: dict[int, dict[str, list[str]]] = {i: {"treated": [], "control": []} for i in ids}
    for row in conn.execute(
        sa.select(cs.campaign_id, cs.store_id, cs.role).where(cs.campaign_id.in_(ids)).order_by(cs.store_id)
    ):
        out[row.campaign_id][row.role].append(row.store_id)
    return out


def _campaigns(conn: sa.Connection, where=None) -> list[Campaign]:
    c = t.campaigns.c
    query = sa.select(t.campaigns).order_by(c.start_date.desc(), c.id.desc())
    rows = conn.execute(query if where is None else query.where(where)).mappings().all()
    roles = _stores_by_role(conn, [r["id"] for r in rows])
    out = []
    for r in rows:
        treated, given = roles[r["id"]]["treated"], roles[r["id"]]["control"]
        first = r["start_date"] - timedelta(days=r["pre_days"])
        control = given or default_controls(conn, treated, first, r["end_date"])
        out.append(
            Campaign(
                id=r["id"],
                name=r["name"],
                channel=r["channel"],
                start=r["start_date"],
                end=r["end_date"],
                pre_days=r["pre_days"],
                treated=treated,
                control=control,
                control_source="given" if given else "default",
                promoted_zones=list(r["promoted_zones"] or []),
                simulated=r["simulated"],
                created_at=r["created_at"],
            )
        )
    return out


def default_controls(conn: sa.Connection, treated: list[str], first: date, last: date) -> list[str]:
    """Stores sharing a region or a tag with a treated store, not treated by this campaign nor
    by any campaign whose days meet [first, last]."""
    c, cs, s = t.campaigns.c, t.campaign_stores.c, t.stores.c
    busy = set(
        conn.scalars(
            sa.select(cs.store_id)
            .join(t.campaigns, c.id == cs.campaign_id)
            .where((cs.role == "treated") & (c.start_date <= last) & (c.end_date >= first))
        )
    ) | set(treated)
    stores = conn.execute(sa.select(s.id, s.region, s.tags)).all()
    regions = {r.region for r in stores if r.id in treated and r.region}
    tags = {tag for r in stores if r.id in treated for tag in r.tags or []}
    return sorted(
        r.id for r in stores if r.id not in busy and (r.region in regions or tags & set(r.tags or []))
    )


def get(conn: sa.Connection, campaign_id: int) -> Campaign:
    found = _campaigns(conn, t.campaigns.c.id == campaign_id)
    if not found:
        raise NotFound(f"no campaign {campaign_id}")
    return found[0]


def all_campaigns(conn: sa.Connection) -> list[Campaign]:
    """Every campaign, newest start first."""
    return _campaigns(conn)


def during(conn: sa.Connection, first: date, last: date, store_ids: set[str] | None = None) -> list[Campaign]:
    """Campaigns whose days meet [first, last] (treating one of `store_ids`, if given): what
    the trends and compare charts mark."""
    c = t.campaigns.c
    found = _campaigns(conn, (c.start_date <= last) & (c.end_date >= first))
    return [x for x in found if store_ids is None or set(x.treated) & set(store_ids)]


def remove(conn: sa.Connection, campaign_id: int) -> None:
    get(conn, campaign_id)
    conn.execute(sa.delete(t.campaign_stores).where(t.campaign_stores.c.campaign_id == campaign_id))
    conn.execute(sa.delete(t.campaigns).where(t.campaigns.c.id == campaign_id))


def set_end(conn: sa.Connection, campaign_id: int, end: date) -> Campaign:
    """Move a campaign's last day: end a running campaign early (the coupon was withdrawn) or
    correct it. The lift then reads the days after it as neither campaign nor pre-period."""
    campaign = get(conn, campaign_id)
    if end < campaign.start:
        raise CampaignError("end", f"end {end} is before start {campaign.start}")
    conn.execute(sa.update(t.campaigns).where(t.campaigns.c.id == campaign_id).values(end_date=end))
    return get(conn, campaign_id)
