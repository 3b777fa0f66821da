"""Application assembly (capture3d.runtime.app): one detector default, options and keypoint set from the
config, the same application for the CLI and the Python API."""
import logging

import pytest

from capture3d.config import config_from_dict
from capture3d.detect import DEFAULT_DETECTOR
from capture3d.errors import ConfigError
from capture3d.runtime.app import build_detector, build_live, detector_name, keypoint_set_of


class _Source:
    def __init__(self, kind, recorded_kind=""):
        self.kind = kind
        self.recorded_kind = recorded_kind
        self.fps = 30.0


def test_auto_detector_is_synthetic_only_for_synthetic_footage():
    cfg = config_from_dict({})
    assert cfg.pipeline.detector == "auto"
    assert detector_name(cfg, _Source("synthetic")) == "synthetic"
    assert detector_name(cfg, _Source("session", recorded_kind="synthetic")) == "synthetic"
    for kind in ("opencv", "images", "spinnaker"):
        assert detector_name(cfg, _Source(kind)) == DEFAULT_DETECTOR == "mediapipe"
    assert detector_name(cfg, _Source("session", recorded_kind="spinnaker")) == "mediapipe"
    named = config_from_dict({"pipeline": {"detector": "openpose-json"}})
    assert detector_name(named, _Source("synthetic")) == "openpose-json"
    assert detector_name(named, _Source("opencv"), "synthetic") == "synthetic"  # the CLI's --detector wins


def test_detector_options_come_from_the_config(monkeypatch):
    seen = {}

    class Probe:
        name = "probe"

        def close(self):
            pass

    def factory(threshold=0.0, complexity=0):
        seen.update(threshold=threshold, complexity=complexity)
        return Probe()

    import capture3d.detect.registry as reg
    monkeypatch.setitem(reg._EXTRA, "probe", factory)
    cfg = config_from_dict({"pipeline": {"detector": "probe", "detector_options": {"threshold": 0.3,
                                                                                    "complexity": 2}}})
    det = build_detector(cfg, _Source("opencv"), rig=None)
    assert isinstance(det, Probe) and seen == {"threshold": 0.3, "complexity": 2}


def test_synthetic_detector_named_on_real_cameras_warns(caplog):
    from capture3d.synth import make_rig
    cfg = config_from_dict({"pipeline": {"detector": "synthetic"}})
    with caplog.at_level(logging.WARNING):
        det = build_detector(cfg, _Source("opencv"), make_rig(n_cameras=2, seed=0))
    assert det.name == "synthetic"
    assert "not measurements" in caplog.text


def test_keypoint_set_from_the_config():
    assert keypoint_set_of(config_from_dict({"pipeline": {"keypoint_set": "coco_18"}})).n_joints == 18
    with pytest.raises(ConfigError, match="pipeline.keypoint_set: unknown keypoint set 'NOPE'"):
        keypoint_set_of(config_from_dict({"pipeline": {"keypoint_set": "NOPE"}}))


def test_python_api_builds_what_live_runs():
    cfg = config_from_dict({"source": {"kind": "synthetic"}, "synthetic": {"cameras": 3, "frames": 20},
                            "pipeline": {"mode": "offline"}})
    app = build_live(cfg)
    assert app.detector.name == "synthetic" and len(app.rig) == 3
    assert app.reconstructor is not None and app.keypoint_set.name == "BODY_25"
    assert app.pipeline.detector is app.detector and app.pipeline.reconstructor is app.reconstructor
    app.close()


@pytest.mark.parametrize("kps, want", [("WHOLEBODY_135", (True, True)), ("BODY_25", (False, False)),
                                        ("COCO_WHOLEBODY_133", (True, True))])
def test_a_whole_body_keypoint_set_asks_the_detector_for_hands_and_face(kps, want):
    cfg = config_from_dict({"pipeline": {"detector": "mediapipe", "keypoint_set": kps}})
    det = build_detector(cfg, _Source("opencv"), rig=None)
    try:
        assert (det.hands, det.face) == want
    finally:
        det.close()
    off = config_from_dict({"pipeline": {"detector": "mediapipe", "keypoint_set": kps,
                                         "detector_options": {"hands": False}}})
    det = build_detector(off, _Source("opencv"), rig=None)
    try:
        assert det.hands is False  # the config's own option wins
    finally:
        det.close()


def test_live_mediapipe_options_follow_who_is_tracked(monkeypatch, caplog):
    """Live MediaPipe: one person per view (whole views, the fast path) for one subject; top-down (the PAF
    network's people, MediaPipe full on each crop) with [tracking] people = "all", said in a warning; an
    option the user set is kept either way."""
    import capture3d.detect as detect

    seen = []
    monkeypatch.setattr(detect, "create_detector", lambda name, **options: seen.append((name, options)))
    base = {"pipeline": {"mode": "live", "detector": "mediapipe"}}
    build_detector(config_from_dict(base), _Source("opencv"), rig=None)
    with caplog.at_level(logging.WARNING):
        build_detector(config_from_dict({**base, "tracking": {"people": "all"}}), _Source("opencv"), rig=None)
    assert "MediaPipe runs top-down" in caplog.text
    build_detector(config_from_dict({"pipeline": {**base["pipeline"], "detector_options": {"person_detector": "none"}},
                                     "tracking": {"people": "all"}}), _Source("opencv"), rig=None)
    assert [opts.get("person_detector") for _, opts in seen] == ["none", None, "none"]
    assert all(name == "mediapipe" and opts["model_complexity"] == 1 for name, opts in seen)
