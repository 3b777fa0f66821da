"""2D detectors on real footage: every detector and model on the shared Pose2Sim trials, one table.

Data: ../shared/data/pose2sim/Demo_Batch Trial_1 (one participant, a person in the background of two views)
and Trial_2 (two participants close together, a third person behind: the same take as Demo_MultiPerson),
4 cameras 1088x1920 at 60 fps, 100 frames, the Qualisys rig Calib.qca.txt. No 2D ground truth exists, so
the table shows what the rig can check:

  held-out px     for every frame and every view h: the people of the other three views are grouped into
                  3D people (every combination of one person per view; the combinations of lowest mean
                  reprojection error first, each 2D person used once, kept when it reprojects within 25 px
                  with >= 6 joints), each is projected into h and compared with the person of h nearest to
                  it; median and p95 over joints (shoulders, elbows, wrists, hips, knees, ankles: the joints
                  every keypoint set has), detections with score >= 0.3
  3D people       such 3D people per frame and held-out view (Trial_1: 1 participant; Trial_2: 2; the
                  person in the background of Trial_1 is seen by two views only)
  gross %         of those joint errors > 50 px
  unseen %        3D people with no person near them in h (median joint distance > 200 px)
  L/R swap %      limb pairs (shoulders ... ankles) whose projected left joint is nearer the detected right
                  one and vice versa
  people/view     people with >= 6 of those joints per view and frame
  ms/view b1, b4  wall-clock detection time per view at one view per call and at 4 views per call (cam01
                  alone for b1, on the first --timing-frames frames)

  .venv/bin/python tools/bench/bench_2d.py                        # every row, both trials, 100 frames
  .venv/bin/python tools/bench/bench_2d.py --rows mp-heavy,paf --frames 50 --trials Trial_1
  .venv/bin/python tools/bench/bench_2d.py --people-cost 30       # only: the PAF network's cost per view
                                                                  # with 1, 2 and 3 people in view

Rows (``--rows``): mp-lite, mp-full, mp-heavy (MediaPipe Pose on each whole view, one person per view:
the old default); paf (openpose-mobilenet, net height 368); paf-480 (net height 480); td-full, td-heavy
(MediaPipe top-down on every person the PAF network finds: the multi-person default path).
"""
from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np

from capture3d import load_rig, triangulate
from capture3d.body.keypoint_sets import BODY_25
from capture3d.detect import create_detector

ROWS = {
    "mp-lite": ("mediapipe", {"model_complexity": 0, "person_detector": None}),
    "mp-full": ("mediapipe", {"model_complexity": 1, "person_detector": None}),
    "mp-heavy": ("mediapipe", {"model_complexity": 2, "person_detector": None}),
    "paf": ("openpose-mobilenet", {}),
    "paf-480": ("openpose-mobilenet", {"net_height": 480}),
    "td-full": ("mediapipe", {"model_complexity": 1}),
    "td-heavy": ("mediapipe", {"model_complexity": 2}),
}
LIMBS = ("Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle")
JOINTS = [BODY_25.index(side + name) for name in LIMBS for side in ("R", "L")]  # R, L alternate
MIN_SCORE, GROSS_PX, ACCEPT_PX = 0.3, 50.0, 25.0


def read_frames(videos: list[Path], n_frames: int):
    """Yield lists of V BGR frames, frame by frame."""
    caps = [cv2.VideoCapture(str(v)) for v in videos]
    try:
        for _ in range(n_frames):
            frames = [c.read()[1] for c in caps]
            if any(f is None for f in frames):
                return
            yield frames
    finally:
        for c in caps:
            c.release()


def detect_all(name: str, options: dict, videos: list[Path], n_frames: int) -> tuple[list[np.ndarray], float]:
    """-> per frame (V, P, 12, 3) x, y, score of JOINTS; ms per view at 4 views per call."""
    out, seconds = [], 0.0
    with create_detector(name, **options) as det:
        for frames in read_frames(videos, n_frames):
            t = time.perf_counter()
            res = det.detect(frames)
            seconds += time.perf_counter() - t
            out.append(res.keypoints_in(BODY_25)[:, :, JOINTS])
    return out, 1000 * seconds / max(1, len(out) * len(videos))


def time_one_view(name: str, options: dict, video: Path, n_frames: int) -> float:
    """ms per call of one view (after one warm-up call)."""
    with create_detector(name, **options) as det:
        times = []
        for i, frames in enumerate(read_frames([video], n_frames + 1)):
            t = time.perf_counter()
            det.detect(frames)
            if i:
                times.append(time.perf_counter() - t)
    return 1000 * float(np.mean(times))


def _people(pose_v: np.ndarray) -> np.ndarray:
    """(P, 12, 3) -> the people with >= 6 joints scoring >= MIN_SCORE, missing joints NaN / 0."""
    p = pose_v.copy()
    low = ~(p[..., 2] >= MIN_SCORE)
    p[low] = (np.nan, np.nan, 0.0)
    return p[(~low).sum(-1) >= 6]


def held_out_frame(rig, pose: np.ndarray, stats: dict) -> None:
    """pose: (V, P, 12, 3) of one frame; adds to stats' lists."""
    V = pose.shape[0]
    people = [_people(pose[v]) for v in range(V)]
    for h in range(V):
        others = [v for v in range(V) if v != h]
        combos = list(itertools.product(*[range(len(people[v])) for v in others]))
        stats["people3d"].append(0)
        if not combos or not len(people[h]):
            continue
        kp = np.full((V, len(combos), len(JOINTS), 3), np.nan)
        kp[..., 2] = 0.0
        for n, c in enumerate(combos):
            for v, i in zip(others, c):
                if i >= 0:
                    kp[v, n] = people[v][i]
        res = triangulate(rig, kp)
        # the error in every view of the combination (the robust solver's own error leaves out the views it
        # rejects, which would let a combination that mixes people look consistent)
        d = np.stack([np.linalg.norm(rig.cameras[v].project(res.xyz_world) - kp[v, ..., :2], axis=-1) for v in others])
        ok = np.isfinite(d)
        err = np.where(ok.any((0, 2)), np.where(ok, d, 0.0).sum((0, 2)) / np.maximum(ok.sum((0, 2)), 1), np.inf)
        n_ok = np.isfinite(res.xyz_world).all(-1).sum(-1)
        used: set[tuple[int, int]] = set()
        for n in np.argsort(np.where(np.isfinite(err), err, np.inf)):
            if not err[n] <= ACCEPT_PX:
                break
            if n_ok[n] < 6:
                continue
            keys = {(v, i) for v, i in zip(others, combos[n]) if i >= 0}
            if keys & used:
                continue
            used |= keys
            proj = rig.cameras[h].project(res.xyz_world[n])  # (12, 2)
            d = np.linalg.norm(people[h][:, :, :2] - proj[None], axis=-1)  # (P_h, 12)
            med = np.array([np.nanmedian(r) if np.isfinite(r).sum() >= 3 else np.inf for r in d])
            if not np.isfinite(med).any() or med.min() > 4 * GROSS_PX:
                stats["unseen"] += 1
                continue
            stats["seen"] += 1
            stats["people3d"][-1] += 1
            best = d[int(np.argmin(med))]
            stats["err"].extend(best[np.isfinite(best)].tolist())
            det = people[h][int(np.argmin(med))]
            for k in range(0, len(JOINTS), 2):  # R, L
                r, l = det[k, :2], det[k + 1, :2]
                if np.isfinite(r).all() and np.isfinite(l).all() and np.isfinite(proj[k]).all() and np.isfinite(proj[k + 1]).all():
                    straight = np.linalg.norm(proj[k] - r) + np.linalg.norm(proj[k + 1] - l)
                    crossed = np.linalg.norm(proj[k] - l) + np.linalg.norm(proj[k + 1] - r)
                    stats["pairs"] += 1
                    stats["swaps"] += int(crossed < straight)


def evaluate(rig, poses: list[np.ndarray]) -> dict:
    stats = {"err": [], "seen": 0, "unseen": 0, "pairs": 0, "swaps": 0, "people3d": []}
    people = []
    for pose in poses:
        held_out_frame(rig, pose, stats)
        people.extend(len(_people(pose[v])) for v in range(pose.shape[0]))
    e = np.array(stats["err"])
    return {"median": float(np.median(e)) if len(e) else np.nan, "p95": float(np.percentile(e, 95)) if len(e) else np.nan,
            "gross": 100.0 * float((e > GROSS_PX).mean()) if len(e) else np.nan,
            "unseen": 100.0 * stats["unseen"] / max(1, stats["seen"] + stats["unseen"]),
            "swaps": 100.0 * stats["swaps"] / max(1, stats["pairs"]), "people": float(np.mean(people)),
            "people3d": float(np.mean(stats["people3d"]))}


def people_cost(data: Path, n_frames: int) -> None:
    """The PAF network's time per view (network, decoding) on views with 1, 2 and 3 people: Trial_1 cam03 +
    cam04 (the participant), Trial_2 cam03 + cam04 (both participants), Trial_2 cam01 + cam02 (both and the
    person behind)."""
    cases = (("1", "Trial_1", ("cam03", "cam04")), ("2", "Trial_2", ("cam03", "cam04")),
             ("3", "Trial_2", ("cam01", "cam02")))
    print(f"{'people':>6} {'views':<14} {'found/view':>10} {'network ms/view':>15} {'decode ms/view':>14}")
    with create_detector("openpose-mobilenet") as det:
        for label, trial, cams in cases:
            videos = [data / trial / "videos" / f"{c}.mp4" for c in cams]
            net = dec = 0.0
            found = []
            for frames in read_frames(videos, n_frames):
                res = det.detect(frames)
                net += res.timings_s.get("inference", 0.0)
                dec += res.timings_s.get("postprocess", 0.0)
                found.append(((res.pose[..., 2] > 0).sum(-1) >= 6).sum(-1).mean())
            n = max(1, len(found) * len(cams))
            print(f"{label:>6} {trial + ' ' + '+'.join(c[-2:] for c in cams):<14} {np.mean(found):>10.2f} "
                  f"{1000 * net / n:>15.1f} {1000 * dec / n:>14.1f}", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    root = Path(__file__).resolve().parents[2]
    parser.add_argument("--data", type=Path, default=root.parent / "shared" / "data" / "pose2sim" / "Demo_Batch")
    parser.add_argument("--trials", default="Trial_1,Trial_2")
    parser.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated, of {', '.join(ROWS)}")
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--timing-frames", type=int, default=20)
    parser.add_argument("--csv", type=Path, help="also write the table as CSV")
    parser.add_argument("--people-cost", type=int, metavar="FRAMES",
                        help="only time the PAF network on views with 1, 2 and 3 people, over FRAMES frames")
    args = parser.parse_args(argv)
    rows = args.rows.split(",")
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        parser.error(f"unknown row(s) {', '.join(unknown)}; rows: {', '.join(ROWS)}")
    if not args.data.is_dir():
        parser.error(f"shared Pose2Sim data not found at {args.data}")
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"# bench_2d  {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC  {os.cpu_count()} CPUs  uptime: {load}")
    print(f"# {' '.join(sys.argv)}")
    if args.people_cost:
        people_cost(args.data, args.people_cost)
        print(f"# uptime at the end: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
        return 0
    header = (f"{'trial':<8} {'row':<9} {'held-out med px':>15} {'p95 px':>7} {'gross %':>7} {'3D people':>9} {'unseen %':>8} "
              f"{'L/R swap %':>10} {'people/view':>11} {'ms/view b1':>10} {'ms/view b4':>10}")
    print(header)
    lines = []
    for trial in args.trials.split(","):
        folder = args.data / trial
        rig = load_rig(args.data / "calibration" / "Calib.qca.txt")
        videos = sorted((folder / "videos").glob("cam*.mp4"))
        for row in rows:
            name, options = ROWS[row]
            poses, ms4 = detect_all(name, options, videos, args.frames)
            ms1 = time_one_view(name, options, videos[0], args.timing_frames)
            r = evaluate(rig, poses)
            line = (f"{trial:<8} {row:<9} {r['median']:>15.1f} {r['p95']:>7.1f} {r['gross']:>7.1f} {r['people3d']:>9.2f} {r['unseen']:>8.1f} "
                    f"{r['swaps']:>10.1f} {r['people']:>11.2f} {ms1:>10.1f} {ms4:>10.1f}")
            print(line, flush=True)
            lines.append((trial, row, r, ms1, ms4))
    print(f"# uptime at the end: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    if args.csv:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        with open(args.csv, "w", encoding="utf-8") as fh:
            fh.write("trial,row,heldout_median_px,heldout_p95_px,gross_pct,people3d,unseen_pct,lr_swap_pct,people_per_view,"
                     "ms_per_view_b1,ms_per_view_b4\n")
            for trial, row, r, ms1, ms4 in lines:
                fh.write(f"{trial},{row},{r['median']:.2f},{r['p95']:.2f},{r['gross']:.2f},{r['people3d']:.2f},{r['unseen']:.2f},"
                         f"{r['swaps']:.2f},{r['people']:.3f},{ms1:.2f},{ms4:.2f}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
