"""Camera ↔ floor-plan geometry for Footfall.

- `calibration.geometry.CameraGeometry`: one camera's image px ↔ floor m mapping (homography
  plus optional lens model), with per-point errors and validation (`CalibrationError`).
- `calibration.ownership.Ownership`: which camera counts each floor cell where views overlap.
- `python -m calibration solve | check`: solve a camera and write it into the store YAML;
  render check pictures (see `calibration/__main__.py`).
"""
