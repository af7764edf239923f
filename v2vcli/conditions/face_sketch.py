"""Face sketches: the face-mesh contours of one face drawn as lines, with Canny edges outside the face.

The contours are drawn exactly as `v2v pose --detail full` draws a face (v2vcli.preprocess.render: one
saturated colour per part, face oval, eyebrows, eyes, irises, nose, lips), so a sketch's lines are
never white; the edges outside the face (hair, ears, neck, shoulders, background) are drawn white, so
the network tells the two apart. Edges inside the face oval are left out: there the contours say where
the eyes and lips are, and the skin's edges would speak for the source face's texture.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from v2vcli.preprocess.face_contours import FACE_CONTOURS, FACE_POINTS

EDGE_COLOUR = 255
# The face oval's points (the first contour), the region whose edges are left out.
_OVAL = np.array(FACE_CONTOURS[0][1][0][:-1])


class FaceFinder:
    """mediapipe's face landmarker over whole frames of one video, fed in order (VIDEO mode: it tracks
    the face from frame to frame): `finder(frame)` -> float (478, 2) pixel x, y of the most confident
    face of an RGB uint8 (H, W, 3) frame, or None. A context manager; `close()` frees the model."""

    def __init__(self, fps, model: Path | str | None = None):
        from v2vcli.preprocess.mediapipe_pose import FACE_MODEL_FILE
        from v2vcli.preprocess.timestamps import StrictMilliseconds
        from v2vcli.weights import find_weight_file

        self.fps = float(fps)
        self.model = find_weight_file(FACE_MODEL_FILE, model)
        self.index = 0
        self._clock = StrictMilliseconds()
        self._landmarker = None

    def __enter__(self) -> FaceFinder:
        from mediapipe.tasks.python import BaseOptions, vision

        from v2vcli.errors import MissingModel, first_line
        from v2vcli.preprocess.native_logs import native_logs_silenced

        options = vision.FaceLandmarkerOptions(base_options=BaseOptions(model_asset_path=str(self.model)),
                                               running_mode=vision.RunningMode.VIDEO, num_faces=1)
        with native_logs_silenced():
            try:
                self._landmarker = vision.FaceLandmarker.create_from_options(options)
            except (RuntimeError, ValueError) as error:
                raise MissingModel(f"{self.model}: not a usable face landmarker model ({first_line(error)})") from None
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        if self._landmarker is not None:
            from v2vcli.preprocess.native_logs import native_logs_silenced

            with native_logs_silenced():
                self._landmarker.close()
            self._landmarker = None

    def __call__(self, frame: np.ndarray) -> np.ndarray | None:
        import mediapipe as mp

        from v2vcli.preprocess.native_logs import native_logs_silenced
        from v2vcli.preprocess.timestamps import frame_milliseconds

        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(frame))
        timestamp = self._clock(frame_milliseconds(self.index, self.fps))
        self.index += 1
        with native_logs_silenced():
            result = self._landmarker.detect_for_video(image, timestamp)
        if not result.face_landmarks:
            return None
        height, width = frame.shape[:2]
        return np.array([(point.x * width, point.y * height) for point in result.face_landmarks[0]])


def face_region(landmarks: np.ndarray, size: tuple[int, int], margin: int) -> np.ndarray:
    """bool (H, W): inside the face oval of `landmarks` (478, 2), widened by `margin` pixels."""
    import cv2

    width, height = size
    region = np.zeros((height, width), np.uint8)
    hull = cv2.convexHull(np.round(landmarks[_OVAL]).astype(np.int32))
    cv2.fillConvexPoly(region, hull, 1)
    if margin > 0:
        region = cv2.dilate(region, np.ones((2 * margin + 1, 2 * margin + 1), np.uint8))
    return region > 0


def face_sketch(landmarks: np.ndarray | None, size: tuple[int, int], edges: np.ndarray | None = None) -> np.ndarray:
    """RGB uint8 (H, W, 3) of `size` (W, H): the contours of `landmarks` (478, 2) pixels (None: no face)
    as `v2v pose` draws a face, over the white `edges` (uint8 (H, W), nonzero on edges; None: none)
    outside the face oval (widened by a line's width, so the oval's own edge is not drawn twice)."""
    from v2vcli.preprocess.mediapipe_pose import FACE, MEDIAPIPE_LAYOUT
    from v2vcli.preprocess.render import default_thickness, render_pose

    width, height = size
    image = np.zeros((height, width, 3), np.uint8)
    if edges is not None:
        outside = edges > 0
        if landmarks is not None:
            outside &= ~face_region(landmarks, size, default_thickness(width, height))
        image[outside] = EDGE_COLOUR
    if landmarks is None:
        return image
    # The face group alone of the pose layout: every other point absent (NaN is never drawn).
    keypoints = np.full((MEDIAPIPE_LAYOUT.count, 5), np.nan)
    keypoints[FACE:FACE + FACE_POINTS, :2] = landmarks
    keypoints[FACE:FACE + FACE_POINTS, 2:] = (0.0, 1.0, 1.0)
    return render_pose(keypoints, size, background=image, layout=MEDIAPIPE_LAYOUT)
