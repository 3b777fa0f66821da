"""Board definitions (TOML schema), board geometry and printable boards at true scale."""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from capture3d.calib import board_from_dict, board_to_toml, load_board
from capture3d.calib.board_print import MARGIN_MM, TEXT_MM, write_board
from capture3d.cli import board as board_cli
from capture3d.errors import ConfigError

BOARDS = Path(__file__).resolve().parents[1] / "calibration" / "boards"


def test_shipped_boards_load_and_round_trip(tmp_path):
    files = sorted(BOARDS.glob("*.toml"))
    assert len(files) >= 2
    kinds = set()
    for f in files:
        b = load_board(f)
        kinds.add(b.kind)
        p = tmp_path / f.name
        p.write_text(board_to_toml(b))
        b2 = load_board(p)
        assert (b2.kind, b2.inner_corners, b2.square_size, b2.squares, b2.marker_size, b2.dictionary) == \
               (b.kind, b.inner_corners, b.square_size, b.squares, b.marker_size, b.dictionary)
    assert kinds == {"checkerboard", "charuco"}


def test_checkerboard_corner_layout():
    b = board_from_dict({"type": "checkerboard", "inner_corners": [9, 6], "square_size": 0.025})
    xyz = b.corners_board
    assert xyz.shape == (54, 3)
    np.testing.assert_allclose(xyz[1] - xyz[0], [0.025, 0, 0])
    np.testing.assert_allclose(xyz[9] - xyz[0], [0, 0.025, 0])
    np.testing.assert_allclose(xyz[-1], [8 * 0.025, 5 * 0.025, 0])
    assert not b.symmetric
    assert board_from_dict({"type": "checkerboard", "inner_corners": [8, 6], "square_size": 1.0}).symmetric


def test_charuco_ids_match_opencv_corner_order():
    b = board_from_dict({"type": "charuco", "squares": [7, 5], "square_size": 0.04, "marker_size": 0.03,
                         "dictionary": "DICT_4X4_50"})
    assert b.inner_corners == (6, 4) and b.n_corners == 24
    cv_corners = b.cv_charuco_board().getChessboardCorners()
    # OpenCV's origin is the outer board corner: ours is the first inner corner, one square in
    np.testing.assert_allclose(cv_corners - [0.04, 0.04, 0], b.corners_board, atol=1e-6)


@pytest.mark.parametrize("table, fragment", [
    ({"type": "checkerboard", "inner_corners": [9, 6], "square_size": 0.025, "squares": [3, 3]}, "unknown key"),
    ({"type": "checkerboard", "inner_corners": [9], "square_size": 0.025}, "two integers"),
    ({"type": "checkerboard", "inner_corners": [9, 6], "square_size": -1}, "positive number"),
    ({"type": "hexagon"}, "'type' must be one of"),
    ({"type": "charuco", "squares": [7, 5], "square_size": 0.04, "marker_size": 0.05, "dictionary": "DICT_4X4_50"},
     "smaller than"),
    ({"type": "charuco", "squares": [7, 5], "square_size": 0.04, "marker_size": 0.03, "dictionary": "DICT_9X9"},
     "ArUco dictionary"),
    ({"type": "charuco", "squares": [12, 12], "square_size": 0.04, "marker_size": 0.03,
      "dictionary": "DICT_4X4_50"}, "needs 72 markers"),
    ({"type": "charuco", "squares": [7, 5], "square_size": 0.04}, "missing key"),
])
def test_invalid_boards_are_clear_errors(table, fragment):
    with pytest.raises(ConfigError, match=fragment):
        board_from_dict(table)


def test_missing_board_file(tmp_path):
    with pytest.raises(ConfigError, match="board file not found"):
        load_board(tmp_path / "nope.toml")
    (tmp_path / "b.toml").write_text("[other]\nx = 1\n")
    with pytest.raises(ConfigError, match=r"no \[board\] table"):
        load_board(tmp_path / "b.toml")


def test_png_board_is_true_scale_and_detectable(tmp_path):
    b = load_board(BOARDS / "charuco_7x5.toml")
    dpi = 100
    path = write_board(tmp_path / "b.png", b, dpi)
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    w_mm = 7 * 40 + 2 * MARGIN_MM
    h_mm = 5 * 40 + 2 * MARGIN_MM + TEXT_MM
    assert abs(img.shape[1] - w_mm / 25.4 * dpi) <= 1
    assert abs(img.shape[0] - h_mm / 25.4 * dpi) <= 1
    # the squares area: first dark column starts MARGIN_MM in, and one square is 40 mm wide
    row = img[int((MARGIN_MM + 20) / 25.4 * dpi)]
    dark = np.flatnonzero(row < 100)
    assert abs(dark[0] - MARGIN_MM / 25.4 * dpi) <= 1.5
    from capture3d.calib import detect_board
    found = detect_board(img, b)
    assert found is not None and len(found[0]) == 24


def test_board_cli_writes_pdf_with_true_page_size(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    board_cli.register(parser.add_subparsers())
    out = tmp_path / "board.pdf"
    args = parser.parse_args(["board", str(BOARDS / "checkerboard_9x6.toml"), "-o", str(out)])
    assert args.func(args) == 0
    m = re.search(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", out.read_bytes())
    w_pt, h_pt = float(m.group(1)), float(m.group(2))
    assert abs(w_pt / 72 * 25.4 - (250 + 2 * MARGIN_MM)) < 0.5
    assert abs(h_pt / 72 * 25.4 - (175 + 2 * MARGIN_MM + TEXT_MM)) < 0.5
    assert "250 x 175 mm" in capsys.readouterr().out


def test_caption_of_a_narrow_board_stays_on_the_page(tmp_path):
    """A 4x5 ChArUco of 54 mm squares (Caliscope's shared board, 216 mm wide): the specification wraps onto
    lines that fit the board's width instead of running off the page; nothing of it is lost."""
    from capture3d.calib.board_print import caption_lines, spec_text
    b = board_from_dict({"type": "charuco", "squares": [4, 5], "square_size": 0.054, "marker_size": 0.0405,
                         "dictionary": "DICT_4X4_1000"})
    lines = caption_lines(b, 4 * 54.0)
    assert len(lines) >= 2 and "   |   ".join(lines) == spec_text(b)
    wide = board_from_dict({"type": "charuco", "squares": [12, 9], "square_size": 0.04, "marker_size": 0.03,
                            "dictionary": "DICT_4X4_100"})
    assert caption_lines(wide, 12 * 40.0) == [spec_text(wide)]  # room for one line
    dpi = 100
    img = cv2.imread(str(write_board(tmp_path / "narrow.png", b, dpi)), cv2.IMREAD_GRAYSCALE)
    px = dpi / 25.4
    caption = img[img.shape[0] - int((MARGIN_MM + TEXT_MM) * px): img.shape[0] - int(MARGIN_MM * px)]
    assert (caption < 128).sum() > 500                            # the caption is drawn
    assert (caption[:, img.shape[1] - int(0.6 * MARGIN_MM * px):] < 128).sum() == 0  # and ends before the edge
