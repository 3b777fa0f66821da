"""``capture3d live``: capture -> sync -> 2D -> 3D in real time, shown in the viewer or as stats lines.

Also the wiring shared by ``record`` and ``process``: ``build_detector``, ``build_reconstructor`` and
``print_stats``. The viewer hook is ``open_viewer(pipeline, rig, duration_s)``.
"""
from __future__ import annotations

import argparse
import logging
import math
import time

log = logging.getLogger(__name__)

_EPILOG = """\
examples:
  capture3d live --config configs/demo-live.toml --no-viewer --duration 10
  capture3d live --config configs/live.toml                 FLIR cameras, viewer when a display is present

Headless (--no-viewer or no display), one line of live figures is printed every second: capture and 3D
rates, latency from exposure to 3D result (p50/p95), drops, missing/late/mismatched frames, failed cameras.
Ctrl-C or SIGTERM stop cleanly.
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "live", help="live capture -> sync -> 2D -> 3D (viewer or headless stats)",
        description="Run the real-time pipeline from the [source] of a config: synchronized frame sets, 2D "
                    "detection, robust triangulation and tracking, with live figures.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="TOML config (see configs/live.toml, configs/demo-live.toml)")
    p.add_argument("--no-viewer", action="store_true", help="run headless: print live stats once a second")
    p.add_argument("--duration", type=float, default=None, metavar="SECONDS", help="stop after this many seconds")
    p.add_argument("--rig", default=None, help="rig TOML (overrides [pipeline] rig)")
    p.set_defaults(func=run)


def load_app_config(path):
    from ..config import load_config  # noqa: PLC0415
    return load_config(path)


def resolve_rig(cfg, source, rig_path: str | None = None):
    """The rig for 3D: rig_path, else [pipeline] rig, else the source's own (synthetic, session), else None.
    Its cameras must be the source's, by name (reordered to the source's order) or by count."""
    from ..camera import Rig  # noqa: PLC0415
    from ..errors import RigError  # noqa: PLC0415
    from ..rig_io import load_rig  # noqa: PLC0415
    path = rig_path or cfg.pipeline.rig
    rig = load_rig(path) if path else getattr(source, "rig", None)
    if rig is None:
        return None
    names = [s.info.name for s in source.streams]
    if set(names) <= set(rig.names):
        return Rig(tuple(rig.camera(n) for n in names), rig.metadata)
    if len(rig) != len(names):
        raise RigError(f"the rig has {len(rig)} cameras ({', '.join(rig.names)}) but the source has {len(names)} "
                       f"({', '.join(names)}); expected the same cameras")
    log.warning("rig camera names %s differ from the source's %s: pairing them in order", rig.names, names)
    return rig


def build_detector(cfg, source, rig, name: str | None = None):
    """The 2D detector named by [pipeline] detector (or name). "synthetic" replays the synthetic subject
    through the [synthetic] error model, with the source's motion (or the one [synthetic] describes)."""
    from ..detect import create_detector  # noqa: PLC0415
    from ..errors import DetectorError  # noqa: PLC0415
    name = name or cfg.pipeline.detector
    if name != "synthetic":
        return create_detector(name)
    from ..synth import ErrorModel, walking_motion  # noqa: PLC0415
    if rig is None:
        raise DetectorError("the synthetic detector needs a rig: the synthetic source's or [pipeline] rig")
    sc = cfg.synthetic
    motion = getattr(source, "motion", None) or walking_motion(sc.frames, source.fps or sc.fps)
    model = ErrorModel(sc.noise_px, sc.missing, sc.outliers, swaps=sc.swaps)
    return create_detector("synthetic", rig=rig, motion=motion, error_model=model, seed=sc.seed)


def build_reconstructor(cfg, rig):
    from ..reconstruct import Reconstructor  # noqa: PLC0415
    from ..skeleton import BODY_25  # noqa: PLC0415
    if rig is None:
        return None
    return Reconstructor(rig, BODY_25, cfg.triangulation, tracking=cfg.tracking, filtering=cfg.filter)


def _f(v: float, fmt: str = ".1f") -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)


def stats_line(st: dict) -> str:
    """One line of live figures."""
    line = (f"t={st['elapsed_s']:5.1f}s capture {_f(st['fps_capture'])} fps | sets {_f(st['fps_sets'])}/s | "
            f"3D {_f(st['fps_3d'])}/s | latency p50 {_f(st['latency_ms_p50'])} p95 {_f(st['latency_ms_p95'])} ms | "
            f"drops {st['drops']} | missing {st['missing_views']} late {st['late']} "
            f"mismatched {st['mismatched']}")
    if "recorded_sets" in st:
        line += f" | recorded {st['recorded_sets']} (queue {st['record_queue']})"
    if st["cameras_failed"]:
        line += f" | FAILED: {', '.join(st['cameras_failed'])}"
    return line


class StatsPrinter:
    """on_tick callback printing stats_line once per interval_s."""

    def __init__(self, interval_s: float = 1.0) -> None:
        self.interval_s = interval_s
        self._next = time.monotonic() + interval_s

    def __call__(self, pipeline) -> None:
        now = time.monotonic()
        if now >= self._next:
            self._next = now + self.interval_s
            print(stats_line(pipeline.stats(brief=True)), flush=True)


def open_viewer(pipeline, rig, duration_s: float | None) -> bool:
    """The viewer hook: show the live viewer (capture3d.viewer) polling ``pipeline.poll``; returns False
    without opening anything when the viewer or a display is not available (the caller runs headless)."""
    import importlib.util  # noqa: PLC0415
    if importlib.util.find_spec("capture3d.viewer") is None:
        return False
    from .. import viewer  # noqa: PLC0415
    if not viewer.has_display():
        return False
    from ..skeleton import BODY_25  # noqa: PLC0415
    options = {"title": "capture3d live"}
    if duration_s is not None:
        options["duration_s"] = duration_s
    controls = viewer.LiveControls(stop=lambda: pipeline.request_stop("stopped from the viewer"))
    viewer.run_live(pipeline.poll, rig, BODY_25, controls, **options)
    return True


def print_summary(pipeline, label: str) -> None:
    st = pipeline.stats()
    print(f"capture3d {label}: {st['sets']} frame sets ({st['frames']} frames) in {st['elapsed_s']:.1f} s; "
          f"3D results {st['processed']}; latency p50 {_f(st['latency_ms_p50'])} ms, p95 "
          f"{_f(st['latency_ms_p95'])} ms")
    print(f"  drops {st['drops']}, incomplete sets {st['incomplete_sets']}, missing views {st['missing_views']}, "
          f"late {st['late']}, mismatched {st['mismatched']}, mis-paired {st['mispaired']}")
    for name, c in st["per_camera"].items():
        print(f"  {name}: {c['frames']} frames, missing {c['missing']}, late {c['late']}, "
              f"mismatched {c['mismatched']}" + (" FAILED" if name in st["cameras_failed"] else ""))
    if pipeline.stop_reason and pipeline.stop_reason not in ("duration reached",):
        print(f"  stopped: {pipeline.stop_reason}")


def run(args: argparse.Namespace) -> int:
    from ..pipeline import Pipeline, stop_on_signals  # noqa: PLC0415
    from ..sources import create_source  # noqa: PLC0415

    cfg = load_app_config(args.config)
    source = create_source(cfg, live=True)
    rig = resolve_rig(cfg, source, args.rig)
    if rig is None:
        log.warning("no rig: running capture and sync only (set [pipeline] rig for 2D -> 3D)")
    detector = build_detector(cfg, source, rig) if rig is not None else None
    pipe = Pipeline(source, detector, build_reconstructor(cfg, rig), mode=cfg.pipeline.mode,
                    sync=_sync_mode(cfg, source), max_delay_frames=cfg.pipeline.max_delay_frames,
                    queue_size=cfg.pipeline.queue_size, thumbnail_width=cfg.pipeline.thumbnail_width,
                    latency_window=cfg.pipeline.latency_window)
    with stop_on_signals(pipe):
        pipe.start()
        try:
            shown = not args.no_viewer and open_viewer(pipe, rig, args.duration)
            if not shown:
                if not args.no_viewer:
                    print("capture3d live: no display or viewer; running headless (--no-viewer)")
                pipe.wait(args.duration, on_tick=StatsPrinter())
        finally:
            pipe.stop()
            if detector is not None:
                detector.close()
    print_summary(pipe, "live")
    return 0


def _sync_mode(cfg, source) -> str:
    """[source] sync -> the assembler mode ("auto": the source's own)."""
    return {"auto": source.sync, "hardware": "trigger", "software": "timestamp"}[cfg.source.sync]
