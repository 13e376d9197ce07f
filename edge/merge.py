"""The people of several model passes (tiles, the whole frame, crops) as one set of boxes.

Every pass's boxes go through IoU NMS together; then a box cut by an inner tile edge is merged
into the box that continues it across that edge (the same person, seen by the neighbouring
tile), so nobody counts twice. Coordinates are image pixels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

EDGE_MARGIN_PX = 2.0  # a box this close to (or past) an inner tile edge counts as cut by it
CUT_COVERED = 0.5  # least share of a cut box's area inside the box continuing it across the edge
SAME_SPAN = 0.6  # least share of a cut box's extent along the edge spanned by that box too


@dataclass(frozen=True)
class Pass:
    """One model pass's people before merging, in image pixels: (M, 4) float32 xyxy, (M,)
    float32 scores, and (M, 4) float32 the image coordinate of each inner tile edge (left, top,
    right, bottom) that cuts a box, NaN where none does."""

    xyxy: np.ndarray
    score: np.ndarray
    cut_edges: np.ndarray

    def rows(self, which: np.ndarray) -> Pass:
        return Pass(self.xyxy[which], self.score[which], self.cut_edges[which])

    @staticmethod
    def join(first: Pass, second: Pass) -> Pass:
        return Pass(
            np.concatenate([first.xyxy, second.xyxy]),
            np.concatenate([first.score, second.score]),
            np.concatenate([first.cut_edges, second.cut_edges]),
        )


def merge(
    passes: Sequence[Pass], nms: Callable[[np.ndarray, np.ndarray], np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """All passes' people as one (xyxy, score): `nms` (indices kept), then the pieces cut by
    tile edges joined."""
    xyxy = np.concatenate([p.xyxy for p in passes])
    score = np.concatenate([p.score for p in passes])
    cut_edges = np.concatenate([p.cut_edges for p in passes])
    keep = nms(xyxy, score)
    return merge_cut_boxes(xyxy[keep], score[keep], cut_edges[keep])


def edges_cutting(xyxy: np.ndarray, edges: np.ndarray, inner: Sequence[bool]) -> np.ndarray:
    """(M, 4) bool: which inner edges (left, top, right, bottom; `edges` their image
    coordinates) of a crop cut each of its (M, 4) xyxy boxes, i.e. the box reaches to within
    EDGE_MARGIN_PX of the edge or past it (a model's box may reach past the crop)."""
    at_edge = np.concatenate(
        [xyxy[:, :2] <= edges[:2] + EDGE_MARGIN_PX, xyxy[:, 2:] >= edges[2:] - EDGE_MARGIN_PX], axis=1
    )
    cut: np.ndarray = at_edge & np.array(inner)
    return cut


def merge_cut_boxes(
    xyxy: np.ndarray, score: np.ndarray, cut_edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Join the pieces of people cut by tile edges; returns the remaining (xyxy, score).

    `cut_edges` (M, 4) holds, per box, the image coordinate of each tile edge (left, top, right,
    bottom) that cuts it, NaN where none does. Another box continues a cut box when it crosses
    that edge (reaches past it and into the cut box), covers >= CUT_COVERED of the cut box's
    area and >= SAME_SPAN of its extent along the edge: the same person, seen beyond the edge by
    a neighbouring tile. Pieces are taken smallest first and merged into their continuation (box
    union, higher score), so a person split between tiles becomes one whole box. Overlap alone
    is not enough: in a crowd, a partly hidden person's box lies largely inside the box of the
    person in front, and must stay."""
    xyxy, score = xyxy.copy(), score.copy()
    alive = np.ones(len(xyxy), bool)
    area = np.prod(xyxy[:, 2:] - xyxy[:, :2], axis=1)
    order = np.argsort(area)
    for i in order[~np.isnan(cut_edges[order]).all(axis=1)].tolist():  # the cut pieces alone
        sides = np.flatnonzero(~np.isnan(cut_edges[i]))
        overlap = np.minimum(xyxy[:, 2:], xyxy[i, 2:]) - np.maximum(xyxy[:, :2], xyxy[i, :2])
        overlap = np.clip(overlap, 0, None)  # (M, 2) px shared with box i along x and y
        covered = overlap.prod(axis=1) / max(area[i], 1e-6)
        continues = np.zeros(len(xyxy), bool)
        for side in sides:
            axis, edge = side % 2, float(cut_edges[i, side])  # axis 0: left/right edge (x), 1: top/bottom (y)
            lo, hi = xyxy[:, axis], xyxy[:, axis + 2]
            crosses = (lo < edge - EDGE_MARGIN_PX) & (hi > edge + EDGE_MARGIN_PX)
            along = 1 - axis
            same_span = overlap[:, along] / max(xyxy[i, along + 2] - xyxy[i, along], 1e-6) >= SAME_SPAN
            continues |= crosses & same_span
        continues &= alive & (covered >= CUT_COVERED)
        continues[i] = False
        if continues.any():
            j = int(np.argmax(np.where(continues, covered, -1.0)))
            xyxy[j, :2] = np.minimum(xyxy[j, :2], xyxy[i, :2])
            xyxy[j, 2:] = np.maximum(xyxy[j, 2:], xyxy[i, 2:])
            score[j] = max(score[j], score[i])
            alive[i] = False
    return xyxy[alive], score[alive]
