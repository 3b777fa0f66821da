"""Board files: inverted / legacy ChArUco, boards of other tools (Caliscope, anipose / FreeMoCap), and the
probe that finds the printed variant or stops early when the board definition is wrong."""
from __future__ import annotations

import logging
from dataclasses import replace

import cv2
import numpy as np
import pytest

from capture3d.calib import board_from_dict, board_to_toml, detect_board, list_frames, load_board
from capture3d.calib.board_probe import board_variants, probe_board, probe_frames
from capture3d.calib.synth import intrinsic_board_poses, pixel_rays, render_board_image
from capture3d.errors import CalibrationError, ConfigError
from capture3d.synth import make_rig

# 5 x 4 squares: an even number of rows, where OpenCV's legacy (< 4.6) marker layout differs from the new one
CHARUCO = board_from_dict({"type": "charuco", "squares": [5, 4], "square_size": 0.05, "marker_size": 0.037,
                           "dictionary": "DICT_4X4_50"})


@pytest.fixture(scope="module")
def cam():
    return make_rig(2, size_wh=(640, 360), seed=1)[0].with_pose(np.zeros(3), np.zeros(3))


def _images(folder, cam, board, n, seed):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rays = pixel_rays(cam, 2)
    for i, (R, t) in enumerate(zip(*intrinsic_board_poses(cam, board, n, rng, fill=(0.4, 0.7)))):
        cv2.imwrite(str(folder / f"img{i}.png"), render_board_image(cam, board, R, t, rng, rays=rays))
    return list_frames([folder])


def test_inverted_and_legacy_keys_round_trip(tmp_path):
    b = board_from_dict({"type": "charuco", "squares": [5, 4], "square_size": 0.05, "marker_size": 0.037,
                         "dictionary": "DICT_4X4_50", "inverted": True, "legacy": True})
    assert b.inverted and b.legacy
    assert "inverted, legacy pattern" in b.describe()
    p = tmp_path / "b.toml"
    p.write_text(board_to_toml(b))
    assert load_board(p) == replace(b, name="b")
    assert "inverted" not in board_to_toml(CHARUCO)  # default boards keep their short TOML
    with pytest.raises(ConfigError, match="'inverted' must be true or false, found 'yes'"):
        board_from_dict({"type": "charuco", "squares": [5, 4], "square_size": 0.05, "marker_size": 0.037,
                         "dictionary": "DICT_4X4_50", "inverted": "yes"})
    with pytest.raises(ConfigError, match="unknown key"):
        board_from_dict({"type": "checkerboard", "inner_corners": [9, 6], "square_size": 0.02, "inverted": True})
    # the inverted texture is the negative of the normal one (white markers on black)
    np.testing.assert_array_equal(b.texture(10), 255 - replace(b, inverted=False).texture(10))
    # the legacy marker layout differs from the new one for an even number of rows
    assert np.mean(replace(CHARUCO, legacy=True).texture(10) != CHARUCO.texture(10)) > 0.2


def test_caliscope_board_file(tmp_path):
    # Caliscope's charuco.toml fields (as in its sample sessions)
    p = tmp_path / "charuco.toml"
    p.write_text('columns = 4\nrows = 5\nboard_height = 11.0\nboard_width = 8.5\ndictionary = "DICT_4X4_1000"\n'
                 'units = "inch"\naruco_scale = 0.75\nsquare_size_override_cm = 5.4\ninverted = true\n')
    b = load_board(p)
    assert (b.kind, b.squares_xy, b.inner_corners, b.dictionary, b.inverted) == ("charuco", (4, 5), (3, 4),
                                                                                  "DICT_4X4_1000", True)
    assert b.square_size == pytest.approx(0.054) and b.marker_size == pytest.approx(0.0405)
    # without the override, one square is the smaller of width / columns and height / rows (inches -> m)
    p.write_text('columns = 4\nrows = 5\nboard_height = 11.0\nboard_width = 8.5\ndictionary = "DICT_4X4_1000"\n'
                 'units = "inch"\naruco_scale = 0.75\ninverted = false\n')
    b = load_board(p)
    assert b.square_size == pytest.approx(8.5 / 4 * 0.0254) and not b.inverted


def test_anipose_and_freemocap_board_files(tmp_path):
    p = tmp_path / "config.toml"
    p.write_text('project = "x"\n[calibration]\nboard_type = "charuco"\nboard_size = [10, 7]\nboard_marker_bits = 4\n'
                 'board_marker_dict_number = 50\nboard_marker_length = 18.75\nboard_square_side_length = 25\n'
                 'animal_calibration = false\nfisheye = false\n')
    b = load_board(p)
    assert (b.squares_xy, b.dictionary) == ((10, 7), "DICT_4X4_50")
    assert b.square_size == pytest.approx(0.025) and b.marker_size == pytest.approx(0.01875)
    p.write_text('[calibration]\nboard_type = "checkerboard"\nboard_size = [9, 6]\nboard_square_side_length = 30\n')
    b = load_board(p)
    assert (b.kind, b.inner_corners, b.square_size) == ("checkerboard", (9, 6), pytest.approx(0.03))
    p.write_text('[calibration]\nboard_type = "charuco"\nboard_size = [7, 5]\nboard_marker_dict = "DICT_5X5_100"\n'
                 'board_marker_length = 30\nboard_square_side_length = 40\n')
    assert load_board(p).dictionary == "DICT_5X5_100"
    p.write_text('[calibration]\nboard_type = "aruco"\nboard_size = [7, 5]\nboard_square_side_length = 40\n')
    with pytest.raises(ConfigError, match="'board_type' must be 'charuco' or 'checkerboard', found 'aruco'"):
        load_board(p)
    p.write_text('[something]\nx = 1\n')
    with pytest.raises(ConfigError, match="no \\[board\\] table found.*found keys \\['something'\\]"):
        load_board(p)


def test_variants_and_spread_probe_frames():
    assert [w for w, _ in board_variants(CHARUCO)] == ["inverted = true", "legacy = true",
                                                        "inverted = true, legacy = true"]
    assert board_variants(board_from_dict({"type": "checkerboard", "inner_corners": [9, 6],
                                           "square_size": 0.02})) == []
    refs = list(range(100))
    assert probe_frames(refs, 5) == [0, 25, 50, 74, 99]  # spread over the recording, first and last included
    assert probe_frames(refs[:3], 5) == [0, 1, 2]


@pytest.mark.parametrize("printed", ["inverted", "legacy"])
def test_printed_variant_is_found_with_a_warning(tmp_path, cam, caplog, printed):
    refs = _images(tmp_path / "imgs", cam, replace(CHARUCO, **{printed: True}), 3, seed=2)
    gray = cv2.imread(str(refs[0].path), cv2.IMREAD_GRAYSCALE)
    as_written = detect_board(gray, CHARUCO)
    # as written: nothing on the inverted print; on the legacy print, only the corners of the shared markers
    assert (as_written is None) if printed == "inverted" else len(as_written[0]) == 6
    with caplog.at_level(logging.WARNING, logger="capture3d.calib.board_probe"):
        used = probe_board({"camA": refs}, CHARUCO, workers=2)
    assert getattr(used, printed) and used.inverted + used.legacy == 1
    assert (f"found with {printed} = true" if printed == "inverted" else "using legacy = true") in caplog.text
    def corners(board):
        found = [detect_board(cv2.imread(str(r.path), cv2.IMREAD_GRAYSCALE), board) for r in refs]
        return sum(len(f[0]) for f in found if f is not None)

    assert corners(used) >= 14 and corners(used) > 1.5 * corners(CHARUCO)  # as many as a normal print gives


def test_wrong_board_stops_after_the_probe_frames(tmp_path, cam):
    refs = _images(tmp_path / "imgs", cam, CHARUCO, 8, seed=3)
    wrong = replace(CHARUCO, dictionary="DICT_5X5_50")
    with pytest.raises(CalibrationError) as exc:
        probe_board({"camA": refs, "camB": refs}, wrong, workers=2, n_frames=4)
    msg = str(exc.value)
    assert "camA 4, camB 4 frames searched" in msg and "DICT_5X5_50" in msg
    assert "also tried inverted = true / legacy = true / inverted = true, legacy = true" in msg
    assert "board definition is the likely cause" in msg
    assert probe_board({"camA": refs}, wrong, n_frames=0) is wrong  # 0: no probe
