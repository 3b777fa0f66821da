"""Session source: replays a folder written by ``capture3d.io.recording.SessionWriter``.

Frames come back with the recorded timestamps; ``frame_id`` is the recorded frame-set index, so the
assembler rebuilds exactly the recorded frame sets ("trigger" sync), and the original device frame id is
in ``metadata["device_frame_id"]``. A recording cut short ends at the last frame that decodes.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Sequence

import cv2

from capture3d.errors import CameraError
from capture3d.io.rig_files import load_rig
from capture3d.types import Frame
from capture3d.io.recording import SessionInfo, read_session, video_path
from capture3d.sources.base import CameraInfo, EndOfStream, Pacer, share_pacer

log = logging.getLogger(__name__)


class SessionStream:
    """One camera of a session: its video (or PNG sequence) and its rows of frames.csv."""

    def __init__(self, info: SessionInfo, view: int) -> None:
        self.session = info
        self.view = view
        self.rows = info.rows_of(view)
        name = info.cameras[view]
        self.path = video_path(info.folder, name, info.codec)
        self._cap = None
        if info.codec != "png" and len(self.rows):
            if not self.path.is_file():
                raise CameraError(f"session {info.folder}: video of camera {name} not found ({self.path})")
            self._cap = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)  # also reads an AVI without index
            if not self._cap.isOpened():
                raise CameraError(f"session {info.folder}: cannot open the video {self.path} with OpenCV")
        self.info = CameraInfo(name, (0, 0), info.fps, model=f"session {info.codec}", serial=name)
        self.pacer: Pacer | None = None
        self._k = 0

    def _read(self, video_frame: int):
        if self._cap is None:
            return cv2.imread(str(self.path / f"{video_frame:06d}.png"), cv2.IMREAD_UNCHANGED)
        ok, image = self._cap.read()
        return image if ok else None

    def grab(self, timeout_s: float) -> Frame | None:
        if self._k >= len(self.rows):
            raise EndOfStream(self.info.name)
        t = self.session.table
        r = self.rows[self._k]
        if self.pacer is not None and not self.pacer.wait(int(t["set_index"][r]), timeout_s):
            return None
        image = self._read(int(t["video_frame"][r]))
        if image is None:
            log.warning("session camera %s: frame %d of %d does not decode; the recording ends there",
                        self.info.name, self._k, len(self.rows))
            self._k = len(self.rows)
            raise EndOfStream(self.info.name)
        self._k += 1
        time_s = float(t["time_s"][r])
        return Frame(self.info.name, self.view, int(t["set_index"][r]), float(t["device_time_s"][r]),
                     time.monotonic(), time_s, image, bool(t["incomplete"][r]),
                     {"frame_index": int(t["frame_index"][r]), "device_frame_id": int(t["frame_id"][r]),
                      "recorded_host_time_s": float(t["host_time_s"][r])})

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class SessionSource:
    """Replay of a recorded session; ``rig`` is the session's rig.toml (None when it has none)."""

    kind = "session"
    sync = "trigger"

    def __init__(self, folder: str | Path, realtime: bool = False) -> None:
        self.session = read_session(folder)
        self.fps = self.session.fps
        rig_path = Path(folder) / "rig.toml"
        self.rig = load_rig(rig_path) if rig_path.is_file() else None
        self._streams = [SessionStream(self.session, v) for v in range(len(self.session.cameras))]
        self.live = realtime
        self.realtime = realtime

    @property
    def n_sets(self) -> int:
        return self.session.n_sets

    @property
    def recorded_kind(self) -> str:
        """The kind of source the session was recorded from (e.g. "synthetic", "spinnaker")."""
        return self.session.source

    @property
    def streams(self) -> Sequence[SessionStream]:
        return self._streams

    def start(self) -> None:
        if self.realtime:
            share_pacer(self._streams, self.fps)

    def stop(self) -> None:
        for s in self._streams:
            s.close()
