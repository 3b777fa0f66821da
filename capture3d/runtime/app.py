"""Application assembly: config -> source, rig, detector, reconstructor, recorder and pipeline.

What ``capture3d live``, ``record`` and ``process`` run, built the same way from Python::

    from capture3d.config import load_config
    from capture3d.runtime import build_live
    app = build_live(load_config("configs/demo-live.toml"))
    app.pipeline.run(duration_s=5)           # or start() / wait() / stop(); app.close() after

Nothing here prints: the CLI reports, this module only builds.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from capture3d.body.keypoint_sets import KeypointSet, get_keypoint_set
from capture3d.config import AppConfig
from capture3d.detect.registry import DEFAULT_DETECTOR
from capture3d.errors import ConfigError, DetectorError, RigError
from capture3d.geometry.camera import Rig
from capture3d.runtime.pipeline import Pipeline
from capture3d.sources.base import FrameSource

log = logging.getLogger(__name__)


@dataclass
class App:
    """One assembled application. source, rig (None: capture only), detector and reconstructor (None
    without a rig), recorder (a SessionWriter or None), pose_sink (a LiveBVH or None), pipeline."""

    config: AppConfig
    source: FrameSource
    rig: Rig | None
    keypoint_set: KeypointSet
    detector: object | None
    reconstructor: object | None
    pipeline: Pipeline
    recorder: object | None = None
    pose_sink: object | None = None
    streams: object | None = None  # a capture3d.stream.StreamHub (live streams out) or None
    n_sets: int = 0  # frame sets the input holds (offline inputs), 0 when unknown or live
    notes: tuple[str, ...] = ()  # what the user should be told about the input (pairing, adapted sizes)

    def close(self) -> None:
        """Release the detector and close the streams (the pipeline's own ``stop`` closes the source and
        the files)."""
        try:
            if self.streams is not None:
                self.streams.close()
        finally:
            if self.detector is not None:
                self.detector.close()


def keypoint_set_of(cfg: AppConfig) -> KeypointSet:
    """The keypoint set named by [pipeline] keypoint_set."""
    try:
        return get_keypoint_set(cfg.pipeline.keypoint_set)
    except KeyError as exc:
        raise ConfigError(f"pipeline.keypoint_set: {exc.args[0]}") from None


def resolve_rig(cfg: AppConfig, source: FrameSource, rig_path: str | os.PathLike | None = None,
                notes: list[str] | None = None) -> Rig | None:
    """The rig for 3D: rig_path, else [pipeline] rig, else the source's own (synthetic, session), else None.
    Its cameras are paired with the source's by the one rule of ``capture3d.io.camera_match`` (by name,
    else in order), returned in the source's order and adapted to the source's image sizes by its size
    rule. The pairing (when the names are not the rig's own) and any adapted size are appended to
    ``notes`` for the caller to say (logged when notes is None)."""
    from capture3d.io.camera_match import match_cameras  # noqa: PLC0415
    from capture3d.io.rig_files import load_rig  # noqa: PLC0415
    path = rig_path or cfg.pipeline.rig
    rig = load_rig(path) if path else getattr(source, "rig", None)
    if rig is None:
        return None
    names = [s.info.name for s in source.streams]
    if names != list(rig.names):
        match = match_cameras(names, rig.names, "camera")
        _say(match.note, notes, warn=not match.by_name)
        by_input = dict(match.pairs)
        rig = Rig(tuple(rig.cameras[by_input[i]] for i in range(len(names))), rig.metadata)
    return _sized_rig(rig, source, notes)


def _say(note: str, notes: list[str] | None, warn: bool = True) -> None:
    """Hand a note to the caller (``notes``), or log it when there is no caller to say it."""
    if notes is not None:
        notes.append(note)
    else:
        (log.warning if warn else log.info)("%s", note)


def _sized_rig(rig: Rig, source: FrameSource, notes: list[str] | None = None) -> Rig:
    """The rig adapted to the source's image sizes by the size rule ``process`` uses
    (``capture3d.io.camera_match.adapt_camera_size``); sources that do not know their size are left as is."""
    from capture3d.io.camera_match import adapt_camera_size  # noqa: PLC0415
    cams = []
    for cam, stream in zip(rig.cameras, source.streams):
        size = tuple(getattr(stream.info, "size_wh", None) or ())
        if len(size) == 2 and min(size) > 0:
            cam, note = adapt_camera_size(cam, size, f"camera {stream.info.name}")
            if note:
                _say(note, notes)
        cams.append(cam)
    return Rig(tuple(cams), rig.metadata)


def floor_note(rig: Rig | None, uses: str) -> str | None:
    """A note when ``uses`` (outputs that need an up axis: BVH, viewer, streams) meet a rig whose world is
    one camera's frame (calibrated without a floor): the subject lies on its side, its root metres away."""
    name = rig.world_camera() if rig is not None else None
    if name is None:
        return None
    return (f"the rig's world is camera {name}'s frame (calibrated without a floor): Z is that camera's viewing "
            f"direction, not up, so {uses} will show the subject on its side, far from the origin. Calibrate with "
            f"the board on the floor ('capture3d calibrate rig ... --floor FRAME') for a Z-up world")


def films_synthetic(source: FrameSource) -> bool:
    """The source shows the synthetic subject: the synthetic source, or a session recorded from it."""
    return source.kind == "synthetic" or getattr(source, "recorded_kind", "") == "synthetic"


def detector_name(cfg: AppConfig, source: FrameSource, name: str | None = None) -> str:
    """The detector to run: name, else [pipeline] detector; "auto" is the synthetic detector for the
    synthetic source (and sessions recorded from it) and DEFAULT_DETECTOR for every other source: the
    synthetic detector never runs on real footage unless it is named."""
    name = name or cfg.pipeline.detector
    if name == "auto":
        return "synthetic" if films_synthetic(source) else DEFAULT_DETECTOR
    return name


#: the mediapipe detector's options in live mode unless [pipeline] detector_options says otherwise
LIVE_MEDIAPIPE = {"model_complexity": 1, "person_detector": "none"}
#: the same with [tracking] people = "all": every person (top-down: the PAF network finds the people, MediaPipe
#: full runs on each one's crop), slower than one person per view but the only way to see several
LIVE_MEDIAPIPE_PEOPLE = {"model_complexity": 1}


def build_detector(cfg: AppConfig, source: FrameSource, rig: Rig | None, name: str | None = None):
    """The 2D detector (see ``detector_name``) with [pipeline] detector_options. "synthetic" replays the
    synthetic subject through the [synthetic] error model, with the source's motion (or [synthetic]'s)."""
    from capture3d.detect import create_detector  # noqa: PLC0415
    from capture3d.detect.registry import set_options  # noqa: PLC0415
    name = detector_name(cfg, source, name)
    # a whole-body [pipeline] keypoint_set asks for the hands and the face; a native set for native landmarks
    options = set_options(name, cfg.pipeline.keypoint_set) | dict(cfg.pipeline.detector_options)
    if name == "mediapipe" and cfg.pipeline.mode == "live":
        # live: the fastest path that keeps up on a CPU (tools/bench/bench_2d.py): MediaPipe full on each whole
        # view; offline (process, detect): the most accurate, every person (top-down MediaPipe heavy)
        every = cfg.tracking.enabled and cfg.tracking.people == "all"
        for key, value in (LIVE_MEDIAPIPE_PEOPLE if every else LIVE_MEDIAPIPE).items():
            options.setdefault(key, value)
        if every and options.get("person_detector", "openpose-mobilenet") != "none":
            log.warning("live with every person ([tracking] people = \"all\"): MediaPipe runs top-down (the PAF "
                        "network finds the people, MediaPipe full on each one's crop), several times slower "
                        "than one person per view (docs/live.md); for one subject at camera rate leave --people out")
    if name != "synthetic":
        return create_detector(name, **options)
    from capture3d.synth import ErrorModel, walking_motion  # noqa: PLC0415
    if rig is None:
        raise DetectorError("the synthetic detector needs a rig: the synthetic source's or [pipeline] rig")
    if not films_synthetic(source):
        log.warning("the synthetic detector replays a synthetic subject, not what the %s cameras see: its "
                    "results are not measurements", source.kind)
    sc = cfg.synthetic
    parts = bool(options.get("hands") or options.get("face"))
    motion = getattr(source, "motion", None) or walking_motion(sc.frames, source.fps or sc.fps,
                                                               whole_body=sc.whole_body or parts)
    if parts and motion.xyz_world.shape[-2] != 135:
        raise DetectorError(f"[pipeline] keypoint_set {cfg.pipeline.keypoint_set} (or detector_options) asks the "
                            "synthetic detector for hands/face, but the synthetic subject has the body only: set "
                            "[synthetic] whole_body = true")
    model = ErrorModel(sc.noise_px, sc.missing, sc.outliers, swaps=sc.swaps)
    return create_detector("synthetic", rig=rig, motion=motion, error_model=model, seed=sc.seed, **options)


def build_reconstructor(cfg: AppConfig, rig: Rig | None, keypoint_set: KeypointSet | None = None):
    """The Reconstructor for the rig and [pipeline] keypoint_set (None without a rig)."""
    from capture3d.reconstruct import Reconstructor  # noqa: PLC0415
    if rig is None:
        return None
    kps = keypoint_set or keypoint_set_of(cfg)
    return Reconstructor(rig, kps, cfg.triangulation, tracking=cfg.tracking, filtering=cfg.filter)


def sync_mode(cfg: AppConfig, source: FrameSource) -> str:
    """[source] sync -> the assembler mode ("auto": the source's own)."""
    return {"auto": source.sync, "hardware": "trigger", "software": "timestamp"}[cfg.source.sync]


def build_cropper(cfg: AppConfig, detector, recon, mode: str):
    """The ViewCropper of [pipeline] crop for this mode, or None (crop off, not this mode, no 3D stage to
    predict from, or a detector that does not look at the images)."""
    p = cfg.pipeline
    if p.crop == "off" or (p.crop == "live" and mode != "live") or recon is None \
            or not getattr(detector, "accepts_crops", False):
        return None
    from capture3d.runtime.view_crops import ViewCropper  # noqa: PLC0415
    return ViewCropper(recon.rig, margin=p.crop_margin, long_side_px=p.crop_size)


def build_2d(cfg: AppConfig, detector, recon, mode: str, fps: float):
    """The 2D stage of the pipeline for this mode: (detector, cropper). With [pipeline] keyframes for this
    mode and an image detector, the detector is a ``capture3d.detect.keyframes.KeyframeDetector`` around
    it (the CNN on keyframes, on crops when the cropper is on; tracking in between) sharing the cropper."""
    p = cfg.pipeline
    cropper = build_cropper(cfg, detector, recon, mode)
    if p.keyframes == "off" or (p.keyframes == "live" and mode != "live") \
            or not getattr(detector, "accepts_crops", False):
        return detector, cropper
    from capture3d.detect.keyframes import KeyframeDetector  # noqa: PLC0415
    return KeyframeDetector(detector, p.detect_every, fps=fps, cropper=cropper), cropper


def pipeline_options(cfg: AppConfig, source, detector, recon, mode: str | None = None,
                     thumbnail_width: int | None = None) -> dict:
    """Pipeline(source, **options): what ``capture3d live`` (and ``process``, ``record``) hand the pipeline,
    2D stage included (``build_2d``); the live benchmark builds its pipelines from the same."""
    p = cfg.pipeline
    mode = mode or p.mode
    det, cropper = build_2d(cfg, detector, recon, mode, source.fps)
    return dict(detector=det, reconstructor=recon, mode=mode, sync=sync_mode(cfg, source),
                max_delay_frames=p.max_delay_frames, queue_size=p.queue_size,
                thumbnail_width=p.thumbnail_width if thumbnail_width is None else thumbnail_width,
                latency_window=p.latency_window, cropper=cropper)


def _pipeline(cfg: AppConfig, source, detector, recon, *, recorder=None, pose_sink=None, mode=None,
              thumbnail_width=None, on_result=None, refiner=None) -> Pipeline:
    return Pipeline(source, **pipeline_options(cfg, source, detector, recon, mode, thumbnail_width),
                    recorder=recorder, pose_sink=pose_sink, on_result=on_result, refiner=refiner)


def build_refiner(cfg: AppConfig, rig: Rig | None, mode: str):
    """The live rig refiner of [selfcal] live (``capture3d.runtime.refine_stage``), or None when it is off
    or there is no rig. Offline (mode "offline") the processing waits for each refinement, so the swaps
    come at the same frame sets on every run."""
    if not cfg.selfcal.live:
        return None
    if rig is None:
        log.warning("[selfcal] live: no rig, so no 3D and nothing to refine")
        return None
    from capture3d.runtime.refine_stage import LiveRigRefiner  # noqa: PLC0415
    return LiveRigRefiner(rig, cfg.selfcal, wait=mode == "offline")


def _session_writer(cfg: AppConfig, folder, source, rig):
    from capture3d.io.recording import SessionWriter  # noqa: PLC0415
    return SessionWriter(folder, [s.info.name for s in source.streams], source.fps, cfg.recording,
                         app_config=cfg, rig=rig, source_kind=source.kind)


def build_live(cfg: AppConfig, *, rig_path=None, record: str | os.PathLike | None = None,
               live_bvh: bool = False, streams=()) -> App:
    """``capture3d live``: the [source] live, 2D -> 3D when a rig is known (capture and sync only without
    one); record: also record every frame set into this new session folder; live_bvh (or "bvh" in [export]
    formats), with record and a rig: SESSION/keypoints3d.bvh written as the results come; streams: stream
    URLs (capture3d.stream) besides [stream] urls, opened here (StreamError: bad URL, port in use, missing
    package) and fed every 3D result through latest-value hand-offs (``App.streams``; closed by ``close``).
    [selfcal] live: the rig is refined in the background from the people in view (``build_refiner``)."""
    from capture3d.sources import create_source  # noqa: PLC0415
    kps = keypoint_set_of(cfg)
    urls = list(cfg.stream.urls) + [u for u in streams if u not in cfg.stream.urls]
    notes: list[str] = []
    if urls:  # checked before any camera opens
        from capture3d.stream.urls import check_stream_urls  # noqa: PLC0415
        many = [t.url for t in check_stream_urls(urls) if t.people > 1]
        if many and cfg.tracking.people != "all":
            notes.append(f"{', '.join(many)}: people=N streams one person per VMC port / LSL block with --people "
                         f"all ([tracking] people = \"all\"); with one subject it goes to the first")
    source = create_source(cfg, live=True, lossless=record is not None)
    rig = resolve_rig(cfg, source, rig_path, notes)
    if rig is None:
        log.warning("no rig: running capture and sync only (set [pipeline] rig for 2D -> 3D)")
    if rig is not None:
        from capture3d.reconstruct.reconstructor import check_rig_for_3d  # noqa: PLC0415
        try:
            check_rig_for_3d(rig, f"the rig ({rig_path or cfg.pipeline.rig or 'the source'})")
        except RigError:
            source.stop()
            raise
    detector = build_detector(cfg, source, rig) if rig is not None else None
    writer = sink = None
    if record is not None:
        writer = _session_writer(cfg, record, source, rig)
        if (live_bvh or "bvh" in cfg.export.formats) and rig is not None:
            from capture3d.io.recording import LiveBVH  # noqa: PLC0415
            sink = LiveBVH(Path(record) / "keypoints3d.bvh", kps, source.fps)
    recon = build_reconstructor(cfg, rig, kps)
    hub = None
    if urls and rig is None:
        log.warning("no rig, so no 3D: the streams %s are not opened", ", ".join(urls))
    elif urls:
        from capture3d.stream import open_streams  # noqa: PLC0415
        hub = open_streams(urls, kps, source.fps)
    pipe = _pipeline(cfg, source, detector, recon, recorder=writer, pose_sink=sink,
                     on_result=None if hub is None else hub.offer,
                     refiner=build_refiner(cfg, rig, cfg.pipeline.mode))
    floor = floor_note(rig, "the viewer, the live BVH and the streams")
    if floor:
        notes.append(floor)
    return App(cfg, source, rig, kps, detector, recon, pipe, writer, sink, streams=hub, notes=tuple(notes))


def build_record(cfg: AppConfig, out: str | os.PathLike, *, rig_path=None) -> App:
    """``capture3d record``: capture only (no 2D/3D), every frame set recorded losslessly into ``out``."""
    from capture3d.sources import create_source  # noqa: PLC0415
    source = create_source(cfg, live=True, lossless=True)
    notes: list[str] = []
    rig = resolve_rig(cfg, source, rig_path, notes)
    writer = _session_writer(cfg, out, source, rig)
    pipe = _pipeline(cfg, source, None, None, recorder=writer, mode="live", thumbnail_width=0)
    return App(cfg, source, rig, keypoint_set_of(cfg), None, None, pipe, writer, notes=tuple(notes))


def build_process(cfg: AppConfig, inputs, *, rig_path=None, detector: str | None = None,
                  wrap_detector=None) -> App:
    """``capture3d process``: every frame set of a recorded input through 2D -> 3D (offline mode), the
    reconstructor collecting the take (``reconstructor.end_take(fps)`` gives the filtered Keypoints3D).

    inputs: a capture3d session folder, or videos, one per camera (a folder of them, a trial folder with
    ``videos/``, or the files), matched to the rig's cameras (``capture3d.runtime.videos``).
    wrap_detector(detector) -> detector: what runs instead of the built detector (the batch's 2D cache).
    """
    from capture3d.errors import CameraError  # noqa: PLC0415
    inputs = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    cfg = dataclasses.replace(cfg, pipeline=dataclasses.replace(cfg.pipeline, mode="offline"))
    notes: tuple[str, ...] = ()
    if len(inputs) == 1 and (Path(inputs[0]) / "session.toml").is_file():
        from capture3d.sources.session import SessionSource  # noqa: PLC0415
        source = SessionSource(inputs[0])
        n_sets = source.n_sets
        rig = resolve_rig(cfg, source, rig_path)
        if rig is None:
            raise RigError(f"{inputs[0]} has no rig.toml: give the rig with --rig RIG.toml")
        notes = _refined_rig_note(Path(inputs[0]), rig_path or cfg.pipeline.rig)
    else:
        source, rig, n_sets, notes = _video_source(inputs, rig_path or cfg.pipeline.rig)
    if n_sets == 0:
        raise CameraError(f"{', '.join(map(str, inputs))}: the input holds no frames")
    if cfg.filter.enabled and not cfg.filter.causal:  # a setting impossible at this rate: say so before any work
        cfg.filter.check_rate(source.fps)
    kps = keypoint_set_of(cfg)
    recon = build_reconstructor(cfg, rig, kps)  # before the detector: a rig unfit for 3D is said at once
    det = build_detector(cfg, source, rig, detector)
    if wrap_detector is not None:
        det = wrap_detector(det)
    recon.start_take()  # the take gets the offline filter chain at the end
    pipe = _pipeline(cfg, source, det, recon, mode="offline", thumbnail_width=0)
    floor = floor_note(rig, "the BVH export") if "bvh" in cfg.export.formats else None
    return App(cfg, source, rig, kps, det, recon, pipe, n_sets=n_sets, notes=tuple(notes) + ((floor,) if floor else ()))


def _refined_rig_note(session: Path, rig_path) -> tuple[str, ...]:
    """A note when the live rig refiner swapped a rig in during the recording (SESSION/rig_refined.toml) and
    the session's board rig is used: the frame sets before the swap were taken with the board rig, so which
    one fits the take is the user's call."""
    refined = session / "rig_refined.toml"
    if rig_path or not refined.is_file():
        return ()
    return (f"{refined} holds the rig the live refiner swapped in during this recording; processing with the "
            f"board rig {session / 'rig.toml'}: pass --rig {refined} to use the refined one",)


def _video_source(inputs, rig_path):
    """Videos, one per camera -> (OpenCVSource in rig order, rig adapted to the videos, frame sets, notes)."""
    from capture3d.io.rig_files import load_rig  # noqa: PLC0415
    from capture3d.io.paths import check_distinct  # noqa: PLC0415
    from capture3d.runtime.videos import list_videos, match_videos, trial_calibration  # noqa: PLC0415
    from capture3d.sources.opencv import OpenCVSource  # noqa: PLC0415
    videos = list_videos(inputs)
    check_distinct(videos, "video")
    found = None if rig_path else trial_calibration(inputs)
    rig_path = rig_path or found
    if not rig_path:
        raise RigError(f"videos {', '.join(p.name for p in videos)} need a calibration: give --rig RIG "
                       f"(a rig TOML, a Qualisys .qca.txt, OpenPose XML files), or put it in a calibration/ "
                       f"folder of the trial or beside it")
    rig = load_rig(rig_path)
    probe = OpenCVSource([str(p) for p in videos])
    try:
        sizes = [s.info.size_wh for s in probe.streams]
    finally:
        probe.stop()
    matched = match_videos(videos, rig, sizes)
    source = OpenCVSource([str(p) for p in matched.videos], matched.rig.names)
    n_sets = min(s.n_frames for s in source.streams)
    notes = ((f"calibration {found} (found beside the trial; --rig gives another)",) if found else ()) + matched.notes
    return source, matched.rig, n_sets, notes


@contextmanager
def thread_switch_interval(seconds: float = 0.001) -> Iterator[None]:
    """While inside, the interpreter switches threads every ``seconds`` (``sys.setswitchinterval``): with
    Python's 5 ms default, V busy grab threads delay the 3D stage by several ms. A process-wide setting,
    so the application (the CLI command) sets it, never the pipeline itself."""
    saved = sys.getswitchinterval()
    sys.setswitchinterval(seconds)
    try:
        yield
    finally:
        sys.setswitchinterval(saved)
