"""Detector registry, Detections helpers and input checks (no model needed)."""
import numpy as np
import pytest

from capture3d.detect import (Detections, create_detector, detector_names, missing_keypoints, register_detector,
                              unregister_detector)
from capture3d.detect.base import as_image_list, check_image, stack_people
from capture3d.errors import DetectorError


def test_unknown_detector_lists_the_names():
    with pytest.raises(DetectorError) as exc:
        create_detector("yolo")
    for name in ("mediapipe", "openpose", "synthetic", "openpose-json", "rtmpose", "openpose-mobilenet"):
        assert name in str(exc.value)
    assert detector_names()[:4] == ["mediapipe", "openpose", "synthetic", "openpose-json"]


def test_unknown_option_lists_the_options():
    with pytest.raises(DetectorError, match=r"unknown option\(s\) colour.*error_model"):
        create_detector("synthetic", colour="red")


def _const_factory(n_people: int = 2):
    class _D:
        def detect(self, images, frame_index=None):
            return Detections(pose=missing_keypoints(len(images), n_people, 25))
    return _D()


@pytest.fixture
def const_detector():
    """Registers "const-test" for one test and removes it afterwards, so the registry stays as it was."""
    before = detector_names()
    register_detector("const-test", _const_factory)
    yield "const-test"
    unregister_detector("const-test")
    assert "const-test" not in detector_names() and detector_names() == before


def test_register_custom_detector_and_builtin_names_are_protected(const_detector):
    assert detector_names()[-1] == const_detector
    det = create_detector(const_detector, n_people=3)
    assert det.detect([None, None]).pose.shape == (2, 3, 25, 3)
    with pytest.raises(DetectorError, match="built in"):
        register_detector("mediapipe", _const_factory)
    with pytest.raises(DetectorError, match="built in and cannot be removed"):
        unregister_detector("mediapipe")


def test_unregister_removes_the_name():
    register_detector("gone-test", _const_factory)
    assert "gone-test" in detector_names()
    unregister_detector("gone-test")
    assert "gone-test" not in detector_names()
    with pytest.raises(DetectorError, match="unknown detector 'gone-test'"):
        create_detector("gone-test")
    with pytest.raises(DetectorError, match="'gone-test' is not registered"):
        unregister_detector("gone-test")


def test_detections_people_wholebody_and_stack():
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 100, (2, 25, 3))
    a[..., 2] = 0.9
    b = missing_keypoints(0, 25)
    pose = stack_people([a, b], 25)
    assert pose.shape == (2, 2, 25, 3)
    assert np.isnan(pose[1, :, :, :2]).all() and (pose[1, :, :, 2] == 0).all()
    det = Detections(pose=pose, hand_left=missing_keypoints(2, 2, 21))
    assert len(det.people(0)) == 2 and len(det.people(1)) == 0
    assert set(det.people(0)[0]) == {"pose", "hand_left"}
    whole = det.wholebody()
    assert whole.shape == (2, 2, 135, 3)
    np.testing.assert_array_equal(whole[0, 0, :25], a[0])
    assert (whole[..., 65:, 2] == 0).all()
    assert stack_people([b, b], 25).shape == (2, 1, 25, 3)  # P >= 1 always


def test_image_checks_say_what_is_wrong():
    assert check_image(np.zeros((10, 10, 3), np.uint8), 0) is None
    assert check_image(np.zeros((10, 10), np.uint8), 0) is None
    assert "None" in check_image(None, 3)
    assert "uint8" in check_image(np.zeros((10, 10, 3), np.float32), 0)
    assert "shape" in check_image(np.zeros((10, 10, 2), np.uint8), 0)
    assert "empty" in check_image(np.zeros((0, 10, 3), np.uint8), 0)
    with pytest.raises(DetectorError, match="empty sequence"):
        as_image_list([])
    with pytest.raises(DetectorError, match="sequence of V images"):
        as_image_list(42)
    assert len(as_image_list(np.zeros((4, 8, 8, 3), np.uint8))) == 4
