"""Reconstruction: 2D keypoints of V views -> one clean 3D subject (tracking, triangulation, filters).

No threads: the live runtime and the offline commands both call these.
"""
from capture3d.reconstruct.reconstructor import Reconstructor
from capture3d.reconstruct.track import SubjectTracker, TrackResult

__all__ = ["Reconstructor", "SubjectTracker", "TrackResult"]
