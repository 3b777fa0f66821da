"""Recorded videos, one per camera, as the input of ``capture3d process``: which video is which camera of
the rig, and a calibration adapted (with a warning) to videos cropped by a few pixels.

Matching: the one rule of ``capture3d.io.camera_match`` (by name, ``cam01.mp4`` is ``cam_01``; in natural
order of the file names only when no name matches), said in ``VideoSet.notes``.

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
from dataclasses import dataclass
from pathlib import Path

from capture3d.errors import CameraError, RigError
from capture3d.geometry.camera import Rig
from capture3d.io import media
from capture3d.io.camera_match import match_cameras
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
    """Pair videos with the rig's cameras (``capture3d.io.camera_match``: by name, else in order; with
    fewer videos than cameras, the named cameras only) and adapt the rig to their sizes.

    videos: V paths; sizes_wh: their (W, H) px. RigError when no pairing is possible or a size is off by
    more than MAX_CROP_PX.
    """
    match = match_cameras([p.stem for p in videos], rig.names, "video", labels=[p.name for p in videos])
    notes = [match.note]
    cams = []
    for i, c in match.pairs:
        cam = rig.cameras[c]
        cam, note = adapt_camera_size(cam, sizes_wh[i], videos[i].name)
        if note:
            notes.append(note)
        cams.append(cam)
    for n in notes[0 if not match.by_name or match.left_out else 1:]:
        log.warning(n)
    return VideoSet(tuple(videos[i] for i in match.inputs), Rig(tuple(cams), rig.metadata), tuple(notes))


def adapt_camera_size(cam, size_wh: tuple[int, int], label: str):
    """The ONE size rule of ``process`` and ``live``: a camera whose images are ``size_wh`` (W, H px).

    Returns (camera, note): the camera unchanged and note None when the sizes agree; the camera with the
    video's size and a note when the video is at most MAX_CROP_PX smaller (an encoder crop at the
    right / bottom edge); RigError naming both sizes otherwise (another resolution: another calibration).
    """
    (w, h), (cw, ch) = tuple(size_wh), cam.size_wh
    if (w, h) == (cw, ch):
        return cam, None
    if not (0 <= cw - w <= MAX_CROP_PX and 0 <= ch - h <= MAX_CROP_PX):
        hint = (" (a re-encode at another resolution: calibrate at that size, or use the original video)"
                if (w, h) != (cw, ch) and abs(w / cw - h / ch) < 0.01 else "")
        raise RigError(f"{label} is {w}x{h} px but camera {cam.name} was calibrated at {cw}x{ch} px: "
                       f"expected the same size (or a crop of at most {MAX_CROP_PX} px){hint}")
    note = (f"{label} is {w}x{h} px, camera {cam.name} was calibrated at {cw}x{ch}: the calibration is used "
            f"as cropped at the right/bottom edge (focal length and principal point kept)")
    return dataclasses.replace(cam, size_wh=(w, h)), note
