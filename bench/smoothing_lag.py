"""How much of a smoother's gain a lag buys, by the floor filter's own walker model: no footage.

For a walker measured every 1/fps s with a position doubt of sigma metres per axis, followed
by the floor filter (`edge.floor_tracks`: constant velocity, white-noise acceleration of
`--accel` m/s²), the position's sigma filtered (what the lines take without smoothing) and
smoothed with `lag` seconds of what followed it, in the steady state; the share is how much of
the whole future's reduction that lag reaches. The lines' `analysis.line_smoothing_s` is the
lag at which the share is near its end for the largest doubts a calibration gives a far
person (docs/accuracy.md, "What the edge does about it").

    .venv/bin/python bench/smoothing_lag.py [--accel 1] [--fps 3.5 7 10]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edge.floor_tracks import predict

LAGS_S = (0.5, 1.0, 1.5, 2.0, 3.0)
SIGMAS_M = (0.1, 0.2, 0.5, 1.0, 2.0, 3.0)
WHOLE_S = 8.0  # a future long enough to stand for the whole track's
STEADY_S = 30.0  # filtered this long before the position smoothed: the filter's steady state


def smoothed_sigmas(sigma_m: float, fps: float, accel_m_s2: float) -> dict[float, float]:
    """Position sigma (m, one axis) filtered (lag 0) and smoothed with each lag (s)."""
    dt = np.array([1.0 / fps])
    steady, whole = round(STEADY_S * fps), round(WHOLE_S * fps)
    cov = np.diag([sigma_m**2, sigma_m**2, 1.5**2, 1.5**2])[None]  # a new person's, as the filter
    filtered, ahead = [], []
    for k in range(steady + whole + 1):
        if k:
            _, cov = predict(np.zeros((1, 4)), cov.copy(), dt, accel_m_s2)
        ahead.append(cov[0])
        gain = cov[0][:, :2] @ np.linalg.inv(cov[0][:2, :2] + np.eye(2) * sigma_m**2)
        cov = (cov[0] - gain @ cov[0][:2, :])[None]
        filtered.append(cov[0])
    f = np.eye(4)
    f[:2, 2:] = dt[0] * np.eye(2)
    out = {}
    for lag_s in (0.0, *LAGS_S, WHOLE_S):
        n = round(lag_s * fps)
        smoothed = filtered[steady + n]
        for k in range(steady + n - 1, steady - 1, -1):
            c = filtered[k] @ f.T @ np.linalg.inv(ahead[k + 1])
            smoothed = filtered[k] + c @ (smoothed - ahead[k + 1]) @ c.T
        out[lag_s] = float(np.sqrt(smoothed[0, 0]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accel", type=float, default=1.0, help="walker acceleration, m/s² (default 1)")
    parser.add_argument("--fps", type=float, nargs="+", default=[3.5, 7.0, 10.0])
    args = parser.parse_args()
    print(
        f"walker model: {args.accel:g} m/s²; position sigma (m) filtered, then smoothed with each lag (share)"
    )
    print(
        f"{'fps':>5s} {'sigma':>6s} {'filtered':>9s}" + "".join(f" {f'lag {lag:g} s':>15s}" for lag in LAGS_S)
    )
    for fps in args.fps:
        for sigma_m in SIGMAS_M:
            s = smoothed_sigmas(sigma_m, fps, args.accel)
            gain = s[0.0] - s[WHOLE_S]
            cells = "".join(f" {s[lag]:7.3f} ({(s[0.0] - s[lag]) / gain:4.0%})" for lag in LAGS_S)
            print(f"{fps:5g} {sigma_m:6g} {s[0.0]:9.3f}{cells}")


if __name__ == "__main__":
    main()
