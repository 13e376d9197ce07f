"""Lens intrinsics from chessboard pictures rendered through a known distorted camera."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from calibration.__main__ import main
from calibration.intrinsics import calibrate
from footfall_core.geometry import CameraGeometry
from footfall_core.store import load_config
from tests.test_calibration_geometry import project, synthetic_camera

SIZE_PX = (800, 600)
K_TRUE = np.array([[620.0, 0, 405.0], [0, 615.0, 296.0], [0, 0, 1]])
D_TRUE = np.array([-0.28, 0.09, 0.0008, -0.0005, 0.0])
BOARD = (9, 6)  # inner corners
SQUARE_MM = 25.0
TEXTURE_PX_PER_MM = 4


def board_texture() -> np.ndarray:
    """The printed board: 10×7 squares of 25 mm with a one-square white margin, grey levels."""
    cols, rows = BOARD[0] + 1, BOARD[1] + 1
    side = int(SQUARE_MM * TEXTURE_PX_PER_MM)
    squares = np.add.outer(np.arange(rows), np.arange(cols)) % 2 == 0
    texture = np.kron(squares, np.ones((side, side))).astype(np.uint8) * 235 + 20
    return cv2.copyMakeBorder(texture, side, side, side, side, cv2.BORDER_CONSTANT, value=255)


def render(rvec, tvec, texture) -> np.ndarray:
    """What the distorted camera (K_TRUE, D_TRUE) sees of the board at pose (rvec, tvec)
    (board mm → camera mm; board origin at its first inner corner), on a dark grey wall."""
    width, height = SIZE_PX
    u, v = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    ideal = cv2.undistortPoints(np.stack([u.ravel(), v.ravel()], axis=1).reshape(-1, 1, 2), K_TRUE, D_TRUE)
    rays = np.c_[ideal.reshape(-1, 2), np.ones(u.size)]
    R, _ = cv2.Rodrigues(rvec)
    origin, directions = R.T @ (-np.asarray(tvec, float).ravel()), rays @ R  # in board mm
    scale = -origin[2] / directions[:, 2]
    board_mm = origin[:2] + directions[:, :2] * scale[:, None]
    side = SQUARE_MM * TEXTURE_PX_PER_MM
    tex = (board_mm + 2 * SQUARE_MM) * TEXTURE_PX_PER_MM  # first inner corner sits 2 squares in
    tex[scale <= 0] = -1
    maps = tex.astype(np.float32).reshape(height, width, 2)
    image = cv2.remap(
        texture,
        maps[..., 0],
        maps[..., 1],
        cv2.INTER_AREA if side < 50 else cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=60,
    )
    return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)


POSES = [  # (rotation vector rad, translation mm): the board tilted and moved around the view
    ((0.0, 0.0, 0.0), (-100, -60, 450)),
    ((0.35, 0.0, 0.0), (-110, -80, 480)),
    ((-0.35, 0.1, 0.0), (-90, -50, 470)),
    ((0.0, 0.4, 0.05), (-150, -60, 500)),
    ((0.1, -0.45, -0.05), (-60, -70, 520)),
    ((0.3, 0.3, 0.1), (-200, -150, 600)),
    ((-0.3, -0.3, 0.0), (-10, 0, 600)),
    ((0.2, -0.2, 0.3), (-230, 20, 620)),
    ((-0.2, 0.25, -0.3), (30, -160, 640)),
]


@pytest.fixture(scope="module")
def chessboards(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("boards")
    texture = board_texture()
    paths = []
    for i, (rvec, tvec) in enumerate(POSES):
        path = folder / f"board_{i}.png"
        cv2.imwrite(str(path), render(np.array(rvec), np.array(tvec, float), texture))
        paths.append(path)
    blank = folder / "blank.png"
    cv2.imwrite(str(blank), np.full((SIZE_PX[1], SIZE_PX[0], 3), 128, np.uint8))
    return paths + [blank]


def test_intrinsics_recover_the_rendering_camera(chessboards):
    images = {p.name: cv2.imread(str(p)) for p in chessboards}
    result = calibrate(images, BOARD, SQUARE_MM)
    print(
        f"intrinsics: {len(result.views)} views, RMS {result.rms_px:.3f} px, "
        f"fx {result.camera_matrix[0, 0]:.1f} (true 620), k1 {result.dist_coeffs[0]:.3f} (true -0.28)"
    )
    assert result.skipped == ["blank.png"] and len(result.views) == len(POSES)
    assert result.rms_px < 0.5
    np.testing.assert_allclose(np.diag(result.camera_matrix)[:2], np.diag(K_TRUE)[:2], rtol=0.01)  # focal
    np.testing.assert_allclose(result.camera_matrix[:2, 2], K_TRUE[:2, 2], atol=10)  # principal point, px
    # what matters downstream: across the whole frame the estimated lens straightens the image
    # like the true one, up to a homography (which the floor homography absorbs)
    grid = np.stack(np.meshgrid(np.linspace(20, 780, 9), np.linspace(20, 580, 7)), axis=-1).reshape(-1, 1, 2)
    truth = cv2.undistortPoints(grid, K_TRUE, D_TRUE, P=K_TRUE).reshape(-1, 2)
    estimate = cv2.undistortPoints(grid, result.camera_matrix, result.dist_coeffs, P=K_TRUE).reshape(-1, 2)
    between, _ = cv2.findHomography(estimate, truth, 0)
    residual = np.linalg.norm(cv2.perspectiveTransform(estimate[None], between)[0] - truth, axis=1)
    distortion = np.linalg.norm(truth - grid.reshape(-1, 2), axis=1)
    print(
        f"lens correction residual: median {np.median(residual):.2f} px, max {residual.max():.2f} px "
        f"(distortion up to {distortion.max():.0f} px)"
    )
    assert np.median(residual) < 0.5 and residual.max() < 0.05 * distortion.max()


def test_too_few_boards_is_an_error_listing_them(chessboards, capsys):
    assert (
        main(["intrinsics", str(chessboards[0]), str(chessboards[-1]), "--board", "9x6", "--square-mm", "25"])
        == 2
    )
    assert "found in 1 image(s), need 3; not found in: " + str(chessboards[-1]) in capsys.readouterr().err


def test_intrinsics_cli_writes_the_lens_and_a_homography_through_it(chessboards, tmp_path, capsys):
    """A floor seen through the distorted lens: after `intrinsics --store`, the floor points
    the homography could not fit through the distortion fit to centimetres."""
    K, rvec, tvec = synthetic_camera(f_px=620.0, size_px=SIZE_PX)
    floor_m = np.array([[-2, 3], [2, 3], [3, 8], [-3, 8], [0, 5], [-1.5, 6], [1.5, 4], [0, 9]], float)
    image_px = project(floor_m, K_TRUE, rvec, tvec, D_TRUE)
    store = tmp_path / "store.yaml"
    store.write_text(
        "store: {id: lens}\nfloor_plan: {origin_m: [-5, 0], width_m: 10, height_m: 12}\ncameras:\n"
        "  - name: wide  # a wide-angle camera\n    source: wide.mp4\n    calibration:\n"
        f"      image_points_px: {image_px.round(2).tolist()}\n      floor_points_m: {floor_m.tolist()}\n"
        "      max_error_m: 0.05\n# the end\n"
    )
    cal = load_config(store).camera("wide").calibration
    without = CameraGeometry.solve(
        "wide", cal.image_points_px, cal.floor_points_m, cal.max_error_m, strict=False
    )
    assert without.outliers.any()  # a plain homography cannot follow the barrel distortion
    args = [
        "intrinsics",
        *map(str, chessboards),
        "--board",
        "9x6",
        "--square-mm",
        "25",
        "--store",
        str(store),
        "--camera",
        "wide",
    ]
    assert main(args) == 0, capsys.readouterr()
    text = store.read_text()
    assert "# a wide-angle camera" in text and text.endswith("# the end\n")
    camera = load_config(store).camera("wide")
    assert camera.calibration.camera_matrix is not None and camera.calibration.homography is not None
    geometry = CameraGeometry.from_config(camera)
    assert geometry.errors_m.max() < 0.05
    np.testing.assert_allclose(geometry.homography, camera.calibration.homography)
