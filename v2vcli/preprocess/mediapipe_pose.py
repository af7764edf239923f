"""The mediapipe pose backend: PoseLandmarker in VIDEO mode (a person found once is tracked between frames).

Landmarks are mediapipe's 33 BlazePose points: x, y in pixels, z (depth, mediapipe's scale: about the
units of x / image width, origin between the hips, smaller = nearer), visibility and presence in [0, 1].
With `PoseConfig(segmentation_masks=True)` the same landmarker also gives each frame's person mask (the
`pose` segmentation backend and `v2v prepare`'s masks use it).
"""

from __future__ import annotations

import numpy as np

from v2vcli.errors import MissingModel, first_line
from v2vcli.preprocess.keypoints import KeypointLayout
from v2vcli.preprocess.native_logs import native_logs_silenced
from v2vcli.preprocess.pose_backend import PoseConfig, PoseEstimator
from v2vcli.preprocess.timestamps import StrictMilliseconds
from v2vcli.weights import find_weight_file

POSE_MODEL_FILE = "pose_landmarker_full.task"

MEDIAPIPE_LAYOUT = KeypointLayout(
    landmark_names=(
        "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
        "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
        "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
        "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
        "right_ankle", "left_heel", "right_heel", "left_foot_index", "right_foot_index",
    ),
    # The same limbs as mediapipe's POSE_CONNECTIONS. Torso and big limbs come last so they are drawn over
    # the small face and hand segments where they cross.
    connections=(
        (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10),
        (15, 17), (15, 19), (15, 21), (17, 19), (16, 18), (16, 20), (16, 22), (18, 20),
        (27, 29), (29, 31), (27, 31), (28, 30), (30, 32), (28, 32),
        (11, 12), (11, 23), (12, 24), (23, 24),
        (11, 13), (13, 15), (12, 14), (14, 16),
        (23, 25), (25, 27), (24, 26), (26, 28),
    ),
    # Ankles, not heels: the pose statistics that datasets and models already hold are measured on the
    # ankles under this name, and a source must be measured the same way as its target. The first group
    # is the feet: normalization takes its lowest visible point.
    ground_joints=(("ankles", (27, 28)), ("hips", (23, 24)), ("shoulders", (11, 12))),
    head=0,
)


class MediapipePose(PoseEstimator):
    """mediapipe's PoseLandmarker (a .task file, weights/pose_landmarker_full.task by default)."""

    name = "mediapipe"
    layout = MEDIAPIPE_LAYOUT
    summary = "mediapipe's PoseLandmarker, 33 body landmarks, offline"
    gives_masks = True

    def __init__(self, fps, config: PoseConfig | None = None):
        super().__init__(fps, config)
        self.model_path = find_weight_file(POSE_MODEL_FILE, self.config.model, option="--pose-model")
        self.model_name = self.model_path.name
        self._landmarker = None
        self._logs_pending = True
        # Time 0 goes to the warm-up frame in open(): the video's frames start at 1 ms.
        self._clock = StrictMilliseconds(last=0)

    def open(self) -> None:
        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions, vision

        config = self.config
        options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(self.model_path)),
            running_mode=vision.RunningMode.VIDEO,
            num_poses=config.num_poses,
            min_pose_detection_confidence=config.min_detection_confidence,
            min_pose_presence_confidence=config.min_presence_confidence,
            min_tracking_confidence=config.min_tracking_confidence,
            output_segmentation_masks=config.segmentation_masks,
        )
        with native_logs_silenced():
            try:
                self._landmarker = vision.PoseLandmarker.create_from_options(options)
            except (RuntimeError, ValueError) as error:
                message = f"{self.model_path}: not a usable pose landmarker model ({first_line(error)})"
                raise MissingModel(message) from None
            # The first inference prints its own log lines; run it here, on a blank frame at time 0.
            blank = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.zeros((64, 64, 3), dtype=np.uint8))
            self._landmarker.detect_for_video(blank, 0)

    def close(self) -> None:
        if self._landmarker is not None:
            with native_logs_silenced():
                self._landmarker.close()
            self._landmarker = None

    def detect(self, frame: np.ndarray, timestamp_ms: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        import mediapipe as mp

        if self._landmarker is None:
            raise RuntimeError("the mediapipe pose backend is not open; use it in a `with` block")
        timestamp = self._clock(1 + timestamp_ms)
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(frame))
        if self._logs_pending:
            # The first frame with a person makes mediapipe log a warning of its own.
            with native_logs_silenced():
                result = self._landmarker.detect_for_video(image, timestamp)
            self._logs_pending = not result.pose_landmarks
        else:
            result = self._landmarker.detect_for_video(image, timestamp)
        if not result.pose_landmarks:
            return None, None
        height, width = frame.shape[:2]
        landmarks = np.array(
            [[(p.x * width, p.y * height, p.z, p.visibility or 0.0, p.presence or 0.0) for p in person]
             for person in result.pose_landmarks],
            dtype=np.float64,
        )
        segmentation = None
        if result.segmentation_masks:
            # numpy_view() points into mediapipe's buffers, reused by the next call: the maximum copies it out.
            segmentation = np.maximum.reduce([mask.numpy_view().reshape(height, width)
                                              for mask in result.segmentation_masks]).astype(np.float32)
        return landmarks, segmentation
