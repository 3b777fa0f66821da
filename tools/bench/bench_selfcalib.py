"""Benchmark: calibration and synchronization from the people in view (capture3d.calib.refine, .timesync).

Refinement: every camera of a rig bumped by 2 degrees and 5 cm (seeded random axes and directions), then
refined from one subject's 2D keypoints; rows for the unrefined (bumped) rig and the refined one: the
worst camera rotation (deg) and centre (cm) error after a similarity alignment to the truth, the median
held-out-view error (px) and the time. Synthetic: capture3d.synth rigs of 4, 6 and 8 cameras, a 100-frame
walk at 30 fps, 2 px noise, 10% missing, 5% outliers of 50-200 px. Real (with --real KP2D_DIR): Pose2Sim's
Trial_1 / Trial_2 detections (``capture3d detect .../videos/cam*.mp4 -o KP2D_DIR/Trial_1``: every
person, top-down MediaPipe heavy by default) with the Qualisys rig as the truth; the subject is chosen in
each view by capture3d's tracker (with the bumped rig for refinement, the true rig for the sync rows).

Synchronization: views shifted by known offsets; capture3d's cross-view epipolar consistency (with the
rig) vs keypoint-speed cross-correlation (no rig): worst offset error (frames) and how many cameras were
reported reliable. Synthetic: 300 frames, sub-frame offsets, 3 seeds. Real: whole-frame shifts of up to
30 frames of the 100-frame trials.

Run (from the repository root; one core is enough)::

    PYTHONPATH=. python tools/bench/bench_selfcalib.py [--real /tmp/kp2d]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from capture3d.calib.refine import rig_errors_px, refine_rig, subject_keypoints
from capture3d.calib.rig_compare import compare_rigs, perturb_rig
from capture3d.calib.timesync import offsets_from_geometry, offsets_from_speed
from capture3d.reconstruct.offsets import apply_offsets
from capture3d.synth import ErrorModel, make_rig, observe, walking_motion

NOISE = ErrorModel(noise_px=2.0, missing=0.1, outliers=0.05, swaps=0.0)
QUALISYS = Path(__file__).resolve().parents[3] / "shared" / "data" / "pose2sim" / "Demo_Batch"


def refine_row(label: str, truth, bumped, kp) -> list[str]:
    t0 = time.perf_counter()
    res = refine_rig(bumped, kp)
    dt = time.perf_counter() - t0
    rows = []
    for name, rig, held in (("unrefined", bumped, res.held_out_before_px), ("refined", res.rig, res.held_out_after_px)):
        d = compare_rigs(rig, truth)
        rows.append(f"{label:<22} {name:<10} {d.rotation_deg.max():8.3f} {100 * d.center_m.max():8.2f} "
                    f"{held:10.2f} {dt if name == 'refined' else 0:7.1f}")
    return rows


def bench_refine(real: Path | None) -> None:
    print("refinement (all cameras bumped by 2 deg / 5 cm); errors after similarity alignment to the truth")
    print(f"{'data':<22} {'rig':<10} {'rot deg':>8} {'ctr cm':>8} {'held px':>10} {'time s':>7}")
    walk = walking_motion(100, 30.0)
    for V in (4, 6, 8):
        rig = make_rig(V, seed=1)
        kp = observe(rig, walk.xyz_world, NOISE, 7, walk.keypoint_set).keypoints_px
        for line in refine_row(f"synthetic {V} cameras", rig, perturb_rig(rig, 2.0, 0.05, seed=3), kp):
            print(line)
    if real is not None:
        from capture3d.io.rig_files import load_rig
        from capture3d.reconstruct.folders import load_views

        truth = load_rig(QUALISYS / "calibration" / "Calib.qca.txt")
        for trial in ("Trial_1", "Trial_2"):
            kp, _, kps = load_views([real / trial / f"cam0{i}" for i in range(1, 5)], 4)
            bumped = perturb_rig(truth, 2.0, 0.05, seed=3)
            held_truth = rig_errors_px(truth, subject_keypoints(truth, kp, kps), 0.3)[1]
            print(f"{'Pose2Sim ' + trial:<22} {'Qualisys':<10} {0:8.3f} {0:8.2f} {held_truth:10.2f} {0:7.1f}")
            for line in refine_row(f"Pose2Sim {trial}", truth, bumped, subject_keypoints(bumped, kp, kps)):
                print(line)


def _shifted(rig, true, n_frames, seed):
    up, pad = 10, 40
    walk = walking_motion((n_frames + 2 * pad) * up, 30.0 * up)
    views = []
    for v in range(len(rig)):
        idx = np.round((np.arange(n_frames) + pad - true[v]) * up).astype(int)
        views.append(observe(rig, walk.xyz_world[idx], NOISE, seed + v, walk.keypoint_set).keypoints_px[v])
    return np.stack(views)


def sync_rows(label: str, rig, views, true) -> None:
    for name, fn in (("cross-view (capture3d)", lambda: offsets_from_geometry(rig, views, 30)),
                     ("speed xcorr (baseline)", lambda: offsets_from_speed(views, 30))):
        t0 = time.perf_counter()
        r = fn()
        err = np.abs(r.offsets - true)
        wrong_sure = int((r.reliable & (err > 1)).sum())
        print(f"{label:<32} {name:<24} {err.max():9.2f} {int(r.reliable[1:].sum()):3d}/{len(true) - 1} "
              f"{wrong_sure:6d} {time.perf_counter() - t0:7.2f}  {' '.join(f'{e:.1f}' for e in err[1:])}")


def bench_sync(real: Path | None) -> None:
    print("\nsynchronization: worst offset error (frames), cameras reported reliable, of them wrong by > 1 frame")
    print(f"{'data':<32} {'method':<24} {'max err':>9} {'ok':>5} {'wrong':>6} {'time s':>7}  per camera")
    for V, seeds in ((4, (7, 17, 27)), (8, (7,))):
        rig = make_rig(V, seed=1)
        for seed in seeds:
            true = np.r_[0.0, np.random.default_rng(seed).uniform(-25, 25, V - 1).round(1)]
            sync_rows(f"synthetic {V} cams, seed {seed}", rig, _shifted(rig, true, 300, seed), true)
    if real is not None:
        from capture3d.io.rig_files import load_rig
        from capture3d.reconstruct.folders import load_views

        rig = load_rig(QUALISYS / "calibration" / "Calib.qca.txt")
        for trial in ("Trial_1", "Trial_2"):
            kp, _, kps = load_views([real / trial / f"cam0{i}" for i in range(1, 5)], 4)
            subject = subject_keypoints(rig, kp, kps)  # one person per view (the detections may hold several)
            for shift in ((0, 0, 0, 0), (0, 17, -23, 30), (0, -30, 11, -5)):
                true = np.array(shift, float)
                sync_rows(f"Pose2Sim {trial} {shift}", rig, apply_offsets(subject, -true), true)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real", type=Path, default=None, metavar="KP2D_DIR",
                    help="folder with Trial_1/ and Trial_2/ MediaPipe detections (cam01..cam04 each)")
    ap.add_argument("--only", choices=("refine", "sync"), default=None)
    args = ap.parse_args()
    if args.only != "sync":
        bench_refine(args.real)
    if args.only != "refine":
        bench_sync(args.real)


if __name__ == "__main__":
    main()
