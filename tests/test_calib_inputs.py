"""Bad calibration inputs: an output that holds a rig, unreadable images among good ones, a truncated video."""
from __future__ import annotations

import logging
import re

import cv2
import numpy as np
import pytest

from capture3d.calib import board_from_dict, board_to_toml, detect_camera, list_frames
from capture3d.calib.frames import iter_frames
from capture3d.calib.synth import write_intrinsic_images
from calib_helpers import run_calibrate
from capture3d.errors import CalibrationError
from capture3d.io.rig_files import load_rig, save_rig
from capture3d.synth import make_rig

BOARD = board_from_dict({"type": "charuco", "squares": [7, 5], "square_size": 0.12, "marker_size": 0.09,
                         "dictionary": "DICT_4X4_50"})


_run = run_calibrate


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """8 rendered 640x360 ChArUco views of one camera, plus the board file."""
    root = tmp_path_factory.mktemp("calib_inputs")
    rig = make_rig(2, size_wh=(640, 360), seed=4)
    write_intrinsic_images(root / "intr", rig[0], BOARD, 8, np.random.default_rng(0))
    (root / "board.toml").write_text(board_to_toml(BOARD))
    return root, rig


def test_intrinsics_refuses_to_replace_a_rig_without_force(images, tmp_path, capsys):
    root, rig = images
    out = save_rig(tmp_path / "rig.toml", rig)
    before = out.read_bytes()
    argv = ["calibrate", "intrinsics", "--board", str(root / "board.toml"), "--camera", "cam1", str(root / "intr"),
            "-o", str(out), "--no-progress", "--workers", "1"]
    with pytest.raises(CalibrationError, match=r"holds a rig of 2 cameras \(cam1, cam2\).*pass --force"):
        _run(argv)
    assert out.read_bytes() == before  # untouched
    notes = tmp_path / "notes.toml"
    notes.write_text("title = 'my notes'\n")
    with pytest.raises(CalibrationError, match="exists and is not a rig file"):
        _run([str(notes) if a == str(out) else a for a in argv])
    assert notes.read_text() == "title = 'my notes'\n"
    assert _run(argv + ["--force", "--terms", "k1k2"]) == 0
    new = load_rig(out)
    assert new.names == ["cam1"]
    assert new.metadata["intrinsics_std_cameras"] == ["cam1"] and new.metadata["distortion_terms"] == ["k1k2"]
    sfx = new.metadata["intrinsics_std_px"][0][0]
    assert 0 < sfx < 0.01 * new[0].focal_px
    assert f"standard deviations: fx +-{sfx:.2f}" in capsys.readouterr().out


def test_unreadable_images_are_named(images, tmp_path, caplog):
    root, _ = images
    folder = tmp_path / "mixed"
    folder.mkdir()
    for p in sorted((root / "intr").glob("*.png")):
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "view_100.png").write_bytes(b"not a png")
    (folder / "view_101.png").write_bytes(b"")
    with caplog.at_level(logging.WARNING, logger="capture3d.calib.detect"):
        det = detect_camera(list_frames([folder]), BOARD, "cam1", workers=1)
    assert det.unreadable == ["view_100.png", "view_101.png"]
    assert len(det.views) == 8
    msgs = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert msgs == ["camera cam1: 2 of 10 frame(s) could not be read and were skipped: view_100.png, view_101.png"]


def test_truncated_video_warns_with_both_counts(tmp_path, caplog):
    full = tmp_path / "full.avi"
    w = cv2.VideoWriter(str(full), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for i in range(40):
        w.write(np.full((240, 320, 3), 5 * i, np.uint8))
    w.release()
    cut = tmp_path / "cut.avi"
    data = full.read_bytes()
    cut.write_bytes(data[:len(data) // 2])  # the header still says 40 frames
    refs = list_frames([cut], stride=3)
    assert len(refs) == 14  # from the header's 40 frames
    with caplog.at_level(logging.WARNING, logger="capture3d.calib.frames"):
        got = [img is not None for _, _, img in iter_frames(refs)]
    msgs = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(msgs) == 1
    m = re.search(r"header says (\d+) frames but only (\d+) could be decoded", msgs[0])
    assert m and int(m.group(1)) == 40
    decoded = int(m.group(2))
    assert 0 < decoded < 40
    assert sum(got) == len(range(0, decoded, 3))  # every frame before the cut was read, none after
    with caplog.at_level(logging.WARNING, logger="capture3d.calib.frames"):
        caplog.clear()
        assert all(img is not None for _, _, img in iter_frames(list_frames([full], stride=3)))
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]
