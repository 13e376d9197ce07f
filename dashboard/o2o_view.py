"""What the trends and compare pages show of conversion and campaigns: the week's conversion
(per day with its footfall, per hour of day, against the week before) and the campaigns whose
days fall in the range shown, marked on the date charts."""

from __future__ import annotations

from datetime import date, timedelta

import plotly.graph_objects as go
import sqlalchemy as sa

from dashboard import campaign_charts, campaigns, pos, repository
from dashboard.charts import figure_json, ranking_bars


def campaign_periods(
    conn: sa.Connection, first: date, last: date, store_ids: set[str] | None
) -> list[tuple[str, date, date]]:
    """(name, first day, last day) of the campaigns treating one of `store_ids` (None: any)
    whose days meet [first, last], cut to that range."""
    return [
        (c.name, max(c.start, first), min(c.end, last))
        for c in campaigns.during(conn, first, last, store_ids)
    ]


def week_conversion(conn: sa.Connection, store_id: str, first: date) -> dict:
    """The trends page's conversion for the ISO week starting `first`: a KPI (None without
    point-of-sale data), the campaigns of the week, and two figures as Plotly JSON."""
    last = first + timedelta(days=6)
    days = [first + timedelta(days=k) for k in range(7)]
    by_day = {p.period: p for p in pos.conversion(conn, store_id, first, last, "day").periods}
    by_hour = {p.period: p for p in pos.conversion(conn, store_id, first, last, "hour_of_day").periods}
    now = pos.conversion(conn, store_id, first, last, "week").total
    before = pos.conversion(
        conn, store_id, first - timedelta(days=7), first - timedelta(days=1), "week"
    ).total
    footfall = repository.footfall(conn, store_id, first, last)
    periods = campaign_periods(conn, first, last, {store_id})
    figure = campaign_charts.footfall_conversion_by_day(
        days,
        [footfall.get((store_id, d), 0) for d in days],
        [by_day[d.isoformat()].conversion if d.isoformat() in by_day else None for d in days],
        periods,
    )
    hours = [by_hour[f"{h:02d}:00"].conversion if f"{h:02d}:00" in by_hour else None for h in range(24)]
    return dict(
        conversion=now.conversion,
        previous_conversion=before.conversion,
        transactions=now.transactions,
        campaigns=periods,
        figures=dict(
            footfall_conversion=figure_json(figure),
            conversion_by_hour=figure_json(campaign_charts.conversion_by_hour(hours)),
        ),
    )


def compare_figures(
    rows: list[dict], periods: list[tuple[str, date, date]], daily: go.Figure
) -> dict[str, str]:
    """The comparison's conversion ranking (stores with point-of-sale data) and its daily
    footfall chart with the campaigns marked."""
    return dict(
        daily=figure_json(campaign_charts.mark_campaigns(daily, periods)),
        conversion=figure_json(
            ranking_bars(
                {r.store: 100 * r.conversion for r in rows if r.conversion is not None},
                "% of people in who bought",
                "Conversion",
            )
        ),
    )
