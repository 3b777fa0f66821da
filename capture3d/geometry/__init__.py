"""Geometry: the camera and rig model, the one lens model, rotations and batched robust triangulation.

Pure numpy (+ OpenCV for a few lens paths); no threads, no I/O.
"""
from capture3d.geometry.camera import Camera, Rig
from capture3d.geometry.triangulate import Triangulated, triangulate, triangulate_points

__all__ = ["Camera", "Rig", "Triangulated", "triangulate", "triangulate_points"]
