"""Benchmark the real-time pipeline: synthetic cameras -> capture -> sync -> 3D stage.

Default: 8 cameras x 1280x1024 Mono8 x 60 fps for 20 s, three runs side by side:

- ``pipeline live``: capture3d.runtime.pipeline in live mode (grab thread per camera, latest-value slot).
- ``pipeline offline``: the same cameras unpaced, every frame set processed (lossless queues).
- ``baseline sequential``: a naive single-threaded loop (grab camera 1..V in turn -> sync -> 3D).

Reported: sustained frame-set rate, latency from exposure to 3D result (p50/p95; the detector is the
synthetic one, a ground-truth lookup, and its time is excluded), drops, incomplete and mis-paired sets,
CPU (% of one core) and memory (RSS). ``--soak 600`` runs the live pipeline for 10 minutes and checks that
memory stays flat: RSS is sampled every 10 s after a 30 s warm-up and the median of the last tenth of the
samples must be within 5% of the median of the first tenth (single samples move by a frame set or two in
flight, ~10 MB at 8 x 1280x1024).

    PYTHONPATH=. python tools/bench/bench_pipeline.py                 # ~1 min
    PYTHONPATH=. python tools/bench/bench_pipeline.py --soak 600      # + 10 min soak
"""
from __future__ import annotations

import argparse
import logging
import resource
import time

import numpy as np

from capture3d.config import FilterConfig
from capture3d.detect import create_detector
from capture3d.runtime.meters import LatencyMeter
from capture3d.runtime.pipeline import Pipeline
from capture3d.reconstruct.reconstructor import Reconstructor
from capture3d.body.keypoint_sets import BODY_25
from capture3d.sources.synthetic import SyntheticSource
from capture3d.runtime.sync import FrameSetAssembler, mispaired
from capture3d.synth import ErrorModel


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def make(args, live: bool, max_frames: int | None = None):
    src = SyntheticSource(args.cameras, args.fps, (args.width, args.height), n_frames=600, seed=0, live=live,
                          max_frames=max_frames, color=False)
    det = create_detector("synthetic", rig=src.rig, motion=src.motion, error_model=ErrorModel(), seed=0)
    recon = Reconstructor(src.rig, BODY_25, filtering=FilterConfig(causal=True))
    return src, det, recon


def run_pipeline(args, mode: str, duration_s: float, soak: bool = False) -> dict:
    live = mode == "live"
    n = None if live else int(args.fps * duration_s)
    src, det, recon = make(args, live, n)
    pipe = Pipeline(src, det, recon, mode=mode, thumbnail_width=160 if live else 0, queue_size=32)
    samples = []
    peak = [rss_mb()]
    next_sample = [time.monotonic() + (30.0 if soak else 1.0)]

    def tick(p):
        now = time.monotonic()
        peak[0] = max(peak[0], rss_mb())
        if now >= next_sample[0]:
            samples.append((now - t0, rss_mb()))
            next_sample[0] = now + (10.0 if soak else 1.0)

    c0, t0 = cpu_s(), time.monotonic()
    pipe.run(duration_s if live else None, on_tick=tick)
    wall = time.monotonic() - t0
    st = pipe.stats()
    out = {"name": f"pipeline {mode}", "sets": st.sets, "processed": st.processed,
           "rate": st.processed / wall, "lat50": st.latency_3d_ms_p50, "lat95": st.latency_3d_ms_p95,
           "tot95": st.latency_ms_p95, "drops": st.drops, "incomplete": st.incomplete_sets,
           "mispaired": st.mispaired, "cpu": 100 * (cpu_s() - c0) / wall, "rss": peak[0], "samples": samples,
           "expected": int(args.fps * duration_s)}
    det.close()
    return out


def run_baseline(args, duration_s: float) -> dict:
    """Naive: one thread grabs camera 1..V in turn (each grab waits for its frame), then sync and 3D."""
    src, det, recon = make(args, True)
    asm = FrameSetAssembler([s.info.name for s in src.streams], src.fps, "trigger", 3)
    lat = LatencyMeter(100000)
    sets = processed = bad = incomplete = 0
    src.start()
    peak = rss_mb()
    c0, t0 = cpu_s(), time.monotonic()
    while time.monotonic() - t0 < duration_s:
        ready = []
        for s in src.streams:
            f = s.grab(1.0)
            if f is not None:
                ready += asm.add(f)
        for fs in ready:
            sets += 1
            bad += mispaired(fs)
            incomplete += not fs.complete
            t_det = time.perf_counter()
            kp = det.detect(fs.images, frame_index=fs.frames[0].metadata["frame_index"]).pose
            t_det = time.perf_counter() - t_det
            recon.process(kp, fs.time_s)
            lat.add(time.monotonic() - fs.time_s - t_det)
            processed += 1
            if processed % 30 == 0:
                peak = max(peak, rss_mb())
    wall = time.monotonic() - t0
    p50, p95 = lat.percentiles()
    det.close()
    return {"name": "baseline sequential", "sets": sets, "processed": processed, "rate": processed / wall,
            "lat50": p50, "lat95": p95, "tot95": p95, "drops": 0, "incomplete": incomplete, "mispaired": bad,
            "cpu": 100 * (cpu_s() - c0) / wall, "rss": peak, "samples": [],
            "expected": int(args.fps * duration_s)}


def bench_recording(args, n_sets: int = 20) -> list[str]:
    """Frames/s one SessionWriter sustains per codec (views encoded in parallel) on frames of this size."""
    import shutil
    import tempfile

    from capture3d.config import RecordingConfig
    from capture3d.io.recording import SessionWriter
    from capture3d.types import FrameSet

    src = SyntheticSource(args.cameras, args.fps, (args.width, args.height), live=False, color=False,
                          max_frames=n_sets)
    sets = [FrameSet(i, i, i / args.fps, tuple(s.grab(1.0) for s in src.streams)) for i in range(n_sets)]
    need = args.cameras * args.fps
    lines = [f"recording ({args.cameras} x {args.width}x{args.height}; {need:.0f} frames/s needed)"]
    for codec in ("mjpg", "png", "ffv1"):
        folder = tempfile.mkdtemp(prefix="bench_rec_")
        try:
            w = SessionWriter(f"{folder}/s", [s.info.name for s in src.streams], args.fps, RecordingConfig(codec=codec))
            t0 = time.perf_counter()
            for fs in sets:
                w.write(fs)
            w.close()
            rate = n_sets * args.cameras / (time.perf_counter() - t0)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        lines.append(f"  {codec:5s} {rate:7.0f} frames/s ({rate / args.cameras:5.1f} frame sets/s)")
    return lines


def table(rows: list[dict], args) -> str:
    head = (f"{'run':22s} {'sets/s':>8s} {'of':>6s} {'3D lat p50':>10s} {'p95 ms':>7s} {'drops':>6s} "
            f"{'incompl':>7s} {'mispair':>7s} {'CPU %':>6s} {'peak MB':>7s}")
    lines = [f"{args.cameras} cameras x {args.width}x{args.height} Mono8 x {args.fps:g} fps, {args.duration:g} s "
             "per run (latency: exposure -> 3D result, detector excluded)", head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['name']:22s} {r['rate']:8.1f} {args.fps:6.0f} {r['lat50']:10.2f} {r['lat95']:7.2f} "
                     f"{r['drops']:6d} {r['incomplete']:7d} {r['mispaired']:7d} {r['cpu']:6.0f} {r['rss']:7.0f}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cameras", type=int, default=8)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=1024)
    ap.add_argument("--fps", type=float, default=60.0)
    ap.add_argument("--duration", type=float, default=20.0, help="seconds per run (default 20)")
    ap.add_argument("--soak", type=float, default=0.0, help="also run the live pipeline this long (600 = 10 min)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rows = [run_pipeline(args, "live", args.duration), run_pipeline(args, "offline", args.duration),
            run_baseline(args, args.duration)]
    print(table(rows, args))
    off = rows[1]
    print(f"\noffline: {off['processed']} of {off['expected']} frame sets processed, drops {off['drops']}")
    print(f"live: total latency incl. the synthetic detector p95 {rows[0]['tot95']:.2f} ms\n")
    print("\n".join(bench_recording(args)))
    if args.soak:
        r = run_pipeline(args, "live", args.soak, soak=True)
        rss = np.array([m for _, m in r["samples"]])
        k = max(3, len(rss) // 10)
        first, last = np.median(rss[:k]), np.median(rss[-k:])
        growth = 100 * (last - first) / first
        set_mb = args.cameras * args.width * args.height / 2**20
        print(f"\nsoak {args.soak:g} s (live): {r['processed']} frame sets, rate {r['rate']:.1f}/s, 3D latency p95 "
              f"{r['lat95']:.2f} ms, drops {r['drops']}, mis-paired {r['mispaired']}")
        print(f"  RSS median of the first {k} samples {first:.0f} MB -> last {k} {last:.0f} MB: {growth:+.1f}% "
              f"({'flat' if abs(growth) <= 5 else 'NOT flat'}, limit 5%); min {rss.min():.0f}, max {rss.max():.0f} MB "
              f"(one frame set in flight = {set_mb:.1f} MB)")
        print("  RSS samples (s, MB): " + ", ".join(f"{t:.0f}:{m:.0f}" for t, m in r["samples"]))


if __name__ == "__main__":
    main()
