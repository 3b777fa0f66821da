"""Export benchmark: 10 minutes at 60 fps (36,000 frames) to BVH and C3D (and the other formats).

Data: capture3d.synth.walking_motion (BODY_25, and WHOLEBODY_135 with hands for the BVH rows).
Rows:
  capture3d write_bvh / read_bvh   the batch writer (vectorized over frames) and the FK reader
  per-frame loop (baseline)        the same solver called one frame at a time (BVHStreamWriter with
                                   batch_frames=1), timed on --loop-frames frames and extrapolated
  bvh (PyPI) parse (baseline)      the third-party ``bvh`` parser reading our file and pulling every
                                   channel (timed on --pypi-frames frames and extrapolated)
  write_c3d / read_c3d, trc, csv, json   for context
Timing: best of --repeats, wall time and this process's CPU time (less disturbed on a busy machine).

  PYTHONPATH=. python tools/bench/bench_export.py [--frames 36000] [--fps 60]
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from capture3d.export import FORMATS  # noqa: E402
from capture3d.export.bvh import BVHStreamWriter, read_bvh, write_bvh  # noqa: E402
from capture3d.synth import walking_motion  # noqa: E402
from capture3d.types import Keypoints3D  # noqa: E402

warnings.filterwarnings("ignore", message="No analog data found")


def timed(fn, repeats: int = 1):
    best_w, best_c, out = float("inf"), float("inf"), None
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        best_w, best_c = min(best_w, time.perf_counter() - w), min(best_c, time.process_time() - c)
    return best_w, best_c, out


def per_frame_loop(path: Path, motion, n: int) -> None:
    w = BVHStreamWriter(path, motion.keypoint_set, motion.fps, rest_frames=30, batch_frames=1)
    for xyz in motion.xyz_world[:n]:
        w.append(xyz)
    w.close()


def pypi_parse(path: Path) -> int:
    import bvh  # noqa: PLC0415
    mocap = bvh.Bvh(path.read_text())
    names = mocap.get_joints_names()
    total = 0
    for name in names:
        total += len(mocap.frames_joint_channels(name, mocap.joint_channels(name)))
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=36000)
    ap.add_argument("--fps", type=float, default=60.0)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--loop-frames", type=int, default=600)
    ap.add_argument("--pypi-frames", type=int, default=300)
    args = ap.parse_args()
    T = args.frames
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="bench_export_"))
    for hands in (False, True):
        m = walking_motion(T, args.fps, whole_body=hands)
        kp = Keypoints3D.from_positions(m.xyz_world, m.fps, m.keypoint_set)
        tag = "WHOLEBODY_135 + hands" if hands else "BODY_25"
        path = tmp / f"w_{int(hands)}.bvh"
        w, c, _ = timed(lambda: write_bvh(path, kp), args.repeats)
        size = path.stat().st_size / 1e6
        rows.append((f"capture3d write_bvh ({tag})", T, w, c, f"{size:.0f} MB"))
        w, c, back = timed(lambda: read_bvh(path), args.repeats)
        n_kp = 65 if hands else 25
        err = 1e3 * np.max(np.linalg.norm(back.xyz_world[:, :n_kp] - m.xyz_world[:, :n_kp], axis=-1))
        rows.append((f"capture3d read_bvh, FK ({tag})", T, w, c, f"max FK err {err:.4f} mm"))
        n = min(args.loop_frames, T)
        w, c, _ = timed(lambda: per_frame_loop(tmp / "loop.bvh", m, n))
        rows.append((f"per-frame loop writer, baseline ({tag})", T, w * T / n, c * T / n, f"extrapolated from {n}"))
        n = min(args.pypi_frames, T)
        small = write_bvh(tmp / "small.bvh", Keypoints3D.from_positions(m.xyz_world[:n], m.fps, m.keypoint_set))
        w, c, _ = timed(lambda: pypi_parse(small))
        rows.append((f"bvh (PyPI) parse, baseline ({tag})", T, w * T / n, c * T / n, f"extrapolated from {n}"))
    m = walking_motion(T, args.fps)
    kp = Keypoints3D.from_positions(m.xyz_world, m.fps, m.keypoint_set)
    for fmt in ("c3d", "trc", "csv", "json"):
        suffix, writer, reader = FORMATS[fmt]
        p = tmp / f"x{suffix}"
        w, c, _ = timed(lambda: writer(p, kp), args.repeats)
        rows.append((f"write_{fmt} (BODY_25)", T, w, c, f"{p.stat().st_size / 1e6:.0f} MB"))
        w, c, _ = timed(lambda: reader(p), args.repeats)
        rows.append((f"read_{fmt} (BODY_25)", T, w, c, ""))
    print(f"\n{T} frames at {args.fps:g} fps ({T / args.fps / 60:.1f} min); target: BVH export < 10 s\n")
    print(f"{'what':56s} {'frames':>7s} {'wall s':>8s} {'cpu s':>8s} {'frames/s':>10s}  note")
    for name, n, w, c, note in rows:
        print(f"{name:56s} {n:7d} {w:8.2f} {c:8.2f} {n / w:10.0f}  {note}")
    for f in tmp.iterdir():
        f.unlink()
    tmp.rmdir()


if __name__ == "__main__":
    main()
