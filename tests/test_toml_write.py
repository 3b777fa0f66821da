"""The one TOML writer: values, keys and tables load back with tomllib to the same values, and every file
capture3d writes in TOML (model cards, boards, recording metadata and config) round-trips through it."""
import dataclasses
import math
import tomllib

import numpy as np
import pytest

from capture3d.calib import board_from_dict, board_to_toml
from capture3d.config import AppConfig, RecordingConfig, SourceConfig, load_config
from capture3d.detect.model_card import card_toml, load_card
from capture3d.io.recording import SessionWriter, read_session
from capture3d.io.toml_write import toml_key, toml_table, toml_value

AWKWARD = 'quote " backslash \\ tab \t newline \n cr \r bell \x07 del \x7f unicode é 東京'


def test_values_round_trip_exactly():
    values = {"s": AWKWARD, "empty": "", "t": True, "f": np.bool_(False), "i": -3, "big": 2 ** 62,
              "np_i": np.int64(7), "x": 0.1 + 0.2, "tiny": 5e-324, "np_f": np.float32(0.5), "neg": -1.25e10,
              "nested": [[1, 2], [3, 4]], "arr": np.arange(6.0).reshape(2, 3) / 7, "mixed_list": ["a", "b\"c"]}
    back = tomllib.loads(toml_table(values, "t"))["t"]
    assert back["s"] == AWKWARD and back["empty"] == ""
    assert back["t"] is True and back["f"] is False
    assert back["i"] == -3 and back["big"] == 2 ** 62 and back["np_i"] == 7
    assert back["x"] == 0.30000000000000004 and back["tiny"] == 5e-324 and back["neg"] == -1.25e10
    assert back["np_f"] == 0.5
    assert back["nested"] == [[1, 2], [3, 4]]
    assert back["arr"] == (np.arange(6.0).reshape(2, 3) / 7).tolist()
    assert back["mixed_list"] == ["a", 'b"c']


def test_non_finite_floats_use_toml_spelling():
    assert [toml_value(v) for v in (math.nan, math.inf, -math.inf)] == ["nan", "inf", "-inf"]
    back = tomllib.loads("v = " + toml_value([math.nan, math.inf, -np.inf]))["v"]
    assert math.isnan(back[0]) and back[1] == math.inf and back[2] == -math.inf


def test_keys_and_tables():
    assert toml_key("cam_01") == "cam_01" and toml_key("a-b") == "a-b"
    assert toml_key("two words") == '"two words"' and toml_key("a.b") == '"a.b"'
    text = "\n".join([toml_table({"top": 1}), toml_table({"x": 1, "skipped": None, "odd key": "v"}, "first"),
                      toml_table({"y": [1.5]}, "sec.sub")])
    assert tomllib.loads(text) == {"top": 1, "first": {"x": 1, "odd key": "v"}, "sec": {"sub": {"y": [1.5]}}}
    with pytest.raises(TypeError, match="dict"):
        toml_value({"a": 1})
    with pytest.raises(TypeError, match="nested tables"):
        toml_table({"a": {"b": 1}}, "t")


def test_model_card_round_trip(tmp_path):
    card = {"name": "body_25", "architecture": "body_25", "keypoints": "BODY_25", "input_size": [368, -1],
            "stride": 8, "mean": [128.0, 127.5, 0.1], "std": [256.0, 256.0, 255.0], "channel_order": "BGR",
            "weights": "pose_iter_584000.pt", "sha256": "ab" * 32,
            "source": 'https://example.org/"models"\\body_25', "licence": "academic use only;\nsee LICENSE é"}
    (tmp_path / "model.toml").write_text(card_toml(card), encoding="utf-8")
    assert tomllib.loads((tmp_path / "model.toml").read_text(encoding="utf-8")) == card
    loaded = load_card(tmp_path)
    assert loaded.input_size == (368, -1) and loaded.mean == (128.0, 127.5, 0.1) and loaded.stride == 8
    assert loaded.source == card["source"] and loaded.licence == card["licence"]


@pytest.mark.parametrize("table", [
    {"type": "checkerboard", "inner_corners": [9, 6], "square_size": 0.0254},
    {"type": "charuco", "squares": [7, 5], "square_size": 1 / 30, "marker_size": 0.7 / 30,
     "dictionary": "DICT_4X4_50"},
])
def test_board_file_round_trip(table):
    text = board_to_toml(board_from_dict(table))
    assert tomllib.loads(text) == {"board": table}


def test_recording_metadata_and_config_round_trip(tmp_path):
    source = dataclasses.replace(SourceConfig(), kind="images", cameras=("C:\\data\\left", "right dir"),
                                 names=("left cam", 'right "B"'))
    app = AppConfig(recording=RecordingConfig(codec="png", quality=77, flush_s=0.25), source=source)
    source_kind = 'flir "rig" C:\\cams'
    writer = SessionWriter(tmp_path / "s", ["cam1", "cam2"], 29.97, app.recording, app_config=app,
                           source_kind=source_kind)
    writer.close()
    meta = tomllib.loads((tmp_path / "s" / "session.toml").read_text(encoding="utf-8"))["session"]
    assert meta["cameras"] == ["cam1", "cam2"] and meta["fps"] == 29.97 and meta["codec"] == "png"
    assert meta["source"] == source_kind and meta["finished"] is True
    assert meta["frame_sets"] == 0 and meta["frames"] == [0, 0] and meta["format"] == 1
    info = read_session(tmp_path / "s")
    assert info.source == source_kind and info.fps == 29.97 and info.cameras == ["cam1", "cam2"]
    assert load_config(tmp_path / "s" / "config.toml") == app
