"""Calibration of OpenCV's own 9x6 stereo chessboard samples (Debian's opencv-doc: left01..14, right01..14,
640x480; left10 / right10 do not exist) against the published answers: OpenCV's unit test (left: fx 532.81,
fy 532.93, cx 342.50, cy 233.89, k1 -0.2813, RMS 0.196 px) and Bouguet's toolbox on the same images (left fc
533.00 / 533.15, cc 341.59 / 234.26; right fc 536.98 / 536.57, cc 326.47 / 249.33; stereo T = [-99.80, 1.12,
0.05] mm with 30 mm squares). One camera, the stereo pair and three cameras, end to end through the CLI."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from capture3d.cli import main
from capture3d.io.rig_files import load_rig

pytestmark = pytest.mark.realdata
SAMPLES = Path("/usr/share/doc/opencv-doc/examples/data")
#: (fx, fy) published for each camera: OpenCV's unit test (left only) and Bouguet's toolbox
FOCAL = {"left": [(532.81, 532.93), (533.00, 533.15)], "right": [(536.98, 536.57)]}
PRINCIPAL = {"left": [(342.50, 233.89), (341.59, 234.26)], "right": [(326.47, 249.33)]}
K1_OPENCV_LEFT = -0.2813
T_BOUGUET_MM = np.array([-99.80, 1.12, 0.05])
SQUARE_M = 0.03


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> Path:
    """A session folder with left/ and right/ (copies of the samples), or a skip saying how to get them."""
    if not (SAMPLES / "left01.jpg").is_file():
        pytest.skip(f"OpenCV's chessboard samples not found in {SAMPLES}: install Debian's opencv-doc "
                    f"(tools/install.sh --test does)")
    root = tmp_path_factory.mktemp("opencv_samples")
    for side in ("left", "right"):
        (root / side).mkdir()
        for f in sorted(SAMPLES.glob(f"{side}[0-9][0-9].jpg")):
            shutil.copy(f, root / side / f.name)
    (root / "board.toml").write_text(f'[board]\ntype = "checkerboard"\ninner_corners = [9, 6]\n'
                                     f'square_size = {SQUARE_M}\n')
    return root


def _session(root: Path, tmp: Path, cams: dict[str, str], drop: tuple[str, ...] = ()) -> Path:
    """A session folder in tmp: camera name -> sample side (left / right), without the files in drop."""
    s = tmp / "session"
    for name, side in cams.items():
        shutil.copytree(root / side, s / name)
        for f in drop:
            (s / name / f).unlink(missing_ok=True)
    return s


@pytest.mark.parametrize("side", ["left", "right"])
def test_intrinsics_match_the_published_answers(samples, tmp_path, capsys, side):
    out = tmp_path / f"{side}.toml"
    assert main(["calibrate", "intrinsics", "--board", str(samples / "board.toml"), "--camera", side,
                 str(samples / side), "-o", str(out), "--no-progress"]) == 0
    rig = load_rig(out)
    K, dist = rig.cameras[0].K, rig.cameras[0].dist
    assert rig.metadata["calibration_rms_px"] <= 0.26  # measured 0.178 (left), 0.183 (right); before: 0.49, 0.51
    for fx, fy in FOCAL[side]:
        assert abs(K[0, 0] / fx - 1) < 0.003 and abs(K[1, 1] / fy - 1) < 0.003, (K[0, 0], K[1, 1], fx, fy)
    for cx, cy in PRINCIPAL[side]:
        assert np.hypot(K[0, 2] - cx, K[1, 2] - cy) < 3.0, (K[0, 2], K[1, 2], cx, cy)
    if side == "left":
        assert abs(dist[0] - K1_OPENCV_LEFT) < 0.01, dist


def test_one_camera_session_gives_intrinsics_and_its_report(samples, tmp_path, capsys):
    session = _session(samples, tmp_path, {"left": "left"})
    out = tmp_path / "one.toml"
    assert main(["calibrate", "rig", "--board", str(samples / "board.toml"), str(session), "-o", str(out),
                 "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "one camera (left): its intrinsics and the board poses only" in text
    rig = load_rig(out)
    assert rig.names == ["left"] and np.allclose(rig.cameras[0].center_world, 0)
    assert abs(rig.cameras[0].K[0, 0] / 533.00 - 1) < 0.003
    rep = json.loads((tmp_path / "one_report" / "report.json").read_text())
    assert rep["rms_px"] <= 0.26 and rep["cameras"][0]["views_used"] == 13
    assert "pairs" not in rep and "uncertainty" not in rep  # nothing to pair, no pose to be uncertain about
    assert main(["calibrate", "report", str(out)]) == 0


def test_stereo_pair_baseline_rotation_and_epipolar_error(samples, tmp_path, capsys):
    session = _session(samples, tmp_path, {"left": "left", "right": "right"})
    out = tmp_path / "pair.toml"
    # the pair compared with itself as the reference: the similarity of two cameras (used by the bootstrap too)
    assert main(["calibrate", "rig", "--board", str(samples / "board.toml"), str(session), "-o", str(out),
                 "--no-progress", "--uncertainty", "3"]) == 0
    text = capsys.readouterr().out
    assert "pair left-right: baseline 0.0998 m (3.33 squares)" in text
    rig = load_rig(out)
    a, b = rig.cameras
    R_rel = b.R @ a.R.T
    T_mm = 1000 * (b.tvec - R_rel @ a.tvec)
    assert np.linalg.norm(T_mm) / (1000 * SQUARE_M) == pytest.approx(3.33, abs=0.02)
    assert np.abs(T_mm - T_BOUGUET_MM).max() < 0.5, T_mm  # measured [-99.80, 1.13, -0.16]
    # the relative rotation against OpenCV's stereoCalibrate on the same corners (its own intrinsics)
    rep = json.loads((tmp_path / "pair_report" / "report.json").read_text())
    pair = rep["pairs"][0]
    assert pair["epipolar_rms_px"] < 0.25 and pair["epipolar_points"] == 13 * 54  # measured 0.137 px
    assert abs(pair["rotation_deg"] - _opencv_stereo_rotation_deg(samples)) < 0.1  # measured 0.478 vs 0.499 deg
    assert len(rep["uncertainty"]["cameras"]) == 2 and rep["uncertainty"]["samples"] == 3
    assert rep["cameras"][1]["center_uncertainty_mm"] < 2.0
    assert main(["calibrate", "rig", "--board", str(samples / "board.toml"), str(session), "-o",
                 str(tmp_path / "again.toml"), "--no-progress", "--uncertainty", "0", "--reference", str(out)]) == 0
    text = capsys.readouterr().out
    assert "against" in text and "centre    0.0 mm" in text


def _opencv_stereo_rotation_deg(samples: Path) -> float:
    """Angle (deg) of the right camera's rotation relative to the left's by cv2.stereoCalibrate."""
    obj = np.zeros((54, 3), np.float32)
    obj[:, :2] = np.mgrid[0:9, 0:6].T.reshape(-1, 2) * SQUARE_M
    pts = {"left": [], "right": []}
    crit = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01)
    for f in sorted((samples / "left").glob("*.jpg")):
        pair = []
        for side in ("left", "right"):
            g = cv2.imread(str(samples / side / f.name.replace("left", side)), cv2.IMREAD_GRAYSCALE)
            ok, c = cv2.findChessboardCorners(g, (9, 6), flags=cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE)
            pair.append(cv2.cornerSubPix(g, c, (5, 5), (-1, -1), crit) if ok else None)
        if all(p is not None for p in pair):
            pts["left"].append(pair[0])
            pts["right"].append(pair[1])
    n = len(pts["left"])
    Ks = [cv2.calibrateCamera([obj] * n, pts[s], (640, 480), None, None)[1:3] for s in ("left", "right")]
    R = cv2.stereoCalibrate([obj] * n, pts["left"], pts["right"], *Ks[0], *Ks[1], (640, 480),
                            flags=cv2.CALIB_FIX_INTRINSIC)[5]
    return float(np.degrees(np.linalg.norm(cv2.Rodrigues(R)[0])))


def test_pair_with_a_missing_image_pairs_by_name(samples, tmp_path, capsys, caplog):
    """left05.jpg deleted: the views pair by the number in their names (not by order, which shifted every later
    pair and rejected 12 of 24 views), and each camera's views carry its own file names."""
    session = _session(samples, tmp_path, {"left": "left", "right": "right"})
    (session / "left" / "left05.jpg").unlink()
    out = tmp_path / "pair.toml"
    assert main(["calibrate", "rig", "--board", str(samples / "board.toml"), str(session), "-o", str(out),
                 "--no-progress", "--uncertainty", "0"]) == 0
    assert "without a partner in another camera: right: right05.jpg" in caplog.text
    rep = json.loads((tmp_path / "pair_report" / "report.json").read_text())
    assert rep["rejected_views"] == [] and rep["rms_px"] < 0.26
    assert [c["views_used"] for c in rep["cameras"]] == [12, 13]
    labels = {c: sorted(v["label"] for v in rep["views"] if v["camera"] == c) for c in ("left", "right")}
    assert all(lab.startswith("left") for lab in labels["left"]) and "left05.jpg" not in labels["left"]
    assert all(lab.startswith("right") for lab in labels["right"]) and "right05.jpg" in labels["right"]
    assert rep["pairs"][0]["baseline_squares"] == pytest.approx(3.33, abs=0.02)
