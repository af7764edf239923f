"""The hand and face landmarker bundles in weights/ load with mediapipe 1.x's Tasks API and put their points
where a person sees the hand and the face (points placed by eye on the images)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

WEIGHTS = Path(__file__).resolve().parent.parent / "weights"

NOSE_TIP = 4  # face mesh indices
LEFT_IRIS_CENTRE, RIGHT_IRIS_CENTRE = 468, 473  # the image's left and right: her right and left eye
INDEX_FINGER_TIP = 8  # hand landmark index


def rgb_image(pixels: np.ndarray):
    import mediapipe as mp

    return mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(pixels))


def video_frame(path: Path, index: int) -> np.ndarray:
    """Frame `index` of `path` as (H, W, 3) uint8 RGB."""
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path))
    width, height = next(reader)["size"]
    try:
        for position, frame in enumerate(reader):
            if position == index:
                return np.frombuffer(frame, np.uint8).reshape(height, width, 3)
    finally:
        reader.close()
    raise AssertionError(f"{path} has no frame {index}")


def test_face_landmarker_finds_478_points_on_the_astronauts_face():
    from mediapipe.tasks.python import BaseOptions, vision
    from skimage import data

    model = BaseOptions(model_asset_path=str(WEIGHTS / "face_landmarker.task"))
    options = vision.FaceLandmarkerOptions(base_options=model, num_faces=1)
    with vision.FaceLandmarker.create_from_options(options) as landmarker:
        result = landmarker.detect(rgb_image(data.astronaut()))
    (face,) = result.face_landmarks
    assert len(face) == 478  # the mesh's 468 points and 5 per iris
    points = np.array([(point.x, point.y) for point in face]) * 512
    # Placed by eye on the 512x512 photo: the tip of the nose and the centre of each pupil.
    expected = {NOSE_TIP: ((223, 126), 8), LEFT_IRIS_CENTRE: ((203, 100.5), 4), RIGHT_IRIS_CENTRE: ((247, 102.5), 4)}
    for index, (place, tolerance) in expected.items():
        distance = np.hypot(*(points[index] - place))
        assert distance <= tolerance, f"landmark {index} is {distance:.1f} px from {place}"


@pytest.mark.real
def test_hand_landmarker_finds_the_hand_in_front_of_the_mouth(footage):
    from mediapipe.tasks.python import BaseOptions, vision

    # Frame 70 of the talking-head clip (640x360): her fist in front of her mouth, the index finger along
    # the upper lip, its tip at about (446, 287); the hand spans x 285..455 (the wrist is below the frame).
    frame = video_frame(footage("talking-head"), 70)
    model = BaseOptions(model_asset_path=str(WEIGHTS / "hand_landmarker.task"))
    options = vision.HandLandmarkerOptions(base_options=model, num_hands=2)
    with vision.HandLandmarker.create_from_options(options) as landmarker:
        result = landmarker.detect(rgb_image(frame))
    (hand,) = result.hand_landmarks
    assert len(hand) == 21
    points = np.array([(point.x, point.y) for point in hand]) * frame.shape[1::-1]
    distance = np.hypot(*(points[INDEX_FINGER_TIP] - (446, 287)))
    assert distance <= 12, f"index finger tip is {distance:.1f} px from where it is seen"
    assert (points[:, 0] > 285 - 15).all() and (points[:, 0] < 455 + 15).all(), points[:, 0]
