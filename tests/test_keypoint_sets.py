"""Keypoint sets: every set is a consistent tree with mirrored names; conversion by name round-trips;
the set check tells BODY_25B from BODY_25 by geometry."""
import logging

import numpy as np
import pytest

from capture3d.body.convert import convert_keypoints, coverage
from capture3d.body.keypoint_sets import (BODY_25, BODY_25B, BODY_135, BODY_SETS, COCO_17, COCO_WHOLEBODY_133,
                                          HALPE_26, KEYPOINT_SETS, MEDIAPIPE_33, WHOLEBODY_135, get_keypoint_set,
                                          sets_with_joints)
from capture3d.body.set_check import choose_set, doubt_about, likely_set
from capture3d.body.keypoint_set import side_of

#: the published joint counts and a joint at a published index (OpenPose, COCO, Halpe, MediaPipe docs)
PUBLISHED = {"BODY_25": (25, 1, "Neck"), "BODY_25B": (25, 17, "UpperNeck"), "COCO_18": (18, 1, "Neck"),
             "COCO_17": (17, 11, "LHip"), "HALPE_26": (26, 19, "MidHip"), "COCO_WHOLEBODY_133": (133, 91, "LHand_Wrist"),
             "MEDIAPIPE_33": (33, 31, "LFootIndex"), "BODY_135": (135, 65, "Face_Jaw0"),
             "WHOLEBODY_135": (135, 45, "RHand_Thumb1")}


@pytest.mark.parametrize("name", list(KEYPOINT_SETS))
def test_every_set_is_a_tree_with_mirrored_pairs(name):
    kps = KEYPOINT_SETS[name]
    if name in PUBLISHED:
        n, j, joint = PUBLISHED[name]
        assert kps.n_joints == n and kps.names[j] == joint
    for j in range(kps.n_joints):  # no cycles: every chain reaches a root within J steps
        q, steps = j, 0
        while kps.parents[q] >= 0:
            q, steps = kps.parents[q], steps + 1
            assert steps <= kps.n_joints
    for a, b in kps.lr_pairs:
        na, nb = kps.names[a], kps.names[b]
        if not na.startswith("Face_") and name != "FACE_70":
            assert (side_of(na), side_of(nb)) == ("L", "R") and na[1:] == nb[1:]
    perm = kps.swap_permutation()
    assert np.array_equal(perm[perm], np.arange(kps.n_joints))  # swapping twice is the identity
    assert kps.colors().shape == (kps.n_joints, 3)


def test_joint_name_lists_are_unique_across_sets():
    """TRC and C3D files carry the joint names only: the names must identify the set."""
    lists = [tuple(s.names) for s in KEYPOINT_SETS.values()]
    assert len(set(lists)) == len(lists)


def test_sets_by_name_and_count():
    assert get_keypoint_set("halpe-26") is HALPE_26
    with pytest.raises(KeyError, match="HALPE_26"):
        get_keypoint_set("HALPE_27")
    assert {s.name for s in sets_with_joints(25)} == {"BODY_25", "BODY_25B"}
    assert {s.name for s in sets_with_joints(135)} == {"BODY_135", "WHOLEBODY_135"}
    assert "HAND_21" not in BODY_SETS


@pytest.mark.parametrize("other", [BODY_25B, HALPE_26, COCO_17, COCO_WHOLEBODY_133, MEDIAPIPE_33, BODY_135])
def test_conversion_round_trips_the_shared_joints(other, rng):
    kp = np.concatenate([rng.uniform(0, 1000, (7, 25, 2)), rng.uniform(0.5, 1.0, (7, 25, 1))], axis=-1)
    back = convert_keypoints(convert_keypoints(kp, BODY_25, other), other, BODY_25)
    lost = set(coverage(other, BODY_25))
    derived = {"Neck", "MidHip"} - set(other.names)  # rebuilt from the shoulders / hips
    for j, n in enumerate(BODY_25.names):
        if n in lost:
            assert np.isnan(back[:, j, 0]).all() and (back[:, j, 2] == 0).all()
        elif n in derived:
            pair = {"Neck": ("LShoulder", "RShoulder"), "MidHip": ("LHip", "RHip")}[n]
            mid = kp[:, [BODY_25.index(p) for p in pair], :2].mean(axis=1)
            assert np.allclose(back[:, j, :2], mid, atol=1e-9)
            assert np.allclose(back[:, j, 2], kp[:, [BODY_25.index(p) for p in pair], 2].min(axis=1))
        else:
            assert np.allclose(back[:, j], kp[:, j], atol=1e-9), n


def test_conversion_marks_a_joint_missing_when_a_source_is():
    kp = np.tile([[10.0, 20.0, 0.9]], (25, 1))
    kp[BODY_25.index("LShoulder")] = (np.nan, np.nan, 0.0)
    out = convert_keypoints(kp, BODY_25, HALPE_26)
    assert np.isnan(out[HALPE_26.index("LShoulder"), 0])
    assert out[HALPE_26.index("Neck"), 2] == pytest.approx(0.9)  # HALPE's own neck is BODY_25's neck
    b = convert_keypoints(kp, BODY_25, BODY_25B)
    assert np.isnan(b[BODY_25B.index("HeadTop"), 0]) and b[BODY_25B.index("HeadTop"), 2] == 0  # never invented


def _standing_views(rng, n=40):
    """Projections of a template-like body (BODY_25 order) from random azimuths, px."""
    from capture3d.body.set_check import TEMPLATE_M
    pts = np.array([TEMPLATE_M.get(n, (np.nan, np.nan, np.nan)) for n in BODY_25.names])
    arms = {"LElbow": (0.22, 1.15, 0.0), "RElbow": (-0.22, 1.15, 0.0), "LWrist": (0.24, 0.9, 0.05),
            "RWrist": (-0.24, 0.9, 0.05), "LKnee": (0.1, 0.5, 0.02), "RKnee": (-0.1, 0.5, 0.02),
            "LAnkle": (0.1, 0.08, 0.0), "RAnkle": (-0.1, 0.08, 0.0), "LBigToe": (0.1, 0.0, 0.15),
            "RBigToe": (-0.1, 0.0, 0.15), "LSmallToe": (0.14, 0.0, 0.12), "RSmallToe": (-0.14, 0.0, 0.12),
            "LHeel": (0.1, 0.02, -0.05), "RHeel": (-0.1, 0.02, -0.05)}
    for k, v in arms.items():
        pts[BODY_25.index(k)] = v
    out = np.zeros((n, 25, 3))
    for i in range(n):
        a = rng.uniform(0, 2 * np.pi)
        R = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
        p = pts @ R.T + rng.normal(0, 0.01, pts.shape)
        out[i, :, 0] = 500 + 400 * p[:, 0] / (4 + p[:, 2])
        out[i, :, 1] = 900 - 400 * p[:, 1] / (4 + p[:, 2])
        out[i, :, 2] = 0.9
    return out


def test_geometry_tells_body25b_from_body25(rng, caplog):
    kp = _standing_views(rng)
    fits = likely_set(kp)
    assert fits[0].name == "BODY_25" and fits[0].misfit < 0.1 and fits[1].misfit > 3 * fits[0].misfit
    b25b = convert_keypoints(kp, BODY_25, BODY_25B)
    assert likely_set(b25b)[0].name == "BODY_25B"
    assert doubt_about(kp, BODY_25) is None
    with caplog.at_level(logging.WARNING, logger="capture3d.body.set_check"):
        assert choose_set(b25b, "BODY_25") is BODY_25  # the user's word is kept ...
    assert "look like BODY_25B" in caplog.text and "--keypoint-set BODY_25B" in caplog.text  # ... with a warning
    assert choose_set(b25b, None) is BODY_25B  # unnamed and ambiguous: the geometry decides
    assert choose_set(b25b, None, recorded="BODY_25B") is BODY_25B
    with pytest.raises(ValueError, match="26 joints but the data has 25"):
        choose_set(kp, "HALPE_26")
    with pytest.raises(ValueError, match="match no known set"):
        choose_set(np.zeros((3, 19, 3)), None)


def test_keypoints3d_in_set_keeps_quality(rng):
    from capture3d.types import Keypoints3D
    xyz = rng.normal(size=(5, 25, 3))
    kp = Keypoints3D(xyz, np.full((5, 25), 0.8), np.full((5, 25), 2.0), np.full((5, 25), 4), np.arange(5) / 30,
                     30.0, BODY_25)
    kp.confidence[:, BODY_25.index("LShoulder")] = 0.5
    halpe = kp.in_set(HALPE_26)
    assert halpe.keypoint_set is HALPE_26 and halpe.metadata["converted_from"] == "BODY_25"
    assert np.allclose(halpe.xyz_world[:, HALPE_26.index("LKnee")], xyz[:, BODY_25.index("LKnee")])
    assert np.isnan(halpe.xyz_world[:, HALPE_26.index("HeadTop")]).all()
    coco = kp.in_set(COCO_17).in_set(BODY_25)
    neck = coco.xyz_world[:, BODY_25.index("Neck")]
    assert np.allclose(neck, xyz[:, [BODY_25.index("LShoulder"), BODY_25.index("RShoulder")]].mean(axis=1))
    assert np.allclose(coco.confidence[:, BODY_25.index("Neck")], 0.5)  # the weaker source


@pytest.mark.parametrize("kps", [BODY_25B, COCO_17, MEDIAPIPE_33, WHOLEBODY_135, COCO_WHOLEBODY_133])
def test_bvh_of_any_set(kps, tmp_path):
    """Sets without BVH's core joints are written on the BODY_25 hierarchy, mapped by name."""
    from capture3d.export.bvh_read import read_bvh
    from capture3d.export.bvh_write import write_bvh
    from capture3d.synth.motion import walking_motion
    from capture3d.types import Keypoints3D
    m = walking_motion(n_frames=60, whole_body=kps.n_joints > 100)
    kp = Keypoints3D.from_positions(m.xyz_world, 30.0, m.keypoint_set).in_set(kps)
    path = write_bvh(tmp_path / "a.bvh", kp)
    back = read_bvh(path)
    for name in ("LKnee", "RWrist", "Nose"):
        j, k = back.keypoint_set.index(name), kps.index(name)
        err = np.linalg.norm(back.xyz_world[:, j] - kp.xyz_world[:, k], axis=-1)
        assert np.nanmax(err) < 0.03, (name, np.nanmax(err))  # metres: the BVH rest skeleton keeps the pose
