"""capture3d: real-time multi-camera markerless 3D human motion capture.

The functions a script needs::

    import capture3d
    rig = capture3d.load_rig("rig.toml")
    result = capture3d.triangulate(rig, keypoints_px)          # (V, ..., 3) x, y, score -> 3D
    demo = capture3d.run_demo(out_dir="demo_out")              # synthetic end-to-end run
    capture3d.write_keypoints3d("pose.trc", demo.keypoints3d)  # CSV / JSON / TRC (+ BVH, C3D)

The application the CLI runs (source, rig, detector, reconstructor, pipeline) is built by
``capture3d.runtime.app`` (``build_live``, ``build_record``, ``build_process``). The subpackages are listed
on the documentation's Architecture page (docs/architecture.md).
"""
import importlib

#: public name -> the module that defines it; imported on first use (PEP 562), so ``capture3d --help``
#: and the CLI's error paths do not pay for scipy, OpenCV and the detectors.
_EXPORTS = {
    "Camera": "capture3d.geometry.camera", "Rig": "capture3d.geometry.camera",
    "AppConfig": "capture3d.config", "load_config": "capture3d.config",
    "DemoResult": "capture3d.demo", "run_demo": "capture3d.demo",
    "Capture3DError": "capture3d.errors",
    "read_keypoints3d": "capture3d.export", "write_keypoints3d": "capture3d.export",
    "Reconstructor": "capture3d.reconstruct.reconstructor",
    "load_rig": "capture3d.io.rig_files", "save_rig": "capture3d.io.rig_files",
    "BODY_25": "capture3d.body.keypoint_sets", "COCO_18": "capture3d.body.keypoint_sets",
    "FACE_70": "capture3d.body.keypoint_sets", "HAND_21": "capture3d.body.keypoint_sets",
    "WHOLEBODY_135": "capture3d.body.keypoint_sets", "get_keypoint_set": "capture3d.body.keypoint_sets",
    "Triangulated": "capture3d.geometry.triangulate", "triangulate": "capture3d.geometry.triangulate",
    "Keypoints3D": "capture3d.types",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'capture3d' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


__version__ = "0.2.0"

__all__ = [
    "AppConfig", "BODY_25", "COCO_18", "Camera", "Capture3DError", "DemoResult", "FACE_70", "HAND_21",
    "Keypoints3D", "Reconstructor", "Rig", "Triangulated", "WHOLEBODY_135", "get_keypoint_set", "load_config",
    "load_rig", "read_keypoints3d", "run_demo", "save_rig", "triangulate", "write_keypoints3d",
]
