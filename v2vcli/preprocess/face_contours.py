"""The contours drawn of a 478-point face mesh, part by part, as chains of point indices.

The index lists are mediapipe's face-mesh contour connections (`FaceLandmarksConnections` in
mediapipe/tasks/python/vision/face_landmarker.py: FACE_LANDMARKS_FACE_OVAL, _LEFT_EYEBROW,
_RIGHT_EYEBROW, _LEFT_EYE, _RIGHT_EYE, _LEFT_IRIS, _RIGHT_IRIS, _NOSE, _LIPS), Copyright 2023 The
MediaPipe Authors, Apache License 2.0; written here as chains (each consecutive pair of a chain is one
of mediapipe's connections, and together they are all of them; tests/test_render.py checks this against
the installed mediapipe), with the lips split into their outer and inner contours. Points 0-467 are the
mesh, 468-472 the right iris (its centre first), 473-477 the left iris. "left" is the person's left (the
image's right in a frontal view).
"""

from __future__ import annotations

FACE_POINTS = 478

FACE_CONTOURS: tuple[tuple[str, tuple[tuple[int, ...], ...]], ...] = (
    ("face_oval", (
        (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148,
         176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109, 10),
    )),
    ("left_eyebrow", ((276, 283, 282, 295, 285), (300, 293, 334, 296, 336))),
    ("right_eyebrow", ((46, 53, 52, 65, 55), (70, 63, 105, 66, 107))),
    ("left_eye", ((263, 249, 390, 373, 374, 380, 381, 382, 362), (263, 466, 388, 387, 386, 385, 384, 398, 362))),
    ("right_eye", ((33, 7, 163, 144, 145, 153, 154, 155, 133), (33, 246, 161, 160, 159, 158, 157, 173, 133))),
    ("left_iris", ((474, 475, 476, 477, 474),)),
    ("right_iris", ((469, 470, 471, 472, 469),)),
    ("nose", (
        (168, 6, 197, 195, 5, 4, 1, 19, 94, 2),
        (98, 97, 2, 326, 327, 294, 278, 344, 440, 275, 4, 45, 220, 115, 48, 64, 98),
    )),
    ("outer_lips", (
        (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291),
        (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291),
    )),
    ("inner_lips", (
        (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308),
        (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308),
    )),
)
