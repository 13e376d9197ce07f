"""One camera's people on the floor: feet (image px) → floor metres, and whom this camera counts.

People are placed where their feet are (the bottom centre of the box, `Detections.feet_xy`),
projected to floor metres by the camera's homography. A person is kept only if the feet project
below the horizon and fall on floor cells this camera owns (`footfall_core.ownership`), so that
overlapping cameras do not count the same person twice. Ownership needs every camera's frame
size; a camera whose size is not known yet is left out of it (where it overlaps this one, both
count, for the first second or so after start).
"""

from __future__ import annotations

import logging

import numpy as np

from edge.types import Tracks
from footfall_core.floor import ZoneMap
from footfall_core.geometry import CameraGeometry
from footfall_core.ownership import Ownership
from footfall_core.store import Camera, StoreConfig

log = logging.getLogger(__name__)


class OwnedFloor:
    """`project(tracks, frame_size_px)` → floor metres of every person and which of them this
    camera counts. `frame_sizes` gives the (width, height) px of the store's other cameras;
    `update_frame_sizes` (any thread) replaces them, and ownership is rebuilt at the next call."""

    def __init__(
        self,
        config: StoreConfig,
        camera: str,
        geometry: CameraGeometry,
        frame_sizes: dict[str, tuple[int, int]] | None = None,
    ) -> None:
        self.config = config
        self.camera = config.camera(camera).name
        self.geometry = geometry
        self.frame_sizes = dict(frame_sizes or {})
        self.ownership: Ownership | None = None  # built at the first call, once this camera's size is known
        self._ownership_sizes: dict[str, tuple[int, int]] = {}  # the sizes `ownership` was built for

    def update_frame_sizes(self, frame_sizes: dict[str, tuple[int, int]]) -> None:
        """Other cameras' frame sizes learned later. One assignment, read once per call: an
        update that lands while `project` builds ownership from the old sizes is seen at the
        following call."""
        self.frame_sizes = {name: tuple(size) for name, size in frame_sizes.items()}

    def project(self, tracks: Tracks, frame_size_px: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Feet of `tracks` → (N, 2) floor m (NaN above the horizon) and (N,) bool: below the
        horizon and on floor cells this camera owns (or that nobody owns)."""
        sizes = {**self.frame_sizes, self.camera: tuple(frame_size_px)}
        if sizes != self._ownership_sizes:
            self.ownership, self._ownership_sizes = self._build(sizes), sizes
        floor_xy = self.geometry.image_to_floor(tracks.detections.feet_xy)
        return floor_xy, self.ownership.keep(self.camera, floor_xy)  # NaN (above the horizon): not kept

    def _build(self, sizes: dict[str, tuple[int, int]]) -> Ownership:
        """Floor cells this camera counts, among the cameras whose frame size is known."""
        known = [c for c in self.config.cameras if c.name in sizes]
        if len(known) < len(self.config.cameras):
            log.warning(
                "frame size unknown for camera(s) %s: floor ownership ignores them",
                ", ".join(c.name for c in self.config.cameras if c.name not in sizes),
            )
        return Ownership.build(
            self.config.model_copy(update={"cameras": known}), sizes, {self.camera: self.geometry}
        )


class CameraView:
    """What one camera sees of the floor: `sees(floor_xy)` (K, 2) m → (K,) bool, in front of the
    camera, inside its frame of `frame_size_px` and its image mask (`image_mask_px`). The floor
    filter asks it whether a lost person can still be in view (`edge.floor_tracks`)."""

    def __init__(self, camera: Camera, geometry: CameraGeometry, frame_size_px: tuple[int, int]) -> None:
        self.geometry, self.frame_size_px = geometry, tuple(frame_size_px)
        self.mask_px = ZoneMap([camera.image_mask_px]) if camera.image_mask_px else None

    def sees(self, floor_xy: np.ndarray) -> np.ndarray:
        width, height = self.frame_size_px
        px = self.geometry.floor_to_image(floor_xy)
        with np.errstate(invalid="ignore"):  # NaN behind the camera: not seen
            seen = (px >= 0).all(axis=1) & (px[:, 0] < width) & (px[:, 1] < height)
        if self.mask_px is not None and seen.any():
            seen[seen] = self.mask_px.inside(px[seen])[:, 0]
        return seen
