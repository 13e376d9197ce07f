"""`python -m dashboard campaigns ...`: record campaigns and print their lift.

campaigns add NAME --channel sns --start 2026-03-02 --end 2026-03-15 --treated a,b
              [--control c,d] [--zones z1,z2] [--pre-days 28]
campaigns list
campaigns lift ID
campaigns end ID --end 2026-03-10      end it early (or correct its last day)
campaigns remove ID
"""

from __future__ import annotations

import argparse
import logging

from pydantic import ValidationError

from dashboard import campaign_lift, campaigns
from dashboard.repository import NotFound
from dashboard.settings import add_db_argument
from dashboard.storage import Storage

log = logging.getLogger(__name__)


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_db_argument(parser)
    actions = parser.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="record a campaign")
    add.add_argument("name")
    add.add_argument("--channel", required=True, help="sns, app, coupon, web or other")
    add.add_argument("--start", required=True, help="first day, YYYY-MM-DD (stores' local dates)")
    add.add_argument("--end", required=True, help="last day, included")
    add.add_argument("--treated", required=True, help="comma-separated store ids")
    add.add_argument(
        "--control", default="", help="comma-separated store ids (default: the default controls)"
    )
    add.add_argument("--zones", default="", help="comma-separated promoted zone names")
    add.add_argument(
        "--pre-days", type=int, default=campaigns.DEFAULT_PRE_DAYS, help="days compared before start"
    )
    actions.add_parser("list", help="list campaigns")
    lift = actions.add_parser("lift", help="print a campaign's lift")
    lift.add_argument("id", type=int)
    end = actions.add_parser("end", help="move a campaign's last day: end it early")
    end.add_argument("id", type=int)
    end.add_argument("--end", required=True, help="the new last day, YYYY-MM-DD, included")
    remove = actions.add_parser("remove", help="delete a campaign record (no store data is touched)")
    remove.add_argument("id", type=int)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:+.1f} %"


def _print_lift(result: campaign_lift.CampaignLift) -> None:
    c = result.campaign
    print(
        f"{c.id} {c.name}: {c.start} – {c.end}, {len(c.treated)} treated, "
        f"{len(c.control)} control ({c.control_source})"
    )
    if not result.enough_data:
        print(f"  footfall: no estimate: {result.message}")
    else:
        print(
            f"  footfall lift {_pct(result.lift_pct)} (95 % interval {_pct(result.ci_low_pct)} to "
            f"{_pct(result.ci_high_pct)}), extra visitors {result.extra_visitors:,.0f} "
            f"({result.extra_visitors_low:,.0f} to {result.extra_visitors_high:,.0f})"
        )
        print(
            "  pre-trend check: "
            + ("ok" if result.pre_trend_ok else result.pre_trend_message or "not possible")
        )
        for s in result.per_store:
            own = (
                f"no estimate: {s.message}"
                if s.message
                else f"{_pct(s.lift_pct)} ({_pct(s.ci_low_pct)} to {_pct(s.ci_high_pct)})"
            )
            print(f"    {s.store}: {own}")
    for outcome in (result.zone_entries, result.conversion):
        if outcome is not None:
            detail = (
                f"{_pct(outcome.lift_pct)} ({_pct(outcome.ci_low_pct)} to {_pct(outcome.ci_high_pct)})"
                if outcome.enough_data
                else f"no estimate: {outcome.message}"
            )
            print(f"  {outcome.outcome}: {detail}")
    if result.simulated_days:
        print(f"  {result.simulated_days} of the days analysed hold simulated data")


def main(args: argparse.Namespace) -> int:
    storage = Storage(args.db)
    storage.migrate()
    try:
        with storage.engine.begin() as conn:
            if args.action == "add":
                record = campaigns.CampaignIn(
                    name=args.name,
                    channel=args.channel,
                    start=args.start,
                    end=args.end,
                    treated=_split(args.treated),
                    control=_split(args.control),
                    promoted_zones=_split(args.zones),
                    pre_days=args.pre_days,
                )
                created = campaigns.create(conn, record)
                print(
                    f"{created.id}: {created.name}, controls ({created.control_source}): "
                    + ", ".join(created.control)
                )
            elif args.action == "list":
                for c in campaigns.all_campaigns(conn):
                    print(
                        f"{c.id}\t{c.name}\t{c.channel}\t{c.start}\t{c.end}\t{','.join(c.treated)}"
                        + ("\tsimulated" if c.simulated else "")
                    )
            elif args.action == "lift":
                _print_lift(campaign_lift.campaign_lift(conn, args.id))
            elif args.action == "end":
                changed = campaigns.set_end(conn, args.id, campaigns.CampaignEnd(end=args.end).end)
                print(f"{changed.id}: {changed.name} now ends on {changed.end}")
            else:
                campaigns.remove(conn, args.id)
                print(f"{args.id}: removed")
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            log.error("%s: %s", ".".join(str(p) for p in error["loc"]) or "campaign", error["msg"])
        return 2
    except (campaigns.CampaignError, NotFound) as exc:
        log.error("%s", exc)
        return 2
    return 0
