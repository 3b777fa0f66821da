"""Synthetic rigs, human motion and a 2D detector-error model with known ground truth.

Used by ``capture3d demo``, the tests and the benchmarks, so that every number can be compared with
the truth. Everything is seeded and reproducible.
"""
from capture3d.synth.crowd import Crowd, crowd_motion
from capture3d.synth.crowd_noise import CrowdErrorModel, CrowdObservations, observe_crowd
from capture3d.synth.motion import Motion, walking_motion
from capture3d.synth.noise import ErrorModel, Observations2D, observe
from capture3d.synth.rig import make_rig

__all__ = ["Crowd", "CrowdErrorModel", "CrowdObservations", "ErrorModel", "Motion", "Observations2D", "crowd_motion",
           "make_rig", "observe", "observe_crowd", "walking_motion"]
