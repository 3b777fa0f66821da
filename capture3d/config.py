"""Configuration: TOML files -> frozen dataclasses whose defaults are the only defaults.

Every section is a frozen dataclass; ``load_config(path, AppConfig)`` fills it from TOML, checking
types, and an unknown key is an error that lists the allowed ones. ``config_to_toml`` writes the
resolved configuration back (saved beside every recording and result).

Sections add themselves by being fields of ``AppConfig`` (one dataclass per stage, kept small).
"""
from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from capture3d.errors import ConfigError
from capture3d.io.config_toml import build_dataclass, config_to_toml  # noqa: F401 (config_to_toml: public here)


@dataclass(frozen=True)
class SyntheticConfig:
    """The synthetic rig, subject and 2D detector-error model (demo, tests, benchmarks)."""

    cameras: int = 4
    frames: int = 600
    fps: float = 30.0
    seed: int = 0
    width: int = 1920
    height: int = 1080
    whole_body: bool = False
    noise_px: float = 2.0
    missing: float = 0.10
    outliers: float = 0.05
    swaps: float = 0.02

    def validate(self) -> None:
        if not 2 <= self.cameras <= 16:
            raise ConfigError(f"synthetic.cameras must be 2..16, found {self.cameras}")
        if self.frames < 1 or self.fps <= 0 or self.width < 16 or self.height < 16:
            raise ConfigError("synthetic.frames, fps, width and height must be positive "
                              f"(found {self.frames}, {self.fps}, {self.width}, {self.height})")
        for k in ("missing", "outliers", "swaps"):
            if not 0 <= getattr(self, k) <= 1:
                raise ConfigError(f"synthetic.{k} must be a probability in [0, 1], found {getattr(self, k)}")
        if self.noise_px < 0:
            raise ConfigError(f"synthetic.noise_px must be >= 0, found {self.noise_px}")


@dataclass(frozen=True)
class TriangulationConfig:
    """Robust triangulation settings (see capture3d.geometry.triangulate)."""

    robust: bool = True
    threshold_px: float = 15.0
    min_views: int = 2
    min_score: float = 0.05
    refine_iterations: int = 1

    def validate(self) -> None:
        if self.threshold_px <= 0:
            raise ConfigError(f"triangulation.threshold_px must be > 0, found {self.threshold_px}")
        if self.min_views < 2:
            raise ConfigError(f"triangulation.min_views must be >= 2, found {self.min_views}")
        if not 0 <= self.min_score < 1:
            raise ConfigError(f"triangulation.min_score must be in [0, 1), found {self.min_score}")
        if not 0 <= self.refine_iterations <= 10:
            raise ConfigError(f"triangulation.refine_iterations must be 0..10, found {self.refine_iterations}")


_POLICIES = ("central", "largest", "consistent")
_PEOPLE = ("one", "all")


@dataclass(frozen=True)
class TrackingConfig:
    """Single-subject selection across views (see capture3d.reconstruct.track).

    policy: how the subject is (re)acquired when none is tracked: "central" (closest to the middle of the
    capture volume), "largest" (largest in the images) or "consistent" (most views, lowest error).
    gate_m: a view's detection matches the predicted subject when its median joint distance is within
    this many metres (converted to px at the subject's depth). hold_s: how long a lost subject is held,
    re-acquired only within reacquire_radius_m + max_speed_mps * time lost of its predicted position and
    with a body scale (sum of bone lengths) within shape_tolerance (relative) of its own. swap_margin_px: a left/right pair is
    swapped when that brings it this much closer to the prediction.

    people: "one" (default: the single subject above) or "all" (every person, each with a stable id;
    capture3d.reconstruct.people). With "all": link_m, the distance (metres) between two cameras' rays of a
    joint below which two detections of different views are taken for the same person (median over joints);
    birth_frames, the frame sets in a row a new person must be seen in >= 2 views before it gets an id; a
    person not seen for hold_s is retired, and re-identified within that time by position, velocity and
    body scale (reacquire_radius_m, max_speed_mps, shape_tolerance). policy may also be a person id
    (an integer >= 1) in single-person mode: the subject is that person of the multi-person tracker.
    """

    enabled: bool = True
    policy: str | int = "central"
    gate_m: float = 0.3
    hold_s: float = 3.0
    reacquire_radius_m: float = 0.5
    max_speed_mps: float = 1.0
    shape_tolerance: float = 0.03
    min_joints: int = 6
    swap_repair: bool = True
    swap_margin_px: float = 4.0
    people: str = "one"
    link_m: float = 0.1
    birth_frames: int = 3

    @property
    def person_id(self) -> int | None:
        """The id policy's person id, or None for a named policy."""
        return self.policy if isinstance(self.policy, int) else None

    def validate(self) -> None:
        if isinstance(self.policy, bool) or (isinstance(self.policy, int) and self.policy < 1) or \
                (not isinstance(self.policy, int) and self.policy not in _POLICIES):
            raise ConfigError(f"tracking.policy must be one of {', '.join(_POLICIES)} or a person id "
                              f"(an integer >= 1), found {self.policy!r}")
        if self.people not in _PEOPLE:
            raise ConfigError(f"tracking.people must be one of {', '.join(_PEOPLE)}, found {self.people!r}")
        for k in ("gate_m", "reacquire_radius_m", "max_speed_mps", "shape_tolerance", "link_m"):
            if not getattr(self, k) > 0:
                raise ConfigError(f"tracking.{k} must be > 0, found {getattr(self, k)}")
        if self.hold_s < 0 or self.swap_margin_px < 0:
            raise ConfigError(f"tracking.hold_s and swap_margin_px must be >= 0, found {self.hold_s}, "
                              f"{self.swap_margin_px}")
        for k, least in (("birth_frames", 1), ("min_joints", 2)):
            if getattr(self, k) < least:
                raise ConfigError(f"tracking.{k} must be >= {least}, found {getattr(self, k)}")


@dataclass(frozen=True)
class FilterConfig:
    """Temporal filtering of the subject's 3D keypoints (see capture3d.reconstruct.filters).

    causal = true: the live chain (live_method "kalman": constant-velocity Kalman filter with innovation
    gating, or "one_euro": spike gate + one-euro; then bone lengths from the frames so far) also on
    recordings, so a replay gives exactly the live numbers. causal = false (offline): Hampel spike
    rejection, gap filling up to max_gap_s, zero-lag Butterworth (cutoff in Hz, below Nyquist), then
    bone-length stabilization with per-subject lengths from the whole sequence (bone_iterations sweeps).
    live_bone_iterations: Gauss-Newton steps of the live bone-length projection (about 30 us each).
    bone_tolerance: offline, bones within this fraction of their length are left alone (live: exact).
    kalman_catchup_mps: a joint coming back from outlier rejection glides to its measurement at this
    speed, m/s, instead of jumping (0: jumps).
    """

    enabled: bool = True
    causal: bool = False
    live_method: str = "kalman"
    kalman_process_noise: float = 0.3
    kalman_measurement_noise_m: float = 0.01
    kalman_gate_sigmas: float = 4.0
    kalman_catchup_mps: float = 6.0
    one_euro_min_cutoff_hz: float = 1.0
    one_euro_beta: float = 10.0
    one_euro_d_cutoff_hz: float = 1.0
    spike_gate_m: float = 0.25
    hampel_half_window: int = 5
    hampel_n_sigmas: float = 3.0
    hampel_min_dev_m: float = 0.02
    max_gap_s: float = 0.25
    gap_method: str = "cubic"
    butterworth_cutoff_hz: float = 6.0
    butterworth_order: int = 2
    bone_lengths: bool = True
    bone_iterations: int = 10
    bone_tolerance: float = 0.01
    live_bone_iterations: int = 1

    def validate(self) -> None:
        for k, allowed in (("live_method", ("kalman", "one_euro")), ("gap_method", ("linear", "cubic"))):
            if getattr(self, k) not in allowed:
                raise ConfigError(f"filter.{k} must be {' or '.join(map(repr, allowed))}, found {getattr(self, k)!r}")
        for k in ("kalman_process_noise", "kalman_measurement_noise_m", "kalman_gate_sigmas",
                  "one_euro_min_cutoff_hz", "one_euro_d_cutoff_hz", "spike_gate_m", "butterworth_cutoff_hz"):
            if not getattr(self, k) > 0:
                raise ConfigError(f"filter.{k} must be > 0, found {getattr(self, k)}")
        if self.one_euro_beta < 0 or self.hampel_n_sigmas <= 0 or self.hampel_min_dev_m < 0:
            raise ConfigError("filter.one_euro_beta and hampel_min_dev_m must be >= 0 and hampel_n_sigmas > 0, "
                              f"found {self.one_euro_beta}, {self.hampel_min_dev_m}, {self.hampel_n_sigmas}")
        if self.kalman_catchup_mps < 0 or not 0 <= self.bone_tolerance < 0.5 or self.max_gap_s < 0:
            raise ConfigError("filter.kalman_catchup_mps and max_gap_s must be >= 0 and bone_tolerance in [0, 0.5), "
                              f"found {self.kalman_catchup_mps}, {self.max_gap_s} s, {self.bone_tolerance}")
        for k, lo, hi, unit in (("hampel_half_window", 0, 100, " frames"), ("butterworth_order", 1, 8, ""),
                                ("bone_iterations", 0, 100, " sweeps"), ("live_bone_iterations", 0, 100, " sweeps")):
            if not lo <= getattr(self, k) <= hi:
                raise ConfigError(f"filter.{k} must be {lo}..{hi}{unit}, found {getattr(self, k)}")

    def check_rate(self, fps: float) -> None:
        """ConfigError when a setting is impossible at this frame rate (cutoff at or above Nyquist)."""
        check_cutoff(self.butterworth_cutoff_hz, fps)


def check_cutoff(cutoff_hz: float, fps: float, what: str = "filter.butterworth_cutoff_hz") -> None:
    """ConfigError unless fps is a positive number and 0 < cutoff_hz < fps / 2 (the Nyquist frequency)."""
    if not (math.isfinite(fps) and fps > 0):
        raise ConfigError(f"the frame rate must be a positive number of fps, found {fps}")
    if not 0 < cutoff_hz < fps / 2:
        section, _, key = what.rpartition(".")
        fix = f"set [{section}] {key} = {min(6.0, fps / 4):g} (a value below {fps / 2:g}) in the config" if section \
            else f"use a value below {fps / 2:g}"
        raise ConfigError(f"{what} must be between 0 and the Nyquist frequency {fps / 2:g} Hz "
                          f"of {fps:g} fps, found {cutoff_hz:g} Hz: {fix}")


@dataclass(frozen=True)
class ExportConfig:
    """Which 3D files a run writes: any of csv, json, trc, bvh, c3d (capture3d.export.FORMATS)."""

    formats: tuple[str, ...] = ("csv", "json", "trc")

    def validate(self) -> None:
        from capture3d.export import FORMATS  # noqa: PLC0415  (the registry is the list of allowed values)
        unknown = [f for f in self.formats if f.lower() not in FORMATS]
        if unknown:
            raise ConfigError(f"export.formats: unknown format(s) {', '.join(map(repr, unknown))}; "
                              f"formats: {', '.join(FORMATS)}")


#: The frame-source kinds (capture3d.sources builds each).
SOURCE_KINDS = ("synthetic", "spinnaker", "opencv", "images", "session")


@dataclass(frozen=True)
class SourceConfig:
    """Where frames come from (capture3d.sources). kind: synthetic, spinnaker, opencv, images, session.

    cameras: per camera, the serial (spinnaker), device index / video file / RTSP URL (opencv) or image
      folder (images); unused by synthetic (see [synthetic]) and session (one session folder in ``session``).
    names: camera labels in the same order (default: the cameras entries; cam1..camN for synthetic).
    fps: frame rate, Hz (0: the source's own; synthetic uses [synthetic] fps).
    sync: "auto" (hardware for spinnaker, software otherwise), "hardware" (group by trigger frame id) or
      "software" (group by nearest timestamp within half a frame period).
    primary: spinnaker serial of the camera that drives the strobe ("" = the first camera).
    pixel_format, roi (x, y, w, h px; w = h = 0: full sensor), exposure_us (0: leave as is), gain_db
      (negative: leave as is), trigger_line, strobe_line, buffer_count: spinnaker settings.
    realtime: pace file sources (video, images, session) at fps instead of reading as fast as possible.
    loop: restart file sources at their end (live demos).
    preload: decode the video files (kind "opencv") into memory before the run, then replay them paced at
      fps like a camera (``capture3d.sources.preload``; refused, with the size needed, when the decoded clip
      does not fit in memory); live runs only (``capture3d live``; ``process`` reads the files).
    """

    kind: str = "synthetic"
    cameras: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    session: str = ""
    fps: float = 0.0
    sync: str = "auto"
    primary: str = ""
    pixel_format: str = ""
    roi: tuple[int, int, int, int] = (0, 0, 0, 0)
    exposure_us: float = 0.0
    gain_db: float = -1.0
    trigger_line: str = "Line3"
    strobe_line: str = "Line2"
    buffer_count: int = 10
    realtime: bool = False
    loop: bool = False
    preload: bool = False

    def validate(self) -> None:
        if self.preload and self.kind != "opencv":
            raise ConfigError(f"source.preload decodes video files (kind = \"opencv\"); found kind {self.kind!r}")
        if self.kind not in SOURCE_KINDS:
            raise ConfigError(f"source.kind must be one of {', '.join(SOURCE_KINDS)}, found {self.kind!r}")
        if self.sync not in ("auto", "hardware", "software"):
            raise ConfigError(f"source.sync must be auto, hardware or software, found {self.sync!r}")
        if self.names and len(self.names) != len(self.cameras):
            raise ConfigError(f"source.names must have one label per camera ({len(self.cameras)}), "
                              f"found {len(self.names)}")
        if self.kind in ("spinnaker", "opencv", "images") and not self.cameras:
            raise ConfigError(f"source.cameras must list the cameras of a {self.kind} source, found none")
        if self.kind == "session" and not self.session:
            raise ConfigError("source.session must name a recorded session folder for kind = \"session\"")
        if self.fps < 0 or self.buffer_count < 1 or min(self.roi) < 0:
            raise ConfigError(f"source.fps must be >= 0, buffer_count >= 1 and roi >= 0, found fps={self.fps}, "
                              f"buffer_count={self.buffer_count}, roi={self.roi}")


def detect_every_value(value, where: str = "detect_every") -> int | str:
    """[pipeline] detect_every (or the same Python argument): "auto" or an int >= 1; else a ConfigError."""
    n = value if isinstance(value, int) and not isinstance(value, bool) else \
        (int(value) if isinstance(value, str) and value.strip().lstrip("-").isdigit() else None)
    if value != "auto" and (n is None or n < 1):
        raise ConfigError(f"{where} must be \"auto\" or a whole number of frame sets >= 1 (1: detect every set), "
                          f"found {value!r}")
    return "auto" if value == "auto" else n


@dataclass(frozen=True)
class PipelineConfig:
    """The real-time pipeline (capture3d.runtime.pipeline).

    mode: "live" (latest-value slots, drop old frame sets, count drops) or "offline" (every frame set).
    detector: 2D detector name (capture3d.detect.create_detector), or "auto": the synthetic detector for
    the synthetic source (and sessions recorded from it), capture3d.detect.DEFAULT_DETECTOR (mediapipe)
    for every other source. detector_options: the backend's options (e.g. model_complexity = 1 for
    mediapipe; see ``capture3d detect --help``). keypoint_set: the joints the 3D stage and the exports use
    (a name of capture3d.body, e.g. "BODY_25"). rig: rig TOML file ("" = the source's
    own rig: synthetic or a recorded session). max_delay_frames: how long sync waits for a late view before
    emitting an incomplete frame set. thumbnail_width: px of the viewer thumbnails (0: none).
    queue_size: bounded lossless queues (recording, offline processing), in frame sets.
    crop: where each view is detected on a crop around the subject's predicted 3D position projected into it
    (``capture3d.runtime.view_crops``; detectors that look at the images only, e.g. mediapipe): "live"
    (live mode only, the default), "always" (also offline) or "off" (whole images). crop_margin: the crop
    grows by this fraction of the projected subject's larger side on every side. crop_size: the crops' long
    side, px (the detector's input; MediaPipe works at 256 px whatever it is given).
    keyframes: where the detector runs on keyframes only and every person's keypoints are tracked in
    between (``capture3d.detect.keyframes``; image detectors only): "live" (live mode only, the default),
    "always" (also offline: ``capture3d process``) or "off" (the detector on every frame set).
    detect_every: "auto" (the interval adapts to the CPU time left and the subject's speed) or N >= 1, a
    keyframe every N frame sets per view (1: detect every set).
    """

    mode: str = "live"
    detector: str = "auto"
    detector_options: dict = field(default_factory=dict)
    keypoint_set: str = "BODY_25"
    rig: str = ""
    max_delay_frames: int = 3
    thumbnail_width: int = 160
    queue_size: int = 64
    latency_window: int = 2000
    crop: str = "live"
    crop_margin: float = 0.15
    crop_size: int = 512
    keyframes: str = "live"
    detect_every: int | str = "auto"

    def validate(self) -> None:
        if self.mode not in ("live", "offline"):
            raise ConfigError(f"pipeline.mode must be live or offline, found {self.mode!r}")
        if self.keyframes not in ("live", "always", "off"):
            raise ConfigError(f"pipeline.keyframes must be live, always or off, found {self.keyframes!r}")
        detect_every_value(self.detect_every, "pipeline.detect_every")
        if self.crop not in ("live", "always", "off"):
            raise ConfigError(f"pipeline.crop must be live, always or off, found {self.crop!r}")
        if not 0.0 <= self.crop_margin <= 2.0 or not 64 <= self.crop_size <= 4096:
            raise ConfigError(f"pipeline.crop_margin must be in [0, 2] and crop_size in [64, 4096] px, found "
                              f"{self.crop_margin} and {self.crop_size}")
        if self.max_delay_frames < 1 or self.queue_size < 1 or self.thumbnail_width < 0 or self.latency_window < 10:
            raise ConfigError("pipeline.max_delay_frames and queue_size must be >= 1, thumbnail_width >= 0 and "
                              f"latency_window >= 10, found {self.max_delay_frames}, {self.queue_size}, "
                              f"{self.thumbnail_width}, {self.latency_window}")


@dataclass(frozen=True)
class RecordingConfig:
    """Session recording (capture3d.io.recording).

    codec: "mjpg" (.avi, fast, readable after a crash), "ffv1" (.mkv, lossless; unreadable if the process
    is killed), "png" (lossless image sequence, readable after a crash). quality: JPEG quality (mjpg).
    flush_s: how often the per-frame CSV is flushed to disk. min_free_mb: stop recording cleanly when
    the disk has less free space.
    """

    codec: str = "mjpg"
    quality: int = 90
    flush_s: float = 0.5
    min_free_mb: float = 200.0

    def validate(self) -> None:
        if self.codec not in ("mjpg", "ffv1", "png"):
            raise ConfigError(f"recording.codec must be mjpg, ffv1 or png, found {self.codec!r}")
        if not 1 <= self.quality <= 100 or self.flush_s <= 0 or self.min_free_mb < 0:
            raise ConfigError(f"recording.quality must be 1..100, flush_s > 0, min_free_mb >= 0, found "
                              f"{self.quality}, {self.flush_s}, {self.min_free_mb}")


@dataclass(frozen=True)
class StreamConfig:
    """Streams out of ``capture3d live`` besides its --stream URLs: vmc://, osc://, lsl://, ws:// (capture3d.stream)."""

    urls: tuple[str, ...] = ()

    def validate(self) -> None:
        from capture3d.stream.urls import check_stream_urls  # noqa: PLC0415
        check_stream_urls(self.urls, ConfigError, "stream.urls")


@dataclass(frozen=True)
class SelfcalConfig:
    """Live rig refinement from the people in view (capture3d.runtime.refine_stage; opt-in).

    live: refine the rig in the background while ``capture3d live`` runs (also ``live --refine-rig``).
    window: the most recent frame sets (with a 3D pose) kept for the refinement. min_frames: frame sets
    needed before the first attempt. every: frame sets between two attempts. min_gain: a refined rig is
    swapped in only when its median held-out-view error (on the window's frames it was not fitted on) is
    this fraction below the rig in use. The board-calibrated rig is always the refinement's prior.
    """

    live: bool = False
    window: int = 300
    min_frames: int = 150
    every: int = 150
    min_gain: float = 0.05

    def validate(self) -> None:
        if not 20 <= self.min_frames <= self.window:
            raise ConfigError(f"selfcal.min_frames must be >= 20 and <= selfcal.window, found {self.min_frames} "
                              f"and {self.window}")
        if self.every < 1:
            raise ConfigError(f"selfcal.every must be >= 1 frame set, found {self.every}")
        if not 0 <= self.min_gain < 1:
            raise ConfigError(f"selfcal.min_gain must be in [0, 1), found {self.min_gain}")


@dataclass(frozen=True)
class AppConfig:
    """The whole application configuration (one TOML file, one table per section)."""

    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    triangulation: TriangulationConfig = field(default_factory=TriangulationConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    filter: FilterConfig = field(default_factory=FilterConfig)
    source: SourceConfig = field(default_factory=SourceConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    recording: RecordingConfig = field(default_factory=RecordingConfig)
    stream: StreamConfig = field(default_factory=StreamConfig)
    selfcal: SelfcalConfig = field(default_factory=SelfcalConfig)

    def validate(self) -> None:
        for f in dataclasses.fields(self):
            section = getattr(self, f.name)
            if hasattr(section, "validate"):
                section.validate()


def config_from_dict(data: dict, cls=AppConfig, where: str = ""):
    """Build and validate a config dataclass from a plain dict (e.g. parsed TOML)."""
    cfg = build_dataclass(cls, data, where or cls.__name__)
    if hasattr(cfg, "validate"):
        cfg.validate()
    return cfg


def load_config(path: str | os.PathLike, cls=AppConfig):
    """Load a TOML config file into ``cls``; missing keys take the dataclass defaults."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return config_from_dict(data, cls, str(path))
