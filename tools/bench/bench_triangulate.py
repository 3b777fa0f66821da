"""Triangulation benchmark: capture3d vs aniposelib on the same synthetic detections.

Data: synthetic rig (1920x1080) and walking subject, 1000 frames x 25 joints, 2 px noise, 10% missing,
5% outliers of 50-200 px, no left/right swaps. Every method gets distorted pixel detections and
undistorts them itself. Rows:
  capture3d robust   the default (robust view selection + 1 Gauss-Newton step)
  capture3d DLT      confidence-weighted linear triangulation, all views, no refinement
  oracle             DLT + 3 Gauss-Newton steps on the true inlier views only (the accuracy limit)
  aniposelib ...     CameraGroup.triangulate and triangulate_ransac (installed from PyPI)
Timing: best of --repeats runs, single-threaded BLAS/OpenCV ("one core").

  bash tools/bench/setup_env.sh && .bench-venv/bin/python tools/bench/bench_triangulate.py
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from capture3d.synth import ErrorModel, make_rig, observe, walking_motion  # noqa: E402
from capture3d.geometry.triangulate import triangulate  # noqa: E402

cv2.setNumThreads(1)


def best_time(fn, repeats: int) -> tuple[float, float, object]:
    """Best wall time and best CPU time (this process, one thread) over repeats, and the last result.

    CPU time is what one core spends; it is far less disturbed than wall time on a busy machine."""
    best_wall, best_cpu, out = float("inf"), float("inf"), None
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        best_cpu = min(best_cpu, time.process_time() - c)
        best_wall = min(best_wall, time.perf_counter() - w)
    return best_wall, best_cpu, out


def mpjpe(est: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    e = np.linalg.norm(est.reshape(-1, 3) - truth.reshape(-1, 3), axis=-1) * 1000
    ok = np.isfinite(e)
    return float(np.median(e[ok])), float(np.percentile(e[ok], 95)), float(ok.mean())


def aniposelib_group(rig):
    from aniposelib.cameras import Camera, CameraGroup

    return CameraGroup([Camera(name=c.name, size=list(c.size_wh), matrix=c.K, dist=c.dist, rvec=c.rvec,
                               tvec=c.tvec) for c in rig.cameras])


_HEADER = (f"{'cams':>4}  {'method':<38} {'points/CPU-s':>13} {'points/s wall':>14} {'MPJPE med mm':>13} "
           f"{'p95 mm':>8} {'recon %':>8}")


def print_row(row: tuple) -> None:
    cams, method, pps_cpu, pps, med, p95, frac = row
    print(f"{cams:>4}  {method:<38} {pps_cpu:>13,.0f} {pps:>14,.0f} {med:>13.2f} {p95:>8.2f} {frac:>8.1f}", flush=True)


class Rows(list):
    """Rows of the table, printed as they come (aniposelib's RANSAC is slow)."""

    def append(self, row: tuple) -> None:
        super().append(row)
        print_row(row)


def run_case(n_cams: int, frames: int, repeats: int, anipose_frames: int, ransac_frames: int, rows: list) -> None:
    rig = make_rig(n_cams, seed=1)
    truth = walking_motion(frames, 30.0)
    obs = observe(rig, truth.xyz_world, ErrorModel(noise_px=2.0, missing=0.10, outliers=0.05, swaps=0.0), 2,
                  truth.keypoint_set)
    kp = obs.keypoints_px
    n_pts = frames * 25

    def add(method, timing, est, n):
        wall, cpu = timing
        med, p95, frac = mpjpe(est, truth.xyz_world[: n // 25])
        rows.append((n_cams, method, n / max(cpu, 1e-9), n / wall, med, p95, 100 * frac))

    *t, r = best_time(lambda: triangulate(rig, kp), repeats)
    add("capture3d robust", t, r.xyz_world, n_pts)
    *t, r = best_time(lambda: triangulate(rig, kp, robust=False, refine_iterations=0), repeats)
    add("capture3d weighted DLT", t, r.xyz_world, n_pts)
    oracle = kp.copy()
    oracle[~obs.inlier] = (np.nan, np.nan, 0.0)
    *t, r = best_time(lambda: triangulate(rig, oracle, robust=False, refine_iterations=3), repeats)
    add("oracle (true inliers, DLT+GN)", t, r.xyz_world, n_pts)

    try:
        group = aniposelib_group(rig)
    except ImportError:
        rows.append((n_cams, "aniposelib: not installed (setup_env.sh)", np.nan, np.nan, np.nan, np.nan, np.nan))
        return
    fa = min(frames, anipose_frames)
    if fa == 0:
        return
    pts = kp[:, :fa, :, :2].reshape(n_cams, -1, 2)
    group.triangulate(pts[:, :50], undistort=True, progress=False)  # numba warm-up (JIT), not timed
    *t, est = best_time(lambda: group.triangulate(pts, undistort=True, progress=False), 1)
    add("aniposelib triangulate", t, est, fa * 25)
    # RANSAC over camera subsets grows combinatorially with the camera count: give it fewer frames
    fr = min(fa, max(0, ransac_frames * 4 ** 4 // n_cams ** 4))
    if fr == 0:
        rows.append((n_cams, "aniposelib triangulate_ransac: skipped", np.nan, np.nan, np.nan, np.nan, np.nan))
        return
    pts_r = pts[:, : fr * 25]
    group.triangulate_ransac(pts_r[:, :25], undistort=True, min_cams=2, progress=False)
    *t, res = best_time(lambda: group.triangulate_ransac(pts_r, undistort=True, min_cams=2, progress=False), 1)
    add(f"aniposelib triangulate_ransac ({fr} fr)", t, res[0], fr * 25)


def live_latency_ms(repeats: int = 2000) -> tuple[float, float, float]:
    rig = make_rig(4, seed=1)
    truth = walking_motion(repeats, 30.0)
    kp = observe(rig, truth.xyz_world, ErrorModel(), 3, truth.keypoint_set).keypoints_px
    times, cpu0 = [], time.process_time()
    for t in range(repeats):
        s = time.perf_counter()
        triangulate(rig, kp[:, t])
        times.append(time.perf_counter() - s)
    cpu_ms = (time.process_time() - cpu0) / repeats * 1000
    return float(np.median(times) * 1000), float(np.percentile(times, 95) * 1000), cpu_ms


def undistortion_table(n_points: int = 100_000, repeats: int = 10) -> None:
    """Undistortion alone: ours (fitted inverse + Newton, capture3d.geometry.lens) vs OpenCV's fixed-point
    iteration as the triangulation used it before (8 iterations), on one camera of the synthetic rig."""
    cam = make_rig(4, seed=1).cameras[0]
    w, h = cam.size_wh
    rng = np.random.default_rng(0)
    xy_true = cam.undistort(np.c_[rng.uniform(0, w, 500), rng.uniform(0, h, 500)])  # spans the image
    lo, hi = np.nanmin(xy_true, axis=0), np.nanmax(xy_true, axis=0)
    xy_norm = rng.uniform(lo, hi, (n_points, 2))
    px = cam.project(np.c_[xy_norm, np.ones(n_points)] @ cam.R - cam.R.T @ cam.tvec)  # exact pixels
    src = np.ascontiguousarray(px.reshape(-1, 1, 2))
    crit = (cv2.TERM_CRITERIA_COUNT, 8, 0.0)
    rows = [("capture3d (fitted inverse + Newton)", lambda: cam.undistort(px)),
            ("OpenCV undistortPointsIter, 8 iterations",
             lambda: cv2.undistortPointsIter(src, cam.K, cam.dist, None, None, crit).reshape(-1, 2))]
    print(f"\nUndistortion, {n_points:,} points of one 1920x1080 camera (k1 = {cam.dist[0]:.3f}), one core\n")
    print(f"{'method':<42} {'ms':>7} {'M points/s':>11} {'max error px':>13}")
    for name, fn in rows:
        _, cpu, out = best_time(fn, repeats)
        err = np.abs(out - xy_norm).max() * cam.K[0, 0]
        print(f"{name:<42} {cpu * 1000:>7.2f} {n_points / cpu / 1e6:>11.1f} {err:>13.1e}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cameras", type=int, nargs="+", default=[4, 8, 16])
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--anipose-frames", type=int, default=1000,
                    help="frames given to aniposelib's triangulate (its points/s is measured on these)")
    ap.add_argument("--ransac-frames", type=int, default=100,
                    help="frames given to aniposelib's triangulate_ransac at 4 cameras, scaled by (4/V)^4 "
                         "(it tries camera subsets: ~8 points/s at 8 cameras, so 16 is skipped); 0 skips it")
    args = ap.parse_args()
    print(f"\nTriangulation, {args.frames} frames x 25 joints, 2 px noise, 10% missing, 5% outliers (50-200 px); "
          "pixel input incl. undistortion; one core\n")
    print(_HEADER, flush=True)
    rows = Rows()
    for n in args.cameras:
        run_case(n, args.frames, args.repeats, args.anipose_frames, args.ransac_frames, rows)
    undistortion_table()
    p50, p95, cpu_ms = live_latency_ms()
    print(f"\nOne live frame set (25 joints x 4 views, robust, incl. undistortion): wall median {p50:.3f} ms, "
          f"p95 {p95:.3f} ms; CPU {cpu_ms:.3f} ms per frame set")


if __name__ == "__main__":
    main()
