"""Benchmark the live viewer: redraw rate and GUI-thread stalls while a synthetic pose stream runs.

Setup: WHOLEBODY_135 walking subject, 8 cameras with 8 thumbnails (192 px wide) and their 2D keypoints,
stream at 60 frame sets/s from a worker thread (capture3d.testing.synthetic_stream), window 1280x800.
Each variant runs the real event loop for --seconds after a 1 s warm-up.

Variants:
  capture3d      Scene3D: one scatter item for all joints + one line item for all bones (setData),
                 labels in a raster overlay repainted only when the view moves.
  naive-items    baseline 1: the same GL window, but one GLLinePlotItem per bone + one GLScatterPlotItem
                 per joint (each its own setData and draw call) and one GLTextItem per label.
  naive          baseline 2 (pyqtgraph out of the box): those per-bone/per-joint items in a stock
                 GLViewWidget (QOpenGLWidget: Qt composes the whole window through OpenGL every frame).

Figures: redraw fps (paintGL calls / s), snapshots shown / s, max and p99 GUI stall (lateness of a 10 ms
heartbeat QTimer: everything that holds the GUI thread, the OS scheduler included), mean paintGL ms (the
Python-side GL drawing), max update ms (longest poll + setData + thumbnail redraw of one snapshot).
Needs a display with OpenGL; on a headless machine:

    xvfb-run -a -s "-screen 0 1600x1000x24" env PYTHONPATH=. python tools/bench/bench_viewer.py
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def run_variant(name: str, seconds: float, rate_hz: float, cameras: int) -> dict:
    from PyQt6 import QtCore

    from capture3d.viewer.app import build_live, ensure_app, wait_painted
    from capture3d.testing.naive_viewer import NaiveScene3D, NaiveWidgetScene
    from capture3d.viewer.scene3d import Scene3D
    from capture3d.testing.synthetic_stream import SyntheticLiveStream

    app = ensure_app()
    stream = SyntheticLiveStream(n_cameras=cameras, whole_body=True, rate_hz=rate_hz)
    window, ctl = build_live(stream.latest, stream.rig, stream.keypoint_set, stream.controls(),
                             scene_cls={"naive": NaiveWidgetScene, "naive-items": NaiveScene3D}.get(name, Scene3D))
    window.resize(1280, 800)
    window.show()
    wait_painted(window)
    stream.start()
    stalls: list[float] = []
    paint_ms: list[float] = []
    state = {}

    def begin():
        state["t0"], state["f0"], state["s0"] = time.perf_counter(), window.scene.frames_drawn, ctl.snapshots
        window.stall.reset()
        ctl.max_tick_ms = 0.0
        state["beats"] = window.stall._recent  # (time, stall) pairs
        state["measuring"] = True

    def sample():
        if state.get("measuring"):
            paint_ms.append(window.scene.last_paint_ms)
            state["max_paint"] = max(state.get("max_paint", 0.0), window.scene.last_paint_ms)

    def end():
        dt = time.perf_counter() - state["t0"]
        state.update(dt=dt, frames=window.scene.frames_drawn - state["f0"], shown=ctl.snapshots - state["s0"],
                     max_stall=window.stall.max_stall_ms, max_tick=ctl.max_tick_ms)
        stalls.extend(s for _, s in window.stall._recent)
        app.quit()

    window.stall.window_s = seconds + 5.0  # keep every beat of the measured window
    sampler = QtCore.QTimer()
    sampler.timeout.connect(sample)
    sampler.start(20)
    QtCore.QTimer.singleShot(1000, begin)
    QtCore.QTimer.singleShot(int(1000 + seconds * 1000), end)
    app.exec()
    sampler.stop()
    produced = stream.produced
    stream.stop()
    window.close()
    window.deleteLater()
    app.processEvents()
    return {"variant": name, "redraw_fps": state["frames"] / state["dt"], "shown_per_s": state["shown"] / state["dt"],
            "max_stall_ms": state["max_stall"], "p99_stall_ms": float(np.percentile(stalls, 99)) if stalls else 0.0,
            "paint_ms": float(np.mean(paint_ms)) if paint_ms else float("nan"), "produced": produced,
            "max_tick_ms": state["max_tick"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0, help="measured seconds per variant (default 5)")
    ap.add_argument("--rate", type=float, default=60.0, help="synthetic frame sets per second (default 60)")
    ap.add_argument("--cameras", type=int, default=8, help="cameras / thumbnails (default 8)")
    ap.add_argument("--variants", default="capture3d,naive-items,naive",
                    help="comma-separated (default capture3d,naive-items,naive)")
    args = ap.parse_args(argv)

    from capture3d.viewer import ViewerUnavailable

    rows = []
    try:
        for name in args.variants.split(","):
            rows.append(run_variant(name, args.seconds, args.rate, args.cameras))
    except ViewerUnavailable as exc:
        print(f"bench_viewer: {exc} (run it under xvfb-run)", file=sys.stderr)
        return 2
    print(f"viewer benchmark: WHOLEBODY_135, {args.cameras} thumbnails, stream {args.rate:g} frame sets/s, "
          f"{args.seconds:g} s per variant, window 1280x800")
    print(f"{'variant':<12}{'redraw fps':>11}{'shown/s':>9}{'max stall ms':>13}{'p99 stall ms':>13}"
          f"{'paintGL ms':>11}{'max update ms':>14}")
    for r in rows:
        print(f"{r['variant']:<12}{r['redraw_fps']:>11.1f}{r['shown_per_s']:>9.1f}{r['max_stall_ms']:>13.1f}"
              f"{r['p99_stall_ms']:>13.1f}{r['paint_ms']:>11.2f}{r['max_tick_ms']:>14.1f}")
    if len(rows) < 2:
        return 0
    ours = rows[0]
    for base in rows[1:]:
        print(f"{ours['variant']} vs {base['variant']}: {ours['redraw_fps'] / max(base['redraw_fps'], 1e-9):.2f}x "
              f"redraw rate, max stall {ours['max_stall_ms']:.0f} vs {base['max_stall_ms']:.0f} ms")
    print(f"targets: redraw >= 30 fps: {'met' if ours['redraw_fps'] >= 30 else 'NOT met'}; "
          f"max GUI stall <= 50 ms: {'met' if ours['max_stall_ms'] <= 50 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
