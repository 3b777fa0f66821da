"""BVH export (animation tools: Blender, Maya, MotionBuilder, Unity): a real joint hierarchy with
rotations solved from 3D keypoints, a reader with forward kinematics, and live (streamed) writing.

- ``write_bvh(path, kp, options)``: batch writer (see bvh_write for the solver, bvh_skeleton for the
  hierarchy and rest pose).
- ``read_bvh(path)`` -> Keypoints3D by forward kinematics (bvh_read).
- ``BVHStreamWriter`` / ``repair_bvh`` for recordings (bvh_stream).
"""
from __future__ import annotations

from capture3d.export.bvh_read import BVHData, forward_kinematics, parse_bvh, read_bvh
from capture3d.export.bvh_skeleton import BVHSkeleton, build_skeleton
from capture3d.export.bvh_stream import BVHStreamWriter, repair_bvh
from capture3d.export.bvh_write import BVHOptions, write_bvh

__all__ = ["BVHData", "BVHOptions", "BVHSkeleton", "BVHStreamWriter", "build_skeleton", "forward_kinematics",
           "parse_bvh", "read_bvh", "repair_bvh", "write_bvh"]
