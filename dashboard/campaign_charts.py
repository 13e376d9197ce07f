"""Charts of campaigns and conversion: plain data in, Plotly figure out (as dashboard.charts).

Campaign days are drawn as shaded bands on date axes, here and on the comparison's daily
chart (`mark_campaigns`). Simulated days are drawn with open markers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

import plotly.graph_objects as go

from dashboard.charts import house_layout

CAMPAIGN_FILL = "#ffb300"
OBSERVED = "#1565c0"
EXPECTED = "#78909c"


def mark_campaigns(figure: go.Figure, periods: Sequence[tuple[str, date, date]]) -> go.Figure:
    """Shade each campaign's days (`(name, first day, last day)`) on a date x axis, named at the
    top; a date's point sits at its midnight, so a band runs half a day either side."""
    for name, first, last in periods:
        figure.add_vrect(
            x0=(datetime.combine(first, time()) - timedelta(hours=12)).isoformat(),
            x1=(datetime.combine(last, time()) + timedelta(hours=12)).isoformat(),
            fillcolor=CAMPAIGN_FILL,
            opacity=0.15,
            line_width=0,
            layer="below",
            annotation=dict(text=name, font=dict(size=11, color="#8d6e00")),
            annotation_position="top left",
        )
    return figure


def counterfactual_lines(days: Sequence[dict], name: str, first: date, last: date, unit: str) -> go.Figure:
    """The treated stores' daily value against the model's counterfactual (dashed), the
    campaign shaded. `days`: dicts with day, observed, counterfactual (None: no fit), simulated."""
    x = [d["day"].isoformat() for d in days]
    symbols = ["circle-open" if d["simulated"] else "circle" for d in days]
    figure = go.Figure(
        [
            go.Scatter(
                x=x,
                y=[d["observed"] for d in days],
                mode="lines+markers",
                name="treated stores",
                line=dict(color=OBSERVED),
                marker=dict(size=6, symbol=symbols),
                hovertemplate="%{x}: %{y:,.0f} " + unit + "<extra></extra>",
            ),
            go.Scatter(
                x=x,
                y=[d["counterfactual"] for d in days],
                mode="lines",
                name="without the campaign (model)",
                line=dict(color=EXPECTED, dash="dash"),
                hovertemplate="%{x}: %{y:,.0f} " + unit + " expected<extra></extra>",
            ),
        ]
    )
    mark_campaigns(figure, [(name, first, last)])
    simulated = sum(d["simulated"] for d in days)
    note = f" · open markers: simulated days ({simulated} of {len(days)})" if simulated else ""
    house_layout(
        figure,
        f"Treated stores' {unit} per day against the counterfactual{note}",
        380,
        margin=dict(l=60, r=20, t=50, b=40),
        yaxis=dict(title=unit, rangemode="tozero"),
        legend=dict(orientation="h", y=-0.15),
    )
    return figure


def footfall_conversion_by_day(
    days: Sequence[date],
    footfall: Sequence[int],
    conversion: Sequence[float | None],
    periods: Sequence[tuple[str, date, date]],
) -> go.Figure:
    """Footfall bars and conversion (transactions ÷ footfall, %) on a second axis, per local
    day, with campaign days shaded."""
    x = [d.isoformat() for d in days]
    figure = go.Figure(
        [
            go.Bar(
                x=x,
                y=list(footfall),
                name="people in",
                marker_color="#90caf9",
                hovertemplate="%{x}: %{y:,} people in<extra></extra>",
            ),
            go.Scatter(
                x=x,
                y=[None if c is None else 100 * c for c in conversion],
                name="conversion",
                yaxis="y2",
                mode="lines+markers",
                line=dict(color="#2e7d32"),
                hovertemplate="%{x}: %{y:.1f} % conversion<extra></extra>",
            ),
        ]
    )
    mark_campaigns(figure, periods)
    house_layout(
        figure,
        "Footfall and conversion per day",
        320,
        margin=dict(l=60, r=60, t=50, b=40),
        yaxis=dict(title="people in", rangemode="tozero"),
        yaxis2=dict(title="conversion (%)", overlaying="y", side="right", rangemode="tozero", showgrid=False),
        legend=dict(orientation="h", y=-0.2),
        xaxis=dict(type="date", dtick=86400000, tickformat="%a %d"),
    )
    return figure


def conversion_by_hour(conversion: Sequence[float | None]) -> go.Figure:
    """24 bars: the week's conversion per local hour of day (%), gaps where nothing was sold
    or counted."""
    if len(conversion) != 24:
        raise ValueError(f"conversion_by_hour: expected 24 values, got {len(conversion)}")
    figure = go.Figure(
        go.Bar(
            x=[f"{h:02d}" for h in range(24)],
            y=[None if c is None else 100 * c for c in conversion],
            marker_color="#2e7d32",
            hovertemplate="%{x}:00 – %{y:.1f} %<extra></extra>",
        )
    )
    house_layout(
        figure,
        "Conversion by hour of day",
        300,
        yaxis=dict(title="transactions ÷ people in (%)", rangemode="tozero"),
    )
    return figure
