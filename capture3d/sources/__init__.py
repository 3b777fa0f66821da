"""Frame sources behind one interface (``FrameSource``, see ``capture3d.sources.base``).

- ``spinnaker``: FLIR / Point Grey cameras through PySpin (hardware or software trigger).
- ``opencv``: webcams by index, video files, RTSP/IP streams.
- ``images``: one folder of images per camera.
- ``synthetic``: the synthetic rig filming the synthetic walker, with ground truth in each frame.
- ``session``: replay of a session recorded by ``capture3d record``.

With ``[source] preload`` video files are decoded into memory first and replayed like a camera
(``capture3d.sources.preload``).

``create_source(config)`` builds one from the ``[source]`` section (and ``[synthetic]``).
"""
from __future__ import annotations

from capture3d.config import SOURCE_KINDS, AppConfig
from capture3d.errors import CameraError
from capture3d.sources.base import CameraInfo, CameraStream, EndOfStream, FrameSource, Pacer, common_fps

__all__ = ["SOURCE_KINDS", "CameraInfo", "CameraStream", "EndOfStream", "FrameSource", "Pacer", "common_fps",
           "create_source"]


def create_source(config: AppConfig, *, live: bool = True, max_frames: int | None = None,
                  lossless: bool = False) -> FrameSource:
    """The frame source described by ``config.source``.

    live: real-time capture (synthetic frames paced at fps; file sources paced only with source.realtime;
    video files decoded into memory first and replayed like a camera with source.preload).
    max_frames: for synthetic, stop after this many frames (None: endless when live, [synthetic] frames
    when not). lossless: recording (spinnaker: oldest-first buffers instead of newest-only).
    """
    src = config.source
    if src.kind == "synthetic":
        from capture3d.sources.synthetic import SyntheticSource  # noqa: PLC0415
        if max_frames is None and not live:
            max_frames = config.synthetic.frames
        return SyntheticSource.from_config(config.synthetic, live=live, max_frames=max_frames,
                                           color=src.pixel_format.lower() not in ("mono8", "mono"), fps=src.fps)
    if src.kind == "opencv" and src.preload and live:
        from capture3d.sources.opencv import OpenCVSource  # noqa: PLC0415
        from capture3d.sources.preload import preload_videos  # noqa: PLC0415
        return preload_videos(OpenCVSource(src.cameras, src.names, src.fps, src.sync), src.loop)
    if src.kind == "opencv":
        from capture3d.sources.opencv import OpenCVSource  # noqa: PLC0415
        return OpenCVSource(src.cameras, src.names, src.fps, src.sync, src.realtime, src.loop)
    if src.kind == "images":
        from capture3d.sources.images import ImageFolderSource  # noqa: PLC0415
        return ImageFolderSource(src.cameras, src.names, src.fps, src.realtime, src.loop)
    if src.kind == "session":
        from capture3d.sources.session import SessionSource  # noqa: PLC0415
        return SessionSource(src.session, realtime=src.realtime)
    if src.kind == "spinnaker":
        from capture3d.sources.spinnaker import SpinnakerSource  # noqa: PLC0415
        return SpinnakerSource.from_config(src, lossless=lossless)
    raise CameraError(f"unknown source kind {src.kind!r}; kinds: {', '.join(SOURCE_KINDS)}")
