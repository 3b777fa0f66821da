"""Third-party consumers read our BVH: the ``bvh`` parser from PyPI (with an independent forward
kinematics written here) and Blender's importer (slow; needs the Debian package ``blender``)."""
import json
import shutil
import subprocess

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from capture3d.export.bvh import write_bvh
from capture3d.export.bvh_write import OUT_FROM_WORLD
from capture3d.synth import walking_motion
from capture3d.types import Keypoints3D

bvh = pytest.importorskip("bvh", reason="the bvh parser from PyPI (capture3d[test]) is not installed")


@pytest.fixture(scope="module")
def walk():
    return walking_motion(150, 60.0, whole_body=True)


def _independent_fk(mocap, frame: int) -> dict[str, np.ndarray]:
    """Per-frame FK from the bvh package's view of the file: scipy intrinsic Euler in listed order,
    root position channels replacing the root offset."""
    names = mocap.get_joints_names()
    glob, pos = {}, {}
    for n in names:
        ch = mocap.joint_channels(n)
        vals = [float(v) for v in mocap.frame_joint_channels(frame, n, ch)]
        rot_axes = "".join(c[0] for c in ch if c.endswith("rotation"))
        R = Rotation.from_euler(rot_axes, [v for c, v in zip(ch, vals) if c.endswith("rotation")], degrees=True)
        off = np.array(mocap.joint_offset(n), dtype=float)
        for c, v in zip(ch, vals):
            if c.endswith("position"):
                off["XYZ".index(c[0])] = v
        parent = mocap.joint_parent(n)
        if parent is None:
            glob[n], pos[n] = R, off
        else:
            pos[n] = pos[parent.name] + glob[parent.name].apply(off)
            glob[n] = glob[parent.name] * R
    return pos


@pytest.mark.parametrize("opts", [{}, {"channel_order": "YXZ", "rest_pose": "a", "units": "m"}])
def test_pypi_bvh_parser_reads_it(tmp_path, walk, opts):
    kp = Keypoints3D.from_positions(walk.xyz_world, walk.fps, walk.keypoint_set)
    path = write_bvh(tmp_path / "w.bvh", kp, **opts)
    mocap = bvh.Bvh(path.read_text())
    names = mocap.get_joints_names()
    assert len(names) == 87 and names[0] == "MidHip"
    assert mocap.nframes == 150 and abs(mocap.frame_time - 1 / 60) < 1e-7
    scale = 100.0 if opts.get("units", "cm") == "cm" else 1.0
    for f in (0, 77, 149):
        pos = _independent_fk(mocap, f)
        for j, n in enumerate(kp.keypoint_set.names[:65]):
            world = OUT_FROM_WORLD["y-up"].T @ (pos[n] / scale)
            assert 1e3 * np.linalg.norm(world - walk.xyz_world[f, j]) < 1.0, (f, n)


_BLENDER_SCRIPT = r'''
import builtins, json, sys
_open = builtins.open
def _open_without_u(file, mode="r", *args, **kwargs):
    # Blender 3.4's BVH importer opens with mode 'rU', which Python 3.11 rejects.
    if isinstance(mode, str) and "U" in mode:
        mode = mode.replace("U", "") or "r"
    return _open(file, mode, *args, **kwargs)
builtins.open = _open_without_u
import bpy
jobs = json.loads(sys.argv[sys.argv.index("--") + 1])
results = []
for job in jobs:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.import_anim.bvh(filepath=job["path"], global_scale=job["scale"], rotate_mode="NATIVE",
                            axis_forward="-Z", axis_up="Y", frame_start=1, use_fps_scale=False)
    scene = bpy.context.scene
    obj = [o for o in scene.objects if o.type == "ARMATURE"][0]
    res = {"n_bones": len(obj.data.bones), "names": [b.name for b in obj.data.bones],
           "frame_range": list(obj.animation_data.action.frame_range), "heads": {}}
    for f in job["frames"]:
        scene.frame_set(f + 1)
        res["heads"][str(f)] = {pb.name: list(obj.matrix_world @ pb.head) for pb in obj.pose.bones}
    results.append(res)
with _open(jobs[0]["out"], "w") as fh:
    json.dump(results, fh)
'''


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("blender") is None,
                    reason="Blender is not installed (Debian: apt-get install -y blender)")
def test_blender_imports_it(tmp_path, walk):
    kp = Keypoints3D.from_positions(walk.xyz_world, walk.fps, walk.keypoint_set)
    files = [(write_bvh(tmp_path / "cm.bvh", kp), 0.01),
             (write_bvh(tmp_path / "m.bvh", kp, units="m", channel_order="XYZ", rest_pose="a", hands=False), 1.0)]
    frames = [0, 64, 149]
    jobs = [{"path": str(p), "scale": s, "frames": frames, "out": str(tmp_path / "blender.json")} for p, s in files]
    script = tmp_path / "import_bvh.py"
    script.write_text(_BLENDER_SCRIPT)
    proc = subprocess.run(["blender", "-b", "--factory-startup", "--python", str(script), "--", json.dumps(jobs)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    results = json.loads((tmp_path / "blender.json").read_text())
    for res, n_joints, n_kp in zip(results, (87, 37), (65, 25)):
        assert res["n_bones"] == n_joints
        assert res["frame_range"] == [1.0, 150.0]
        for f in frames:
            heads = res["heads"][str(f)]
            # Blender's default axis conversion (forward -Z, up Y) maps our Y-up file back to Z up:
            # its world coordinates are capture3d's world coordinates
            err = [np.linalg.norm(np.array(heads[n]) - walk.xyz_world[f, j])
                   for j, n in enumerate(kp.keypoint_set.names[:n_kp])]
            assert 1e3 * max(err) < 1.0, f"frame {f}: max {1e3 * max(err):.3f} mm"
