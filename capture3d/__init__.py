"""capture3d: real-time multi-camera markerless 3D human motion capture.

The functions a script needs::

    import capture3d
    rig = capture3d.load_rig("rig.toml")
    result = capture3d.triangulate(rig, keypoints_px)          # (V, ..., 3) x, y, score -> 3D
    demo = capture3d.run_demo(out_dir="demo_out")              # synthetic end-to-end run
    capture3d.write_keypoints3d("pose.trc", demo.keypoints3d)  # CSV / JSON / TRC (+ BVH, C3D)

The application the CLI runs (source, rig, detector, reconstructor, pipeline) is built by
``capture3d.runtime.app`` (``build_live``, ``build_record``, ``build_process``). The subpackages are listed
in the README's "Layout of the package".
"""
from capture3d.geometry.camera import Camera, Rig
from capture3d.config import AppConfig, load_config
from capture3d.demo import DemoResult, run_demo
from capture3d.errors import Capture3DError
from capture3d.export import read_keypoints3d, write_keypoints3d
from capture3d.reconstruct.reconstructor import Reconstructor
from capture3d.io.rig_files import load_rig, save_rig
from capture3d.body.keypoint_sets import BODY_25, COCO_18, FACE_70, HAND_21, WHOLEBODY_135, get_keypoint_set
from capture3d.geometry.triangulate import Triangulated, triangulate
from capture3d.types import Keypoints3D

__version__ = "0.2.0"

__all__ = [
    "AppConfig", "BODY_25", "COCO_18", "Camera", "Capture3DError", "DemoResult", "FACE_70", "HAND_21",
    "Keypoints3D", "Reconstructor", "Rig", "Triangulated", "WHOLEBODY_135", "get_keypoint_set", "load_config",
    "load_rig", "read_keypoints3d", "run_demo", "save_rig", "triangulate", "write_keypoints3d",
]
