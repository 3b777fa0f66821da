"""The BVH rotation solve as it was before it was restructured for speed (one level of the hierarchy at a
time through the general shortest_arc / rotation_between_frames helpers), kept verbatim as the reference the
fast ``capture3d.export.bvh_write.solve_rotations`` is compared with (tests/test_bvh_solve.py)."""
import numpy as np

from capture3d.export.bvh_write import rest_keypoint_positions
from capture3d.geometry import rotations as rot


def reference_plan(skel, rest):
    rest_pos = rest_keypoint_positions(skel, rest)
    parent = np.array([jt.parent for jt in skel.joints], dtype=np.int64)
    depth = np.zeros(skel.n_joints, dtype=np.int64)
    for j, jt in enumerate(skel.joints):
        depth[j] = 0 if jt.parent < 0 else depth[jt.parent] + 1
    framed = [j for j, jt in enumerate(skel.joints) if jt.rule in ("segment", "aim-ref")]
    rows = []
    for j in framed:
        jt = skel.joints[j]
        a0, a1 = jt.seg_aim if jt.rule == "segment" else (jt.keypoint, jt.child)
        aim_rest = rest_pos[a1] - rest_pos[a0] if jt.rule == "segment" else rest.rest_dir_out[a1]
        rows.append((a0, a1, jt.ref[0], jt.ref[1], aim_rest, rest_pos[jt.ref[1]] - rest_pos[jt.ref[0]]))
    cols = list(zip(*rows)) if rows else [()] * 6
    fr = (np.array(framed, dtype=np.int64),) + tuple(np.array(c, dtype=np.int64) for c in cols[:4]) + \
        tuple(np.array(c, dtype=float).reshape(-1, 3) for c in cols[4:])
    levels = []
    for d in range(int(depth.max()) + 1):
        fpos = np.array([i for i, j in enumerate(framed) if depth[j] == d], dtype=np.int64)
        aims = [j for j, jt in enumerate(skel.joints) if depth[j] == d and jt.rule in ("aim", "root-aim")]
        kp = np.array([skel.joints[j].keypoint for j in aims], dtype=np.int64)
        ch = np.array([skel.joints[j].child for j in aims], dtype=np.int64)
        levels.append((fpos, np.array(aims, dtype=np.int64), kp, ch, rest.rest_dir_out[ch].reshape(-1, 3)))
    leaves = np.array([j for j, jt in enumerate(skel.joints) if jt.rule == "leaf"], dtype=np.int64)
    return fr, tuple(levels), leaves, parent


def reference_solve_rotations(skel, rest, xyz_out):
    """(local (N, T, 3, 3), global (N, T, 3, 3)) as the previous solve_rotations(..., with_global=True) gave."""
    framed, levels, leaves, parent = reference_plan(skel, rest)
    T = xyz_out.shape[0]
    N = skel.n_joints
    G = np.empty((N, T, 3, 3))
    eye = np.broadcast_to(np.eye(3), (T, 3, 3))
    xyz_k = np.swapaxes(xyz_out, 0, 1)  # (K, T, 3)
    js, a0, a1, r0, r1, aim_rest, ref_rest = framed
    if len(js):
        F, F_ok = rot.rotation_between_frames(xyz_k[a1] - xyz_k[a0], xyz_k[r1] - xyz_k[r0],
                                              aim_rest[:, None], ref_rest[:, None])

    def parents_of(joints):
        par = parent[joints]
        return np.where((par >= 0)[:, None, None, None], G[np.maximum(par, 0)], eye)

    for fpos, aims, kp, ch, rest_dir in levels:
        if len(fpos):
            G[js[fpos]] = np.where(F_ok[fpos][..., None, None], F[fpos], parents_of(js[fpos]))
        if len(aims):
            Gp = parents_of(aims)
            d_parent = np.einsum("ntji,ntj->nti", Gp, xyz_k[ch] - xyz_k[kp])
            L, ok = rot.shortest_arc(rest_dir[:, None], d_parent)
            G[aims] = np.where(ok[..., None, None], Gp @ L, Gp)
    if len(leaves):
        G[leaves] = parents_of(leaves)
    local = np.swapaxes(parents_of(np.arange(N)), -1, -2) @ G
    return local, G
