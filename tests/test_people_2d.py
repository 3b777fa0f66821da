"""Every person in 2D: person slots (one tracker per person), boxes, and the top-down MediaPipe detector on
the shared two-person take (Pose2Sim Demo_Batch Trial_2 = Demo_MultiPerson)."""
import numpy as np
import pytest

from capture3d.detect import create_detector
from capture3d.detect.base import boxes_of_keypoints, person_boxes
from capture3d.detect.model_install import find_card, model_state
from capture3d.detect.person_slots import PersonSlots, box_iou
from capture3d.errors import DetectorError


def test_box_iou_numbers():
    a = np.array([[0, 0, 10, 10], [0, 0, 0, 0]])
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 10, 10]])
    iou = box_iou(a, b)
    np.testing.assert_allclose(iou[0], [50 / 150, 0.0, 1.0])
    np.testing.assert_allclose(iou[1], 0.0)  # an empty box overlaps nothing


def test_slots_follow_people_and_free_after_idle():
    slots = PersonSlots(n_slots=2, min_iou=0.2, max_idle=2)
    left, right = np.array([0, 0, 100, 200.0]), np.array([300, 0, 400, 200.0])
    assert slots.assign([left, right]).tolist() == [0, 1]
    # order of the boxes changes, people move a little: each keeps its slot
    assert slots.assign([right + 10, left + 10]).tolist() == [1, 0]
    # a third person while both slots are taken: no slot
    assert slots.assign([left + 20, right + 20, [150, 0, 250, 200]]).tolist() == [0, 1, -1]
    # the right person leaves: after max_idle frames without them, the newcomer gets slot 1
    assert slots.assign([left + 20, [150, 0, 250, 200]]).tolist() == [0, -1]
    assert slots.assign([left + 20, [150, 0, 250, 200]]).tolist() == [0, -1]
    assert slots.assign([left + 20, [150, 0, 250, 200]]).tolist() == [0, 1]


def test_boxes_of_keypoints_and_padding():
    pose = np.full((2, 2, 3, 3), np.nan)
    pose[..., 2] = 0.0
    pose[0, 0] = [(10, 20, 0.5), (30, 5, 1.0), (np.nan, np.nan, 0.0)]
    boxes = boxes_of_keypoints(pose)
    np.testing.assert_allclose(boxes[0, 0], [10, 5, 30, 20, 0.75])
    assert np.isnan(boxes[0, 1, :4]).all() and boxes[0, 1, 4] == 0 and boxes[1, :, 4].tolist() == [0, 0]
    stacked = person_boxes([np.array([[1, 2, 3, 4, 0.9]]), np.zeros((0, 5))])
    assert stacked.shape == (2, 1, 5) and stacked[0, 0].tolist() == [1, 2, 3, 4, 0.9] and stacked[1, 0, 4] == 0


def test_bad_options():
    with pytest.raises(DetectorError, match="max_people must be a whole number from 1 to 32, found 0"):
        create_detector("mediapipe", max_people=0)
    with pytest.raises(DetectorError, match="crop_px must be a whole number from 64 to 2048, found 10"):
        create_detector("mediapipe", crop_px=10)
    with pytest.raises(DetectorError, match="unknown detector 'nobody'"):
        create_detector("mediapipe", person_detector="nobody")


@pytest.fixture(scope="module")
def trial2_frames(shared_data):
    from test_openpose_mobilenet import _frames
    return _frames(shared_data, "Trial_2", list(range(0, 100, 10)))


@pytest.mark.realdata
@pytest.mark.slow
def test_topdown_mediapipe_finds_both_participants(trial2_frames):
    """Trial_2, 10 frames x 4 views: both participants (>= 6 of 25 joints: the woman is half hidden behind the
    man in cam03) in >= 95% of view-frames, each
    person once (no two people's common joints within 2% of the image height, median), boxes for each."""
    if not model_state(find_card("openpose-mobilenet-thin")).ok:
        pytest.skip("model openpose-mobilenet-thin not installed: capture3d models install openpose-mobilenet-thin")
    found = 0
    with create_detector("mediapipe") as det:
        for images in trial2_frames.values():
            res = det.detect(images)
            n = (res.pose[..., 2] > 0).sum(-1)
            found += int(((n >= 6).sum(-1) >= 2).sum())
            assert res.boxes.shape == res.pose.shape[:2] + (5,)
            for v in range(4):
                for a in range(res.n_people):
                    for b in range(a):
                        both = (res.pose[v, a, :, 2] > 0) & (res.pose[v, b, :, 2] > 0)
                        if both.sum() >= 3:
                            d = np.linalg.norm(res.pose[v, a, both, :2] - res.pose[v, b, both, :2], axis=-1)
                            assert np.median(d) > 0.02 * 1920, (v, a, b, np.median(d))
    assert found >= 38, f"both participants in {found} of 40 view-frames"


@pytest.mark.realdata
def test_topdown_detect_views_keeps_slots_per_camera(trial2_frames):
    """Keyframes detect some views only: camera 2 alone, then all four; each camera has its own person slots
    and MediaPipe instances, and camera 2's people are the same either way (within 2 px)."""
    if not model_state(find_card("openpose-mobilenet-thin")).ok:
        pytest.skip("model openpose-mobilenet-thin not installed: capture3d models install openpose-mobilenet-thin")
    images = trial2_frames[0]
    with create_detector("mediapipe", model_complexity=1, mode="image") as det:
        alone = det.detect_views([images[2]], [2])
        assert alone.pose.shape[0] == 1 and set(det._slots) == {2}
        assert {cam for cam, _ in det._solutions} == {2}
        every = det.detect(images)
        assert set(det._slots) == {0, 1, 2, 3} and every.pose.shape[0] == 4
    a, b = alone.pose[0], every.pose[2][: alone.n_people]  # padded to the most people of any view
    assert (a[..., 2] > 0).sum() >= 30 and not (every.pose[2][alone.n_people:, :, 2] > 0).any()
    both = (a[..., 2] > 0) & (b[..., 2] > 0)
    assert np.abs(a[both, :2] - b[both, :2]).max() < 2.0
