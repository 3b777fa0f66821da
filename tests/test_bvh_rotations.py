"""Rotation helpers used by the BVH solver: Euler orders, shortest arcs, two-vector frames."""
import itertools

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from capture3d.geometry import rotations as rot

ORDERS = ["".join(p) for p in itertools.permutations("XYZ")]


@pytest.mark.parametrize("order", ORDERS)
def test_euler_matches_scipy_intrinsic_and_round_trips(order):
    R = Rotation.random(2000, random_state=4).as_matrix()
    ang = rot.matrices_to_euler_deg(R, order)
    assert np.abs(ang[:, 1]).max() <= 90 + 1e-9 and np.abs(ang).max() <= 180 + 1e-9
    # independent reference: scipy's intrinsic (upper-case) convention = channels composed as listed
    assert np.abs(Rotation.from_euler(order, ang, degrees=True).as_matrix() - R).max() < 1e-9
    assert np.abs(rot.euler_deg_to_matrices(ang, order) - R).max() < 1e-9
    # gimbal lock: middle angle +-90 degrees still decomposes to the same rotation
    rng = np.random.default_rng(2)
    lock = np.c_[rng.uniform(-180, 180, 50), rng.choice([-90.0, 90.0], 50), rng.uniform(-180, 180, 50)]
    G = Rotation.from_euler(order, lock, degrees=True).as_matrix()
    assert np.abs(rot.euler_deg_to_matrices(rot.matrices_to_euler_deg(G, order), order) - G).max() < 1e-6


def test_shortest_arc_properties():
    rng = np.random.default_rng(8)
    u, v = rng.normal(size=(500, 3)), rng.normal(size=(500, 3))
    v[0] = -3.0 * u[0]                          # opposite directions
    v[1] = np.nan                               # missing
    R, ok = rot.shortest_arc(u, v)
    assert not ok[1] and ok[[0] + list(range(2, 500))].all()
    assert np.allclose(R[1], np.eye(3))
    assert np.allclose(R @ np.transpose(R, (0, 2, 1)), np.eye(3), atol=1e-12)
    assert np.allclose(np.linalg.det(R), 1.0)
    un = u / np.linalg.norm(u, axis=1, keepdims=True)
    vn = v / np.linalg.norm(v, axis=1, keepdims=True)
    mapped = np.einsum("nij,nj->ni", R, un)
    assert np.abs(mapped[ok] - vn[ok]).max() < 1e-12
    # smallest: the rotation angle equals the angle between u and v, the axis is perpendicular to both
    angle = np.arccos(np.clip((np.trace(R, axis1=1, axis2=2) - 1) / 2, -1, 1))
    between = np.arccos(np.clip(np.sum(un * vn, axis=1), -1, 1))
    assert np.abs(angle[ok] - between[ok]).max() < 1e-6


def test_rotation_between_frames_maps_aim_exactly_and_keeps_the_plane():
    rng = np.random.default_rng(9)
    aim_r, ref_r = np.array([0.0, -1.0, 0.0]), np.array([1.0, 0.0, 0.0])
    Q = Rotation.random(300, random_state=3).as_matrix()
    aim_t = np.einsum("nij,j->ni", Q, aim_r) * rng.uniform(0.2, 2.0, (300, 1))
    ref_t = np.einsum("nij,j->ni", Q, ref_r + 0.3 * aim_r)      # not orthogonal: made so internally
    R, ok = rot.rotation_between_frames(aim_t, ref_t, aim_r, ref_r)
    assert ok.all() and np.abs(R - Q).max() < 1e-12               # recovers the rotation exactly
    R2, ok2 = rot.rotation_between_frames(aim_t[:1], aim_t[:1], aim_r, ref_r)  # parallel: degenerate
    assert not ok2[0] and np.isfinite(R2).all()
