"""Shared fixtures: small synthetic rigs and motions from capture3d itself (the demo's generator)."""
from __future__ import annotations

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
