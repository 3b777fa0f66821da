"""Benchmark: single-subject tracking and temporal filtering on a synthetic multi-person scene.

Scene: synthetic rig (4 cameras), the subject walking a figure-eight plus bystanders walking through,
2 px noise, 10% missing joints, 5% outliers, 2% left/right swaps, the subject fully occluded for 1 s.
Each row adds one step to the named baseline "highest-score person per view + no filter"; all rows run
in one process on the same data.

Columns: bystander = output frames that are a bystander's pose; switches = changes of identity to a
bystander; reacq = frames from the end of the occlusion to the subject's first frame; valid = frames
with a pose while the subject is visible; MPJPE mm over those frames; jitter = mean joint acceleration
m/s^2 (truth: see the header); bone CV % = mean over bones of std/mean of the length; latency = time
shift, frames, that best aligns the output with the truth; ms/frame = whole Reconstructor per frame
set (CPU time); filt us / mean us = median / mean CPU time of the live filter chain alone per frame set
(``time.process_time``, 3 passes). "(previous)" rows are the earlier live chain (live_method "one_euro").

    PYTHONPATH=. python tools/bench/bench_tracking.py [--frames 2000] [--fps 60] [--bystanders 3]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from capture3d.body.bones import bone_lengths, tree_bones
from capture3d.config import FilterConfig, TrackingConfig, TriangulationConfig
from capture3d.reconstruct.filters import CausalPoseFilter, jitter
from capture3d.reconstruct.reconstructor import Reconstructor
from capture3d.body.keypoint_sets import BODY_25
from capture3d.synth import ErrorModel, make_rig
from capture3d.synth.scene import identity_of_pose, make_scene


def latency_frames(xyz: np.ndarray, truth: np.ndarray, max_lag: float = 6.0, step: float = 0.1) -> float:
    """Lag (frames, >= 0) minimizing the mean error between xyz(t) and truth(t - lag) (linear interpolation)."""
    T = truth.shape[0]
    best, best_err = 0.0, np.inf
    flat = truth.reshape(T, -1)
    for lag in np.arange(0.0, max_lag + 1e-9, step):
        k = int(np.floor(lag))
        f = lag - k
        shifted = np.full_like(flat, np.nan)
        shifted[k + 1:] = (1 - f) * flat[1:T - k] + f * flat[:T - k - 1]
        if f == 0:
            shifted[k:] = flat[:T - k]
        err = np.nanmean(np.linalg.norm(xyz.reshape(T, -1, 3) - shifted.reshape(T, -1, 3), axis=-1))
        if err < best_err:
            best, best_err = lag, err
    return best


def bone_cv(xyz: np.ndarray, bones: np.ndarray) -> float:
    L = bone_lengths(xyz, bones)
    n = np.isfinite(L).sum(0)
    ok = n >= 10
    return float(np.nanmean(np.nanstd(L[:, ok], 0) / np.nanmean(L[:, ok], 0)))


def filter_cost_us(cfg: FilterConfig, xyz: np.ndarray, fps: float, repeats: int = 3) -> tuple[float, float]:
    """(median, mean) CPU time of the causal filter chain alone per frame set on the tracked poses,
    microseconds (``time.process_time`` around each call, ``repeats`` passes over the sequence)."""
    per_frame = []
    for _ in range(repeats):
        f = CausalPoseFilter(cfg, tree_bones(BODY_25))
        for i, x in enumerate(xyz):
            t0 = time.process_time()
            f(x, i / fps)
            per_frame.append(time.process_time() - t0)
    us = np.array(per_frame) * 1e6
    return float(np.median(us)), float(us.mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=2000)
    ap.add_argument("--fps", type=float, default=60.0)
    ap.add_argument("--bystanders", type=int, default=3)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--occlusion", type=float, nargs=2, default=(10.0, 11.0), help="start stop, seconds")
    args = ap.parse_args()

    rig = make_rig(4, seed=1)
    model = ErrorModel(noise_px=2.0, missing=0.10, outliers=0.05, swaps=0.02)
    scene = make_scene(rig, args.frames, args.fps, args.bystanders, model, (tuple(args.occlusion),), args.seed)
    truth = scene.xyz_world[0]
    fps = args.fps
    bones = tree_bones(BODY_25)
    occ_end = int(np.ceil(args.occlusion[1] * fps))
    vis = scene.subject_visible
    off = FilterConfig(enabled=False)
    rows = [
        ("baseline: top score/view, no filter", TrackingConfig(enabled=False), off),
        ("+ tracker", TrackingConfig(swap_repair=False), off),
        ("+ L/R swap repair", TrackingConfig(), off),
        ("+ live: gate + one-euro (previous)", TrackingConfig(),
         FilterConfig(causal=True, live_method="one_euro", bone_lengths=False)),
        ("+ live: one-euro + bone lengths", TrackingConfig(), FilterConfig(causal=True, live_method="one_euro")),
        ("+ live: Kalman (causal)", TrackingConfig(), FilterConfig(causal=True, bone_lengths=False)),
        ("+ live: Kalman + bone lengths", TrackingConfig(), FilterConfig(causal=True)),
        ("+ offline: Hampel+gaps+Butterworth", TrackingConfig(), FilterConfig(bone_lengths=False)),
        ("+ offline + bone lengths", TrackingConfig(), FilterConfig()),
    ]
    print(f"scene: {args.frames} frames at {fps:g} fps, 4 cameras, {args.bystanders} bystanders, 2 px noise, "
          f"10% missing, 5% outliers, 2% swaps, occlusion {args.occlusion[0]:g}-{args.occlusion[1]:g} s; "
          f"truth jitter {jitter(truth, fps):.1f} m/s^2")
    head = (f"{'step':38s} {'bystander':>9s} {'switches':>8s} {'reacq':>5s} {'valid%':>6s} {'MPJPE mm':>8s} "
            f"{'jitter':>7s} {'boneCV%':>7s} {'lat fr':>6s} {'ms/fr':>6s} {'filt us':>7s} {'mean us':>7s}")
    print(head)
    print("-" * len(head))
    raw_tracked = None
    for name, tc, fc in rows:
        rec = Reconstructor(rig, BODY_25, TriangulationConfig(), tc, fc)
        t0 = time.process_time()
        k3 = rec.process_sequence(scene.keypoints2d, scene.times_s, fps)
        ms = (time.process_time() - t0) / args.frames * 1e3
        X = k3.xyz_world
        if name == "+ L/R swap repair":
            raw_tracked = X
        ident = identity_of_pose(X, scene.xyz_world)
        by = int((ident > 0).sum())
        switches = int(((ident[1:] > 0) & (ident[1:] != ident[:-1])).sum())
        after = np.flatnonzero(ident[occ_end:] == 0)
        reacq = str(int(after[0])) if after.size else "never"
        valid = np.isfinite(X).all(-1).any(-1) & vis
        err = np.linalg.norm(X - truth, axis=-1)[valid]
        lat = latency_frames(np.where((ident == 0)[:, None, None], X, np.nan), truth)
        cost = ""
        if fc.enabled and fc.causal and raw_tracked is not None:
            med_us, mean_us = filter_cost_us(fc, raw_tracked, fps)
            cost = f"{med_us:7.0f} {mean_us:7.0f}"
        print(f"{name:38s} {by:9d} {switches:8d} {reacq:>5s} {100 * valid.sum() / vis.sum():6.1f} "
              f"{np.nanmean(err) * 1e3:8.1f} {jitter(X, fps):7.1f} {100 * bone_cv(X, bones):7.2f} "
              f"{lat:6.1f} {ms:6.2f} {cost:>15s}")


if __name__ == "__main__":
    main()
