"""Recorded videos, one per camera, as the input of ``capture3d process``: which video is which camera of
the rig, and a calibration adapted (with a warning) to videos cropped by a few pixels.

Matching: the one rule of ``capture3d.io.camera_match`` (by name, ``cam01.mp4`` is ``cam_01``; in natural
order of the file names only when no name matches), said in ``VideoSet.notes``.

Sizes: the one size rule of ``capture3d.io.camera_match.adapt_camera_size`` (a crop of at most
MAX_CROP_PX uses the calibration as cropped, with a note; any other size is an error).
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from capture3d.errors import CameraError
from capture3d.geometry.camera import Rig
from capture3d.io import media
from capture3d.io.camera_match import MAX_CROP_PX, adapt_camera_size, match_cameras  # noqa: F401  (MAX_CROP_PX: public here too)
from capture3d.io.media import VIDEO_SUFFIXES

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class VideoSet:
    """videos: one path per rig camera, in rig order. rig: the rig adapted to the videos' sizes.
    notes: what a user should be told (pairing by order, adapted sizes)."""

    videos: tuple[Path, ...]
    rig: Rig
    notes: tuple[str, ...] = ()


#: calibration files a trial's calibration/ folder may hold, in order of preference
CALIB_PATTERNS = ("*.toml", "*.qca.txt", "*.xml")


def find_calibration(folder: Path, root: Path) -> Path | None:
    """The calibration file of a trial: in folder/calibration, else in a parent's, up to root (Pose2Sim's
    layout: ``Demo_Batch/calibration/Calib.qca.txt`` beside ``Demo_Batch/Trial_1/videos/``); None if none."""
    for d in (folder, *folder.parents):
        cal = d / "calibration"
        if cal.is_dir():
            for pattern in CALIB_PATTERNS:
                found = sorted(cal.glob(pattern))
                if found:
                    return found[0]
        if d == root or d == d.parent:
            break
    return None


def trial_calibration(inputs: list[str | os.PathLike]) -> Path | None:
    """The calibration ``process TRIAL`` uses without --rig, found as ``batch`` finds it: in a
    ``calibration/`` folder of the trial or of the folder above it (one folder given), else None."""
    if len(inputs) != 1 or not Path(inputs[0]).is_dir():
        return None
    folder = Path(inputs[0]).resolve()
    trial = folder.parent if folder.name == "videos" else folder
    return find_calibration(folder, trial.parent)


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
    more than MAX_CROP_PX. The notes (the pairing, adapted sizes) are for the caller to say.
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
    return VideoSet(tuple(videos[i] for i in match.inputs), Rig(tuple(cams), rig.metadata), tuple(notes))
