"""The mediapipe pose backend: PoseLandmarker in VIDEO mode (a person found once is tracked between frames),
with HandLandmarker and FaceLandmarker for each person's hands and face.

Each person has 553 points (MEDIAPIPE_LAYOUT): mediapipe's 33 BlazePose body points, then 21 per hand
(left, right) and the 478 points of the face mesh (irises included). Body points: x, y in pixels, z
(depth, mediapipe's scale: about the units of x / image width, origin between the hips, smaller =
nearer), visibility and presence in [0, 1]. Hand and face points: x, y in pixels, z (the landmarkers'
depth, relative to the wrist or the face's centre, in units of the image width), visibility and presence
1 when the hand or face was found; a hand or face not found, or not looked for (`PoseConfig.detail`),
lies at the body's wrist or nose with visibility and presence 0. How hands and faces are looked for and
given to people: v2vcli.preprocess.hands_face.

With `PoseConfig(segmentation_masks=True)` the pose landmarker also gives each frame's person mask (the
`pose` segmentation backend and `v2v prepare`'s masks use it).
"""

from __future__ import annotations

import numpy as np

from v2vcli.errors import MissingModel, first_line
from v2vcli.preprocess.face_contours import FACE_POINTS
from v2vcli.preprocess.keypoints import (
    HAND_POINT_NAMES,
    HAND_POINTS,
    KeypointLayout,
    absent_group,
    face_group,
    hand_group,
)
from v2vcli.preprocess.native_logs import native_logs_silenced
from v2vcli.preprocess.pose_backend import PoseConfig, PoseEstimator
from v2vcli.preprocess.timestamps import StrictMilliseconds
from v2vcli.weights import find_weight_file

POSE_MODEL_FILE = "pose_landmarker_full.task"
HAND_MODEL_FILE = "hand_landmarker.task"
FACE_MODEL_FILE = "face_landmarker.task"

BODY_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle", "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
LEFT_HAND, RIGHT_HAND, FACE = 33, 33 + HAND_POINTS, 33 + 2 * HAND_POINTS  # where each group starts

MEDIAPIPE_LAYOUT = KeypointLayout(
    landmark_names=BODY_NAMES + tuple(f"left_hand_{name}" for name in HAND_POINT_NAMES)
    + tuple(f"right_hand_{name}" for name in HAND_POINT_NAMES) + tuple(f"face_{index}" for index in range(FACE_POINTS)),
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
    # A hand found replaces the body's coarse hand (pinky, index, thumb); a face found, its 11 face points.
    groups=(
        hand_group("left_hand", LEFT_HAND, anchor=15, replaces=(17, 19, 21)),
        hand_group("right_hand", RIGHT_HAND, anchor=16, replaces=(18, 20, 22)),
        face_group("face", FACE, anchor=0, replaces=tuple(range(11))),
    ),
)


class MediapipePose(PoseEstimator):
    """mediapipe's PoseLandmarker (a .task file, weights/pose_landmarker_full.task by default), with
    weights/hand_landmarker.task and weights/face_landmarker.task as `config.detail` asks."""

    name = "mediapipe"
    layout = MEDIAPIPE_LAYOUT
    summary = "mediapipe's landmarkers: 33 body points, 21 per hand, 478 face-mesh points; offline"
    gives_masks = True

    def __init__(self, fps, config: PoseConfig | None = None):
        super().__init__(fps, config)
        self.model_path = find_weight_file(POSE_MODEL_FILE, self.config.model, option="--pose-model")
        self.model_name = self.model_path.name
        kinds = {group.kind for group in self.layout.detail_groups(self.config.detail)}
        self.hand_model = find_weight_file(HAND_MODEL_FILE) if "hand" in kinds else None
        self.face_model = find_weight_file(FACE_MODEL_FILE) if "face" in kinds else None
        self._details = None
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
        if self.hand_model is not None or self.face_model is not None:
            from v2vcli.preprocess.hands_face import HandsAndFaces

            self._details = HandsAndFaces(self.hand_model, self.face_model, config.num_poses)

    def close(self) -> None:
        if self._landmarker is not None:
            with native_logs_silenced():
                self._landmarker.close()
            self._landmarker = None
        if self._details is not None:
            self._details.close()
            self._details = None

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
        bodies = np.array(
            [[(p.x * width, p.y * height, p.z, p.visibility or 0.0, p.presence or 0.0) for p in person]
             for person in result.pose_landmarks],
            dtype=np.float64,
        )
        segmentation = None
        if result.segmentation_masks:
            # numpy_view() points into mediapipe's buffers, reused by the next call: the maximum copies it out.
            segmentation = np.maximum.reduce([mask.numpy_view().reshape(height, width)
                                              for mask in result.segmentation_masks]).astype(np.float32)
        return self._with_hands_and_faces(frame, timestamp, bodies), segmentation

    def _with_hands_and_faces(self, frame: np.ndarray, timestamp: int, bodies: np.ndarray) -> np.ndarray:
        """The people's keypoints (P, 553, 5) in MEDIAPIPE_LAYOUT from their bodies (P, 33, 5): the hands and
        faces found where `config.detail` asks, the others marked absent (at their anchor, not visible)."""
        layout = self.layout
        people = np.zeros((len(bodies), layout.count, 5))
        people[:, :layout.body_count] = bodies
        for person in people:
            for group in layout.groups:
                absent_group(person, group)
        if self._details is None:
            return people
        hands, faces = self._details(frame, timestamp, bodies)
        starts = (LEFT_HAND, RIGHT_HAND)
        found = [(person, starts[side], hand) for (person, side), hand in hands.items()]
        found += [(person, FACE, face) for person, face in faces.items()]
        for person, start, part in found:
            people[person, start:start + len(part.points), :3] = part.points
            people[person, start:start + len(part.points), 3:] = 1.0
        return people
