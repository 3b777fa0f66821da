"""Recorded videos, one per camera, as the input of ``capture3d process``: which video is which camera of
the rig, and a calibration adapted (with a warning) to videos cropped by a few pixels.

Matching: a video belongs to the rig camera whose name equals the file name once case and punctuation are
ignored (``cam01.mp4`` is ``cam_01`` and ``CAM-01``); when names do not all match, videos are paired with
the cameras in natural order of their file names, and the caller is told so (``VideoSet.note``).

Sizes: a video a few pixels smaller than its calibration (1080 instead of 1088 columns, as phone and
action-camera encoders crop to a multiple of 16) keeps the calibration's focal length and principal
point (the crop is taken from the right / bottom edge, where encoders crop; measured on the shared
Pose2Sim sessions: the lowest reprojection error of the shifts tried); the camera's image size becomes
the video's, with a warning saying so. Any larger difference is an error: that video was not filmed with
that calibration.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from capture3d.errors import CameraError, RigError
from capture3d.geometry.camera import Rig
from capture3d.io import media
from capture3d.io.media import VIDEO_SUFFIXES

log = logging.getLogger(__name__)

#: a video may be smaller than its calibration by at most this many pixels per side (an encoder crop)
MAX_CROP_PX = 16


@dataclass(frozen=True)
class VideoSet:
    """videos: one path per rig camera, in rig order. rig: the rig adapted to the videos' sizes.
    notes: what a user should be told (pairing by order, adapted sizes)."""

    videos: tuple[Path, ...]
    rig: Rig
    notes: tuple[str, ...] = ()


def _key(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def list_videos(inputs: list[str | os.PathLike]) -> list[Path]:
    """A folder of videos (one per camera) or video files -> the video paths, in natural order."""
    paths = [Path(p) for p in inputs]
    if len(paths) == 1 and paths[0].is_dir():
        folder = paths[0]
        if (folder / "videos").is_dir() and not media.list_videos(folder):
            folder = folder / "videos"  # a trial folder laid out as <trial>/videos/<camera>.mp4
        paths = media.list_videos(folder)
        if not paths:
            raise CameraError(f"{inputs[0]}: no video files (expected one video per camera: "
                              f"{', '.join(VIDEO_SUFFIXES)}) and no session.toml (a capture3d recording)")
        return paths
    for p in paths:
        if not p.exists():
            raise CameraError(f"{p} not found: not a recorded session (a folder with session.toml) nor videos "
                              f"(a folder of them or video files, one per camera)")
        if p.is_dir():
            raise CameraError(f"{p}: a folder among several inputs; expected video files, one per camera, or a "
                              f"single folder (a recorded session or a folder of videos)")
        if not media.is_video(p):
            raise CameraError(f"{p}: not a video file (expected {', '.join(VIDEO_SUFFIXES)})")
    return paths


def match_videos(videos: list[Path], rig: Rig, sizes_wh: list[tuple[int, int]]) -> VideoSet:
    """Pair videos with the rig's cameras (by name, else in order) and adapt the rig to their sizes.

    videos: V paths; sizes_wh: their (W, H) px. RigError when the counts differ or a size is off by more
    than MAX_CROP_PX.
    """
    if len(videos) != len(rig):
        raise RigError(f"{len(videos)} videos ({', '.join(p.name for p in videos)}) but the rig has {len(rig)} "
                       f"cameras ({', '.join(rig.names)}); expected one video per camera")
    by_key = {_key(p.stem): i for i, p in enumerate(videos)}
    notes = []
    if all(_key(c.name) in by_key for c in rig) and len(by_key) == len(videos):
        order = [by_key[_key(c.name)] for c in rig]
    else:
        order = list(range(len(videos)))
        notes.append("video names do not match the rig's cameras; paired in order: "
                     + ", ".join(f"{videos[i].name} -> {c.name}" for i, c in zip(order, rig)))
    for n in notes:
        log.warning(n)
    fitted, size_notes = fit_rig_to_sizes(rig, [sizes_wh[i] for i in order], [videos[i] for i in order])
    return VideoSet(tuple(videos[i] for i in order), fitted, tuple(notes) + size_notes)


def fit_rig_to_sizes(rig: Rig, sizes_wh, labels) -> tuple[Rig, tuple[str, ...]]:
    """The rig with each camera's image size set to its input's (the encoder-crop rule of the module
    docstring), and a warning (logged, and returned as notes) per adapted camera. sizes_wh: (W, H) px per
    camera in rig order ((0, 0): unknown, left as is); labels: the inputs (paths or names) for messages.
    RigError when a size is off by more than MAX_CROP_PX."""
    cams, notes = [], []
    for cam, (w, h), label in zip(rig, sizes_wh, labels):
        cw, ch = cam.size_wh
        if (w, h) != (cw, ch) and w > 0 and h > 0:
            if not (0 <= cw - w <= MAX_CROP_PX and 0 <= ch - h <= MAX_CROP_PX):
                raise RigError(f"{label} is {w}x{h} px but camera {cam.name} was calibrated at {cw}x{ch} px: "
                               f"expected the same size (or a crop of at most {MAX_CROP_PX} px)")
            notes.append(f"{Path(str(label)).name} is {w}x{h} px, camera {cam.name} was calibrated at {cw}x{ch}: "
                         f"the calibration is used as cropped at the right/bottom edge (focal length and "
                         f"principal point kept)")
            cam = dataclasses.replace(cam, size_wh=(w, h))
        cams.append(cam)
    for n in notes:
        log.warning(n)
    return Rig(tuple(cams), rig.metadata), tuple(notes)
