"""Benchmark: capture3d's bundle adjustment vs aniposelib's ``CameraGroup.bundle_adjust_iter``.

Same synthetic corner observations for both (capture3d.synth rig, 1920x1080, 200 board poses of a
9x6 checkerboard with 80 mm squares, 0.5 px corner noise), same start: every camera but the first
perturbed by 2 degrees and 5 cm, board poses by 1.5 degrees and 3 cm. Reported side by side:
time of the adjustment, final reprojection RMS (board poses re-fitted to each method's cameras with
the cameras held, so both are measured the same way), camera-centre and rotation errors after a
similarity alignment to the truth, and principal-point error.

capture3d refines poses AND the full intrinsics (fx, fy, cx, cy, k1, k2, p1, p2, k3) from a start with
the true intrinsics. aniposelib can only refine one focal length and k1 and would reset k2, p1, p2 and
fy; it is therefore run twice: with ``only_extrinsics=True`` (true intrinsics held: its best case) and
with its default ``only_extrinsics=False``.

aniposelib is NOT a capture3d dependency. It runs in its own venv, in a subprocess of this script::

    bash tools/bench/setup_env.sh      # creates .bench-venv with capture3d + aniposelib==0.8.0
    # or: python tools/bench/bench_bundle_adjust.py --setup (a venv with aniposelib only)

Run (from the repository root)::

    PYTHONPATH=. python tools/bench/bench_bundle_adjust.py [--cameras 4 8] [--venv .bench-venv]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DEFAULT_VENV = str(Path(__file__).resolve().parents[2] / ".bench-venv")


# ----------------------------------------------------------------------------------------- worker
def aniposelib_worker(data_path: str, out_path: str, only_extrinsics: bool) -> None:
    """Runs inside the aniposelib venv: no capture3d import here."""
    import aniposelib
    from aniposelib.cameras import Camera, CameraGroup

    d = np.load(data_path)
    V = d["K"].shape[0]
    cams = [Camera(matrix=d["K"][i], dist=d["dist"][i], size=tuple(int(x) for x in d["size"]),
                   rvec=d["rvec0"][i], tvec=d["tvec0"][i], name=f"cam{i + 1}") for i in range(V)]
    group = CameraGroup(cams)
    imgp, extra = d["imgp"], {"objp": d["objp"], "ids": d["ids"], "rvecs": d["rvecs"], "tvecs": d["tvecs"]}
    # warm-up: numba compiles aniposelib's jitted functions on first use; keep that out of the timing
    warm = CameraGroup([c.copy() for c in cams])
    sel = np.flatnonzero(d["ids"] < 3)
    warm.bundle_adjust(imgp[:, sel], {k: (v[:, sel] if v.ndim == 3 else v[sel]) for k, v in extra.items()},
                       max_nfev=2, verbose=False, only_extrinsics=only_extrinsics)
    np.random.seed(0)
    t0 = time.perf_counter()
    err = group.bundle_adjust_iter(imgp, extra, only_extrinsics=only_extrinsics, verbose=False)
    dt = time.perf_counter() - t0
    np.savez(out_path, seconds=dt, error=err, K=np.stack([c.get_camera_matrix() for c in group.cameras]),
             dist=np.stack([np.asarray(c.get_distortions(), float).ravel()[:5] for c in group.cameras]),
             rvec=np.stack([c.get_rotation() for c in group.cameras]),
             tvec=np.stack([c.get_translation() for c in group.cameras]), version=aniposelib.__version__
             if hasattr(aniposelib, "__version__") else "?")


# ----------------------------------------------------------------------------------------- main
def _scene(n_cams: int, seed: int):
    import cv2

    from capture3d.calib import board_from_dict
    from capture3d.geometry.rotations import rodrigues
    from capture3d.calib.synth import random_board_poses, rig_board_observations
    from capture3d.synth import make_rig

    board = board_from_dict({"type": "checkerboard", "inner_corners": [9, 6], "square_size": 0.08})
    rig = make_rig(n_cams, seed=seed)
    rng = np.random.default_rng(seed)
    poses = random_board_poses(rig, board, 200, rng)
    obs = rig_board_observations(rig, board, poses, 0.5, rng)
    start = []
    for i, c in enumerate(rig.cameras):
        if i > 0:
            ax = rng.normal(size=3)
            R = rodrigues(ax / np.linalg.norm(ax) * np.radians(2.0)) @ c.R
            dv = rng.normal(size=3)
            C = c.center_world + 0.05 * dv / np.linalg.norm(dv)
            c = c.with_pose(cv2.Rodrigues(R)[0].ravel(), -R @ C)
        start.append(c)
    Rb = np.stack([rodrigues(rng.normal(0, np.radians(1.5), 3)) @ r for r in poses.R])
    tb = poses.t + rng.normal(0, 0.03, poses.t.shape)
    return board, rig, obs, start, Rb, tb


def _anipose_inputs(board, obs, start, Rb, tb, path: Path) -> None:
    """(C, N, 2) image points with NaN, N = frames x corners, + aniposelib's board 'extra'."""
    V, F, N = obs.n_cams, obs.n_frames, board.n_corners
    imgp = np.full((V, F * N, 2), np.nan)
    imgp[obs.cam, obs.frame * N + obs.corner] = obs.xy_px
    keep = np.isfinite(imgp[..., 0]).sum(axis=0) >= 2  # points seen by 2+ cameras, as aniposelib requires
    frames_kept = np.unique(np.flatnonzero(keep) // N)
    cols = (frames_kept[:, None] * N + np.arange(N)).ravel()  # whole boards, like aniposelib's extract_points
    imgp = imgp[:, cols]
    ids = np.repeat(np.arange(len(frames_kept)), N).astype(np.int32)
    objp = np.tile(board.corners_board, (len(frames_kept), 1))
    rvecs = np.full((V, len(cols), 3), np.nan)
    tvecs = np.full((V, len(cols), 3), np.nan)
    import cv2

    for v, cam in enumerate(start):  # board pose in each camera (what aniposelib's estimate_pose_rows gives)
        for k, f in enumerate(frames_kept):
            R_cb = cam.R @ Rb[f]
            t_cb = cam.R @ tb[f] + cam.tvec
            rvecs[v, k * N:(k + 1) * N] = cv2.Rodrigues(R_cb)[0].ravel()
            tvecs[v, k * N:(k + 1) * N] = t_cb
    np.savez(path, imgp=imgp, ids=ids, objp=objp, rvecs=rvecs, tvecs=tvecs, K=np.stack([c.K for c in start]),
             dist=np.stack([c.dist for c in start]), size=np.array(start[0].size_wh),
             rvec0=np.stack([c.rvec for c in start]), tvec0=np.stack([c.tvec for c in start]))


def _refit_rms(cams, obs, board, Rb, tb) -> float:
    """RMS reprojection error with board poses fitted to the given (held) cameras."""
    from capture3d.calib import bundle_adjust

    res = bundle_adjust(cams, Rb, tb, obs, board.corners_board, refine_intrinsics=False, refine_poses=False,
                        loss="linear")
    return res.rms_px


def _row(name, seconds, rms, errs) -> dict:
    return {"method": name, "seconds": seconds, "rms_px": rms, "center_mm_mean": float(errs.center_mm.mean()),
            "center_mm_max": float(errs.center_mm.max()), "rot_deg_max": float(errs.rotation_deg.max()),
            "pp_px_max": float(errs.principal_px.max()), "focal_pct_max": float(np.abs(errs.focal_pct).max())}


def run(n_cams: int, venv: str, seed: int) -> list[dict]:
    from capture3d.calib import bundle_adjust, rig_errors
    from capture3d.geometry.camera import Camera, Rig

    board, rig, obs, start, Rb, tb = _scene(n_cams, seed)
    rows = []
    t0 = time.perf_counter()
    res = bundle_adjust(start, Rb, tb, obs, board.corners_board, refine_intrinsics=True)
    dt = time.perf_counter() - t0
    rows.append(_row("capture3d (poses + full intrinsics)", dt, _refit_rms(res.cameras, obs, board, Rb, tb),
                     rig_errors(Rig(tuple(res.cameras)), rig)))
    t0 = time.perf_counter()
    res2 = bundle_adjust(start, Rb, tb, obs, board.corners_board, refine_intrinsics=False)
    dt2 = time.perf_counter() - t0
    rows.append(_row("capture3d (poses only)", dt2, _refit_rms(res2.cameras, obs, board, Rb, tb),
                     rig_errors(Rig(tuple(res2.cameras)), rig)))
    py = Path(venv) / "bin" / "python"
    if not py.is_file():
        rows.append({"method": f"aniposelib: no venv at {venv} (run with --setup)"})
        return rows
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data.npz"
        _anipose_inputs(board, obs, start, Rb, tb, data)
        for only_ext in (True, False):
            out = Path(tmp) / f"out_{only_ext}.npz"
            cmd = [str(py), __file__, "--aniposelib-worker", str(data), str(out)] + (["--only-extrinsics"] if only_ext
                                                                                     else [])
            proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ""})
            label = "aniposelib bundle_adjust_iter (" + ("extrinsics only" if only_ext else "default: + f, k1") + ")"
            if proc.returncode != 0:
                rows.append({"method": label + f": FAILED {proc.stderr.strip().splitlines()[-1:]}"})
                continue
            r = np.load(out)
            cams = [Camera(c.name, c.size_wh, r["K"][i], r["dist"][i], r["rvec"][i], r["tvec"][i])
                    for i, c in enumerate(start)]
            rows.append(_row(label, float(r["seconds"]), _refit_rms(cams, obs, board, Rb, tb),
                             rig_errors(Rig(tuple(cams)), rig)))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cameras", type=int, nargs="+", default=[4, 8])
    ap.add_argument("--venv", default=DEFAULT_VENV, help="venv with aniposelib (default: .bench-venv in the repository)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--setup", action="store_true", help="create the aniposelib venv and exit")
    ap.add_argument("--json", default=None, help="also write the rows as JSON")
    ap.add_argument("--aniposelib-worker", nargs=2, metavar=("DATA", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--only-extrinsics", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.aniposelib_worker:
        aniposelib_worker(*args.aniposelib_worker, args.only_extrinsics)
        return 0
    if args.setup:
        subprocess.run([sys.executable, "-m", "venv", args.venv], check=True)
        subprocess.run([str(Path(args.venv) / "bin" / "pip"), "install", "aniposelib==0.8.0"], check=True)
        return 0
    all_rows = []
    print(f"{'cams':>4}  {'method':<46} {'time s':>8} {'RMS px':>7} {'centre mm':>15} {'rot deg':>8} "
          f"{'pp px':>6} {'f %':>6}")
    for V in args.cameras:
        for r in run(V, args.venv, args.seed):
            r["cameras"] = V
            all_rows.append(r)
            if "seconds" not in r:
                print(f"{V:>4}  {r['method']}")
                continue
            print(f"{V:>4}  {r['method']:<46} {r['seconds']:8.2f} {r['rms_px']:7.3f} "
                  f"{r['center_mm_mean']:6.2f} / {r['center_mm_max']:6.2f} {r['rot_deg_max']:8.4f} "
                  f"{r['pp_px_max']:6.2f} {r['focal_pct_max']:6.3f}")
    print("centre mm: mean / max over cameras after similarity alignment; rot deg, pp px, f %: max over cameras")
    if args.json:
        Path(args.json).write_text(json.dumps(all_rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
