"""A synchronized calibration session: one video or image folder per camera, named after the camera.

``SESSION_DIR/cam1/`` (images) or ``SESSION_DIR/cam1.mp4`` (video) gives camera ``cam1``. Images pair
up across cameras by the number their names end with (``left05.jpg`` with ``right05.jpg``,
``cam_0_frame_100.jpg`` with ``cam_1_frame_100.jpg``: frames.frame_number), or by their order in sorted
file names when some name carries no number (or one number twice); video frames by their index, or, when the session
folder has a ``timestamps.csv`` (Caliscope's: ``sync_index, cam_id, frame_index, frame_time``), by
``sync_index``: the frames of all cameras with the same sync_index are one moment (see calib/sync_table.py).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable

from capture3d.errors import CalibrationError
from capture3d.io.media import camera_inputs, video_info
from capture3d.calib.boards import Board
from capture3d.calib.board_probe import PROBE_FRAMES, probe_board
from capture3d.calib.detect import CameraDetections, ViewDetection, detect_camera
from capture3d.calib.frames import FrameRef, auto_stride, frame_number, list_frames
from capture3d.calib.sync_table import SYNC_TABLE, SyncTable, read_sync_table

log = logging.getLogger(__name__)


def session_inputs(session_dir: str | os.PathLike) -> dict[str, Path]:
    """{camera name: folder or video} in natural order of the names (capture3d.io.media.camera_inputs);
    CalibrationError when there is none (one camera gives its intrinsics only)."""
    root = Path(session_dir)
    out = camera_inputs(root, CalibrationError)
    if not out:
        raise CalibrationError(f"{root}: found no camera input; a rig session needs one image folder or video per "
                               f"camera, named after the camera (cam1/ or cam1.mp4)")
    return out


def detect_session(session_dir: str | os.PathLike, board: Board, stride: int | None = 1, workers: int | None = None,
                   progress: Callable[[str, int, int], None] | None = None,
                   thorough: bool | None = None, probe_frames: int = PROBE_FRAMES) -> list[CameraDetections]:
    """Detect the board in every camera of a session. progress(camera, done, total).

    stride: use every stride-th video frame (or sync index, with a timestamps.csv); None picks one stride
    for all videos (auto_stride of the longest). Image folders always use every image.
    probe_frames: first frames per camera searched for the board before the whole session (board_probe;
    an inverted / legacy ChArUco variant is used when only it is found; 0 skips). Each returned
    CameraDetections has ``board`` = the board it was detected with.
    """
    inputs = session_inputs(session_dir)
    table = read_sync_table(Path(session_dir) / SYNC_TABLE, inputs) if (Path(session_dir) / SYNC_TABLE).is_file() \
        else None
    if stride is None:  # one stride for all cameras, so that frame i stays synchronized
        longest = len(table.sync_indices) if table else max(
            (video_info(p, CalibrationError)[0] for p in inputs.values() if p.is_file()), default=0)
        stride = auto_stride(longest)
    sets = None
    if table is not None:
        chosen, refs, sets = _synced_refs(inputs, table, stride)
        chosen = [f"sync{s}" for s in chosen]
    else:
        refs = {name: list_frames([path], stride) for name, path in inputs.items()}
        numbered = _numbered(refs)
        if numbered is not None:
            chosen, sets = numbered
    board = probe_board(refs, board, workers, probe_frames, thorough)
    dets = []
    for name in inputs:
        cb = (lambda d, t, n=name: progress(n, d, t)) if progress else None
        det = detect_camera(refs[name], board, name, workers, cb, thorough)
        dets.append(_on_sync_sets(det, chosen, sets[name], table is not None) if sets is not None else det)
        dets[-1].board = board
    counts = {d.name: len(refs[d.name]) for d in dets}
    if sets is None and len(set(counts.values())) > 1:
        log.warning("cameras have different frame counts %s: frames are paired by their order (their names carry "
                    "no frame number), check that the recordings are synchronized and complete", counts)
    return dets


def _numbered(refs: dict[str, list[FrameRef]]) -> tuple[list[str], dict[str, list[int]]] | None:
    """(label of each frame set, {camera: the frame-set position of each of its frames}) pairing the images
    of all cameras by the number their names end with (frames.frame_number); None (pair by order) when a
    camera has a video, a name without a number, or two names with one number. Frames without a partner
    in another camera are warned about (they still constrain their camera's lens)."""
    numbers = {}
    for name, rs in refs.items():
        nums = [frame_number(r) for r in rs]
        if not nums or None in nums or len(set(nums)) < len(nums):
            return None
        numbers[name] = nums
    keys = sorted(set().union(*numbers.values()))
    at = {k: i for i, k in enumerate(keys)}
    if len(refs) > 1:
        alone = {name: [r.label for r, n in zip(refs[name], nums)
                        if not any(n in numbers[o] for o in numbers if o != name)] for name, nums in numbers.items()}
        alone = {k: v for k, v in alone.items() if v}
        if alone:
            log.warning("images paired by the number in their names; without a partner in another camera: %s",
                        "; ".join(f"{k}: {', '.join(v[:8])}{' ...' if len(v) > 8 else ''}" for k, v in alone.items()))
    return [f"#{k}" for k in keys], {name: [at[n] for n in nums] for name, nums in numbers.items()}


def _synced_refs(inputs: dict[str, Path], table: SyncTable, stride: int):
    """(every stride-th sync index, {camera: its frames at those sync indices}, {camera: the position in
    the chosen sync indices of each of its frames}); a camera without a row for a sync index skips it."""
    chosen = table.sync_indices[::stride]
    refs, sets = {}, {}
    for name, path in inputs.items():
        pos = table.frames[name]
        have = [(k, s) for k, s in enumerate(chosen) if s in pos]
        refs[name] = [FrameRef(path, pos[s]) for _, s in have]
        sets[name] = [k for k, _ in have]
    return chosen, refs, sets


def _on_sync_sets(det: CameraDetections, chosen: list[str], mine: list[int], by_set: bool) -> CameraDetections:
    """det with frames renumbered from positions in its frame list (``mine``: their positions in the frame
    sets ``chosen``, labelled by these) to frame-set positions. A frame is labelled by its own label (file
    name), after its set's (``sync12 (cam_1.mp4#14)``) when ``by_set``; a set this camera has no frame of
    by "" (CameraDetections.n_own_frames counts the others)."""
    views = [ViewDetection(mine[v.frame], v.label, v.corner_ids, v.xy_px) for v in det.views]
    labels = [""] * len(chosen)
    for k, pos in enumerate(mine):
        labels[pos] = f"{chosen[pos]} ({det.labels[k]})" if by_set else det.labels[k]
    return CameraDetections(det.name, det.size_wh, labels, views, det.unreadable)
