import numpy as np
import pytest

from capture3d.body.convert import convert_keypoints
from capture3d.body.keypoint_sets import (BODY_25, COCO_18, FACE_70, HAND_21, MEDIAPIPE_33, WHOLEBODY_135,
                                          compose_wholebody, get_keypoint_set, split_wholebody)


def mediapipe33_to_body25(lm):
    return convert_keypoints(lm, MEDIAPIPE_33, BODY_25)


def test_keypoint_counts_and_openpose_order():
    assert (BODY_25.n_joints, COCO_18.n_joints, HAND_21.n_joints, FACE_70.n_joints) == (25, 18, 21, 70)
    assert WHOLEBODY_135.n_joints == 135
    # OpenPose BODY_25 order spot checks
    assert BODY_25.names[0] == "Nose" and BODY_25.names[8] == "MidHip" and BODY_25.names[24] == "RHeel"
    assert BODY_25.index("LBigToe") == 19
    assert HAND_21.names[4] == "Thumb4" and HAND_21.names[20] == "Pinky4"


def test_trees_have_one_root_and_no_cycles():
    for kps in (BODY_25, COCO_18, HAND_21, WHOLEBODY_135):
        roots = [j for j, p in enumerate(kps.parents) if p < 0]
        if kps is WHOLEBODY_135:
            assert roots[0] == 8 and all(r >= 65 for r in roots[1:])  # face chains are separate
        else:
            assert len(roots) == 1
        for j in range(kps.n_joints):
            seen, k = set(), j
            while k >= 0:
                assert k not in seen
                seen.add(k)
                k = kps.parents[k]


def test_bones_24_for_body25_and_lr_pairs_mirror():
    assert len(BODY_25.bones) == 24
    perm = BODY_25.swap_permutation()
    assert np.array_equal(perm[perm], np.arange(25))
    assert BODY_25.names[perm[BODY_25.index("LWrist")]] == "RWrist"
    assert (perm != np.arange(25)).sum() == 22  # 11 pairs
    wperm = WHOLEBODY_135.swap_permutation()
    assert np.array_equal(wperm[wperm], np.arange(135))
    assert WHOLEBODY_135.names[wperm[WHOLEBODY_135.index("LHand_Index4")]] == "RHand_Index4"


def test_compose_split_wholebody_roundtrip(rng):
    body, lh, rh, face = (rng.normal(size=(3, n, 3)) for n in (25, 21, 21, 70))
    whole = compose_wholebody(body, lh, rh, face)
    assert whole.shape == (3, 135, 3)
    b2, l2, r2, f2 = split_wholebody(whole)
    assert np.array_equal(b2, body) and np.array_equal(f2, face)
    assert np.array_equal(l2[:, 1:], lh[:, 1:]) and np.array_equal(l2[:, 0], body[:, 7])


def test_mediapipe_mapping_composites_and_missing():
    lm = np.zeros((33, 3))
    lm[:, 0] = np.arange(33)
    lm[:, 1] = 100 + np.arange(33)
    lm[:, 2] = 0.9
    lm[MEDIAPIPE_33.index("RShoulder"), 2] = 0.4
    out = mediapipe33_to_body25(lm)
    neck = out[BODY_25.index("Neck")]
    assert neck[0] == pytest.approx((11 + 12) / 2) and neck[2] == pytest.approx(0.4)  # min of the sources
    assert out[BODY_25.index("RWrist"), 0] == 16
    for name in ("LSmallToe", "RSmallToe"):
        j = BODY_25.index(name)
        assert np.isnan(out[j, 0]) and out[j, 2] == 0
    with pytest.raises(ValueError, match="33"):
        mediapipe33_to_body25(np.zeros((25, 3)))


def test_get_keypoint_set_lists_known():
    assert get_keypoint_set("body_25") is BODY_25
    with pytest.raises(KeyError, match="BODY_25"):
        get_keypoint_set("BODY_99")


def test_mediapipe_mapping_missing_source_only_affects_its_joints():
    lm = np.tile([[50.0, 60.0, 0.8]], (2, 33, 1))
    lm[0, MEDIAPIPE_33.index("LShoulder")] = (np.nan, np.nan, 0.0)
    out = mediapipe33_to_body25(lm)
    for name in ("Neck", "LShoulder"):
        assert np.isnan(out[0, BODY_25.index(name), 0]) and out[0, BODY_25.index(name), 2] == 0
    assert np.isfinite(out[0, BODY_25.index("RShoulder")]).all() and out[0, BODY_25.index("Nose"), 0] == 50.0
    assert np.isfinite(out[1, :19]).all()  # the other frame is untouched
