"""A store's floor plan image: uploaded by HQ, checked, stored content-addressed, placed on the floor.

The dashboard never reads an image from a path someone named (a store YAML's
`floor_plan.image` is read only by `stores import`, on the operator's own command, and goes
through the same checks): an upload is

1. sniffed from its bytes, whatever its name or declared type: PNG and JPEG by their
   signatures and decoded headers (Pillow), SVG by parsing it as XML with entity expansion and
   DTDs refused (defusedxml), an `<svg>` root, and no script, event handler, `foreignObject` or
   external reference (it is served to browsers from the dashboard's origin);
2. bounded: at most `MAX_BYTES`, and at most `MAX_SIDE_PX` pixels a side (an SVG's size from
   its width and height, else its viewBox);
3. stored as `<data_dir>/plans/<sha256>.<ext>`, written once (same bytes, same file), and
   recorded in `floor_plans` with its placement: the floor metres of its top-left corner and
   metres per pixel, given as such or from two reference points (pixel ↔ floor metres).
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException
from PIL import Image, UnidentifiedImageError

from dashboard import tables as t
from dashboard.read_models import PlanImage
from dashboard.storage import now_utc

MAX_BYTES = 8 * 1024 * 1024
MAX_SIDE_PX = 10_000
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/svg+xml": "svg"}
SVG = "{http://www.w3.org/2000/svg}"
LENGTH = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(px)?\s*$")
MAX_ROTATION_DEG = 1.0


class PlanError(ValueError):
    """An upload that cannot be a floor plan; the message names the problem."""


@dataclass(frozen=True)
class Sniffed:
    media_type: str
    width_px: int
    height_px: int


def sniff(data: bytes) -> Sniffed:
    """What the bytes are (PNG, JPEG or SVG) and their size in pixels; PlanError otherwise."""
    if len(data) > MAX_BYTES:
        raise PlanError(f"file too large: {len(data):,} bytes, at most {MAX_BYTES:,}")
    if not data:
        raise PlanError("empty file")
    if data.startswith(b"\x89PNG\r\n\x1a\n") or data.startswith(b"\xff\xd8\xff"):
        sniffed = _raster(data)
    elif b"<svg" in data[:4096]:
        sniffed = _svg(data)
    else:
        raise PlanError("not a PNG, JPEG or SVG image (by its content, whatever its name or declared type)")
    if max(sniffed.width_px, sniffed.height_px) > MAX_SIDE_PX or min(sniffed.width_px, sniffed.height_px) < 1:
        raise PlanError(
            f"image of {sniffed.width_px} × {sniffed.height_px} px: each side must be 1 to {MAX_SIDE_PX} px"
        )
    return sniffed


def _raster(data: bytes) -> Sniffed:
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind = {"PNG": "image/png", "JPEG": "image/jpeg"}.get(image.format or "")
            width, height = image.size
            if kind is None:
                raise PlanError(f"{image.format} image: only PNG, JPEG or SVG")
            if max(width, height) <= MAX_SIDE_PX:
                image.verify()  # the whole file, not only its header
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise PlanError(f"unreadable image: {exc}") from None
    return Sniffed(kind, width, height)


def _svg(data: bytes) -> Sniffed:
    try:
        root = ElementTree.fromstring(data, forbid_dtd=True)
    except (DefusedXmlException, ElementTree.ParseError, ValueError) as exc:
        raise PlanError(f"SVG refused: not plain XML ({type(exc).__name__}: {exc})") from None
    if root.tag not in (f"{SVG}svg", "svg"):
        raise PlanError(f"SVG refused: the root element is {root.tag!r}, not svg")
    for element in root.iter():
        name = element.tag.rsplit("}", 1)[-1]
        if name in ("script", "foreignObject"):
            raise PlanError(f"SVG refused: it holds a <{name}> element")
        for key, value in element.attrib.items():
            attribute = key.rsplit("}", 1)[-1]
            if attribute.lower().startswith("on"):
                raise PlanError(f"SVG refused: <{name}> has an event handler {attribute!r}")
            if attribute == "href" and not value.startswith(("#", "data:image/png", "data:image/jpeg")):
                raise PlanError(
                    f"SVG refused: <{name}> refers to {value[:100]!r} (only #fragments and embedded images)"
                )
    width, height = _svg_size(root)
    return Sniffed("image/svg+xml", width, height)


def _svg_size(root) -> tuple[int, int]:
    sizes = [LENGTH.match(root.attrib.get(key, "")) for key in ("width", "height")]
    if all(sizes):
        return round(float(sizes[0].group(1))), round(float(sizes[1].group(1)))
    box = root.attrib.get("viewBox", "").replace(",", " ").split()
    try:
        return round(float(box[2])), round(float(box[3]))
    except (IndexError, ValueError):
        raise PlanError("SVG refused: no size (width and height in px, or a viewBox)") from None


@dataclass(frozen=True)
class Placement:
    """Where the image lies on the floor: its top-left corner (floor metres) and its scale."""

    origin_m: tuple[float, float]
    m_per_px: float

    @classmethod
    def from_points(
        cls,
        image_px: tuple[tuple[float, float], tuple[float, float]],
        floor_m: tuple[tuple[float, float], ...],
    ) -> Placement:
        """From two reference points, each at `image_px[k]` on the image and `floor_m[k]` on
        the floor (x right, y down on both). The image must not be rotated against the floor."""
        (u0, v0), (u1, v1) = image_px
        (x0, y0), (x1, y1) = floor_m
        pixels, metres = math.hypot(u1 - u0, v1 - v0), math.hypot(x1 - x0, y1 - y0)
        if pixels < 10 or metres <= 0:
            raise PlanError(
                "reference points: they must be at least 10 px apart on the image and apart on the floor"
            )
        turn = math.degrees(math.atan2(y1 - y0, x1 - x0) - math.atan2(v1 - v0, u1 - u0))
        turn = (turn + 180) % 360 - 180
        if abs(turn) > MAX_ROTATION_DEG:
            raise PlanError(
                f"reference points: the image is turned {turn:.1f}° against the floor; rotate it first "
                f"(at most {MAX_ROTATION_DEG:g}°)"
            )
        scale = metres / pixels
        return cls((x0 - u0 * scale, y0 - v0 * scale), scale)


def data_path(data_dir: Path, sha256: str, media_type: str) -> Path:
    return Path(data_dir) / "plans" / f"{sha256}.{EXTENSIONS[media_type]}"


def save(
    conn: sa.Connection,
    data_dir: Path,
    store_id: str,
    data: bytes,
    placement: Placement,
    user: str | None = None,
) -> PlanImage:
    """Check an upload, store it content-addressed and make it the store's plan image."""
    if not 0 < placement.m_per_px <= 10:
        raise PlanError(f"m_per_px {placement.m_per_px:g}: must be above 0 and at most 10 metres a pixel")
    sniffed = sniff(data)
    sha256 = hashlib.sha256(data).hexdigest()
    path = data_path(data_dir, sha256, sniffed.media_type)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.partial")
        partial.write_bytes(data)
        partial.replace(path)
    row = dict(
        sha256=sha256,
        media_type=sniffed.media_type,
        width_px=sniffed.width_px,
        height_px=sniffed.height_px,
        origin_x_m=placement.origin_m[0],
        origin_y_m=placement.origin_m[1],
        m_per_px=placement.m_per_px,
        uploaded_at=now_utc(),
        uploaded_by=user,
    )
    c = t.floor_plans.c
    if conn.scalar(sa.select(c.store_id).where(c.store_id == store_id)) is None:
        conn.execute(sa.insert(t.floor_plans).values(store_id=store_id, **row))
    else:
        conn.execute(sa.update(t.floor_plans).where(c.store_id == store_id).values(**row))
    return PlanImage(
        sha256=sha256,
        media_type=sniffed.media_type,
        width_px=sniffed.width_px,
        height_px=sniffed.height_px,
        origin_m=list(placement.origin_m),
        m_per_px=placement.m_per_px,
    )
