"""``capture3d live``: capture -> sync -> 2D -> 3D in real time, shown in the viewer or as stats lines.

The application itself is assembled by ``capture3d.runtime.app`` (shared with ``record``, ``process`` and
the Python API); this module reports: ``stats_line``, ``StatsPrinter``, ``print_summary`` and the viewer hook
``open_viewer(pipeline, rig, duration_s, keypoint_set)``.
"""
from __future__ import annotations

import argparse
import logging
import sys
import math
import time
from pathlib import Path
from capture3d.cli.numbers import PEOPLE_HELP, apply_people, people_line, people_mode, positive

log = logging.getLogger(__name__)

_EPILOG = """\
examples:
  capture3d live --config configs/demo-live.toml --no-viewer --duration 10
  capture3d live --config configs/live.toml                 FLIR cameras, viewer when a display is present
  capture3d live --config configs/demo-live.toml --record SESSION --bvh      record + live BVH
  capture3d live --config configs/demo-live.toml --stream vmc://127.0.0.1 --stream ws://0.0.0.0:8765

Headless (--no-viewer or no display), one line of live figures is printed every second: capture and 3D
rates, latency from exposure to 3D result (p50/p95), drops, missing/late/mismatched frames, failed cameras.
Ctrl-C or SIGTERM stop cleanly.

Camera rate on a CPU: with an image detector (mediapipe, openpose, rtmpose) the CNN runs on keyframes only
and every person's keypoints (body, hands, face) are tracked between them by Lucas-Kanade optical flow
([pipeline] keyframes = "live", the default; detect_every = "auto" or N sets). Points that fail the tracking
checks are dropped until the next keyframe; a view losing half its points is re-detected at once. The stats
line says how many views were detected and tracked ("2D detected D tracked T (keyframe every N, re-detected
R)"); keyframes = "off" runs the detector on every frame set. See docs/live.md.

Video files replayed as a camera: [source] kind = "opencv", realtime = true, and preload = true to decode the
videos into memory before the run (refused, with the memory needed, when they do not fit): the replay then
costs what a camera costs. Without preload, decoding four 1080p videos at 60 fps takes most of two cores;
the summary then says "limited by decode".
The [source] cameras are matched to the rig's by name (ignoring case, punctuation and leading zeros: a video
cam1.mp4 is camera cam_01), in any order; only when no name matches are they paired in order. The pairing
is printed, and each camera's image size must be its calibration's (or a crop of at most 16 px, noted).
Replayed videos of different lengths stop (or, looping, rewind) together at the shortest; videos of
different frame rates are refused. 3D needs at least 2 cameras (capture only without a rig).

--record SESSION also records every frame set (as 'capture3d record' does) while processing live. With
--bvh, or "bvh" in the config's [export] formats, SESSION/keypoints3d.bvh is written as the 3D results come
(one BVH frame per frame set; sets not processed hold the last pose), closed properly on Ctrl-C,
SIGTERM, --duration or a full disk; after a crash, 'capture3d.export.bvh.repair_bvh' makes it valid.
'capture3d record' is capture only (no 2D/3D) and writes no BVH.
In the viewer, "Stop recording" / "Record" pause and resume the recording (it starts recording): paused frame
sets are left out of the videos, frames.csv and the BVH, which stay aligned (frame sets renumbered without a
gap; frames.csv's frame_id keeps the device's). Without --record the button is disabled.

--stream URL (repeatable; also [stream] urls in the config) sends every 3D result out live, each stream
through its own latest-value hand-off: a slow, absent or vanished receiver never slows the capture (it
misses frames, counted as drops in the summary). Needs a rig (3D) and pip install 'capture3d[stream]'
for lsl:// and ws://.
  vmc://HOST[:PORT]   VMC protocol over UDP (default port 39539): VSeeFace, Warudo, VNyan, VMC4B (Blender),
                      VMC4UE (Unreal). Unity humanoid bones (+ fingers with hands), local rotations from the
                      BVH export's solver, Unity's left-handed Y-up frame, T-pose rest. With --people all:
                      the person picked in the viewer (default the lowest id in view); ?people=N sends up
                      to N people, one performer per port PORT..PORT+N-1, each keeping its port.
  osc://HOST[:PORT]   plain OSC over UDP (default 9000): /capture3d/<joint> x y z confidence per joint and
                      /capture3d/frame index t capture_time; TouchDesigner, Max, Pure Data.
  lsl://NAME          Lab Streaming Layer MoCap stream NAME: joints x (X, Y, Z, Confidence), MoCap metadata,
                      capture timestamps on the LSL clock; record it with LabRecorder beside EEG/EMG.
                      ?people=N: N channel blocks (person id, then the joints), one per person.
  ws://HOST[:PORT]    WebSocket JSON frames (default 8765) to any number of clients, and the live skeleton
                      page at http://HOST:PORT/ (use 0.0.0.0 to reach it from a tablet on the network).

--refine-rig (or [selfcal] live = true) refines the camera poses from the subject's 2D keypoints while the
capture runs (a bumped tripod): every [selfcal] every frame sets, a background thread bundle-adjusts the
board-calibrated rig (the prior) on half of the last [selfcal] window frame sets and swaps the result into
the 3D stage, whole and between two frame sets, only when it predicts the other half's held-out views at
least [selfcal] min_gain better. The stats line, the viewer's figures and the summary say when it did; with
--record the rig in use is written to SESSION/rig_refined.toml at each swap (SESSION/rig.toml stays the
board rig; 'capture3d process SESSION --rig SESSION/rig_refined.toml' uses the refined one).
  capture3d live --config configs/demo-live.toml --no-viewer --duration 30 --refine-rig
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "live", help="live capture -> sync -> 2D -> 3D (viewer or headless stats)",
        description="Run the real-time pipeline from the [source] of a config: synchronized frame sets, 2D "
                    "detection, robust triangulation and tracking, with live figures.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="TOML config (see configs/live.toml, configs/demo-live.toml)")
    p.add_argument("--no-viewer", action="store_true", help="run headless: print live stats once a second")
    p.add_argument("--duration", type=positive(7 * 24 * 3600.0, "s"), default=None, metavar="SECONDS", help="stop after this many seconds")
    p.add_argument("--rig", default=None, help="rig TOML (overrides [pipeline] rig)")
    p.add_argument("--people", type=people_mode, default=None, metavar="all|one|ID",
                   help=PEOPLE_HELP + "; with all, the viewer draws everyone and its Person box picks who goes "
                                      "to the streams and the live BVH (default: the lowest id in view); "
                                      "vmc://...?people=N and lsl://...?people=N stream several people")
    p.add_argument("--record", type=Path, default=None, metavar="SESSION",
                   help="also record every frame set to this new session folder")
    p.add_argument("--bvh", action="store_true",
                   help="with --record: write SESSION/keypoints3d.bvh live (also when [export] formats has bvh)")
    p.add_argument("--stream", action="append", default=[], metavar="URL",
                   help="stream the 3D results live: vmc://HOST[:PORT], osc://HOST[:PORT], lsl://NAME or "
                        "ws://HOST[:PORT] (repeatable; see below)")
    p.add_argument("--refine-rig", action="store_true",
                   help="refine the rig from the people in view in the background and swap it in when it "
                        "predicts held-out views better (also [selfcal] live = true; see below)")
    p.set_defaults(func=run)


def load_app_config(path):
    from capture3d.config import load_config  # noqa: PLC0415
    return load_config(path)


def _f(v: float, fmt: str = ".1f") -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)


def stats_line(st, capture_only: bool = False) -> str:
    """One line of live figures from a LiveStats (capture_only: no 2D/3D stage, so no 3D rate)."""
    rate_3d = "3D off" if capture_only else f"3D {_f(st.fps_3d)}/s"
    line = (f"t={st.elapsed_s:5.1f}s capture {_f(st.fps_capture)} fps | sets {_f(st.fps_sets)}/s | "
            f"{rate_3d} | latency p50 {_f(st.latency_ms_p50)} p95 {_f(st.latency_ms_p95)} ms | "
            f"drops {st.drops} | missing {st.missing_views} late {st.late} mismatched {st.mismatched}")
    if st.paused_sets is not None:
        line += f" | paused ({st.paused_sets} sets not processed)"
    if st.recorded_sets is not None:
        line += f" | recorded {st.recorded_sets} (queue {st.record_queue})"
        if st.record_paused_sets or not st.recording:
            line += f", {st.record_paused_sets} sets not recorded"
    if st.rig_swaps:
        line += f" | rig refined x{st.rig_swaps}"
    if st.dropped_sets:
        line += f" | sets skipped whole {st.dropped_sets}"
    if st.keyframe_every is not None:
        line += (f" | 2D detected {st.views_detected} tracked {st.views_tracked} (keyframe every "
                 f"{st.keyframe_every}, re-detected {st.redetections})")
    if st.limited_by:
        line += f" | limited by {st.limited_by}"
    if st.cameras_failed:
        line += f" | FAILED: {', '.join(st.cameras_failed)}"
    return line


class StatsPrinter:
    """on_tick callback printing stats_line once per interval_s of ``clock`` (seconds)."""

    def __init__(self, interval_s: float = 1.0, clock=time.monotonic) -> None:
        self.interval_s = interval_s
        self.clock = clock
        self._next = clock() + interval_s

    def __call__(self, pipeline) -> None:
        now = self.clock()
        if now >= self._next:
            self._next = now + self.interval_s
            print(stats_line(pipeline.stats(brief=True), pipeline.reconstructor is None), flush=True)


def open_viewer(pipeline, rig, duration_s: float | None, keypoint_set=None) -> bool:
    """The viewer hook: show the live viewer (capture3d.viewer) polling ``pipeline.poll``; returns False
    without opening anything when the viewer or a display is not available (the caller runs headless)."""
    import importlib.util  # noqa: PLC0415
    if importlib.util.find_spec("capture3d.viewer") is None:
        return False
    from capture3d import viewer  # noqa: PLC0415
    if not viewer.has_display():
        return False
    from capture3d.body.keypoint_sets import BODY_25  # noqa: PLC0415
    keypoint_set = keypoint_set or BODY_25
    t_end = None if duration_s is None else time.monotonic() + duration_s

    def poll():
        if t_end is not None and time.monotonic() >= t_end:
            pipeline.request_stop("duration reached")
        return pipeline.poll()

    # "Stop live" / "Start live" pause and resume the 2D/3D processing (capture and recording go on);
    # "Record" / "Stop recording" resume and pause the recording of --record SESSION (the session folder is
    # chosen for the whole run, so without --record the button is disabled). When the pipeline stops on its
    # own (duration, Ctrl-C, SIGTERM, an error, a full disk) the window shows why and closes. With --people
    # all the "Person" box picks who goes out (streams, live BVH; default the lowest id in view).
    controls = viewer.LiveControls(start=pipeline.resume, stop=pipeline.pause, stopped=pipeline.end_reason,
                                   pick_person=pipeline.pick_person, **record_controls(pipeline))
    viewer.run_live(poll, rig, keypoint_set, controls, title="capture3d live")
    return True


def record_controls(pipeline) -> dict:
    """The LiveControls arguments of the Record button: pause/resume the pipeline's recording when it has a
    recorder, else only a tooltip saying how to get one."""
    if pipeline.recorder is None:
        return {"record_tooltip": "recording is off: start 'capture3d live' with --record SESSION to record"}

    def start_recording():
        pipeline.resume_recording()
        return str(pipeline.recorder.folder)

    return {"start_recording": start_recording, "stop_recording": pipeline.pause_recording,
            "recording": lambda: pipeline.recording,
            "record_tooltip": f"pause / resume recording into {pipeline.recorder.folder} (paused frame sets are "
                              "left out of the videos, frames.csv and the BVH)"}


def print_summary(pipeline, label: str) -> None:
    st = pipeline.stats()
    results = "no 2D/3D (capture only)" if pipeline.reconstructor is None else \
        f"3D results {st.processed} ({st.posed} with a pose, {st.processed - st.posed} without)"
    print(f"capture3d {label}: {st.sets} frame sets ({st.frames} frames) in {st.elapsed_s:.1f} s; "
          f"{results}; latency p50 {_f(st.latency_ms_p50)} ms, p95 {_f(st.latency_ms_p95)} ms")
    print(f"  drops {st.drops}, incomplete sets {st.incomplete_sets}, missing views {st.missing_views}, "
          f"late {st.late}, mismatched {st.mismatched}, mis-paired {st.mispaired}"
          + (f", views the detector could not use {st.unusable_views}" if st.unusable_views else ""))
    if st.limited_by:
        print(f"  {limits_line(st)}")
    if st.keyframe_every is not None:
        from capture3d.runtime.pipeline_stats import keyframes_text  # noqa: PLC0415
        print(f"  {keyframes_text(st.shown())}; tracked points dropped by the checks {st.points_dropped}")
    behind = replay_behind_line(pipeline, st)
    if behind:
        print(f"  {behind}")
    for name, c in st.per_camera.items():
        print(f"  {name}: {c['frames']} frames, missing {c['missing']}, late {c['late']}, "
              f"mismatched {c['mismatched']}" + (" FAILED" if name in st.cameras_failed else ""))
    if st.rig_refine is not None:
        print(f"  rig refinement: {st.rig_refine}"
              + (f"; refined rig {pipeline.refined_rig_path}" if pipeline.refined_rig_path is not None else ""))
    recon = pipeline.reconstructor
    line = "" if recon is None else people_line(recon.tracking, recon.people.n_born, recon.subject_counts())
    if line:
        print(f"  {line}")
    if pipeline.stop_reason and pipeline.stop_reason not in ("duration reached",):
        print(f"  stopped: {pipeline.stop_reason}")


def replay_behind_line(pipeline, st) -> str | None:
    """What to say when a paced replay of recorded files could not keep up (frame sets skipped or replaced
    unprocessed): the decode cost per frame set when known, and the command that takes every set."""
    src = pipeline.source
    skipped = st.dropped_sets + st.drops
    if not getattr(src, "realtime", False) or not skipped or pipeline.reconstructor is None:
        return None
    cams = (st.per_camera or {}).values()
    frames = sum(c.get("grabbed", 0) for c in cams)
    decode = sum(c.get("decode_s", 0.0) for c in cams)
    cost = (f"; decoding alone took {1000 * decode / frames * len(src.streams):.1f} ms of CPU per frame set"
            if frames and decode else "")
    return (f"the replay could not keep up with {src.fps:g} fps: {skipped} of {st.sets + st.dropped_sets} frame sets were not "
            f"processed{cost}. 'capture3d process' takes every frame set (offline, as fast as the machine "
            f"allows); a replay at a lower resolution or with fewer cameras keeps up better")


def limits_line(st) -> str:
    """What limits the live rate: the limiting stage, whole frame sets skipped, the processing stage's busy
    share and stage times, a paced replay's lag, the crop counters."""
    line = (f"limited by {st.limited_by}: processing busy {100 * st.process_busy:.0f}% (detect p50 "
            f"{_f(st.detect_ms_p50)} ms, 3D p50 {_f(st.reconstruct_ms_p50, '.2f')} ms)")
    if not math.isnan(st.replay_lag_ms):
        line += f", replay {st.replay_lag_ms:.0f} ms behind the frames' due times"
    line += f"; frame sets skipped whole {st.dropped_sets}"
    if st.views_cropped is not None:
        line += (f"; views detected on crops {st.views_cropped}, on the whole frame {st.views_full}, "
                 f"crops that lost the person {st.crops_lost}")
    return line


def print_bvh_summary(sink) -> None:
    """One line on the live BVH (after the pipeline has stopped and closed it)."""
    if sink is None:
        return
    if sink.error:
        print(f"  live BVH: disabled ({sink.error}); {sink.path} is incomplete")
    else:
        print(f"  live BVH: {sink.path} ({sink.n_frames} frames: {sink.frames_posed} with a pose, "
              f"{sink.frames_held} held)")


def print_stream_summary(hub) -> None:
    """One line per live stream: frames sent, frames a slow receiver missed, failed sends."""
    if hub is None:
        return
    for name, st in hub.stats().items():
        print(f"  stream {name}: {st['sent']} frames sent, {st['drops']} skipped (receiver or encoder slower "
              f"than capture), {st['errors']} failed sends")


def run(args: argparse.Namespace) -> int:
    from capture3d.runtime.app import build_live, thread_switch_interval  # noqa: PLC0415
    from capture3d.runtime.signals import stop_on_signals  # noqa: PLC0415

    cfg = load_app_config(args.config)
    if getattr(args, "people", None) is not None:
        import dataclasses  # noqa: PLC0415
        cfg = dataclasses.replace(cfg, tracking=apply_people(cfg.tracking, args.people))
        cfg.tracking.validate()
    if getattr(args, "refine_rig", False):
        import dataclasses  # noqa: PLC0415
        cfg = dataclasses.replace(cfg, selfcal=dataclasses.replace(cfg.selfcal, live=True))
    if args.bvh and args.record is None:
        print("capture3d live: error: --bvh needs --record SESSION (the BVH is written into the session)",
              file=sys.stderr)
        return 2
    from capture3d.errors import StreamError  # noqa: PLC0415
    try:
        app = build_live(cfg, rig_path=args.rig, record=args.record, live_bvh=args.bvh,
                         streams=getattr(args, "stream", ()))
    except StreamError as exc:
        print(f"capture3d live: error: {exc}", file=sys.stderr)
        return 2
    for note in app.notes:
        print(f"capture3d live: note: {note}")
    for sink in getattr(app.streams, "sinks", ()):
        if str(getattr(sink, "label", "")).startswith("ws://"):  # the port the system chose for :0 too
            print(f"capture3d live: stream {sink.label}: serving ws://{sink.host}:{sink.port}/ and the page "
                  f"http://{sink.host}:{sink.port}/")
    if args.record is not None and (args.bvh or "bvh" in cfg.export.formats) and app.rig is None:
        print("capture3d live: no rig, so no 3D: the live BVH is not written")
    pipe, writer = app.pipeline, app.recorder
    with stop_on_signals(pipe), thread_switch_interval():
        pipe.start()
        try:
            shown = not args.no_viewer and open_viewer(pipe, app.rig, args.duration, app.keypoint_set)
            if not shown:
                if not args.no_viewer:
                    print("capture3d live: no display or viewer; running headless (--no-viewer)")
                pipe.wait(args.duration, on_tick=StatsPrinter())
        finally:
            pipe.stop()
            app.close()
    print_summary(pipe, "live")
    if writer is not None:
        skipped = f", {pipe.record_paused_sets} left out while paused" if pipe.record_paused_sets else ""
        print(f"  session: {args.record} ({writer.sets_written} frame sets, {sum(writer.frames_written)} frames, "
              f"codec {cfg.recording.codec}{skipped})")
    print_bvh_summary(app.pose_sink)
    print_stream_summary(app.streams)
    return exit_code(pipe, "live", args.record)


def exit_code(pipe, label: str, session) -> int:
    """0 for a normal end (input over, --duration, SIGTERM), 130 after Ctrl-C (SIGINT; said on stderr with
    what was kept), 1 when the disk filled up."""
    if pipe.stop_reason == "SIGINT":
        kept = f"; the session {session} is complete up to there" if session is not None else ""
        print(f"capture3d {label}: interrupted (Ctrl-C) after {pipe.stats(brief=True).sets} frame sets{kept}",
              file=sys.stderr)
        return 130
    return 1 if pipe.stop_reason.startswith("disk full") else 0
