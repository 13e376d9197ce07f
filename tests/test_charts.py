"""Chart builders: the numbers drawn are the numbers given, in the right place on the floor."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import numpy as np
import pytest

from dashboard import charts
from dashboard.charts import FloorGeometry, PlanLayer, ZoneShape
from footfall_core.contract import LiveMessage, LiveZone
from footfall_core.floor import grid_size
from footfall_core.store import FloorPlan
from tests.pages_data import registry_store

PLAN = FloorGeometry(
    width_m=20.0,
    height_m=12.0,
    origin_m=(5.0, 2.0),
    zones=(
        ZoneShape("entrance", [(5, 2), (9, 2), (9, 6), (5, 6)], capacity=4),
        ZoneShape("tills", [(15, 7), (21, 7), (21, 13), (15, 13)], capacity=3),
        ZoneShape("aisle", [(10, 2), (12, 2), (12, 14)], capacity=None),
    ),
)


def test_centroid_is_the_area_centroid():
    assert PLAN.zones[0].centroid_m == pytest.approx((7.0, 4.0))
    assert PLAN.zones[2].centroid_m == pytest.approx((34 / 3, 6.0))


def test_dense_grid_places_cells_and_drops_outside():
    grid = charts.dense_grid(
        [(0, 0, 1.5), (39, 23, 2.0), (3, 1, 1.0), (3, 1, 0.5), (40, 0, 9), (-1, 2, 9)], 0.5, PLAN
    )
    assert grid.shape == (24, 40)
    assert grid[0, 0] == 1.5 and grid[23, 39] == 2.0 and grid[1, 3] == 1.5
    assert grid.sum() == pytest.approx(5.0)


def test_dense_grid_has_the_edge_devices_cells():
    """A plan 3.6 m across in 0.3 m cells is 12 cells on the edge (3.6 / 0.3 is 12.000000000000002):
    the chart draws those 12, no empty sliver column, and a plan smaller than a cell still one."""
    plan = FloorPlan(width_m=3.6, height_m=0.1)
    geometry = FloorGeometry(width_m=plan.width_m, height_m=plan.height_m)
    assert charts.dense_grid([(11, 0, 1.0)], 0.3, geometry).shape == (1, 12) == grid_size(plan, 0.3)[::-1]
    assert charts.dense_grid([], 0.3, FloorGeometry(width_m=0.01, height_m=0.01)).shape == (1, 1)


def test_heat_layer_is_in_floor_metres_with_y_down():
    fig = charts.floor_heatmap(PLAN, [(2, 1, 3.0)], 1.0, title="week", unit="people")
    heat = fig.data[0]
    assert heat.type == "heatmap"
    # Cell (2, 1) is centred at origin + (2.5, 1.5) m.
    z = np.asarray(heat.z, dtype=float)
    iy, ix = np.argwhere(~np.isnan(z))[0]
    assert heat.x0 + ix * heat.dx == pytest.approx(7.5) and heat.y0 + iy * heat.dy == pytest.approx(3.5)
    assert list(fig.layout.yaxis.range) == [14.0, 2.0]  # reversed: y grows down the plan
    assert fig.layout.yaxis.scaleanchor == "x"
    json.loads(charts.figure_json(fig))  # serialisable for the browser


def live_message(occupancy: dict[str, int]) -> LiveMessage:
    return LiveMessage(
        store="s1",
        sent_at=datetime(2026, 3, 2, tzinfo=UTC),
        cell_m=1.0,
        people=sum(occupancy.values()),
        zones=[LiveZone(zone=z, occupancy=n) for z, n in occupancy.items()],
        cells=[(1, 1, 2), (12, 7, 5)],
        cameras=["cam1"],
    )


def test_live_bubbles_grow_and_turn_red_when_crowded():
    fig = charts.live_floor_figure(PLAN, live_message({"entrance": 2, "tills": 5}))
    bubbles = next(t for t in fig.data if t.name == "zone occupancy")
    names = [c[0] for c in bubbles.customdata]
    assert names == ["entrance", "tills", "aisle"]
    assert list(bubbles.text) == ["2", "5", "0"]
    colour = list(bubbles.marker.color)
    assert colour[0] == pytest.approx(0.5)  # 2 of 4
    assert colour[1] == pytest.approx(charts.LOAD_MAX)  # 5 of 3, capped
    sizes = list(bubbles.marker.size)
    assert sizes[1] > sizes[0] > sizes[2]
    assert list(bubbles.marker.line.width) == [1, 3, 1]  # only the crowded zone is outlined
    heat = fig.data[0]
    assert np.nansum(np.asarray(heat.z, dtype=float)) == 7


def test_live_figure_without_data_still_draws_the_plan():
    fig = charts.live_floor_figure(PLAN, None)
    assert "waiting" in fig.layout.title.text
    assert not any(t.type == "heatmap" for t in fig.data)
    assert len(fig.layout.shapes) == 1


def test_geometry_from_a_repository_store():
    plan = dict(origin_m=[1.0, 2.0], width_m=None, height_m=None, image=None)
    zones = [
        dict(name="a", polygon_m=[[1, 2], [5, 2], [5, 8]], capacity=3),
        dict(name="learned", polygon_m=None, capacity=None),
    ]
    geometry = FloorGeometry.from_store(registry_store(plan, zones), image_url="/x.png")
    assert (geometry.width_m, geometry.height_m, geometry.origin_m) == (5.0, 7.0, (1.0, 2.0))
    assert [z.name for z in geometry.zones] == ["a"] and geometry.image is None
    image = dict(sha256="0" * 64, media_type="image/png", width_px=400, height_px=100, origin_m=[-1, 0.5])
    plan.update(width_m=30, height_m=20, image=dict(image, m_per_px=0.05))
    geometry = FloorGeometry.from_store(registry_store(plan, zones), image_url="/x.png")
    assert (geometry.width_m, geometry.height_m) == (30.0, 20.0)
    assert geometry.image == PlanLayer("/x.png", -1.0, 0.5, 20.0, 5.0)  # 400 × 100 px at 5 cm a pixel


def test_plan_image_goes_under_the_chart():
    plan = FloorGeometry(10, 5, image=PlanLayer("/plan.png", 1, 2, 8, 3))
    fig = charts.floor_heatmap(plan, [], 1.0, title="t", unit="u")
    image = fig.layout.images[0]
    assert (image.source, image.x, image.y, image.sizex, image.sizey, image.layer) == (
        "/plan.png",
        1,
        2,
        8,
        3,
        "below",
    )


def test_difference_heatmap_is_signed_and_symmetric():
    fig = charts.difference_heatmap(PLAN, [(0, 0, 3.0), (1, 0, -3.0), (2, 0, 1.0)], 1.0, unit="p")
    heat = fig.data[0]
    z = np.asarray(heat.z, dtype=float)
    assert z[0, 0] == 3.0 and z[0, 1] == -3.0 and z[0, 2] == 1.0
    assert heat.colorscale[0][1] != heat.colorscale[-1][1]  # diverging: two ends differ
    assert (heat.zmin, heat.zmax) == (-3.0, 3.0)


@pytest.mark.parametrize(
    "counts, heading",
    [
        ([4, 0, 0, 0, 0, 0, 0, 0], (1.0, 0.0)),  # all walking +x
        ([0, 0, 6, 0, 0, 0, 0, 0], (0.0, 1.0)),  # all walking down the plan
        ([3, 0, 0, 0, 3, 0, 0, 0], (0.0, 0.0)),  # opposite ways cancel
        ([0, 2, 0, 0, 0, 0, 0, 0], (math.sqrt(0.5), math.sqrt(0.5))),
    ],
)
def test_direction_vectors(counts, heading):
    ((x, y, ux, uy, walks),) = charts.direction_vectors([(3, 1, counts)], 2.0)
    assert (x, y) == (7.0, 3.0) and walks == sum(counts)
    assert (ux, uy) == pytest.approx(heading, abs=1e-9)


def test_flow_figure_draws_strongest_transitions_between_centroids():
    transitions = [
        ("entrance", "tills", 30),
        ("tills", "entrance", 5),
        ("entrance", "nowhere", 50),
        ("aisle", "tills", 0),
    ]
    fig = charts.flow_figure(PLAN, [(0, 0, [1, 0, 0, 0, 0, 0, 0, 0])], 1.0, transitions, top_transitions=3)
    thick = [a for a in fig.layout.annotations if a.arrowcolor and a.arrowcolor.startswith("rgba(198")]
    assert len(thick) == 2  # unknown zone and zero counts are skipped
    first = thick[0]
    assert (first.ax, first.ay, first.x, first.y) == pytest.approx((7, 4, 18, 10))
    assert first.arrowwidth > thick[1].arrowwidth
    walks = next(t for t in fig.data if t.name == "walks")
    assert (walks.x[0], walks.y[0]) == (5.5, 2.5)
    assert walks.marker.angle[0] == pytest.approx(90)  # walking +x points right on screen


def test_flow_arrows_point_down_the_plan_for_bin_2():
    fig = charts.flow_figure(
        PLAN, [(0, 0, [0, 0, 3, 0, 0, 0, 0, 0]), (1, 0, [0, 0, 0, 0, 0, 0, 1, 0])], 1.0, []
    )
    walks = next(t for t in fig.data if t.name == "walks")
    assert [a % 360 for a in walks.marker.angle] == pytest.approx([180, 0])  # down, then up the screen
    assert walks.marker.size[0] > walks.marker.size[1]


@pytest.mark.parametrize(
    "builder, values, message",
    [
        (charts.hour_of_day_bars, [1.0] * 23, "expected 24 values, got 23"),
        (charts.weekday_bars, [1.0] * 8, "expected 7 values, got 8"),
        (charts.hour_weekday_heatmap, [[1.0] * 24] * 6, r"expected shape \(7, 24\), got \(6, 24\)"),
    ],
)
def test_time_charts_refuse_wrong_shapes(builder, values, message):
    with pytest.raises(ValueError, match=message):
        builder(values, "people")


def test_time_charts_carry_the_values():
    hours = [float(h) for h in range(24)]
    assert list(charts.hour_of_day_bars(hours, "people").data[0].y) == hours
    assert list(charts.weekday_bars(list(range(7)), "people").data[0].x)[0] == "Mon"
    grid = charts.hour_weekday_heatmap(np.arange(168).reshape(7, 24), "people").data[0]
    assert np.asarray(grid.z)[6, 23] == 167


def test_dwell_histogram_shares_and_labels():
    fig = charts.dwell_histogram((0, 30, 60, 120), {"tills": [1, 1, 2, 0], "entrance": [0, 0, 0, 0]})
    assert list(fig.data[0].x) == ["< 30 s", "30–60 s", "1–2 min", "≥ 2 min"]
    assert list(fig.data[0].y) == [25, 25, 50, 0]
    assert list(fig.data[1].y) == [0, 0, 0, 0]
    with pytest.raises(ValueError, match="zone 'x' has 2 bins, expected 4"):
        charts.dwell_histogram((0, 30, 60, 120), {"x": [1, 2]})


def test_compare_charts():
    series = {f"s{i}": [("2026-03-02", i), ("2026-03-03", 2 * i)] for i in range(1, 6)}
    grid = charts.small_multiples(series, "visits", columns=4)
    assert len(grid.data) == 5 and grid.data[4].xaxis == "x5"
    ranking = charts.ranking_bars({"a": 3.0, "b": 9.0, "c": 1.0}, "visits", "Footfall")
    assert list(ranking.data[0].y) == ["c", "a", "b"]  # largest drawn on top


def test_a_partial_day_is_drawn_dotted_so_far_not_as_a_fall():
    series = {"a": [("2026-03-01", 120), ("2026-03-02", 130), ("2026-03-03", 20)], "b": [("2026-03-01", 80)]}
    fig = charts.daily_lines(series, "people in", partial={"a": "2026-03-03", "b": "2026-03-04"})
    solid, tail, other = fig.data
    assert list(solid.x) == ["2026-03-01", "2026-03-02"] and solid.line.dash is None
    assert (list(tail.x), list(tail.y), tail.line.dash) == (["2026-03-02", "2026-03-03"], [130, 20], "dot")
    assert tail.line.color == solid.line.color and "so far" in tail.hovertemplate and not tail.showlegend
    assert list(other.x) == ["2026-03-01"]  # b's partial day is not in its series: drawn whole
    multiples = charts.small_multiples(series, "people in", partial={"a": "2026-03-03"})
    assert [t.fill for t in multiples.data] == ["tozeroy", None, "tozeroy"]
    assert multiples.data[1].line.dash == "dot"
