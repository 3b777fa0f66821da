"""Shared fixtures: small synthetic rigs and motions from capture3d itself (the demo's generator)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from capture3d.synth import ErrorModel, make_rig, observe, walking_motion


@pytest.fixture(scope="session")
def rig4():
    return make_rig(4, seed=1)


@pytest.fixture(scope="session")
def walk():
    return walking_motion(200, 30.0)


@pytest.fixture(scope="session")
def noisy_obs(rig4, walk):
    """4 cameras, 2 px noise, 10% missing, 5% outliers of 50-200 px, no swaps."""
    return observe(rig4, walk.xyz_world, ErrorModel(noise_px=2.0, missing=0.1, outliers=0.05, swaps=0.0), 7,
                   walk.keypoint_set)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


#: real recordings from other projects (see its README); CI has it beside the clone, the repo never copies it
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, or a skip saying why (tests that use it are marked realdata)."""
    if not (SHARED_DATA / "README.md").is_file():
        pytest.skip(f"real recordings not found at {SHARED_DATA} (the shared data folder beside the repository)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def trial1_mediapipe(shared_data, tmp_path_factory) -> Path:
    """MediaPipe BODY_25 detections (OpenPose JSON, one folder per camera) of the 100 frames of
    Pose2Sim's Demo_Batch/Trial_1, made once per test session with `capture3d detect`: MediaPipe full on each
    whole view, one person per view (the path these tests' numbers were measured on; the multi-person
    default is tested in test_people_2d.py and measured by tools/bench/bench_2d.py)."""
    from capture3d.cli import main
    out = tmp_path_factory.mktemp("trial1_mp")
    videos = sorted((shared_data / "pose2sim" / "Demo_Batch" / "Trial_1" / "videos").glob("cam*.mp4"))
    assert main(["detect", *map(str, videos), "--option", "person_detector=none", "--option", "model_complexity=1", "-o", str(out)]) == 0
    return out


@pytest.fixture(scope="session")
def trial2_mediapipe(shared_data, tmp_path_factory) -> Path:
    """The same for Pose2Sim's Demo_Batch/Trial_2 (two people: one person per view picks the man in cam03 and
    the woman elsewhere, so cam03's joints are grossly wrong)."""
    from capture3d.cli import main
    out = tmp_path_factory.mktemp("trial2_mp")
    videos = sorted((shared_data / "pose2sim" / "Demo_Batch" / "Trial_2" / "videos").glob("cam*.mp4"))
    assert main(["detect", *map(str, videos), "--option", "person_detector=none", "--option", "model_complexity=1", "-o", str(out)]) == 0
    return out


@pytest.fixture(scope="session")
def demo_batch_default_2d(shared_data, tmp_path_factory) -> Path:
    """The default detector's detections (top-down MediaPipe heavy on every person the PAF network finds) of
    Pose2Sim's Demo_Batch Trial_1 and Trial_2, made once per test session with `capture3d detect` into
    OUT/Trial_N/camNN (the 2D that tools/bench/bench_people_real.py measures)."""
    from capture3d.cli import main
    out = tmp_path_factory.mktemp("demo_batch_default")
    for trial in ("Trial_1", "Trial_2"):
        videos = sorted((shared_data / "pose2sim" / "Demo_Batch" / trial / "videos").glob("cam*.mp4"))
        assert main(["detect", *map(str, videos), "-o", str(out / trial)]) == 0
    return out


@pytest.fixture(scope="session")
def fast_mediapipe_config(tmp_path_factory) -> Path:
    """A --config TOML for `process` / `batch` on real video with the fast 2D path (MediaPipe full on each
    whole view, one person per view): for tests of the chain around the detector, not of the detector (the
    default, top-down MediaPipe heavy on every person, costs ~4x the CPU)."""
    path = tmp_path_factory.mktemp("fastcfg") / "fast_mediapipe.toml"
    path.write_text('[pipeline]\ndetector_options = { model_complexity = 1, person_detector = "none" }\n')
    return path
