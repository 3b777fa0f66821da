"""Frame sources: synthetic (ground truth), OpenCV video files, image folders, config -> source, bad input."""
import dataclasses
import math

import cv2
import numpy as np
import pytest

from capture3d.config import AppConfig, SourceConfig, SyntheticConfig, config_from_dict
from capture3d.errors import CameraError, ConfigError
from capture3d.sources import CameraInfo, EndOfStream, common_fps, create_source
from capture3d.sources.images import ImageFolderSource
from capture3d.sources.opencv import OpenCVSource
from capture3d.sources.synthetic import SyntheticSource


def test_synthetic_frames_carry_truth_that_matches_the_rendered_image():
    src = SyntheticSource(3, 30.0, (320, 240), n_frames=20, seed=2, live=False, max_frames=5)
    src.start()
    for stream in src.streams:
        for k in range(5):
            f = stream.grab(1.0)
            assert f.frame_id == k and f.metadata["truth_index"] == k and f.image.shape == (240, 320, 3)
            assert math.isclose(f.time_s, k / 30.0)
            cam = src.rig.camera(f.camera)
            xy = cam.project(f.metadata["xyz_world"])
            vis = np.isfinite(f.metadata["xy_px"]).all(axis=1)
            assert vis.sum() >= 15
            np.testing.assert_allclose(f.metadata["xy_px"][vis], xy[vis], atol=1e-9)
            # the skeleton is drawn through the neck: the pixel there differs from the background
            neck = np.round(f.metadata["xy_px"][1]).astype(int)
            assert f.image[neck[1], neck[0]].tolist() != [48, 48, 48]
            assert (f.image != 48).any(axis=-1).mean() < 0.2
        with pytest.raises(EndOfStream):
            stream.grab(1.0)


def test_synthetic_live_source_is_paced_and_faults_are_injected():
    src = SyntheticSource(2, 50.0, (64, 48), live=True, drop=0.5, fail_at={1: 3}, seed=1)
    src.start()
    got = [src.streams[0].grab(1.0) for _ in range(10)]
    ks = [f.frame_id for f in got if f is not None]
    assert 2 <= len(ks) <= 8 and ks == sorted(ks)
    assert all(abs(f.time_s - src.pacer.due(f.frame_id)) < 1e-9 for f in got if f is not None)
    assert all(f.host_time_s >= f.time_s for f in got if f is not None)
    with pytest.raises(CameraError, match="unplug"):
        for _ in range(10):
            src.streams[1].grab(1.0)


def _write_video(path, n, size=(96, 64), fps=25.0, fourcc="MJPG"):
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
    assert w.isOpened()
    for k in range(n):
        img = np.full((size[1], size[0], 3), 10 * k, np.uint8)
        w.write(img)
    w.release()


def test_opencv_video_files_are_frame_aligned(tmp_path):
    for i in range(2):
        _write_video(tmp_path / f"c{i}.avi", 6)
    src = OpenCVSource([str(tmp_path / "c0.avi"), str(tmp_path / "c1.avi")])
    assert src.sync == "trigger" and not src.live and src.fps == pytest.approx(25.0)
    assert [s.info.name for s in src.streams] == ["c0", "c1"]
    assert src.streams[0].info.size_wh == (96, 64)
    frames = []
    with pytest.raises(EndOfStream):
        while True:
            frames.append(src.streams[1].grab(1.0))
    assert [f.frame_id for f in frames] == list(range(6))
    # MJPG is lossy: the grey level comes back within a few units
    assert [int(f.image.mean() + 0.5) for f in frames] == pytest.approx([10 * k for k in range(6)], abs=3)
    src.stop()


def test_opencv_bad_inputs_say_what_was_expected(tmp_path):
    with pytest.raises(CameraError, match="video file not found"):
        OpenCVSource([str(tmp_path / "nope.mp4")])
    bad = tmp_path / "bad.avi"
    bad.write_bytes(b"this is not a video" * 10)
    with pytest.raises(CameraError, match="cannot open video file"):
        OpenCVSource([str(bad)])
    _write_video(tmp_path / "a.avi", 3, fps=25.0)
    _write_video(tmp_path / "b.avi", 3, fps=30.0)
    with pytest.raises(CameraError, match=r"different frame rates \(a.avi: 25 fps, b.avi: 30 fps\).*resample"):
        OpenCVSource([str(tmp_path / "a.avi"), str(tmp_path / "b.avi")])


def test_common_fps():
    infos = [CameraInfo("a", fps=60.0), CameraInfo("b", fps=60.2), CameraInfo("c", fps=0.0)]
    assert common_fps(infos) == pytest.approx(60.1)
    assert common_fps(infos, requested_fps=30.0) == 30.0
    with pytest.raises(CameraError, match="different frame rates"):
        common_fps([CameraInfo("a", fps=60.0), CameraInfo("b", fps=59.0)])


def test_image_folders(tmp_path):
    for cam in ("left", "right"):
        (tmp_path / cam).mkdir()
        for k in (1, 2, 10):
            cv2.imwrite(str(tmp_path / cam / f"img_{k}.png"), np.full((16, 20, 3), k, np.uint8))
    (tmp_path / "right" / "img_11.png").write_bytes(b"broken")
    src = ImageFolderSource([tmp_path / "left", tmp_path / "right"], fps=10.0)
    assert [s.info.name for s in src.streams] == ["left", "right"] and src.streams[0].info.size_wh == (20, 16)
    right = [src.streams[1].grab(1.0) for _ in range(4)]
    assert [int(f.image[0, 0, 0]) for f in right[:3]] == [1, 2, 10]  # natural order: 10 after 2
    assert right[3].image is None and right[3].incomplete
    assert [f.time_s for f in right] == pytest.approx([0.0, 0.1, 0.2, 0.3])
    with pytest.raises(EndOfStream):
        src.streams[1].grab(1.0)
    with pytest.raises(CameraError, match="image folder not found"):
        ImageFolderSource([tmp_path / "missing"])


def test_create_source_from_config_and_invalid_keys(tmp_path):
    cfg = dataclasses.replace(AppConfig(), synthetic=SyntheticConfig(cameras=3, width=160, height=120, fps=20.0))
    src = create_source(cfg, live=False)
    assert src.kind == "synthetic" and len(src.streams) == 3 and src.fps == 20.0
    assert src.max_frames == cfg.synthetic.frames
    cfg2 = dataclasses.replace(cfg, source=SourceConfig(kind="opencv", cameras=(str(tmp_path / "x.avi"),)))
    with pytest.raises(CameraError, match="not found"):
        create_source(cfg2)
    with pytest.raises(ConfigError, match=r"unknown key\(s\) 'fsp'; allowed keys: kind, cameras, names"):
        config_from_dict({"source": {"fsp": 30}})
    with pytest.raises(ConfigError, match="source.kind must be one of"):
        config_from_dict({"source": {"kind": "firewire"}})
    with pytest.raises(ConfigError, match="source.cameras must list"):
        config_from_dict({"source": {"kind": "spinnaker"}})


def test_video_files_through_the_offline_pipeline_pair_by_frame_number(tmp_path, caplog):
    from capture3d.runtime.pipeline import Pipeline
    for i, n in enumerate((8, 8, 6)):  # the third video is shorter: every view stops at its end
        _write_video(tmp_path / f"v{i}.avi", n)
    src = OpenCVSource([str(tmp_path / f"v{i}.avi") for i in range(3)])
    assert "v2.avi ended after 6 frames (v0.avi: 8, v1.avi: 8)" in caplog.text
    sets = []
    pipe = Pipeline(src, None, None, mode="offline", on_result=sets.append)
    pipe.run(duration_s=30)
    st = pipe.stats()
    assert st.sets == 6 and st.processed == 6 and st.drops == 0
    assert st.per_camera["v2"]["missing"] == 0 and st.incomplete_sets == 0
    assert [s.index for s in sets] == list(range(6))
