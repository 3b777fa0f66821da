"""One ``capture3d process`` run as a library call: resolve the config, build the offline pipeline, run
every frame set, write the 3D exports, config.toml and rig.toml into OUT. The CLI command and the batch
engines both call ``process_session``, so a batch's outputs are byte for byte those of ``process``.

Nothing here prints: the result says what happened, the caller reports it.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from capture3d.config import AppConfig, load_config

log = logging.getLogger(__name__)


@dataclass
class ProcessResult:
    """What one run did. kp: the Keypoints3D written (None when nothing was processed); written: the 3D
    files; n_sets: frame sets the input holds; stop_reason: the pipeline's ("SIGINT"/"SIGTERM" when
    interrupted); notes: what the user should be told about the input."""

    kp: object | None
    written: list[Path]
    n_sets: int
    stop_reason: str | None
    detector: str
    notes: tuple[str, ...] = ()
    incomplete_sets: int = 0
    drops: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def interrupted(self) -> bool:
        return self.stop_reason in ("SIGINT", "SIGTERM")

    @property
    def n_frames(self) -> int:
        return 0 if self.kp is None else self.kp.n_frames

    @property
    def valid_pct(self) -> float:
        return float("nan") if self.kp is None else 100.0 * float(self.kp.valid.mean())

    @property
    def reproj_px(self) -> float:
        err = None if self.kp is None else self.kp.reproj_err_px
        return float(np.nanmean(err)) if err is not None and np.isfinite(err).any() else float("nan")


def resolve_config(inputs, config=None, keypoint_set: str | None = None) -> AppConfig:
    """The config ``process`` uses: ``config`` (a path), else the session's own config.toml (one input),
    else the defaults; keypoint_set overrides [pipeline] keypoint_set."""
    inputs = [Path(p) for p in inputs]
    session_cfg = inputs[0] / "config.toml"
    if config:
        cfg = load_config(config)
    elif len(inputs) == 1 and session_cfg.is_file():
        cfg = load_config(session_cfg)
    else:
        cfg = AppConfig()
    if keypoint_set:
        cfg = dataclasses.replace(cfg, pipeline=dataclasses.replace(cfg.pipeline, keypoint_set=keypoint_set))
    return cfg


def process_session(cfg: AppConfig, inputs, out, *, rig_path=None, detector: str | None = None,
                    on_start: Callable | None = None, on_tick: Callable | None = None, handle_signals: bool = True,
                    wrap_detector: Callable | None = None, label: str | None = None,
                    offsets_path=None) -> ProcessResult:
    """Run ``inputs`` (a session, or videos one per camera) through 2D -> 3D and write OUT's files.

    on_start(app): called once built (notes, n_sets known; without it the notes are logged); on_tick(pipeline): called as sets are done;
    handle_signals: Ctrl-C / SIGTERM stop the pipeline cleanly (a partial result is written, marked so);
    wrap_detector(detector) -> detector: replaces the built detector (the batch's detection cache);
    offsets_path: per-camera time offsets (frames, ``capture3d sync``), read and checked against the rig
    before any work; the 2D keypoints are re-sampled at them before the 3D take is solved.
    Raises CameraError when no frame set could be processed (and nothing was interrupted).
    """
    from capture3d.config import config_to_toml  # noqa: PLC0415
    from capture3d.errors import CameraError  # noqa: PLC0415
    from capture3d.export import FORMATS, write_keypoints3d  # noqa: PLC0415
    from capture3d.io.atomic import atomic_write_text  # noqa: PLC0415
    from capture3d.io.rig_files import save_rig  # noqa: PLC0415
    from capture3d.runtime.app import build_process  # noqa: PLC0415
    from capture3d.runtime.signals import stop_on_signals  # noqa: PLC0415

    inputs = [Path(p) for p in ([inputs] if isinstance(inputs, (str, Path)) else inputs)]
    out = Path(out)
    every_person = cfg.tracking.enabled and cfg.tracking.people == "all"
    if every_person and offsets_path:
        from capture3d.errors import ConfigError  # noqa: PLC0415
        raise ConfigError("--offsets with [tracking] people = \"all\" (--people all) is not supported: the time "
                          "offsets re-sample one subject's 2D keypoints; run --people all without --offsets")
    app = build_process(cfg, inputs, rig_path=rig_path, detector=detector, wrap_detector=wrap_detector)
    cfg, source, rig, recon, pipe = app.config, app.source, app.rig, app.reconstructor, app.pipeline
    label = label or (str(inputs[0]) if len(inputs) == 1 else f"{len(inputs)} videos")
    offsets = None
    if offsets_path:
        from capture3d.reconstruct.offsets import read_offsets  # noqa: PLC0415
        try:
            offsets = read_offsets(offsets_path, rig.names)[0]
        except BaseException:
            app.close()
            raise
    if on_start is not None:
        on_start(app)
    else:  # no caller to say them
        for note in app.notes:
            log.warning("%s: %s", label, note)
    tick = on_tick or (lambda p: None)
    try:
        if handle_signals:
            with stop_on_signals(pipe):
                pipe.run(on_tick=tick)
        else:
            pipe.run(on_tick=tick)
        tick(pipe)
    finally:
        app.close()
    st = pipe.stats()
    res = ProcessResult(None, [], app.n_sets, pipe.stop_reason, app.detector.name, app.notes,
                        st.incomplete_sets, st.drops)
    res.extra["tracking"] = recon.tracking
    if every_person:
        return _write_people(res, recon.end_take_people(source.fps), cfg, out, label, app, pipe, rig)
    if offsets is not None:
        from capture3d.reconstruct.offsets import apply_offsets  # noqa: PLC0415

        times, kp2d = recon.take_keypoints2d()
        recon.end_take(source.fps)
        kp = recon.process_sequence(apply_offsets(kp2d, offsets), times, source.fps)
        kp = dataclasses.replace(kp, metadata={**kp.metadata, "offsets_frames": [round(float(o), 3) for o in offsets]})
    else:
        kp = recon.end_take(source.fps)
    res.extra["subject"] = recon.subject_counts()
    pid = recon.tracking.person_id if recon.tracking.enabled else None
    if pid is not None and kp.n_frames and not kp.valid.any():
        from capture3d.errors import ConfigError  # noqa: PLC0415
        born = max(recon.people.n_born, recon.people_born)
        raise ConfigError(f"{label}: no person {pid} in this take: "
                          + (f"the people found have ids 1..{born}" if born else "nobody was tracked")
                          + f" ([tracking] policy / --people {pid})")
    if kp.n_frames == 0:
        if res.interrupted:
            return res
        raise CameraError(f"{label}: no frame set could be processed")
    meta = {**kp.metadata, "source": label, "detector": app.detector.name, "keypoint_set": kp.keypoint_set.name}
    if res.extra["subject"][1]:
        meta |= {"people_seen": res.extra["subject"][0], "subject_choices": res.extra["subject"][1]}
    if res.interrupted:
        meta |= {"partial": True, "interrupted": pipe.stop_reason, "frame_sets": f"{kp.n_frames} of {app.n_sets}"}
    res.kp = kp = dataclasses.replace(kp, times_s=kp.times_s - kp.times_s[0], metadata=meta)
    out.mkdir(parents=True, exist_ok=True)
    for fmt in cfg.export.formats:
        if fmt not in FORMATS:
            log.warning("export format %r is not available here (formats: %s); skipped", fmt, ", ".join(FORMATS))
            continue
        res.written.append(write_keypoints3d(out / f"keypoints3d{FORMATS[fmt][0]}", kp, fmt))
    atomic_write_text(out / "config.toml", config_to_toml(cfg))
    save_rig(out / "rig.toml", rig)
    warn_stale_outputs(out, res.written)
    return res


def warn_stale_outputs(out: Path, written: list[Path]) -> None:
    """Warn about 3D files in OUT that this run did not write (an earlier run's, e.g. per-person TRCs beside a
    single-person take): a user opening them would get another run's result."""
    mine = {Path(p).name for p in written}
    stale = sorted(p.name for p in out.glob("keypoints3d*") if p.name not in mine and not p.name.endswith(".meta.json"))
    if stale:
        log.warning("%s also holds 3D files this run did not write (an earlier run's): %s; delete them or use an "
                    "empty output folder", out, ", ".join(stale))


def _write_people(res: ProcessResult, people: dict, cfg: AppConfig, out: Path, label: str, app, pipe, rig
                  ) -> ProcessResult:
    """[tracking] people = "all": every person's take written per format (capture3d.export.people); res.kp is
    the lowest id's, res.extra["people"] {id: frames seen}."""
    from capture3d.config import config_to_toml  # noqa: PLC0415
    from capture3d.errors import CameraError  # noqa: PLC0415
    from capture3d.export import FORMATS  # noqa: PLC0415
    from capture3d.export.people import write_people  # noqa: PLC0415
    from capture3d.io.atomic import atomic_write_text  # noqa: PLC0415
    from capture3d.io.rig_files import save_rig  # noqa: PLC0415

    if not people:
        if res.interrupted:
            return res
        raise CameraError(f"{label}: nobody was seen in >= {cfg.triangulation.min_views} views for "
                          f"{cfg.tracking.birth_frames} frame sets in a row: no person to write")
    first = next(iter(people.values()))
    meta = {"source": label, "detector": app.detector.name, "keypoint_set": first.keypoint_set.name}
    if res.interrupted:
        meta |= {"partial": True, "interrupted": pipe.stop_reason, "frame_sets": f"{first.n_frames} of {app.n_sets}"}
    t0 = first.times_s[0]
    people = {i: dataclasses.replace(kp, times_s=kp.times_s - t0, metadata={**kp.metadata, **meta, "person": i})
              for i, kp in people.items()}
    res.kp = next(iter(people.values()))
    res.extra["people"] = {i: int(kp.valid.any(axis=1).sum()) for i, kp in people.items()}
    out.mkdir(parents=True, exist_ok=True)
    for fmt in cfg.export.formats:
        if fmt not in FORMATS:
            log.warning("export format %r is not available here (formats: %s); skipped", fmt, ", ".join(FORMATS))
            continue
        res.written += write_people(out / f"keypoints3d{FORMATS[fmt][0]}", people, fmt)
    atomic_write_text(out / "config.toml", config_to_toml(cfg))
    save_rig(out / "rig.toml", rig)
    warn_stale_outputs(out, res.written)
    return res
