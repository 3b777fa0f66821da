#!/usr/bin/env python
"""Benchmark the 2D detectors: images/s and latency per frame set / per image, per backend, image size and
number of views (batch = V views of one frame set). Warm-up calls are excluded.

Backends compared side by side in one run:
  mediapipe          the default backend: MediaPipe Pose, video (tracking) mode, views in parallel threads
  mediapipe-serial   BASELINE: the same with one worker thread (views one after another)
  mediapipe-holistic Holistic (body + hands + face), parallel (only with --holistic)
  openpose           BODY_25 torch network on the CPU, fp32, random weights (timing only), net height 368
  rtmpose            RTMPose-m-sized ONNX network (capture3d.testing.onnx_models, random weights: timing
                     only) at 256x192 on onnxruntime's CPU provider, one person box per view (the whole
                     image: no person detector), all views' crops in one batch
  synthetic          projected ground truth (no image work): the pipeline's floor

Input: scikit-image's astronaut photo (a real person) pasted into each frame size, moved a few pixels
per frame (so tracking has something to follow).

    python tools/bench/bench_detect.py                  # short default run (~2 min on 2 idle cores;
                                                        #   openpose: 640x480 V=1 only)
    python tools/bench/bench_detect.py --full           # every backend x size x views, more repeats
    python tools/bench/bench_detect.py --backends openpose --sizes 640x480 --views 1 4 --repeats 3
    python tools/bench/bench_detect.py --backends mediapipe rtmpose --sizes 640x480 --views 1 4
    python tools/bench/bench_detect.py --backends openpose rtmpose --sizes 1280x1024 --views 4 8 \
        --device cuda --fp16                            # on a GPU machine: batch 4 and 8, fp32 and fp16

Live real-video replay (``--live-real [SECONDS]``, only that row): ``capture3d live``'s pipeline replaying
the four 1088x1920 60 fps videos of Pose2Sim's Demo_Batch/Trial_1 (../shared/data) paced in real time and
looping, MediaPipe Pose, the rig from Calib.qca.txt, SECONDS (default 20) per path, both paths in one run:
  live-old  BASELINE: sets expire with missing views when the readers fall behind, whole images detected
  live-new  the replay gate (whole frame sets skipped while processing is busy) + crops around the subject
  live-new-mem  (--memory) live-new on the first 50 frames of each video decoded into memory beforehand,
            looping: a camera-like source, to tell the replay's decoding cost from the live path's own
Columns: complete 3D sets/s (processed sets with every view present), latency p50 / p95 (frame due time ->
3D result), incomplete sets, sets skipped whole, the stage the stats name as the limit.

    python tools/bench/bench_detect.py --live-real 20 [--memory]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from capture3d.detect import create_detector  # noqa: E402

SIZES = {"640x480": (640, 480), "1280x1024": (1280, 1024), "1920x1080": (1920, 1080)}
BASELINE = "mediapipe-serial"


def _person_image() -> np.ndarray:
    try:
        from skimage import data
        return np.ascontiguousarray(data.astronaut()[:, :, ::-1])
    except ImportError:  # no scikit-image: a grey frame (mediapipe then finds nobody, timing still valid)
        return np.full((512, 512, 3), 127, np.uint8)


def _frames(size_wh, n_views: int, n_frames: int, person: np.ndarray) -> list[list[np.ndarray]]:
    import cv2
    w, h = size_wh
    side = int(0.8 * min(w, h))
    p = cv2.resize(person, (side, side), interpolation=cv2.INTER_AREA)
    sets = []
    for t in range(n_frames):
        views = []
        for v in range(n_views):
            canvas = np.full((h, w, 3), 110, np.uint8)
            x0 = (w - side) // 2 + int(20 * np.sin(0.3 * t + v))
            y0 = (h - side) // 2 + int(5 * np.cos(0.2 * t))
            canvas[y0:y0 + side, x0:x0 + side] = p
            views.append(canvas)
        sets.append(views)
    return sets


def _make(backend: str, n_views: int, tmp: Path, device: str = "cpu", fp16: bool = False):
    if backend == "mediapipe":
        return create_detector("mediapipe")
    if backend == "mediapipe-serial":
        return create_detector("mediapipe", workers=1)
    if backend == "mediapipe-holistic":
        return create_detector("mediapipe", hands=True, face=True)
    if backend == "synthetic":
        return create_detector("synthetic", n_cameras=max(2, n_views), n_frames=50)
    if backend == "openpose":
        folder = tmp / "body_25"
        if not (folder / "model.toml").exists():
            import torch

            from capture3d.detect.caffe_convert import save_model
            from capture3d.detect.openpose_arch import get_architecture
            from capture3d.detect.openpose_net import OpenPoseNet
            torch.manual_seed(0)
            save_model(folder, "body_25", OpenPoseNet(get_architecture("body_25")).state_dict(), source="random")
        return create_detector("openpose", models_dir=tmp, device=None if device == "auto" else device, fp16=fp16)
    if backend == "rtmpose":
        folder = tmp / "rtmpose-m-random"
        if not (folder / "model.toml").exists():
            from capture3d.testing.onnx_models import rtmpose_m_like_model, write_card
            _, size = rtmpose_m_like_model(folder / "model.onnx")
            write_card(folder, "rtmpose", "model.onnx")
            print(f"  (rtmpose: random RTMPose-m-sized network, {size['params'] / 1e6:.1f} M parameters, "
                  f"{size['macs'] / 1e9:.2f} G multiply-adds per crop; RTMPose-m: 13.6 M, 1.93 G)", flush=True)
        return create_detector("rtmpose", model=str(folder), person_detector=None, device=device)
    raise SystemExit(f"unknown backend {backend}")


def bench(backend: str, size: str, n_views: int, repeats: int, warmup: int, tmp: Path, person,
          device: str = "cpu", fp16: bool = False) -> dict:
    frames = _frames(SIZES[size], n_views, warmup + repeats, person)
    det = _make(backend, n_views, tmp, device, fp16)
    times = []
    try:
        for t, views in enumerate(frames):
            imgs = None if backend == "synthetic" else views
            t0 = time.perf_counter()
            det.detect(imgs, frame_index=t)
            if t >= warmup:
                times.append(time.perf_counter() - t0)
    finally:
        det.close()
    med = statistics.median(times)
    if backend == "openpose" and fp16:
        backend = "openpose-fp16"
    return {"backend": backend, "size": size, "views": n_views, "calls": len(times), "set_ms": 1000 * med,
            "img_ms": 1000 * med / n_views, "sets_s": 1 / med, "imgs_s": n_views / med}


def _memory_source(videos: list[str], n_frames: int = 50):
    """The first n_frames of each video decoded beforehand: a camera-like source (no decoding cost)."""
    import cv2

    from capture3d.sources.preload import MemoryReplaySource
    images = []
    for v in videos:
        cap = cv2.VideoCapture(v)
        images.append([cap.read()[1] for _ in range(n_frames)])
        cap.release()
    return MemoryReplaySource(images, [Path(v).stem for v in videos], 60.0)


def _live_path(data: Path, new: bool, seconds: float, memory: bool = False) -> dict:
    from capture3d.config import config_from_dict
    from capture3d.runtime.app import build_cropper, build_detector, build_reconstructor, resolve_rig
    from capture3d.runtime.pipeline import Pipeline
    from capture3d.sources import create_source
    trial = data / "pose2sim" / "Demo_Batch"
    videos = sorted(str(p) for p in (trial / "Trial_1" / "videos").glob("cam*.mp4"))
    cfg = config_from_dict({
        "source": {"kind": "opencv", "cameras": videos, "names": [Path(v).stem for v in videos], "realtime": True,
                   "loop": True},
        "pipeline": {"mode": "live", "detector": "mediapipe", "rig": str(trial / "calibration" / "Calib.qca.txt"),
                     "thumbnail_width": 0, "crop": "live" if new else "off"}})
    source = _memory_source(videos) if memory else create_source(cfg, live=True)
    rig = resolve_rig(cfg, source)
    det = build_detector(cfg, source, rig)
    recon = build_reconstructor(cfg, rig)
    complete = {}
    pipe = Pipeline(source, det, recon, mode="live", max_delay_frames=cfg.pipeline.max_delay_frames,
                    thumbnail_width=0, collect=True, replay_gate=new, cropper=build_cropper(cfg, det, recon, "live"),
                    on_frame_set=lambda fs: complete.__setitem__(fs.index, bool(fs.present.all())))
    try:
        pipe.run(duration_s=seconds)
    finally:
        det.close()
    st = pipe.stats()
    n_complete = sum(complete.get(i, False) for i, _ in pipe.results)
    posed = sum(bool(np.isfinite(p.xyz_world).any()) for _, p in pipe.results)
    return {"path": ("live-new" if new else "live-old") + ("-mem" if memory else ""), "s": st.elapsed_s, "complete_s": n_complete / st.elapsed_s,
            "results": st.processed, "posed": posed, "p50": st.latency_ms_p50, "p95": st.latency_ms_p95,
            "sets": st.sets, "incomplete": st.incomplete_sets, "skipped": st.dropped_sets, "limit": st.limited_by,
            "busy": st.process_busy, "detect_ms": st.detect_ms_p50, "lag_ms": st.replay_lag_ms,
            "cropped": st.views_cropped, "full": st.views_full, "lost": st.crops_lost}


def live_real(seconds: float, memory: bool = False) -> int:
    data = Path(__file__).resolve().parents[3] / "shared" / "data"
    if not (data / "pose2sim" / "Demo_Batch").is_dir():
        print(f"bench_detect --live-real: the real recordings are not at {data} (see its README)")
        return 1
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"bench_detect --live-real: Demo_Batch/Trial_1, 4 x 1088x1920 @ 60 fps, {seconds:g} s per path, "
          f"{os.cpu_count()} CPUs, load average {load:.1f} at start; baseline: live-old", flush=True)
    rows = [_live_path(data, new, seconds) for new in (False, True)]
    if memory:
        rows.append(_live_path(data, True, seconds, memory=True))
    print()
    print(f"{'path':<9} {'complete 3D sets/s':>18} {'results':>7} {'with pose':>9} {'p50 ms':>7} {'p95 ms':>7} "
          f"{'sets':>5} {'incomplete':>10} {'skipped whole':>13} {'limited by':>10} {'busy':>5} {'detect ms':>9} "
          f"{'lag ms':>6}  crops / whole / lost")
    for r in rows:
        crops = "-" if r["cropped"] is None else f"{r['cropped']} / {r['full']} / {r['lost']}"
        print(f"{r['path']:<9} {r['complete_s']:18.2f} {r['results']:7d} {r['posed']:9d} {r['p50']:7.0f} {r['p95']:7.0f} "
              f"{r['sets']:5d} {r['incomplete']:10d} {r['skipped']:13d} {r['limit']:>10} {100 * r['busy']:4.0f}% "
              f"{r['detect_ms']:9.0f} {r['lag_ms']:6.0f}  {crops}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"(load average {load:.1f} at the end; latency: frame due time -> 3D result; lag: the slowest reader "
          f"behind the due times, new path only)")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backends", nargs="+", default=None)
    p.add_argument("--sizes", nargs="+", default=None, choices=list(SIZES))
    p.add_argument("--views", nargs="+", type=int, default=None)
    p.add_argument("--repeats", type=int, default=None, help="timed calls per case (median reported)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--holistic", action="store_true", help="also time mediapipe-holistic")
    p.add_argument("--full", action="store_true", help="every backend x size x views, 10 repeats")
    p.add_argument("--live-real", type=float, nargs="?", const=20.0, default=None, metavar="SECONDS",
                   help="only the live real-video replay row: old and new live path, SECONDS each (default 20)")
    p.add_argument("--memory", action="store_true",
                   help="with --live-real: also the new path on the videos' first 50 frames decoded beforehand "
                        "(a camera-like source: what the live path does without the replay's decoding)")
    p.add_argument("--device", choices=["cpu", "auto", "cuda"], default="cpu",
                   help="openpose (torch) and rtmpose (onnxruntime) on this device (default cpu; auto: CUDA / "
                        "TensorRT when installed)")
    p.add_argument("--fp16", action="store_true", help="also time openpose in fp16 (CUDA)")
    args = p.parse_args(argv)
    if args.live_real is not None:
        return live_real(args.live_real, args.memory)

    backends = args.backends or (["mediapipe", BASELINE, "openpose", "rtmpose", "synthetic"]
                                 + (["mediapipe-holistic"] if args.holistic else []))
    sizes = args.sizes or list(SIZES)
    views = args.views or [1, 4, 8]
    repeats = args.repeats or (10 if args.full else 5)
    cases = []
    for b in backends:
        for s in sizes:
            for v in views:
                if b == "openpose" and not args.full and not args.backends:
                    # default run: the CPU network takes seconds per image; time a representative subset
                    if (s, v) != ("640x480", 1):
                        continue
                if b == "rtmpose" and not args.full and not args.backends and s != "640x480":
                    continue  # the crop is 256x192 whatever the frame size
                cases.append((b, s, v, False))
                if b == "openpose" and args.fp16:
                    cases.append((b, s, v, True))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"bench_detect: {len(cases)} cases, {repeats} timed calls each (+{args.warmup} warm-up), device "
          f"{args.device}, {os.cpu_count()} CPUs, load average {load:.1f} at start; baseline: {BASELINE}")
    person = _person_image()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for b, s, v, fp16 in cases:
            r = repeats if b != "openpose" or args.repeats else min(repeats, 2)
            rows.append(bench(b, s, v, r, args.warmup if b != "openpose" else 1, Path(tmp), person, args.device, fp16))
            x = rows[-1]
            print(f"  {x['backend']:<19} {s:>9} V={v}: {x['set_ms']:8.1f} ms/set  {x['imgs_s']:7.1f} img/s", flush=True)
    base = {(r["size"], r["views"]): r for r in rows if r["backend"] == BASELINE}
    print()
    print(f"{'backend':<19} {'size':>9} {'V':>2} {'calls':>5} {'ms/set':>9} {'ms/img':>8} {'sets/s':>7} {'img/s':>7} {'vs baseline':>11}")
    for r in rows:
        b = base.get((r["size"], r["views"]))
        rel = f"{b['set_ms'] / r['set_ms']:.3g}x" if b else "-"
        print(f"{r['backend']:<19} {r['size']:>9} {r['views']:>2} {r['calls']:>5} {r['set_ms']:9.3g} {r['img_ms']:8.3g} "
              f"{r['sets_s']:7.3g} {r['imgs_s']:7.3g} {rel:>11}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"(load average {load:.1f} at the end; 'vs baseline' = baseline ms/set / this ms/set, >1 is faster)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
