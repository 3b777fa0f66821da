"""Reconstruction: 2D keypoints of V views -> one clean 3D subject, or every person with a stable id
(cross-view association, tracking, triangulation, filters).

No threads: the live runtime and the offline commands both call these.
"""
from capture3d.reconstruct.associate import CrossViewAssociator
from capture3d.reconstruct.people import PeopleResult, PeopleTracker
from capture3d.reconstruct.reconstructor import Reconstructor
from capture3d.reconstruct.track import SubjectTracker, TrackResult

__all__ = ["CrossViewAssociator", "PeopleResult", "PeopleTracker", "Reconstructor", "SubjectTracker", "TrackResult"]
