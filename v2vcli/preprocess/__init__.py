"""Preprocessing: condition maps from frames (body poses, semantic labels) for vid2vid.

Modules import their heavy dependencies (mediapipe, cv2) themselves; importing this package is cheap.
"""
