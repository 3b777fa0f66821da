"""[source] preload: video files decoded into memory first, then replayed paced like a camera (frame ids,
due timestamps, end or loop); a clip too large for memory is refused with the size needed, before decoding."""
import cv2
import numpy as np
import pytest

from capture3d.config import config_from_dict
from capture3d.errors import CameraError, ConfigError
from capture3d.sources import create_source
from capture3d.sources.base import EndOfStream
from capture3d.sources.opencv import OpenCVSource
from capture3d.sources.preload import MemoryReplaySource, preload_videos

N_FRAMES, W, H = 12, 64, 48


def write_videos(tmp_path, n_views=3, n_frames=N_FRAMES, size_wh=(W, H)):
    """60 fps MJPG videos cam1.avi.. whose frame k is a flat image of grey level 10 * k + v (MJPG keeps flat
    levels within 2)."""
    paths = []
    for v in range(n_views):
        p = tmp_path / f"cam{v + 1}.avi"
        w = cv2.VideoWriter(str(p), cv2.VideoWriter_fourcc(*"MJPG"), 60.0, size_wh)
        for k in range(n_frames):
            w.write(np.full((size_wh[1], size_wh[0], 3), 10 * k + v, np.uint8))
        w.release()
        paths.append(str(p))
    return paths


def _cfg(videos, **source):
    return config_from_dict({"source": {"kind": "opencv", "cameras": videos, "preload": True, **source}})


def test_preload_replays_every_frame_paced_with_frame_ids_and_due_times(tmp_path):
    src = create_source(_cfg(write_videos(tmp_path)), live=True)
    assert isinstance(src, MemoryReplaySource) and src.live and src.fps == 60.0
    assert [s.info.name for s in src.streams] == ["cam1", "cam2", "cam3"]
    assert [s.info.size_wh for s in src.streams] == [(W, H)] * 3
    src.start()
    got = []
    for k in range(N_FRAMES):
        frames = [s.grab(1.0) for s in src.streams]
        assert [f.frame_id for f in frames] == [k] * 3
        assert [f.metadata["frame_index"] for f in frames] == [k] * 3
        got.append([float(f.image.mean()) for f in frames])
        assert frames[0].time_s == pytest.approx(src.streams[0].pacer.due(k))
    levels = np.array(got)
    assert np.abs(levels - (10 * np.arange(N_FRAMES)[:, None] + np.arange(3))).max() <= 2
    dt = np.diff([src.streams[0].pacer.due(k) for k in range(N_FRAMES)])
    assert np.allclose(dt, 1 / 60.0)
    with pytest.raises(EndOfStream):  # not looping: the replay ends after the clip
        src.streams[0].grab(1.0)


def test_preload_loops_when_asked(tmp_path):
    src = create_source(_cfg(write_videos(tmp_path, 2), loop=True, fps=240.0), live=True)
    src.start()
    frames = [src.streams[1].grab(1.0) for _ in range(N_FRAMES + 3)]
    assert [f.frame_id for f in frames] == list(range(N_FRAMES + 3))
    assert abs(frames[N_FRAMES + 2].image.mean() - (10 * 2 + 1)) <= 2  # frame 14 shows frame 2 again


def test_a_clip_too_large_for_memory_is_refused_with_the_size_needed_before_decoding(tmp_path):
    videos = write_videos(tmp_path)
    source = OpenCVSource(videos)
    need = 3 * N_FRAMES * W * H * 3  # 331,776 bytes
    with pytest.raises(CameraError) as exc:
        preload_videos(source, loop=False, available_bytes=need)  # only 80% of it may be used
    msg = str(exc.value)
    assert "needs 0.3 MB of memory decoded (3 views x 12 frames x 64x48 px x 3 bytes)" in msg
    assert "but 0.3 MB is available" in msg and "preload = false" in msg
    assert [s.decode_s for s in source.streams] == [0.0, 0.0, 0.0]  # nothing was decoded
    ok = preload_videos(OpenCVSource(videos), loop=False, available_bytes=2 * need)
    assert [len(s.frames) for s in ok.streams] == [N_FRAMES] * 3


def test_preload_needs_video_files():
    with pytest.raises(ConfigError, match="source.preload decodes video files .* found kind 'images'"):
        config_from_dict({"source": {"kind": "images", "cameras": ["a"], "preload": True}})
