"""Session recording: one video (or image sequence) per camera, a per-frame table, the config and the rig.

Layout of a session folder::

    session.toml     cameras, frame rate, codec, source kind (written first, rewritten at the end)
    config.toml      the resolved application config (capture3d.config.config_to_toml)
    rig.toml         the rig the session was captured with (when known)
    frames.csv       one row per recorded frame (FRAME_COLUMNS), flushed every ``flush_s`` seconds
    <camera>.avi     codec "mjpg" (Motion-JPEG, OpenCV's AVI writer: fast; readable after a crash up to
                     its last ~32 KB of frames)
    <camera>.mkv     codec "ffv1" (lossless; only readable when the recording was closed properly)
    <camera>/000000.png ...   codec "png" (lossless image sequence; readable after a crash)

``video_frame`` in frames.csv is the frame's position in its camera's video, so a reader pairs rows and
images even when some views of a frame set are missing. A recording cut by a crash or power loss keeps the
rows and frames that reached the disk; ``read_frame_table`` and the ``session`` source stop at the last
frame actually decodable.

A full disk (an ``OSError`` with errno ENOSPC from a write, or free space under ``min_free_mb``) raises
``OSError(ENOSPC)`` from ``write`` after closing every file, so what was written stays readable.

``LiveBVH`` writes ``keypoints3d.bvh`` into the session while recording (``capture3d live --record``): one
BVH frame per frame set, appended as the 3D results come, valid after a crash once ``repair_bvh`` has run.
"""
from __future__ import annotations

import concurrent.futures
import csv
import datetime
import errno
import logging
import os
import shutil
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from capture3d.geometry.camera import Rig
from capture3d.config import AppConfig, RecordingConfig, config_to_toml
from capture3d.errors import CameraError, ExportError
from capture3d.export.bvh_stream import BVHStreamWriter
from capture3d.io.atomic import atomic_write_text
from capture3d.io.rig_files import save_rig
from capture3d.io.toml_write import toml_table
from capture3d.body.keypoint_sets import KeypointSet
from capture3d.types import FrameSet

log = logging.getLogger(__name__)

FRAME_COLUMNS = ("set_index", "camera", "view", "frame_id", "device_time_s", "host_time_s", "time_s",
                 "video_frame", "incomplete", "frame_index")
_CODECS = {"mjpg": ("MJPG", ".avi"), "ffv1": ("FFV1", ".mkv"), "png": (None, "")}


def video_path(folder: Path, camera: str, codec: str) -> Path:
    """Where camera's video (or, for png, its image folder) lives in a session folder."""
    return Path(folder) / f"{camera}{_CODECS[codec][1]}"


class SessionWriter:
    """Writes frame sets into a session folder (see the module docstring). Not thread-safe: one writer thread.

    cameras: V camera names in view order. fps: nominal frame rate (video header).
    """

    def __init__(self, folder: str | os.PathLike, cameras: list[str], fps: float,
                 config: RecordingConfig = RecordingConfig(), app_config: AppConfig | None = None,
                 rig: Rig | None = None, source_kind: str = "") -> None:
        self.folder = Path(folder)
        self.cameras = list(cameras)
        self.fps = float(fps)
        self.config = config
        self.source_kind = source_kind
        if self.folder.exists() and any(self.folder.iterdir()):
            raise CameraError(f"session folder {self.folder} exists and is not empty (expected a new folder)")
        self.folder.mkdir(parents=True, exist_ok=True)
        self._writers: list[cv2.VideoWriter | None] = [None] * len(self.cameras)
        # the views of a frame set are encoded in parallel (OpenCV releases the GIL while encoding)
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(len(self.cameras),
                                                                                 os.cpu_count() or 1)),
                                                           thread_name_prefix="encode")
        self.frames_written = [0] * len(self.cameras)
        self.sets_written = 0
        self.closed = False
        self.started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        if app_config is not None:
            atomic_write_text(self.folder / "config.toml", config_to_toml(app_config))
        if rig is not None:
            save_rig(self.folder / "rig.toml", rig)
        self._write_session_toml(finished=False)
        self._csv_file = open(self.folder / "frames.csv", "w", newline="", encoding="utf-8")
        self._csv = csv.writer(self._csv_file)
        self._csv.writerow(FRAME_COLUMNS)
        self._last_flush = time.monotonic()
        self._flush_now()

    def _write_session_toml(self, finished: bool) -> None:
        items = {"format": 1, "cameras": self.cameras, "fps": self.fps, "codec": self.config.codec,
                 "source": self.source_kind, "started_utc": self.started, "finished": finished,
                 "frame_sets": self.sets_written, "frames": self.frames_written}
        atomic_write_text(self.folder / "session.toml", toml_table(items, "session"))

    def _open_video(self, view: int, image: np.ndarray) -> cv2.VideoWriter | None:
        codec = self.config.codec
        path = video_path(self.folder, self.cameras[view], codec)
        if codec == "png":
            path.mkdir(exist_ok=True)
            return None
        h, w = image.shape[:2]
        # MJPG through OpenCV's own AVI writer: it writes as it goes (32 KB buffer) so a killed recording keeps
        # all but its last buffered frames; FFmpeg's muxer may keep seconds of small frames in memory.
        api = cv2.CAP_OPENCV_MJPEG if codec == "mjpg" else cv2.CAP_FFMPEG
        writer = cv2.VideoWriter(str(path), api, cv2.VideoWriter_fourcc(*_CODECS[codec][0]), self.fps, (w, h),
                                 [cv2.VIDEOWRITER_PROP_IS_COLOR, 1])
        if not writer.isOpened():
            raise CameraError(f"cannot open a {codec} video writer for {path} ({w}x{h}); this OpenCV build "
                              "may lack the codec: try recording.codec = \"mjpg\" or \"png\"")
        if codec == "mjpg":
            writer.set(cv2.VIDEOWRITER_PROP_QUALITY, float(self.config.quality))
        return writer

    def _write_image(self, view: int, image: np.ndarray) -> None:
        if self.config.codec == "png":
            ok, buf = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 1])
            if not ok:
                raise CameraError(f"camera {self.cameras[view]}: PNG encoding failed for shape {image.shape}")
            folder = video_path(self.folder, self.cameras[view], "png")
            if self.frames_written[view] == 0:
                folder.mkdir(exist_ok=True)
            path = folder / f"{self.frames_written[view]:06d}.png"
            with open(path, "wb") as fh:
                fh.write(buf.tobytes())
            return
        if image.ndim == 2:  # mono frames are stored as BGR (OpenCV's MJPG writer mishandles 1 channel)
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        if self._writers[view] is None:
            self._writers[view] = self._open_video(view, image)
        self._writers[view].write(image)

    def write(self, frame_set: FrameSet) -> None:
        """Append one frame set (missing views and frames without pixels are skipped).

        Raises OSError(ENOSPC) when the disk is full (files closed first) and CameraError when called
        after close.
        """
        if self.closed:
            raise CameraError(f"session {self.folder} is closed; cannot write frame set {frame_set.index}")
        try:
            views = [v for v, f in enumerate(frame_set.frames) if f is not None and f.image is not None]
            jobs = [self._pool.submit(self._write_image, v, frame_set.frames[v].image) for v in views]
            for job in jobs:
                job.result()  # re-raises an encoder or disk error
            for v in views:
                f = frame_set.frames[v]
                self._csv.writerow((frame_set.index, f.camera, v, f.frame_id, repr(f.device_time_s),
                                    repr(f.host_time_s), repr(f.time_s), self.frames_written[v], int(f.incomplete),
                                    f.metadata.get("frame_index", frame_set.index)))
                self.frames_written[v] += 1
            self.sets_written += 1
            now = time.monotonic()
            if now - self._last_flush >= self.config.flush_s:
                self._last_flush = now
                self._flush_now()
                self._check_free_space()
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                log.error("disk full while recording %s: closing it after %d frame sets", self.folder,
                          self.sets_written)
                self.close(disk_full=True)
            raise

    def _flush_now(self) -> None:
        self._csv_file.flush()
        os.fsync(self._csv_file.fileno())

    def _check_free_space(self) -> None:
        free_mb = shutil.disk_usage(self.folder).free / 2**20
        if free_mb < self.config.min_free_mb:
            raise OSError(errno.ENOSPC, f"only {free_mb:.0f} MB free on the recording disk (recording.min_free_mb "
                                        f"= {self.config.min_free_mb:g})", str(self.folder))

    def close(self, disk_full: bool = False) -> None:
        """Finalize every file (idempotent). On a full disk, errors while flushing are logged, not raised."""
        if self.closed:
            return
        self.closed = True
        self._pool.shutdown(wait=True)
        for w in self._writers:
            if w is not None:
                w.release()
        try:
            self._csv_file.flush()
            self._csv_file.close()
            self._write_session_toml(finished=not disk_full)
        except OSError as exc:
            if not disk_full:
                raise
            log.error("while closing %s on a full disk: %s", self.folder, exc)


class LiveBVH:
    """A BVH written frame by frame while recording (capture3d.export.bvh_stream.BVHStreamWriter).

    BVH frame k is frame set k of the recording (frame sets count from 0): frame sets that were not
    processed (dropped by the live path) or had no pose become frames with every joint missing, which the
    writer holds at their last pose, so the BVH's timing matches the videos. A writer error (ExportError,
    or OSError such as a full disk) disables the BVH with a warning and never reaches the caller: the
    recording goes on. Not thread-safe: feed it from one thread (the pipeline's export thread).

    path: the .bvh file. keypoint_set: the 3D poses' keypoints (J). fps: the capture rate.
    writer_options: keyword arguments of BVHStreamWriter (rest_frames, sync_every, ...).
    """

    def __init__(self, path: str | os.PathLike, keypoint_set: KeypointSet, fps: float, **writer_options) -> None:
        self.path = Path(path)
        self.keypoint_set = keypoint_set
        self.frames_posed = 0  # frame sets given with a pose
        self.frames_held = 0  # frame sets skipped or without a pose
        self.error = ""  # why the BVH was disabled ("" while it works)
        self._next_index = 0
        self._missing = np.full((keypoint_set.n_joints, 3), np.nan)
        self._writer: BVHStreamWriter | None = BVHStreamWriter(self.path, keypoint_set, fps, **writer_options)

    @property
    def n_frames(self) -> int:
        """Frames given to the writer (written, or buffered until the rest pose is known)."""
        return self.frames_posed + self.frames_held

    def append(self, index: int, xyz_world: np.ndarray | None) -> None:
        """Frame set ``index`` (increasing) and its pose: (J, 3) metres, world frame, NaN where missing, or
        None when there is none. Earlier indices not given yet are written as missing frames first."""
        if self._writer is None:
            return
        if index < self._next_index:
            log.warning("live BVH: frame set %d arrived after %d; ignored", index, self._next_index - 1)
            return
        try:
            while self._next_index < index:
                self._writer.append(self._missing)
                self._next_index += 1
                self.frames_held += 1
            self._writer.append(self._missing if xyz_world is None else xyz_world)
            self._next_index += 1
            if xyz_world is None or not np.isfinite(xyz_world).any():
                self.frames_held += 1
            else:
                self.frames_posed += 1
        except (ExportError, OSError) as exc:
            self._disable(exc)

    def _disable(self, exc: Exception) -> None:
        self.error = str(exc)
        log.warning("live BVH %s disabled after %d frames: %s (the recording goes on)", self.path, self.n_frames,
                    exc)
        writer, self._writer = self._writer, None
        try:
            writer.close()
        except (ExportError, OSError) as close_exc:
            log.warning("live BVH %s: closing after the error failed too: %s", self.path, close_exc)

    def close(self) -> Path | None:
        """Write what is buffered and fix the frame count (idempotent). Returns the path, or None when the
        BVH was disabled or holds no frame (then ``error`` says why)."""
        if self._writer is None:
            return None if self.error else self.path
        writer, self._writer = self._writer, None
        try:
            writer.close()
        except (ExportError, OSError) as exc:
            self.error = str(exc)
            log.warning("live BVH %s: %s", self.path, exc)
            return None
        return self.path


@dataclass(frozen=True)
class SessionInfo:
    """A recorded session: folder, cameras (view order), fps, codec, source kind, rows of frames.csv as
    arrays (``table[column]``, each (N,)), and whether the recording was closed properly."""

    folder: Path
    cameras: list[str]
    fps: float
    codec: str
    source: str
    finished: bool
    table: dict[str, np.ndarray]

    @property
    def n_sets(self) -> int:
        return int(self.table["set_index"].max()) + 1 if len(self.table["set_index"]) else 0

    def rows_of(self, view: int) -> np.ndarray:
        """Row indices of one camera's frames, in video order."""
        idx = np.flatnonzero(self.table["view"] == view)
        return idx[np.argsort(self.table["video_frame"][idx], kind="stable")]


def read_session(folder: str | os.PathLike) -> SessionInfo:
    """Read session.toml and frames.csv (a truncated last line, as after a crash, is ignored)."""
    folder = Path(folder)
    meta_path = folder / "session.toml"
    if not meta_path.is_file():
        raise CameraError(f"{folder}: not a recorded session (expected session.toml, frames.csv and videos)")
    try:
        meta = tomllib.loads(meta_path.read_text(encoding="utf-8"))["session"]
        cameras, fps, codec = list(meta["cameras"]), float(meta["fps"]), str(meta["codec"])
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise CameraError(f"{meta_path}: malformed session file ({exc}); expected [session] with cameras, fps, "
                          "codec") from None
    if codec not in _CODECS:
        raise CameraError(f"{meta_path}: unknown codec {codec!r}; expected one of {', '.join(_CODECS)}")
    cols: dict[str, list] = {c: [] for c in FRAME_COLUMNS}
    with open(folder / "frames.csv", newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None or tuple(header) != FRAME_COLUMNS:
            raise CameraError(f"{folder / 'frames.csv'}: expected the header {','.join(FRAME_COLUMNS)}, "
                              f"found {header}")
        for row in reader:
            if len(row) != len(FRAME_COLUMNS):
                log.warning("%s: ignoring a truncated row %s (recording cut short?)", folder / "frames.csv", row)
                break
            for c, v in zip(FRAME_COLUMNS, row):
                cols[c].append(v)
    table = {}
    for c in FRAME_COLUMNS:
        if c == "camera":
            table[c] = np.array(cols[c], dtype=object)
        elif c.endswith("_s"):
            table[c] = np.array(cols[c], dtype=float)
        else:
            table[c] = np.array(cols[c], dtype=np.int64)
    return SessionInfo(folder, cameras, fps, codec, str(meta.get("source", "")), bool(meta.get("finished", False)),
                       table)
