"""Every person on real footage (Pose2Sim Demo_Batch Trial_2, 4 cameras, two people close together and a third
in the background) with today's single-person MediaPipe detections: one detection per view, the woman in three
views and the man in cam03. The multi-person association must find the one person seen consistently by >= 2
views and never pair cam03's other person with her (the real multi-person detectors are checked by the lead)."""
import numpy as np
import pytest

from capture3d.config import TrackingConfig
from capture3d.io.rig_files import load_rig
from capture3d.reconstruct.folders import triangulate_folders, triangulate_folders_people

pytestmark = pytest.mark.realdata


def test_trial2_single_person_detections_give_one_consistent_person(shared_data, trial2_mediapipe):
    rig = load_rig(shared_data / "pose2sim" / "Demo_Batch" / "calibration" / "Calib.qca.txt")
    folders = [trial2_mediapipe / f"cam0{i}" for i in (1, 2, 3, 4)]
    people = triangulate_folders_people(rig, folders, 60.0, tracking=TrackingConfig(people="all"))
    assert sorted(people) == [1]                     # the man is seen by cam03 only: not a 3D person
    kp = people[1]
    assert kp.valid.any(axis=1).sum() >= 97          # all but the birth frames
    assert (kp.n_views[kp.valid] == 4).mean() == 0   # cam03's other person is never used with her views
    one = triangulate_folders(rig, folders, 60.0)
    d = np.linalg.norm(kp.xyz_world - one.xyz_world, axis=-1)
    assert np.nanmedian(d) < 0.002                   # the single-person mode's subject, within 2 mm
