"""Views through the detector together: one batched call (or a thread pool) for all views of a frame set
against one view at a time, per detector, on the shared Pose2Sim Demo_Batch trials (4 x 1088x1920), in one run.

Rows (each: the same frames, the same detector options, only the way the views are handed over differs):

  openpose-mobilenet opencv   the PAF network through OpenCV DNN: the 4 views as one (4, 3, H, W) blob vs 4 calls
  openpose-mobilenet torch    the same weights in torch (the GPU engine, here on the CPU or CUDA when present):
                              batched vs 4 calls (the runner batches on a GPU only: 4 calls won on the CPU)
  mediapipe full              whole views, one person (the live default): the views of a set in a pool of
                              1 thread (one after the other) vs 2 vs 4 threads (MediaPipe releases the GIL
                              while its graph runs)
  mediapipe heavy top-down    the detect/process default (PAF people, then BlazePose heavy on each person's
                              crop): its crops in a pool of 1 vs 2 threads (Trial_2: three people per view)

Columns: ms per frame set (4 views; median over the timed sets after one warm-up set), ms per view, and the
speed-up over one view at a time. The machine's load (uptime) is printed with the table: compare the rows
of one run, not runs.

    python tools/bench/bench_views.py [--sets 12]
"""
from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from capture3d.detect import create_detector  # noqa: E402

TRIALS = "pose2sim/Demo_Batch"


def load_sets(data: Path, trial: str, n_sets: int) -> list[list[np.ndarray]]:
    """n_sets frame sets (lists of 4 BGR images) of a trial, decoded once before any timing."""
    videos = [data / TRIALS / trial / "videos" / f"cam0{i}.mp4" for i in (1, 2, 3, 4)]
    caps = [cv2.VideoCapture(str(v)) for v in videos]
    try:
        sets = [[c.read()[1] for c in caps] for _ in range(n_sets)]
    finally:
        for c in caps:
            c.release()
    if any(f is None for frames in sets for f in frames):
        raise SystemExit(f"bench_views: cannot read {n_sets} frames of every video of {trial}")
    return sets


def time_sets(call, sets: list[list[np.ndarray]]) -> float:
    """Median ms of call(frame set) over sets[1:] (sets[0] warms up)."""
    times = []
    for i, frames in enumerate(sets):
        t0 = time.perf_counter()
        call(frames)
        if i:
            times.append(time.perf_counter() - t0)
    return 1000 * float(np.median(times))


def openpose_rows(sets, engine: str) -> list[tuple[str, str, float]]:
    with create_detector("openpose-mobilenet", engine=engine) as det:
        one = time_sets(lambda frames: [det.detect([f]) for f in frames], sets)
        if engine == "torch":
            det._torch.batch = True  # the GPU's choice, measured here on this device
        batched = time_sets(det.detect, sets)
        label = f"openpose-mobilenet {engine}" + (f" {det._torch.device.type}" if engine == "torch" else "")
    return [(label, "one view per call", one), (label, "4 views in one call", batched)]


def mediapipe_rows(sets, label: str, options: dict, workers: tuple[int, ...]) -> list[tuple[str, str, float]]:
    rows = []
    for n in workers:
        with create_detector("mediapipe", workers=n, **options) as det:
            rows.append((label, f"pool of {n} thread{'s' if n > 1 else ''}", time_sets(det.detect, sets)))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data", help="the shared data folder")
    ap.add_argument("--sets", type=int, default=12, help="frame sets timed per row (after one warm-up set)")
    args = ap.parse_args(argv)
    if not (args.data / TRIALS).is_dir():
        raise SystemExit(f"bench_views: {args.data / TRIALS} not found (expected the shared Pose2Sim Demo_Batch)")
    trial1 = load_sets(args.data, "Trial_1", args.sets + 1)
    trial2 = load_sets(args.data, "Trial_2", args.sets + 1)
    load_before = os.getloadavg()
    started = datetime.datetime.now(datetime.timezone.utc)
    rows = openpose_rows(trial1, "opencv") + openpose_rows(trial1, "torch")
    rows += mediapipe_rows(trial1, "mediapipe full (live)", {"model_complexity": 1, "person_detector": "none"},
                           (1, 2, 4))
    rows += mediapipe_rows(trial2, "mediapipe heavy top-down", {}, (1, 2))
    load_after = os.getloadavg()
    print(f"bench_views.py --sets {args.sets}: {started:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, "
          f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after")
    print(f"{'detector':<28} {'views handed over':<20} {'ms/set':>8} {'ms/view':>8} {'speed-up':>8}")
    base: dict[str, float] = {}
    for name, how, ms in rows:
        base.setdefault(name, ms)
        print(f"{name:<28} {how:<20} {ms:>8.1f} {ms / 4:>8.1f} {base[name] / ms:>7.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
