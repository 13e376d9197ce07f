"""How a camera's `tiling` setting cuts a frame into tiles, in image pixels: cols × rows
overlapping rectangles over the frame or over a band of its rows. Shared by the edge's detector
(`edge.tiles` plans its passes with it) and the quantizer's calibration pictures, so that both
feed the model the same crops.
"""

from __future__ import annotations

from dataclasses import dataclass

from footfall_core.store import Tiling


@dataclass(frozen=True)
class Tile:
    """A crop of the frame, in image pixels: x0, y0 inclusive, x1, y1 exclusive; `inner` tells
    which of its edges (left, top, right, bottom) lie inside the frame, next to another tile."""

    x0: int
    y0: int
    x1: int
    y1: int
    inner: tuple[bool, bool, bool, bool]

    @staticmethod
    def whole(width_px: int, height_px: int) -> Tile:
        """The whole frame, as the one pass of an untiled detector or a tiling's whole-frame pass."""
        return Tile(0, 0, width_px, height_px, (False, False, False, False))

    @property
    def rect(self) -> tuple[int, int, int, int]:
        return self.x0, self.y0, self.x1, self.y1


def make_tiles(
    width_px: int, height_px: int, tiling: Tiling, rows_px: tuple[int, int] | None = None
) -> list[Tile]:
    """cols × rows tiles covering the frame, or only its rows [y0, y1) = `rows_px`, neighbours
    overlapping by `overlap` of a tile. A band's edges inside the frame count as inner edges: a
    person cut there is whole in the whole-frame pass."""
    top_px, bottom_px = rows_px or (0, height_px)
    tiles = []
    spans = []
    for count, start, length in ((tiling.cols, 0, width_px), (tiling.rows, top_px, bottom_px - top_px)):
        tile = length / (count - (count - 1) * tiling.overlap)
        step = tile * (1 - tiling.overlap)
        spans.append(
            [(start + round(i * step), start + min(length, round(i * step + tile))) for i in range(count)]
        )
    for row, (y0, y1) in enumerate(spans[1]):
        for col, (x0, x1) in enumerate(spans[0]):
            inner = (
                col > 0,
                row > 0 or y0 > 0,
                col < tiling.cols - 1,
                row < tiling.rows - 1 or y1 < height_px,
            )
            tiles.append(Tile(x0, y0, x1, y1, inner))
    return tiles
