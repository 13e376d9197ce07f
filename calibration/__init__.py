"""Camera ↔ floor-plan geometry for Footfall.

- `footfall_core.geometry.CameraGeometry`: one camera's image px ↔ floor m mapping (homography
  plus optional lens model), with per-point errors and validation (`CalibrationError`).
- `footfall_core.ownership.Ownership`: which camera counts each floor cell where views overlap.
- `python -m calibration solve | check`: solve a camera and write it into the store YAML;
  render check pictures (see `calibration/__main__.py`).
"""
