"""Live at camera rate: every-frame detection vs keyframes + tracking, preloaded replay vs video decoding, on
the shared Pose2Sim Demo_Batch Trial_1 (4 x 1080x1920 @ 60 fps, 100 frames, looped), in one run.

Every live row is assembled by ``capture3d.runtime.app.build_live``, the function ``capture3d live`` runs
(tests/test_bench_live.py checks the two assemble the same stages and options), from a config that differs
between rows only in [pipeline] keyframes and [source] preload; the CLI's thread switch interval too.

Columns: complete 3D sets/s (processed frame sets with every view, per second), latency p50/p95 (frame due
time -> 3D result, ms), held-out-view error (each view blanked in turn, the other three triangulated and
projected into it: median px against its 2D keypoints, over the run's results), the keyframe interval and
views detected / tracked, the limiting stage. The decode-only row: the four videos decoded by four threads
as fast as they go (frame sets/s), the ceiling of a video replay on this machine.

Accuracy on the same frames (offline, every frame set of the clip, ``capture3d process``'s assembly): every
frame detected vs keyframes every N sets (N: the interval auto chose in the live keyframe row), held-out
error of each and the median 3D distance between the two results (mm).

    python tools/bench/bench_live.py [--seconds 15]
"""
from __future__ import annotations

import argparse
import datetime
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from capture3d.config import config_from_dict  # noqa: E402
from capture3d.geometry.triangulate import triangulate  # noqa: E402
from capture3d.reconstruct.quality import held_out_errors_px  # noqa: E402

TRIAL = "pose2sim/Demo_Batch"


def data_dir() -> Path:
    return Path(os.environ.get("CAPTURE3D_SHARED_DATA", ROOT.parents[0] / "shared" / "data"))


def trial_paths(data: Path) -> tuple[list[str], str]:
    trial = data / TRIAL
    return sorted(str(p) for p in (trial / "Trial_1" / "videos").glob("cam*.mp4")), \
        str(trial / "calibration" / "Calib.qca.txt")


def live_config(videos: list[str], rig: str, keyframes: bool, preload: bool, detect_every="auto"):
    """The config of one live row: what a user writes for ``capture3d live`` on these videos."""
    return config_from_dict({
        "source": {"kind": "opencv", "cameras": videos, "names": [Path(v).stem for v in videos],
                   "realtime": True, "loop": True, "preload": preload},
        "pipeline": {"mode": "live", "detector": "mediapipe", "rig": rig,
                     "keyframes": "live" if keyframes else "off", "detect_every": detect_every}})


def build(cfg):
    """The live application of cfg, exactly as ``capture3d live`` builds it."""
    from capture3d.runtime.app import build_live  # noqa: PLC0415
    return build_live(cfg)


def held_out_median_px(rig, kp: np.ndarray) -> float:
    """kp: (V, T, J, 3) the 2D keypoints used per view -> median held-out-view error, px."""
    if kp.shape[1] == 0:
        return float("nan")
    err = held_out_errors_px(rig, kp, kp, lambda k: triangulate(rig, k, robust=True).xyz_world)
    return float(np.nanmedian(err))


def _collect(pipe):
    """Hook the pipeline to keep each result's 2D keypoints and whether its set had every view."""
    kept, complete = [], {}
    pipe.collect = True
    pipe.on_result = lambda snap: kept.append((snap.index, snap.keypoints2d))
    pipe.on_frame_set = lambda fs: complete.__setitem__(fs.index, bool(fs.present.all()))
    return kept, complete


def live_row(label: str, cfg, seconds: float) -> dict:
    from capture3d.runtime.app import thread_switch_interval  # noqa: PLC0415
    t0 = time.perf_counter()
    app = build(cfg)
    prepare_s = time.perf_counter() - t0
    pipe = app.pipeline
    kept, complete = _collect(pipe)
    with thread_switch_interval():
        try:
            pipe.run(duration_s=seconds)
        finally:
            app.close()
    st = pipe.stats()
    n_complete = sum(complete.get(i, False) for i, _ in pipe.results)
    kp = np.stack([k for _, k in kept if k is not None], axis=1) if kept else np.zeros((len(app.rig), 0, 25, 3))
    return {"row": label, "prepare_s": prepare_s, "complete_s": n_complete / st.elapsed_s, "results": st.processed,
            "p50": st.latency_ms_p50, "p95": st.latency_ms_p95, "held_out": held_out_median_px(app.rig, kp),
            "every": st.keyframe_every, "detected": st.views_detected, "tracked": st.views_tracked,
            "redetect": st.redetections, "limit": st.limited_by, "skipped": st.dropped_sets,
            "incomplete": st.incomplete_sets, "detect_ms": st.detect_ms_p50}


def decode_only(videos: list[str], seconds: float) -> dict:
    """The four videos decoded by four threads as fast as they go, looping: frame sets/s."""
    import cv2  # noqa: PLC0415
    counts = [0] * len(videos)
    stop = threading.Event()

    def read(i: int) -> None:
        cap = cv2.VideoCapture(videos[i])
        cap.set(cv2.CAP_PROP_N_THREADS, 1) if hasattr(cv2, "CAP_PROP_N_THREADS") else None
        while not stop.is_set():
            ok, _ = cap.read()
            if not ok:
                cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                continue
            counts[i] += 1
        cap.release()

    threads = [threading.Thread(target=read, args=(i,)) for i in range(len(videos))]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return {"row": "decode only (4 threads, no detection)", "complete_s": min(counts) / (time.perf_counter() - t0)}


def offline_run(videos: list[str], rig: str, every: int | None, detector_options: dict | None = None):
    """Every frame set of the clip through ``capture3d process``'s assembly with the live detector options
    (``LIVE_MEDIAPIPE`` under detector_options): (rig, kp (V, T, J, 3), xyz (T, J, 3)) with the detector on
    every set (every None) or keyframes every ``every`` sets."""
    from capture3d.runtime.app import LIVE_MEDIAPIPE, build_process  # noqa: PLC0415
    # the live rows' detector (MediaPipe full on whole views), not process's default (top-down heavy)
    options = {**LIVE_MEDIAPIPE, **(detector_options or {})}
    cfg = config_from_dict({"pipeline": {"detector": "mediapipe", "keyframes": "off" if every is None else "always",
                                         "detect_every": every or 1, "detector_options": options}})
    app = build_process(cfg, videos, rig_path=rig)
    kept, _ = _collect(app.pipeline)
    try:
        app.pipeline.run()
    finally:
        app.close()
    order = sorted(range(len(kept)), key=lambda i: kept[i][0])
    kp = np.stack([kept[i][1] for i in order], axis=1)
    xyz = np.stack([p.xyz_world for _, p in sorted(app.pipeline.results, key=lambda r: r[0])])
    return app.rig, kp, xyz


def _f(v, fmt=".1f") -> str:
    return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else format(v, fmt)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=15.0, help="seconds per live row (default 15)")
    p.add_argument("--no-accuracy", action="store_true", help="skip the offline same-frames accuracy rows")
    p.add_argument("--accuracy-only", action="store_true", help="only the offline same-frames accuracy rows")
    p.add_argument("--every", type=int, nargs="*", default=[],
                   help="offline keyframe intervals to compare besides the one auto chose live (with "
                        "--accuracy-only, 10 and 30 when none given)")
    args = p.parse_args(argv)
    videos, rig = trial_paths(data_dir())
    if len(videos) != 4:
        print(f"bench_live: the shared Trial_1 videos are not under {data_dir() / TRIAL} (see its README)")
        return 1
    print(f"bench_live: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, Trial_1 4 x 1080x1920 "
          f"@ 60 fps looped, {args.seconds:g} s per row, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.2f} at start", flush=True)
    if args.accuracy_only:
        accuracy(videos, rig, args.every or [10, 30])
        return 0
    rows = []
    for label, kf, pre in (("every-frame detection, preloaded", False, True),
                           ("keyframes + tracking, preloaded", True, True),
                           ("every-frame detection, video decoding", False, False),
                           ("keyframes + tracking, video decoding", True, False)):
        rows.append(live_row(label, live_config(videos, rig, kf, pre), args.seconds))
        print(f"  {label}: done", flush=True)
    rows.append(decode_only(videos, min(args.seconds, 5.0)))
    print()
    print(f"{'row':<40} {'complete sets/s':>15} {'p50 ms':>7} {'p95 ms':>7} {'held-out px':>11} {'every':>5} "
          f"{'detected/tracked/re-det':>23} {'limited by':>10} {'results':>7}")
    for r in rows:
        kf = "-" if r.get("every") is None else f"{r['detected']}/{r['tracked']}/{r['redetect']}"
        print(f"{r['row']:<40} {r['complete_s']:15.2f} {_f(r.get('p50'), '.0f'):>7} {_f(r.get('p95'), '.0f'):>7} "
              f"{_f(r.get('held_out'), '.2f'):>11} {_f(r.get('every'), 'd'):>5} {kf:>23} {r.get('limit', '-'):>10} "
              f"{r.get('results', '-'):>7}")
    base, new = rows[0]["complete_s"], rows[1]["complete_s"]
    print(f"keyframes / every-frame, preloaded: {new / base if base else float('inf'):.1f}x complete sets/s")
    print(f"(load average {os.getloadavg()[0]:.2f} at the end of the live rows)", flush=True)
    if not args.no_accuracy:
        accuracy(videos, rig, [rows[1]["every"] or 10] + args.every)
    return 0


def accuracy(videos: list[str], rig: str, intervals: list[int]) -> None:
    """Offline, every frame set of the clip: every-frame detection vs keyframes every N sets (held-out error,
    median 3D difference), and the detector's own floor: every-frame MediaPipe in video (tracking) mode vs
    image mode (each frame alone)."""
    rig_a, kp_a, xyz_a = offline_run(videos, rig, None)
    ha = held_out_median_px(rig_a, kp_a)
    print()
    print(f"same frames, offline ({kp_a.shape[1]} frame sets): held-out error every-frame {ha:.2f} px")
    for label, every, opts in [(f"keyframes every {n} sets", n, None) for n in intervals] + \
            [("every-frame, MediaPipe image mode (the detector's floor)", None, {"mode": "image"})]:
        rig_b, kp_b, xyz_b = offline_run(videos, rig, every, opts)
        d_mm = 1000 * np.linalg.norm(xyz_a - xyz_b, axis=-1)
        hb = held_out_median_px(rig_b, kp_b)
        print(f"  {label}: held-out {hb:.2f} px ({100 * (hb / ha - 1):+.1f}%); 3D difference to every-frame "
              f"median {np.nanmedian(d_mm):.1f} mm (p90 {np.nanpercentile(d_mm, 90):.1f} mm) over "
              f"{int(np.isfinite(d_mm).sum())} joint-frames", flush=True)
    print(f"(load average {os.getloadavg()[0]:.2f} at the end)")


    return 0


if __name__ == "__main__":
    sys.exit(main())
