"""2D keypoint detection: V images of a frame set -> keypoints (V, P, J, 3) x px, y px, score.

Backends, chosen by name (``create_detector(name, **options)``; see ``detector_names()``):

- ``mediapipe`` (default): MediaPipe Pose / Holistic (lite, full or heavy), top-down on every person found by
  a person detector (``openpose-mobilenet``), one tracker per view and person.
- ``openpose``: OpenPose networks (BODY_25, COCO, hand, face) in torch, weights from ``models/<name>/``.
- ``openpose-mobilenet``: an OpenPose-style PAF network (MobileNet-thin, COCO_18) through OpenCV DNN,
  multi-person bottom-up, no torch.
- ``rtmpose``: RTMPose / RTMW (top-down, after a YOLOX / RTMDet person detector) or RTMO, ONNX networks on
  onnxruntime, multi-person, COCO_17 / HALPE_26 / COCO_WHOLEBODY_133; weights from ``models/<name>/``.
- ``synthetic``: projected ground truth through capture3d.synth's 2D error model (demos, tests).
- ``openpose-json``: replays folders of OpenPose JSON files as if they were a detector.

Around an image detector, ``capture3d.detect.keyframes.KeyframeDetector`` runs it on keyframes only and tracks
every person's keypoints in between (Lucas-Kanade), the live pipeline's default ([pipeline] keyframes).

Weights are installed by name (``capture3d models install``, capture3d.detect.model_install). Only this
package imports torch, mediapipe or onnxruntime, lazily, when such a backend is created.
"""
from capture3d.detect.base import Detections, Detector, missing_keypoints
from capture3d.detect.registry import (DEFAULT_DETECTOR, create_detector, detector_names, detector_options,
                                       register_detector, unregister_detector)

__all__ = ["DEFAULT_DETECTOR", "Detections", "Detector", "create_detector", "detector_names", "detector_options",
           "missing_keypoints", "register_detector", "unregister_detector"]
