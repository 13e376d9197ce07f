"""Pure chart builders: plain data in, a Plotly figure out. No SQL, no HTTP, no clock.

Floor charts are drawn in floor-plan metres with y pointing down the plan (as in the store
config and the contract), equal scale on both axes. A sparse grid is a list of
`(ix, iy, value)`: cell (ix, iy) covers [origin_x + ix·cell_m, +cell_m) × [origin_y + iy·cell_m,
+cell_m). Pages serialise the figures with `figure_json`; the live page receives the same JSON
over Server-Sent Events and redraws it with `Plotly.react`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import plotly
import plotly.graph_objects as go

from dashboard.read_models import Store
from footfall_core.contract import DIRECTION_BINS, LiveMessage
from footfall_core.floor import grid_size

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
HEAT_SCALE = "YlOrRd"
DIVERGING_SCALE = "RdBu_r"  # blue = fewer than the previous week, red = more
# Occupancy / capacity: green up to 30 %, turning amber by 60 %, orange at 100 %, red beyond.
LOAD_SCALE = [[0.0, "#2e7d32"], [0.25, "#43a047"], [0.5, "#f9a825"], [0.8333, "#ef6c00"], [1.0, "#c62828"]]
LOAD_MAX = 1.2
FONT = dict(family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size=13, color="#263238")
MARGIN = dict(l=50, r=20, t=50, b=40)  # px: room for the title and the axes' labels


@dataclass(frozen=True)
class ZoneShape:
    """A named floor polygon (metres) and the occupancy above which it is crowded."""

    name: str
    polygon_m: Sequence[tuple[float, float]]
    capacity: int | None = None
    kind: str = "area"

    @property
    def centroid_m(self) -> tuple[float, float]:
        """Area centroid of the polygon (falls back to the vertex mean if degenerate)."""
        pts = list(self.polygon_m)
        a = cx = cy = 0.0
        for (x0, y0), (x1, y1) in zip(pts, pts[1:] + pts[:1]):
            cross = x0 * y1 - x1 * y0
            a += cross
            cx += (x0 + x1) * cross
            cy += (y0 + y1) * cross
        if abs(a) < 1e-9:
            return (sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts))
        return (cx / (3 * a), cy / (3 * a))


@dataclass(frozen=True)
class PlanLayer:
    """The store's plan image and the floor rectangle it covers (metres, top-left corner)."""

    url: str
    x_m: float
    y_m: float
    width_m: float
    height_m: float


@dataclass(frozen=True)
class FloorGeometry:
    """What a floor chart needs of a store: the plan rectangle (m), its image, its zones."""

    width_m: float
    height_m: float
    origin_m: tuple[float, float] = (0.0, 0.0)
    zones: tuple[ZoneShape, ...] = field(default_factory=tuple)
    image: PlanLayer | None = None

    def zone(self, name: str) -> ZoneShape | None:
        return next((z for z in self.zones if z.name == name), None)

    @classmethod
    def from_store(cls, store: Store, image_url: str | None = None) -> FloorGeometry:
        """From a registry store (`dashboard.read_models.Store`); `image_url` serves its plan
        image, drawn where its placement puts it. A store registered only from messages has no
        plan size: the plan then spans its zones (or 10 × 10 m) so that charts still draw;
        zones without a polygon (learned from messages) are left off the plan."""
        plan = store.floor_plan
        origin = plan.origin_m
        zones = tuple(
            ZoneShape(z.name, [(p[0], p[1]) for p in z.polygon_m], z.capacity, z.kind)
            for z in store.zones
            if z.polygon_m
        )
        width, height = plan.width_m, plan.height_m
        if not width or not height:
            xs = [p[0] for z in zones for p in z.polygon_m] or [origin[0] + 10.0]
            ys = [p[1] for z in zones for p in z.polygon_m] or [origin[1] + 10.0]
            width, height = max(xs) - origin[0] + 1.0, max(ys) - origin[1] + 1.0
        layer = None
        if plan.image is not None and image_url:
            layer = PlanLayer(image_url, *plan.image.origin_m, *plan.image.size_m)
        return cls(float(width), float(height), (float(origin[0]), float(origin[1])), zones, layer)


def house_layout(figure: go.Figure, title: str, height_px: int, **layout: Any) -> go.Figure:
    """Give `figure` the look every dashboard chart shares: its title at the top left, the house
    font, `MARGIN` and a white plot area. `layout` adds Plotly layout keys or overrides these
    (`plot_bgcolor=None` keeps Plotly's own)."""
    house = dict(
        title=dict(text=title, x=0.01), font=FONT, height=height_px, margin=MARGIN, plot_bgcolor="white"
    )
    figure.update_layout(**(house | layout))
    return figure


def figure_json(figure: go.Figure) -> str:
    """The figure as JSON for `Plotly.newPlot`/`Plotly.react` (numpy arrays included)."""
    return figure.to_json()


def dense_grid(cells: Iterable[Sequence[float]], cell_m: float, geometry: FloorGeometry) -> np.ndarray:
    """Sparse `(ix, iy, value)` cells → a (ny, nx) float array covering the whole plan.

    Cells outside the plan are dropped (a miscalibrated camera must not stretch the chart).
    """
    nx, ny = (max(1, count) for count in grid_size(geometry, cell_m))
    grid = np.zeros((ny, nx), dtype=float)
    for ix, iy, value in cells:
        ix, iy = int(ix), int(iy)
        if 0 <= ix < nx and 0 <= iy < ny:
            grid[iy, ix] += float(value)
    return grid


def _floor_layout(figure: go.Figure, geometry: FloorGeometry, title: str, width_px: int = 560) -> None:
    """Axes in metres, y down the plan, equal scale, the plan image (if any) underneath. The
    height follows the plan's aspect for a plot about `width_px` wide, so no band is empty."""
    x0, y0 = geometry.origin_m
    x1, y1 = x0 + geometry.width_m, y0 + geometry.height_m
    height_px = int(min(760, max(300, 110 + width_px * geometry.height_m / geometry.width_m)))
    house_layout(
        figure,
        title,
        height_px,
        plot_bgcolor="#fafafa",
        paper_bgcolor="white",
        showlegend=False,
        xaxis=dict(range=[x0, x1], title="x (m)", showgrid=False, zeroline=False, constrain="domain"),
        yaxis=dict(
            range=[y1, y0],
            title="y (m)",
            showgrid=False,
            zeroline=False,
            scaleanchor="x",
            scaleratio=1,
            constrain="domain",
        ),
    )
    figure.add_shape(
        type="rect", x0=x0, y0=y0, x1=x1, y1=y1, line=dict(color="#455a64", width=2), layer="below"
    )
    if geometry.image is not None:
        layer = geometry.image
        figure.add_layout_image(
            source=layer.url,
            xref="x",
            yref="y",
            x=layer.x_m,
            y=layer.y_m,
            sizex=layer.width_m,
            sizey=layer.height_m,
            sizing="stretch",
            layer="below",
            opacity=0.9,
        )


def _zone_outlines(figure: go.Figure, geometry: FloorGeometry) -> None:
    """Each zone as a thin closed outline with its name at the centroid."""
    for zone in geometry.zones:
        xs = [p[0] for p in zone.polygon_m] + [zone.polygon_m[0][0]]
        ys = [p[1] for p in zone.polygon_m] + [zone.polygon_m[0][1]]
        figure.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                line=dict(color="#37474f", width=1.5, dash="dot"),
                hoverinfo="skip",
                name=zone.name,
            )
        )
        left = min(p[0] for p in zone.polygon_m)
        top = min(p[1] for p in zone.polygon_m)
        figure.add_annotation(
            x=left,
            y=top,
            text=zone.name,
            showarrow=False,
            xanchor="left",
            yanchor="top",
            xshift=3,
            yshift=-2,
            font=dict(size=11, color="#37474f"),
        )


def _heat_trace(
    grid: np.ndarray,
    cell_m: float,
    geometry: FloorGeometry,
    *,
    name: str,
    unit: str,
    colorscale: str | list = HEAT_SCALE,
    zmin: float = 0.0,
    zmax: float | None = None,
    opacity: float = 0.75,
    showscale: bool = True,
) -> go.Heatmap:
    """A heat layer over the plan; zero cells are transparent so the plan shows through."""
    z = _rows(np.where(grid == 0, np.nan, grid))
    x0, y0 = geometry.origin_m
    return go.Heatmap(
        z=z,
        x0=x0 + cell_m / 2,
        dx=cell_m,
        y0=y0 + cell_m / 2,
        dy=cell_m,
        colorscale=colorscale,
        zmin=zmin,
        zmax=zmax if zmax is not None else max(float(grid.max()), zmin + 1e-9),
        opacity=opacity,
        name=name,
        showscale=showscale,
        colorbar=dict(title=dict(text=unit, side="right"), thickness=12),
        hovertemplate=f"x %{{x:.1f}} m, y %{{y:.1f}} m<br>%{{z:.2f}} {unit}<extra></extra>",
        hoverongaps=False,
    )


def _rows(grid: np.ndarray) -> list[list[float | None]]:
    """A 2-D array as plain nested lists, NaN as None (a gap): the JSON stays readable and
    Plotly.js gets ordinary arrays rather than base64 typed arrays."""
    return [[None if math.isnan(v) else float(v) for v in row] for row in grid.tolist()]


def zone_load(occupancy: float, capacity: int | None) -> float | None:
    """Occupancy as a fraction of capacity (None when the zone has no capacity)."""
    return None if not capacity else occupancy / capacity


def live_floor_figure(geometry: FloorGeometry, live: LiveMessage | None) -> go.Figure:
    """The store-manager congestion map: live heat layer plus one bubble per zone.

    The heat layer is people now per `live.cell_m` cell. Each zone's bubble sits at its
    centroid; its area grows with the people in it and its colour goes green → amber → red as
    occupancy approaches and passes the zone's capacity (grey when the zone has no capacity).
    """
    figure = go.Figure()
    _floor_layout(
        figure, geometry, "Live congestion" if live else "Live congestion (waiting for data)", width_px=760
    )
    if live is not None:
        grid = dense_grid(live.cells, live.cell_m, geometry)
        figure.add_trace(
            _heat_trace(
                grid,
                live.cell_m,
                geometry,
                name="people now",
                unit="people",
                colorscale="Blues",
                zmax=max(2.0, float(grid.max())),
                opacity=0.7,
                showscale=False,
            )
        )
    _zone_outlines(figure, geometry)
    occupancy = {z.zone: z.occupancy for z in live.zones} if live else {}
    zones = list(geometry.zones)
    if zones:
        counts = [occupancy.get(z.name, 0) for z in zones]
        loads = [zone_load(c, z.capacity) for c, z in zip(counts, zones)]
        figure.add_trace(
            go.Scatter(
                x=[z.centroid_m[0] for z in zones],
                y=[z.centroid_m[1] for z in zones],
                mode="markers+text",
                name="zone occupancy",
                text=[str(c) for c in counts],
                textfont=dict(color="white", size=13),
                customdata=[[z.name, c, z.capacity or "-"] for z, c in zip(zones, counts)],
                hovertemplate=(
                    "%{customdata[0]}: %{customdata[1]} people (capacity %{customdata[2]})<extra></extra>"
                ),
                marker=dict(
                    size=[22 + 9 * math.sqrt(c) for c in counts],
                    sizemode="diameter",
                    color=[min(load, LOAD_MAX) if load is not None else 0 for load in loads],
                    cmin=0,
                    cmax=LOAD_MAX,
                    colorscale=LOAD_SCALE,
                    opacity=0.85,
                    line=dict(width=[3 if (load or 0) > 1 else 1 for load in loads], color="#263238"),
                    colorbar=dict(
                        title=dict(text="load"),
                        tickvals=[0, 0.5, 1.0, LOAD_MAX],
                        ticktext=["0", "50 %", "100 %", "≥120 %"],
                        thickness=12,
                    ),
                ),
            )
        )
    return figure


def hour_of_day_bars(
    values: Sequence[float], unit: str, title: str = "Congestion by hour of day"
) -> go.Figure:
    """24 bars, local hour 0–23 of the store's time zone."""
    if len(values) != 24:
        raise ValueError(f"hour_of_day_bars: expected 24 values, got {len(values)}")
    figure = go.Figure(
        go.Bar(
            x=list(range(24)),
            y=list(values),
            marker_color="#ef6c00",
            name=unit,
            hovertemplate="%{x}:00 – %{y:.2f} " + unit + "<extra></extra>",
        )
    )
    house_layout(
        figure,
        title,
        300,
        xaxis=dict(title="hour", tickmode="linear", dtick=2),
        yaxis=dict(title=unit),
    )
    return figure


def weekday_bars(values: Sequence[float], unit: str, title: str = "Congestion by day of week") -> go.Figure:
    """7 bars, Monday first (ISO weekday order)."""
    if len(values) != 7:
        raise ValueError(f"weekday_bars: expected 7 values, got {len(values)}")
    figure = go.Figure(
        go.Bar(
            x=list(WEEKDAYS),
            y=list(values),
            marker_color="#1565c0",
            name=unit,
            hovertemplate="%{x} – %{y:.2f} " + unit + "<extra></extra>",
        )
    )
    house_layout(
        figure,
        title,
        300,
        yaxis=dict(title=unit),
    )
    return figure


def hour_weekday_heatmap(
    matrix: Sequence[Sequence[float]], unit: str, title: str = "Hour × weekday"
) -> go.Figure:
    """A 7 × 24 grid (rows Monday..Sunday, columns local hour)."""
    z = np.asarray(matrix, dtype=float)
    if z.shape != (7, 24):
        raise ValueError(f"hour_weekday_heatmap: expected shape (7, 24), got {z.shape}")
    figure = go.Figure(
        go.Heatmap(
            z=_rows(z),
            x=list(range(24)),
            y=list(WEEKDAYS),
            colorscale=HEAT_SCALE,
            zmin=0,
            colorbar=dict(title=dict(text=unit), thickness=12),
            hovertemplate="%{y} %{x}:00 – %{z:.2f} " + unit + "<extra></extra>",
        )
    )
    house_layout(
        figure,
        title,
        320,
        xaxis=dict(title="hour", dtick=2),
        yaxis=dict(autorange="reversed"),
        plot_bgcolor=None,
    )
    return figure


def floor_heatmap(
    geometry: FloorGeometry, cells: Iterable[Sequence[float]], cell_m: float, *, title: str, unit: str
) -> go.Figure:
    """A period's congestion on the plan (e.g. mean people per cell over the week)."""
    figure = go.Figure()
    _floor_layout(figure, geometry, title)
    figure.add_trace(
        _heat_trace(dense_grid(cells, cell_m, geometry), cell_m, geometry, name=title, unit=unit)
    )
    _zone_outlines(figure, geometry)
    return figure


def difference_heatmap(
    geometry: FloorGeometry,
    difference_cells: Iterable[Sequence[float]],
    cell_m: float,
    *,
    unit: str,
    title: str = "This week − previous week",
) -> go.Figure:
    """Cell-wise change between two periods (this − previous) on a diverging scale centred on
    zero: red where it got busier, blue where it got quieter."""
    diff = dense_grid(difference_cells, cell_m, geometry)
    limit = float(np.abs(diff).max()) or 1.0
    figure = go.Figure()
    _floor_layout(figure, geometry, title)
    figure.add_trace(
        _heat_trace(
            diff, cell_m, geometry, name=title, unit=unit, colorscale=DIVERGING_SCALE, zmin=-limit, zmax=limit
        )
    )
    _zone_outlines(figure, geometry)
    return figure


def direction_vectors(
    directions: Iterable[Sequence], flow_cell_m: float, min_count: int = 1
) -> list[tuple[float, float, float, float, int]]:
    """Per flow cell, the net walking direction: `(x_m, y_m, ux, uy, walks)`.

    (x_m, y_m) is the cell centre relative to the plan origin; (ux, uy) is the mean unit heading
    weighted by the direction histogram (bin k at k·45°, from +x towards +y), so its length is
    1 when everyone walks the same way and near 0 when directions cancel out.
    """
    angles = np.arange(DIRECTION_BINS) * (2 * math.pi / DIRECTION_BINS)
    unit_x, unit_y = np.cos(angles), np.sin(angles)
    out = []
    for ix, iy, counts in directions:
        counts = np.asarray(counts, dtype=float)
        total = int(counts.sum())
        if total < min_count:
            continue
        out.append(
            (
                (int(ix) + 0.5) * flow_cell_m,
                (int(iy) + 0.5) * flow_cell_m,
                float(counts @ unit_x / total),
                float(counts @ unit_y / total),
                total,
            )
        )
    return out


def flow_figure(
    geometry: FloorGeometry,
    directions: Iterable[Sequence],
    flow_cell_m: float,
    transitions: Iterable[tuple[str, str, int]],
    top_transitions: int = 8,
) -> go.Figure:
    """Walking directions as one arrow marker per flow cell (pointing the net way people walk,
    larger where more walk, fainter where directions cancel out), and the strongest zone-to-zone
    transitions as thick arrows between zone centroids (width ∝ count)."""
    figure = go.Figure()
    _floor_layout(figure, geometry, "Flow lines")
    _zone_outlines(figure, geometry)
    ox, oy = geometry.origin_m
    vectors = direction_vectors(directions, flow_cell_m)
    most = max((v[4] for v in vectors), default=1)
    if vectors:
        # Marker angles are screen degrees clockwise from up; the plan's y points down the
        # screen, so a heading θ (from +x towards +y) is 90° + θ.
        figure.add_trace(
            go.Scatter(
                x=[ox + v[0] for v in vectors],
                y=[oy + v[1] for v in vectors],
                mode="markers",
                name="walks",
                marker=dict(
                    symbol="arrow",
                    angle=[90 + math.degrees(math.atan2(v[3], v[2])) for v in vectors],
                    size=[7 + 11 * v[4] / most for v in vectors],
                    color="#1565c0",
                    opacity=[0.3 + 0.7 * min(1.0, math.hypot(v[2], v[3])) for v in vectors],
                    line=dict(width=0),
                ),
                customdata=[v[4] for v in vectors],
                hovertemplate="%{customdata} walks<extra></extra>",
            )
        )
    arrows: list[dict] = []  # set once at the end: add_annotation one by one is quadratic
    strongest = sorted((t for t in transitions if t[2] > 0), key=lambda t: -t[2])[:top_transitions]
    top = strongest[0][2] if strongest else 1
    mids = []
    for source, target, count in strongest:
        a, b = geometry.zone(source), geometry.zone(target)
        if a is None or b is None or a is b:
            continue
        (x0, y0), (x1, y1) = a.centroid_m, b.centroid_m
        arrows.append(
            dict(
                x=x1,
                y=y1,
                ax=x0,
                ay=y0,
                xref="x",
                yref="y",
                axref="x",
                ayref="y",
                showarrow=True,
                arrowhead=3,
                arrowsize=0.8,
                standoff=14,
                startstandoff=14,
                arrowwidth=2 + 8 * count / top,
                arrowcolor="rgba(198,40,40,0.75)",
            )
        )
        mids.append(((x0 + x1) / 2, (y0 + y1) / 2, f"{source} → {target}", count))
    if mids:
        figure.add_trace(
            go.Scatter(
                x=[m[0] for m in mids],
                y=[m[1] for m in mids],
                mode="markers",
                marker=dict(size=10, color="rgba(198,40,40,0.9)", symbol="diamond"),
                name="transitions",
                customdata=[[m[2], m[3]] for m in mids],
                hovertemplate="%{customdata[0]}: %{customdata[1]}<extra></extra>",
            )
        )
    figure.update_layout(annotations=list(figure.layout.annotations) + arrows)
    return figure


def dwell_label(lo_s: float, hi_s: float | None) -> str:
    """Short label of the dwell bin [lo_s, hi_s): '< 30 s', '30–60 s', '2–5 min', '≥ 60 min'."""
    if hi_s is None:
        return f"≥ {lo_s / 60:g} min" if lo_s >= 60 else f"≥ {lo_s:g} s"
    if not lo_s:
        return f"< {hi_s:g} s" if hi_s <= 60 else f"< {hi_s / 60:g} min"
    return f"{lo_s:g}–{hi_s:g} s" if hi_s <= 60 else f"{lo_s / 60:g}–{hi_s / 60:g} min"


def dwell_histogram(
    bin_edges_s: Sequence[float],
    counts_by_zone: Mapping[str, Sequence[int]],
    title: str = "Dwell time per zone",
) -> go.Figure:
    """Share of each zone's completed stays per dwell bin (bin k = [edge k, edge k+1), the
    last open-ended), one bar group per zone, so zones of different traffic compare."""
    labels = [dwell_label(lo, hi) for lo, hi in zip(bin_edges_s, list(bin_edges_s[1:]) + [None])]
    figure = go.Figure()
    for zone, counts in counts_by_zone.items():
        if len(counts) != len(labels):
            raise ValueError(f"dwell_histogram: zone {zone!r} has {len(counts)} bins, expected {len(labels)}")
        total = sum(counts)
        figure.add_trace(
            go.Bar(
                x=labels,
                y=[100 * c / total if total else 0 for c in counts],
                name=zone,
                customdata=list(counts),
                hovertemplate=zone + ": %{y:.0f} % (%{customdata} stays)<extra></extra>",
            )
        )
    house_layout(
        figure,
        title,
        360,
        barmode="group",
        yaxis=dict(title="% of stays"),
        xaxis=dict(tickangle=-35, automargin=True),
        legend=dict(orientation="h", y=-0.45),
    )
    return figure


def split_partial(points: Sequence[tuple[str, float]], partial: str | None):
    """A store's daily points as (complete days, the dashed tail to its partial day or [])."""
    if partial is None or not points or points[-1][0] != partial:
        return list(points), []
    return list(points[:-1]), list(points[-2:])


def daily_lines(
    series: Mapping[str, Sequence[tuple[str, float]]],
    unit: str,
    title: str = "Footfall per store per day",
    partial: Mapping[str, str] | None = None,
) -> go.Figure:
    """One line per store: `[(iso_date, value), ...]`. `partial` names, per store, a day that is
    not over yet (today in the store's time zone): drawn dashed to an open marker, "so far",
    not as a fall."""
    figure = go.Figure()
    palette = plotly.colors.qualitative.Plotly
    for i, (store, points) in enumerate(series.items()):
        colour = palette[i % len(palette)]
        complete, tail = split_partial(points, (partial or {}).get(store))
        figure.add_trace(
            go.Scatter(
                x=[p[0] for p in complete],
                y=[p[1] for p in complete],
                mode="lines+markers",
                name=store,
                legendgroup=store,
                line=dict(color=colour),
                marker=dict(size=4),
            )
        )
        if tail:
            figure.add_trace(
                go.Scatter(
                    x=[p[0] for p in tail],
                    y=[p[1] for p in tail],
                    mode="lines+markers",
                    name=f"{store} (today so far)",
                    legendgroup=store,
                    showlegend=False,
                    line=dict(color=colour, dash="dot"),
                    marker=dict(size=[0, 7], symbol="circle-open", color=colour),
                    hovertemplate="%{x}: %{y:.0f} "
                    + unit
                    + " so far (the day is not over)<extra>"
                    + store
                    + "</extra>",
                )
            )
    house_layout(
        figure,
        title,
        360,
        yaxis=dict(title=unit, rangemode="tozero"),
        legend=dict(orientation="h", y=-0.2),
    )
    return figure


def small_multiples(
    series: Mapping[str, Sequence[tuple[str, float]]],
    unit: str,
    columns: int = 4,
    title: str = "Footfall per day, one panel per store",
    partial: Mapping[str, str] | None = None,
) -> go.Figure:
    """A grid of small daily charts sharing the y axis, so stores compare at a glance; a
    store's partial day (`partial`, as in `daily_lines`) is a dotted tail, unfilled."""
    from plotly.subplots import make_subplots

    names = list(series)
    rows = max(1, math.ceil(len(names) / columns))
    figure = make_subplots(
        rows=rows,
        cols=columns,
        subplot_titles=names or [""],
        shared_yaxes=True,
        shared_xaxes=True,
        vertical_spacing=0.12 / max(1, rows) + 0.04,
        horizontal_spacing=0.03,
    )
    for i, name in enumerate(names):
        complete, tail = split_partial(series[name], (partial or {}).get(name))
        for points, dotted in ((complete, False), (tail, True)):
            if not points:
                continue
            figure.add_trace(
                go.Scatter(
                    x=[p[0] for p in points],
                    y=[p[1] for p in points],
                    mode="lines",
                    fill=None if dotted else "tozeroy",
                    line=dict(color="#1565c0", width=1.5, dash="dot" if dotted else "solid"),
                    name=f"{name} (today so far)" if dotted else name,
                    hovertemplate="%{x}: %{y:.0f} "
                    + unit
                    + (" so far" if dotted else "")
                    + "<extra>"
                    + name
                    + "</extra>",
                ),
                row=i // columns + 1,
                col=i % columns + 1,
            )
    house_layout(
        figure,
        title,
        170 * rows + 80,
        showlegend=False,
        margin=dict(l=50, r=20, t=70, b=30),
    )
    figure.update_xaxes(showticklabels=False)
    figure.update_annotations(font_size=11)
    return figure


def ranking_bars(values: Mapping[str, float], unit: str, title: str) -> go.Figure:
    """Horizontal bars, largest on top."""
    items = sorted(values.items(), key=lambda kv: kv[1])
    figure = go.Figure(
        go.Bar(
            x=[v for _, v in items],
            y=[k for k, _ in items],
            orientation="h",
            marker_color="#00897b",
            hovertemplate="%{y}: %{x:.2f} " + unit + "<extra></extra>",
        )
    )
    house_layout(
        figure,
        title,
        max(260, 22 * len(items) + 90),
        margin=dict(l=110, r=20, t=50, b=40),
        xaxis=dict(title=unit),
    )
    return figure
