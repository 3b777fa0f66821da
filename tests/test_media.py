"""One media module: detect (open_input), calibration (list_frames, session_inputs) and the image-folder
source accept the same image and video suffixes and read folders in the same natural order."""
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from capture3d.calib import list_frames, session_inputs
from capture3d.errors import CalibrationError, CameraError
from capture3d.io.media import (IMAGE_SUFFIXES, VIDEO_SUFFIXES, camera_inputs, is_video, list_images,
                                natural_key, open_input)
from capture3d.sources.images import ImageFolderSource


def _write_video(path, fourcc, n=5, size_wh=(32, 24)):
    vw = cv2.VideoWriter(str(path), cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*fourcc), 10.0, size_wh)
    assert vw.isOpened(), f"OpenCV cannot write {fourcc} to {path}"
    for k in range(n):
        vw.write(np.full((size_wh[1], size_wh[0], 3), 40 * k, np.uint8))
    vw.release()
    return path


def test_wmv_is_a_video_for_detect_and_calibration(tmp_path):
    path = _write_video(tmp_path / "cam1.wmv", "WMV2")
    media = open_input(path)
    assert media.kind == "video" and media.n_frames == 5 and media.fps == 10.0 and media.name == "cam1"
    assert len([f for f in media.frames() if f is not None]) == 5
    refs = list_frames([path])
    assert [r.index for r in refs] == [0, 1, 2, 3, 4] and refs[0].label == "cam1.wmv#0"
    assert [r.index for r in list_frames([path], stride=2)] == [0, 2, 4]


def test_every_video_suffix_is_accepted_the_same_way(tmp_path):
    avi = _write_video(tmp_path / "src.avi", "MJPG", n=4)
    for suffix in VIDEO_SUFFIXES:
        p = tmp_path / f"cam{suffix.replace('.', '_')}{suffix.upper()}"  # upper case: suffixes match in any case
        shutil.copy(avi, p)
        assert is_video(p)
        media = open_input(p)
        refs = list_frames([p])
        assert media.kind == "video" and media.n_frames == 4, suffix
        assert [r.index for r in refs] == [0, 1, 2, 3], suffix


def test_every_image_suffix_and_natural_order(tmp_path):
    folder = tmp_path / "cam1"
    folder.mkdir()
    names = []
    for k, suffix in zip((10, 2, 1, 11, 3, 20, 100, 4, 5), IMAGE_SUFFIXES):
        names.append(f"frame{k}{suffix}")
        shape = (8, 12) if suffix == ".pgm" else (8, 12, 3)  # .pgm is grey only
        assert cv2.imwrite(str(folder / names[-1]), np.full(shape, k, np.uint8)), suffix
    (folder / "notes.txt").write_text("not an image")
    expected = sorted(names, key=natural_key)
    assert expected[:3] == ["frame1.jpeg", "frame2.jpg", "frame3.tif"]  # frame2 before frame10
    assert expected[-3:] == ["frame11.bmp", "frame20.tiff", "frame100.webp"]
    assert [p.name for p in list_images(folder)] == expected
    assert [p.name for p in open_input(folder).files] == expected
    assert [r.path.name for r in list_frames([folder])] == expected
    src = ImageFolderSource([folder], fps=10.0)
    grabbed = [src.streams[0].grab(1.0) for _ in expected]
    assert [Path(f.metadata["path"]).name for f in grabbed] == expected
    assert [int(f.image[0, 0, 0]) for f in grabbed] == [1, 2, 3, 4, 5, 10, 11, 20, 100]


def test_one_input_per_camera_and_clear_errors(tmp_path):
    root = tmp_path / "session"
    root.mkdir()
    for name in ("cam10", "cam2"):
        (root / name).mkdir()
        cv2.imwrite(str(root / name / "0.png"), np.zeros((4, 4, 3), np.uint8))
    _write_video(root / "cam3.wmv", "WMV2", n=2)
    (root / "readme.txt").write_text("x")
    (root / ".hidden").mkdir()
    assert list(camera_inputs(root)) == ["cam2", "cam3", "cam10"]
    assert list(session_inputs(root)) == ["cam2", "cam3", "cam10"]
    _write_video(root / "cam2.mp4", "MJPG", n=2)
    with pytest.raises(CalibrationError, match="camera 'cam2' appears twice"):
        session_inputs(root)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "a.txt").write_text("x")
    for call, error in ((open_input, CameraError), (lambda p: list_frames([p]), CalibrationError)):
        no_images = r"empty: no images \(expected files ending in .png.*found 1 other entry: a.txt"
        with pytest.raises(error, match=no_images):
            call(empty)
        with pytest.raises(error, match="input not found: .*nothing"):
            call(tmp_path / "nothing")
        with pytest.raises(error, match=r"a.txt: unknown input type '.txt' \(expected an image: .png"):
            call(empty / "a.txt")
