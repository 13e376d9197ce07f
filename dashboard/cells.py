"""The packed formats of sparse floor grids kept in the database (see docs/storage.md).

A heat grid is a little-endian array of records (ix int32, iy int32, person_seconds float32);
a direction grid is (ix int32, iy int32, counts int32[8]). Cell (ix, iy) covers
[origin_x + ix·cell_m, +cell_m) × [origin_y + iy·cell_m, +cell_m) of the floor plan in metres,
exactly as in the MQTT contract. Records are sorted by (iy, ix), one per cell.
Packing keeps a day of heat for a 40 × 25 m store at 0.5 m under 50 kB and merges with numpy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from footfall_core.contract import DIRECTION_BINS

HEAT = np.dtype([("ix", "<i4"), ("iy", "<i4"), ("value", "<f4")])
DIRECTIONS = np.dtype([("ix", "<i4"), ("iy", "<i4"), ("value", "<i4", (DIRECTION_BINS,))])


def from_cells(cells: Iterable[Sequence], dtype: np.dtype) -> np.ndarray:
    """Contract cells ([ix, iy, value] rows) → a merged record array of `dtype`."""
    rows = list(cells)
    out = np.zeros(len(rows), dtype)
    if rows:
        out["ix"] = [r[0] for r in rows]
        out["iy"] = [r[1] for r in rows]
        out["value"] = [r[2] for r in rows]
    return merge([out], dtype)


def merge(grids: Iterable[np.ndarray], dtype: np.dtype) -> np.ndarray:
    """Sum record arrays cell by cell; the result has one record per cell, sorted by (iy, ix)."""
    parts = [g for g in grids if len(g)]
    if not parts:
        return np.zeros(0, dtype)
    both = np.concatenate(parts).astype(dtype, copy=False)
    keys = both["iy"].astype(np.int64) << 32 | both["ix"].astype(np.int64) & 0xFFFFFFFF
    unique, inverse = np.unique(keys, return_inverse=True)
    out = np.zeros(len(unique), dtype)
    first = np.zeros(len(unique), np.int64)
    first[inverse[::-1]] = np.arange(len(both))[::-1]
    out["ix"] = both["ix"][first]
    out["iy"] = both["iy"][first]
    np.add.at(out["value"], inverse, both["value"])
    return out


def pack(grid: np.ndarray) -> bytes:
    return np.ascontiguousarray(grid).tobytes()


def unpack(blob: bytes | None, dtype: np.dtype) -> np.ndarray:
    if not blob:
        return np.zeros(0, dtype)
    return np.frombuffer(blob, dtype).copy()


def to_dense(grid: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Heat records → a dense (rows=iy, cols=ix) float64 array; cells outside `shape` are dropped."""
    dense = np.zeros(shape + grid["value"].shape[1:], np.float64)
    inside = (grid["iy"] >= 0) & (grid["iy"] < shape[0]) & (grid["ix"] >= 0) & (grid["ix"] < shape[1])
    np.add.at(dense, (grid["iy"][inside], grid["ix"][inside]), grid["value"][inside])
    return dense
