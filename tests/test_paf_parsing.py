"""PAF parsing on confidence maps and affinity fields rendered from known multi-person 2D skeletons.

Scenes: 2-6 BODY_25 (or COCO_18) people from a 2D template, random scale (0.8-1.3), jitter and position,
bounding boxes overlapping, some truncated by the map border. Joints are rendered at integer map pixels;
every person and every joint inside the map must be recovered exactly at that resolution (error
< 0.35 px, so rounding gives the rendered pixel), and joints outside the map must be missing.

The renderer (capture3d.testing.paf_render) and the parser could share a convention error, so one field is
also built by hand from OpenPose's published tables and connector: channel order, x/y components and
(row, col) indexing as OpenPose defines them.
"""
import numpy as np

from capture3d.detect.openpose_arch import (BODY_25_PAF_CHANNELS, BODY_25_PAF_PAIRS, COCO_PAF_CHANNELS,
                                            COCO_PAF_PAIRS)
from capture3d.detect.paf import PafParams, find_peaks, parse_pafs, score_limb
from capture3d.testing.paf_render import render_heatmaps, render_pafs

# BODY_25 frontal template, px (x right, y down), ~122 px tall.
TEMPLATE_25 = np.array([
    (0, 10), (0, 22), (-14, 23), (-18, 42), (-20, 60), (14, 23), (18, 42), (20, 60), (0, 62), (-8, 62),
    (-9, 88), (-10, 112), (8, 62), (9, 88), (10, 112), (-5, 6), (5, 6), (-10, 9), (10, 9), (16, 122),
    (21, 119), (7, 120), (-16, 122), (-21, 119), (-7, 120)], float)
COCO_FROM_25 = [0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]
H, W = 170, 260


def _connected(visible, pairs, redundant):
    idx = np.flatnonzero(visible)
    if len(idx) < 3:
        return False
    seen, todo = {idx[0]}, [idx[0]]
    edges = [p for k, p in enumerate(pairs) if k not in redundant]
    while todo:
        j = todo.pop()
        for a, b in edges:
            for u, v in ((a, b), (b, a)):
                if u == j and visible[v] and v not in seen:
                    seen.add(v)
                    todo.append(v)
    return len(seen) == len(idx)


def _scene(rng, n_people, template, pairs, redundant, allow_truncation=True):
    """(P, J, 2) integer joint positions (NaN outside the map) and the visibility mask."""
    people = []
    tries = 0
    while len(people) < n_people:
        tries += 1
        assert tries < 5000, "scene generator stuck"
        s = rng.uniform(0.8, 1.3)
        xy = template * s + rng.normal(0, 1.0, template.shape)
        if rng.random() < 0.5:
            xy[:, 0] *= -1  # seen from the back: mirrored
        margin = -25 if allow_truncation else 5
        off = rng.uniform([margin, margin], [W - 1 - margin - 0, H - 1 - margin - 120 * s])
        xy = np.rint(xy + off)
        inside = (xy[:, 0] >= 0) & (xy[:, 0] <= W - 1) & (xy[:, 1] >= 0) & (xy[:, 1] <= H - 1)
        if not _connected(inside, pairs, redundant):
            continue
        # peaks of different people (and of one person) must stay separable at this resolution
        others = np.concatenate([p[np.isfinite(p[:, 0])] for p in people]) if people else np.zeros((0, 2))
        if len(others) and np.min(np.linalg.norm(xy[inside][:, None] - others[None], axis=-1)) < 5:
            continue
        own = xy[inside]
        dd = np.linalg.norm(own[:, None] - own[None], axis=-1) + np.eye(len(own)) * 99
        if dd.min() < 4:
            continue
        xy[~inside] = np.nan
        people.append(xy)
    return np.stack(people)


def _match(found, truth):
    """For each true person, the found person with the smallest mean joint distance."""
    out = []
    for t in truth:
        d = []
        for f in found:
            both = np.isfinite(f[:, 0]) & np.isfinite(t[:, 0])
            d.append(np.linalg.norm(f[both, :2] - t[both], axis=1).mean() if both.any() else np.inf)
        out.append(int(np.argmin(d)))
    return out


def _check_scenes(template, pairs, channels, redundant, seed, n_scenes):
    rng = np.random.default_rng(seed)
    J = len(template)
    stats = {"people": 0, "joints": 0, "truncated": 0, "max_err": 0.0}
    for _ in range(n_scenes):
        n = int(rng.integers(2, 7))
        truth = _scene(rng, n, template, pairs, redundant)
        hm = render_heatmaps(truth, (H, W), sigma_px=1.0)
        paf = render_pafs(truth, pairs, channels, (H, W), width_px=1.0)
        found = parse_pafs(hm, paf, J, pairs, channels, redundant, PafParams())
        assert found.shape == (n, J, 3), f"expected {n} people, found {found.shape[0]}"
        match = _match(found, truth)
        assert sorted(match) == list(range(n))
        for t, f in zip(truth, found[match]):
            vis = np.isfinite(t[:, 0])
            err = np.linalg.norm(f[vis, :2] - t[vis], axis=1)
            assert err.max() < 0.35, err.max()
            np.testing.assert_array_equal(np.rint(f[vis, :2]), t[vis])
            assert np.isnan(f[~vis, :2]).all() and (f[~vis, 2] == 0).all()
            assert (f[vis, 2] > 0.9).all()
            stats["max_err"] = max(stats["max_err"], float(err.max()))
            stats["truncated"] += int((~vis).any())
        stats["people"] += n
        stats["joints"] += int(np.isfinite(truth[..., 0]).sum())
    return stats


def test_body25_scenes_recovered_exactly():
    stats = _check_scenes(TEMPLATE_25, BODY_25_PAF_PAIRS, BODY_25_PAF_CHANNELS, (18, 19), seed=11, n_scenes=30)
    assert stats["people"] >= 100 and stats["truncated"] >= 15  # the scenes really are crowded and cut


def test_coco_scenes_recovered_exactly():
    stats = _check_scenes(TEMPLATE_25[COCO_FROM_25], COCO_PAF_PAIRS, COCO_PAF_CHANNELS, (17, 18), seed=12, n_scenes=12)
    assert stats["people"] >= 40


def test_peaks_are_subpixel_and_thresholded():
    truth = np.array([[[10.3, 20.6], [40.0, 5.0]]])
    hm = render_heatmaps(truth, (32, 64), sigma_px=2.0)
    peaks = find_peaks(hm, 2, 0.05)
    assert len(peaks[0]) == 1 and len(peaks[1]) == 1
    assert np.abs(peaks[0][0, :2] - [10.3, 20.6]).max() < 1e-3  # log-parabola: exact on a Gaussian
    assert np.abs(peaks[1][0, :2] - [40.0, 5.0]).max() < 1e-6
    assert find_peaks(hm * 0.04, 2, 0.05)[0].shape == (0, 3)


def test_wrong_direction_paf_and_lonely_joints_give_nobody():
    truth = TEMPLATE_25[None] + [100, 20]
    hm = render_heatmaps(truth, (H, W), 1.0)
    paf = render_pafs(truth, BODY_25_PAF_PAIRS, BODY_25_PAF_CHANNELS, (H, W), 1.0)
    assert parse_pafs(hm, -paf, 25, BODY_25_PAF_PAIRS, BODY_25_PAF_CHANNELS, (18, 19)).shape == (0, 25, 3)
    assert parse_pafs(hm, np.zeros_like(paf), 25, BODY_25_PAF_PAIRS, BODY_25_PAF_CHANNELS).shape == (0, 25, 3)
    one = parse_pafs(hm, paf, 25, BODY_25_PAF_PAIRS, BODY_25_PAF_CHANNELS, (18, 19))
    assert one.shape == (1, 25, 3) and np.abs(one[0, :, :2] - truth[0]).max() < 1e-6


# OpenPose's own BODY_25 tables (openpose/src/openpose/pose/poseParameters.cpp), flat as published:
# POSE_BODY_PART_PAIRS[BODY_25]: limb k joins joints (2k, 2k + 1); POSE_MAP_INDEX[BODY_25]: limb k's PAF is
# channels (2k, 2k + 1) of the PAF block, the first holding the x component, the second the y component.
OPENPOSE_BODY_25_PAIRS = [1, 8, 1, 2, 1, 5, 2, 3, 3, 4, 5, 6, 6, 7, 8, 9, 9, 10, 10, 11, 8, 12, 12, 13, 13, 14,
                          1, 0, 0, 15, 15, 17, 0, 16, 16, 18, 2, 17, 5, 18, 14, 19, 19, 20, 14, 21, 11, 22, 22,
                          23, 11, 24]
OPENPOSE_BODY_25_MAP_INDEX = [0, 1, 14, 15, 22, 23, 16, 17, 18, 19, 24, 25, 26, 27, 6, 7, 2, 3, 4, 5, 8, 9, 10,
                              11, 12, 13, 30, 31, 32, 33, 36, 37, 34, 35, 38, 39, 20, 21, 28, 29, 40, 41, 42, 43,
                              44, 45, 46, 47, 48, 49, 50, 51]


def _hand_built_neck_to_shoulder(swap_xy=False, reverse=False):
    """A BODY_25 field drawn by hand, following OpenPose's connector (bodyPartConnectorBase.cpp): for limb
    A -> B it reads mapX = PAF channel MAP_INDEX[2k], mapY = MAP_INDEX[2k + 1] at idx = row * width + col,
    with x = column (right) and y = row (down), and scores unit(B - A) . (mapX, mapY).

    One limb, k = 1: Neck (joint 1) at x = 12, y = 30 -> RShoulder (joint 2) at x = 40, y = 18 (map px).
    Heat maps: (26, H, W) = 25 joints + background, a 3x3 peak of 1 at each of the two joints.
    PAFs: (52, H, W), the unit vector A -> B on the pixels within 1 px of the segment, zero elsewhere.
    """
    H, W = 64, 80  # not square, so that (row, col) vs (x, y) mix-ups move the joints
    neck_xy, shoulder_xy = np.array([12.0, 30.0]), np.array([40.0, 18.0])
    heatmaps = np.zeros((26, H, W), np.float32)
    for joint, (x, y) in ((1, neck_xy), (2, shoulder_xy)):
        row, col = int(y), int(x)
        heatmaps[joint, row - 1:row + 2, col - 1:col + 2] = [[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]]
    heatmaps[25] = 1.0 - heatmaps[:25].max(axis=0)
    k = 1
    assert OPENPOSE_BODY_25_PAIRS[2 * k:2 * k + 2] == [1, 2]
    ch_x, ch_y = OPENPOSE_BODY_25_MAP_INDEX[2 * k], OPENPOSE_BODY_25_MAP_INDEX[2 * k + 1]
    assert (ch_x, ch_y) == (14, 15)
    a, b = (shoulder_xy, neck_xy) if reverse else (neck_xy, shoulder_xy)
    length = np.linalg.norm(b - a)
    ux, uy = (b - a) / length  # (0.919, -0.394): x and y differ, so a swap of the channels shows
    rows, cols = np.mgrid[0:H, 0:W]
    along = (cols - a[0]) * ux + (rows - a[1]) * uy
    across = np.abs((cols - a[0]) * uy - (rows - a[1]) * ux)
    band = (along >= 0) & (along <= length) & (across <= 1.0)
    pafs = np.zeros((52, H, W), np.float32)
    pafs[ch_y if swap_xy else ch_x][band] = ux
    pafs[ch_x if swap_xy else ch_y][band] = uy
    return heatmaps, pafs, neck_xy, shoulder_xy


def test_hand_built_openpose_field_decodes_to_its_limb():
    pairs = [tuple(OPENPOSE_BODY_25_PAIRS[i:i + 2]) for i in range(0, 52, 2)]
    channels = [tuple(OPENPOSE_BODY_25_MAP_INDEX[i:i + 2]) for i in range(0, 52, 2)]
    assert list(BODY_25_PAF_PAIRS) == pairs and list(BODY_25_PAF_CHANNELS) == channels
    heatmaps, pafs, neck_xy, shoulder_xy = _hand_built_neck_to_shoulder()
    params = PafParams(min_parts=2)
    found = parse_pafs(heatmaps, pafs, 25, BODY_25_PAF_PAIRS, BODY_25_PAF_CHANNELS, (18, 19), params)
    assert found.shape == (1, 25, 3)
    person = found[0]
    assert np.flatnonzero(np.isfinite(person[:, 0])).tolist() == [1, 2]
    np.testing.assert_allclose(person[1], [12.0, 30.0, 1.0], atol=1e-6)  # Neck: x px, y px, peak score
    np.testing.assert_allclose(person[2], [40.0, 18.0, 1.0], atol=1e-6)  # RShoulder
    np.testing.assert_allclose(person[2, :2] - person[1, :2], [28.0, -12.0], atol=1e-6)  # the limb Neck -> RShoulder
    assert (person[np.isnan(person[:, 0]), 2] == 0).all()
    # the limb's score: every sample lies on the band, so the mean of unit(B - A) . PAF is 1
    peaks = find_peaks(heatmaps, 25, params.peak_threshold)
    ia, ib, score = score_limb(peaks[1], peaks[2], pafs[14], pafs[15], params)
    assert ia.tolist() == [0] and ib.tolist() == [0]
    np.testing.assert_allclose(score, [1.0], atol=1e-6)
    # the same field with x and y channels exchanged, or pointing B -> A, joins nothing
    for kwargs in ({"swap_xy": True}, {"reverse": True}):
        hm, bad, _, _ = _hand_built_neck_to_shoulder(**kwargs)
        assert parse_pafs(hm, bad, 25, BODY_25_PAF_PAIRS, BODY_25_PAF_CHANNELS, (18, 19), params).shape == (0, 25, 3)
