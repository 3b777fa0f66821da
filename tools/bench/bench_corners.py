#!/usr/bin/env python
"""Benchmark board-corner refinement on real footage: OpenCV's 9x6 stereo samples and Caliscope's webcams.

For each sequence and candidate detector / refinement: views found, calibration RMS (px) of all found
views (same lens model for every candidate: k1 k2 p1 p2, k3 fixed, so only the corners differ), fx / fy
(px) and the difference of fx to Caliscope's own calibration of the same camera (camera_array.toml of
its charuco_calibration session; Caliscope's per-camera RMS is shown beside it). "refK RMS" fits only each
view's pose with Caliscope's lens held fixed: with few views it ranks the corners better than the
calibration RMS, which a free lens model bends to fit. A second table runs capture3d's calibrate_intrinsics
(distortion terms chosen by held-out views) against all five coefficients freed, with standard deviations.

"held-out" (the choice criterion, every set with >= 5 views): RMS px of each view's corners with the lens
calibrated on the other views (k1 k2 p1 p2, 4 folds), only the held-out board's pose fitted
(capture3d.calib.lens_terms.held_out_rms); it needs no reference lens.

Sequences:
  opencv left/right  /usr/share/doc/opencv-doc/examples/data/{left,right}NN.jpg (Debian's opencv-doc; 13 each,
                640x480, squares 25-40 px, outer squares cut short by the board's edge); published answers:
                left fx 532.81 (OpenCV's test) / 533.00 (Bouguet), right 536.98 (Bouguet)
  chess cam_N   caliscope/chessboard_intrinsic/cam_N_*.jpg, checkerboard 9x6 inner corners (10x7 squares);
                only cam_0 has enough stills (4 found) to calibrate, the others give one view each
  charuco cam_N caliscope/prerecorded_calibration/calibration/intrinsic/cam_N.mp4 (48 frames, 1280x720),
                ChArUco 4x5 squares, DICT_4X4_1000, inverted (white markers on black)

    python tools/bench/bench_corners.py                  # everything (~1 min on 2 cores)
    python tools/bench/bench_corners.py --only charuco --stride 2
    python tools/bench/bench_corners.py --scale 0.5          # the same at 640x360 (smaller squares in px)
    python tools/bench/bench_corners.py --only chess         # checkerboards: OpenCV's samples + Caliscope's stills
"""
from __future__ import annotations

import argparse
import glob
import sys
import time
import tomllib
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from capture3d.calib.boards import Board  # noqa: E402
from capture3d.calib.detect import (_canonical_checkerboard_order, detect_board, refine_window_px,  # noqa: E402
                                    square_size_px)

CHESS = Board("checkerboard", (9, 6), 1.0, name="caliscope_chess")
CHARUCO = Board("charuco", (3, 4), 0.054, (4, 5), 0.0405, "DICT_4X4_1000", name="caliscope_charuco")
CRIT = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 1e-3)


# ------------------------------------------------------------------------------------ checkerboard candidates
def _subpix(gray, xy, win):
    out = cv2.cornerSubPix(gray, xy.astype(np.float32).reshape(-1, 1, 2), (win, win), (-1, -1), CRIT)
    return out.reshape(-1, 2).astype(np.float64)


def _classic(gray):
    flags = cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE
    ok, c = cv2.findChessboardCorners(gray, CHESS.inner_corners, flags=flags)
    return c.reshape(-1, 2).astype(np.float64) if ok else None


def _sb(gray, flags):
    ok, c = cv2.findChessboardCornersSB(gray, CHESS.inner_corners, flags=flags)
    return c.reshape(-1, 2).astype(np.float64) if ok else None


def _classic_win(frac=None, fixed=None):
    def run(gray):
        xy = _classic(gray)
        if xy is None:
            return None
        sq = square_size_px(xy, np.arange(CHESS.n_corners), CHESS.inner_corners[0])
        win = fixed if fixed is not None else int(np.clip(np.floor(frac * sq), 2, 30))
        return _subpix(gray, xy, win)
    return run


def _sb_then(flags, frac=None):
    def run(gray):
        xy = _sb(gray, flags)
        if xy is None or frac is None:
            return xy
        sq = square_size_px(xy, np.arange(CHESS.n_corners), CHESS.inner_corners[0])
        return _subpix(gray, xy, int(np.clip(np.floor(frac * sq), 2, 30)))
    return run


def _current_chess(gray):
    found = detect_board(gray, CHESS, thorough=True)
    return None if found is None else found[1]


N = cv2.CALIB_CB_NORMALIZE_IMAGE
A = cv2.CALIB_CB_ACCURACY
E = cv2.CALIB_CB_EXHAUSTIVE
CHESS_CANDIDATES = {
    "project (window by grid smoothness)": _current_chess,
    "classic+subpix 0.4sq (old project)": _classic_win(0.4),
    "classic, no subpix": _classic,
    "classic+subpix 5px": _classic_win(fixed=5),
    "classic+subpix 11px": _classic_win(fixed=11),
    "classic+subpix 0.25sq": _classic_win(0.25),
    "classic+subpix 0.3sq": _classic_win(0.3),
    "classic+subpix 0.6sq": _classic_win(0.6),
    "SB normalize": _sb_then(N),
    "SB accuracy": _sb_then(N | A),
    "SB accuracy+exhaustive": _sb_then(N | A | E),
    "SB accuracy+subpix 0.4sq": _sb_then(N | A, 0.4),
}


# ------------------------------------------------------------------------------------ ChArUco candidates
def _charuco_detector(marker_refine, inverted=True):
    params = cv2.aruco.CharucoParameters()
    params.tryRefineMarkers = True
    det = cv2.aruco.DetectorParameters()
    det.cornerRefinementMethod = marker_refine
    det.detectInvertedMarker = inverted
    return cv2.aruco.CharucoDetector(CHARUCO.cv_charuco_board(), params, det)


def _charuco(marker_refine, frac=None, inverted_image=False):
    detector = _charuco_detector(marker_refine, not inverted_image)

    def run(gray):
        src = 255 - gray if inverted_image else gray
        corners, ids, _, _ = detector.detectBoard(src)
        if ids is None or len(ids) < 6:
            return None
        ids = ids.ravel().astype(np.int64)
        xy = corners.reshape(-1, 2).astype(np.float64)
        if len(np.unique(ids % 3)) < 2 or len(np.unique(ids // 3)) < 2:
            return None
        if frac is not None:
            sq = square_size_px(xy, ids, CHARUCO.inner_corners[0])
            xy = _subpix(gray, xy, int(np.clip(np.floor(frac * sq), 2, 30)))
        return ids, xy
    return run


def _project_charuco(gray, _det=[]):
    """capture3d's detect_board with its own ChArUco detector (+ detectInvertedMarker for this board)."""
    if not _det:
        from capture3d.calib.detect import _charuco_detector
        d = _charuco_detector(CHARUCO)
        p = d.getDetectorParameters()
        p.detectInvertedMarker = True
        d.setDetectorParameters(p)
        _det.append(d)
    return detect_board(gray, CHARUCO, True, _det[0])


R = cv2.aruco
CHARUCO_CANDIDATES = {
    "project (markers contour)": lambda g: _project_charuco(g),
    "markers unrefined (old project)": _charuco(R.CORNER_REFINE_NONE),
    "markers subpix": _charuco(R.CORNER_REFINE_SUBPIX),
    "markers contour": _charuco(R.CORNER_REFINE_CONTOUR),
    "markers apriltag": _charuco(R.CORNER_REFINE_APRILTAG),
    "image inverted, markers unrefined": _charuco(R.CORNER_REFINE_NONE, inverted_image=True),
    "unrefined + subpix 0.2sq": _charuco(R.CORNER_REFINE_NONE, 0.2),
    "unrefined + subpix 0.3sq": _charuco(R.CORNER_REFINE_NONE, 0.3),
    "unrefined + subpix 0.4sq": _charuco(R.CORNER_REFINE_NONE, 0.4),
    "markers subpix + subpix 0.3sq": _charuco(R.CORNER_REFINE_SUBPIX, 0.3),
}


# ------------------------------------------------------------------------------------ calibration
def calibrate(views, board, size_wh):
    """views: list of (ids (N,), xy (N, 2) px). Returns (rms px, fx, fy) with k3 fixed, or None (< 4 views)."""
    if len(views) < 4:
        return None
    obj = [board.corners_board[i].astype(np.float32).reshape(-1, 1, 3) for i, _ in views]
    img = [xy.astype(np.float32).reshape(-1, 1, 2) for _, xy in views]
    rms, K, *_ = cv2.calibrateCamera(obj, img, size_wh, None, None, flags=cv2.CALIB_FIX_K3)
    return rms, K[0, 0], K[1, 1]


def reference(data: Path, scale: float = 1.0) -> dict[int, dict]:
    """{camera index: {fx px, rms px, K (3, 3), dist (5,)}} from Caliscope's charuco_calibration camera_array.toml,
    for images resized by ``scale`` (pixel centres: x' = (x + 0.5) scale - 0.5)."""
    path = data / "caliscope" / "charuco_calibration" / "camera_array.toml"
    cams = tomllib.loads(path.read_text())["cameras"]
    out = {}
    for k, v in cams.items():
        K = np.array(v["matrix"], float)
        K[:2, :2] *= scale
        K[:2, 2] = (K[:2, 2] + 0.5) * scale - 0.5
        out[int(k)] = {"fx": K[0, 0], "rms": float(v["error"]) * scale, "K": K,
                       "dist": np.array(v["distortions"], float)}
    return out


def _resized(frames, scale: float):
    if scale == 1.0:
        return frames
    return [cv2.resize(g, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) for g in frames]


def pose_only_rms(views, board, K, dist) -> float:
    """RMS px of the corners against a FIXED lens (Caliscope's): only the 6 pose values of each view are
    fitted, so this measures the corners (plus the reference's own error), not how well a model bends to them."""
    sq = []
    for ids, xy in views:
        obj = board.corners_board[ids].astype(np.float64)
        ok, rv, tv = cv2.solvePnP(obj, xy, K, dist, flags=cv2.SOLVEPNP_ITERATIVE)
        if not ok:
            continue
        rv, tv = cv2.solvePnPRefineLM(obj, xy, K, dist, rv, tv)
        p = cv2.projectPoints(obj, rv, tv, K, dist)[0].reshape(-1, 2)
        sq.append(np.sum((p - xy) ** 2, axis=1))
    return float(np.sqrt(np.mean(np.concatenate(sq)))) if sq else float("nan")


OPENCV_SAMPLES = Path("/usr/share/doc/opencv-doc/examples/data")
#: published fx of the samples (OpenCV's unit test for left, Bouguet's toolbox for both)
OPENCV_FX = {"left": 533.00, "right": 536.98}


def opencv_sequences():
    """OpenCV's stereo samples, when opencv-doc is installed (camera index None: no Caliscope lens)."""
    for side in ("left", "right"):
        files = sorted(OPENCV_SAMPLES.glob(f"{side}[0-9][0-9].jpg"))
        if files:
            yield f"opencv {side}", None, [cv2.imread(str(f), cv2.IMREAD_GRAYSCALE) for f in files]


def chess_sequences(data: Path):
    yield from opencv_sequences()
    for cam in range(4):
        files = sorted(glob.glob(str(data / "caliscope" / "chessboard_intrinsic" / f"cam_{cam}_*.jpg")))
        yield f"chess cam_{cam}", cam, [cv2.imread(f, cv2.IMREAD_GRAYSCALE) for f in files]


#: cameras whose intrinsic video is mirrored left-right (cam_1: no board found as recorded, 12 corners flipped)
MIRRORED = (1,)


def charuco_sequences(data: Path, stride: int, mirrored=MIRRORED):
    for cam in range(4):
        cap = cv2.VideoCapture(str(data / "caliscope" / "prerecorded_calibration" / "calibration" / "intrinsic"
                                   / f"cam_{cam}.mp4"))
        frames, k = [], 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if k % stride == 0:
                frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
            k += 1
        cap.release()
        if cam in mirrored:  # this webcam recorded a mirror image (the markers read backwards): flip it back
            frames = [cv2.flip(g, 1) for g in frames]
        yield f"charuco cam_{cam}" + (" (flipped)" if cam in mirrored else ""), cam, frames


def run(data: Path, only: str | None, stride: int, scale: float = 1.0) -> list[dict]:
    ref = reference(data, scale)
    rows = []
    groups = []
    if only in (None, "chess"):
        groups.append((chess_sequences(data), CHESS_CANDIDATES, CHESS))
    if only in (None, "charuco"):
        groups.append((charuco_sequences(data, stride), CHARUCO_CANDIDATES, CHARUCO))
    for seqs, candidates, board in groups:
        for seq, cam, frames in seqs:
            frames = _resized(frames, scale)
            size = (frames[0].shape[1], frames[0].shape[0])
            for name, fn in candidates.items():
                t0 = time.perf_counter()
                views = []
                for g in frames:
                    out = fn(g)
                    if out is None:
                        continue
                    views.append(out if isinstance(out, tuple) else (np.arange(board.n_corners), out))
                ms = 1000 * (time.perf_counter() - t0) / len(frames)
                cal = calibrate(views, board, size)
                ref_fx = ref[cam]["fx"] if cam is not None else OPENCV_FX[seq.split()[1]] * scale
                row = {"sequence": seq, "candidate": name, "frames": len(frames), "views": len(views), "ms": ms,
                       "pose_rms": pose_only_rms(views, board, ref[cam]["K"], ref[cam]["dist"]) if cam is not None
                       else float("nan"), "ref_rms": ref[cam]["rms"] if cam is not None else float("nan"),
                       "held_out": _held_out(views, board, size)}
                if cal is not None:
                    row.update(rms=cal[0], fx=cal[1], fy=cal[2], dfx=100 * (cal[1] / ref_fx - 1))
                rows.append(row)
    return rows


def _held_out(views, board, size_wh) -> float:
    """Held-out-view RMS px (lens_terms.held_out_rms, k1 k2 p1 p2), NaN below 5 views."""
    from capture3d.calib.detect import ViewDetection
    from capture3d.calib.lens_terms import TERMS, held_out_rms

    if len(views) < 5:
        return float("nan")
    return held_out_rms([ViewDetection(k, "", ids, xy) for k, (ids, xy) in enumerate(views)], board, size_wh,
                        TERMS["k1k2p1p2"])


def library_rows(data: Path, stride: int, scale: float = 1.0) -> list[dict]:
    """capture3d's own chain (detect_board + calibrate_intrinsics, distortion terms chosen by held-out views)
    on every sequence with >= 4 views: terms, RMS, focal and principal point with their standard deviations,
    for the held-out choice and each term set forced (does the choice bias the focal length?)."""
    from capture3d.calib import calibrate_intrinsics
    from capture3d.calib.detect import ViewDetection, _charuco_detector

    ref = reference(data, scale)
    det = _charuco_detector(CHARUCO)
    params = det.getDetectorParameters()
    params.detectInvertedMarker = True  # the board is inverted (white markers on black)
    det.setDetectorParameters(params)
    rows = []
    for seq, cam, frames in [*chess_sequences(data), *charuco_sequences(data, stride)]:
        ref_fx = ref[cam]["fx"] if cam is not None else OPENCV_FX[seq.split()[1]] * scale
        board = CHARUCO if seq.startswith("charuco") else CHESS
        frames = _resized(frames, scale)
        views = []
        for k, g in enumerate(frames):
            found = detect_board(g, board, True, det if board is CHARUCO else None)
            if found is not None:
                views.append(ViewDetection(k, f"{seq}#{k}", *found))
        if len(views) < 4:
            continue
        for terms in ("auto", "k1k2", "k1k2p1p2", "k1k2p1p2k3"):
            res = calibrate_intrinsics(views, board, (frames[0].shape[1], frames[0].shape[0]), seq, terms=terms)
            K, sd = res.camera.K, res.std
            rows.append({"sequence": seq, "asked": terms, "terms": res.terms, "views": len(res.used), "rms": res.rms_px,
                         "f": 0.5 * (K[0, 0] + K[1, 1]), "f_std": max(sd["fx"], sd["fy"]), "cx": K[0, 2], "cy": K[1, 2],
                         "c_std": max(sd["cx"], sd["cy"]), "dfx": 100 * (K[0, 0] / ref_fx - 1),
                         "max_coeff": float(np.abs(res.camera.dist).max()), "held_out": res.held_out_rms_px})
    return rows


def print_library(rows: list[dict]) -> None:
    print(f"\n{'sequence':<24} {'asked':<10} {'terms':<10} {'views':>5} {'RMS px':>7} {'f px':>14} {'c std':>6} "
          f"{'fx-ref %':>8} {'max|d|':>7}  held-out RMS px per term set")
    for r in rows:
        held = " ".join(f"{k} {v:.3f}" for k, v in r["held_out"].items())
        print(f"{r['sequence']:<24} {r['asked']:<10} {r['terms']:<10} {r['views']:>5} {r['rms']:>7.3f} "
              f"{r['f']:>7.1f} +-{r['f_std']:<5.1f} {r['c_std']:>6.1f} {r['dfx']:>+8.1f} {r['max_coeff']:>7.3f}  {held}")


def print_table(rows: list[dict]) -> None:
    print(f"{'sequence':<24} {'candidate':<36} {'views':>9} {'ms/img':>7} {'held-out':>8} {'refK RMS':>8} "
          f"{'RMS px':>7} {'fx':>8} {'fy':>8} {'fx-ref %':>8} {'ref RMS':>7}")
    for r in rows:
        s = (f"{r['sequence']:<24} {r['candidate']:<36} {r['views']:>4}/{r['frames']:<4} {r['ms']:>7.1f} "
             f"{r['held_out']:>8.3f} {r['pose_rms']:>8.3f}")
        if "rms" in r:
            s += f" {r['rms']:>7.3f} {r['fx']:>8.1f} {r['fy']:>8.1f} {r['dfx']:>+8.1f} {r['ref_rms']:>7.3f}"
        else:
            s += "   (too few views to calibrate)"
        print(s)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data", help="shared data folder")
    ap.add_argument("--only", choices=("chess", "charuco"), default=None)
    ap.add_argument("--stride", type=int, default=1, help="use every N-th video frame (default 1)")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="resize every image by this factor first (e.g. 0.5: 640x360), reference lens scaled too")
    args = ap.parse_args(argv)
    if not (args.data / "caliscope").is_dir():
        print(f"no Caliscope recordings at {args.data / 'caliscope'}", file=sys.stderr)
        return 1
    print_table(run(args.data, args.only, args.stride, args.scale))
    print_library(library_rows(args.data, args.stride, args.scale))
    return 0


if __name__ == "__main__":
    sys.exit(main())
