"""Optical flow: OpenCV DIS (default) and Farneback, colour previews, forward-backward occlusion masks.

Flow is float32 (H, W, 2) in pixels, x then y, with first[y, x] ~ second[y + f[..., 1], x + f[..., 0]]
for f = flow_between(first, second). Importing this package does not import cv2 (each function does).
"""

from v2vcli.flow.color import flow_to_color
from v2vcli.flow.compute import DEFAULT_METHOD, METHODS, FlowPair, compute_flow, flow_between, make_estimator
from v2vcli.flow.export import export_flow
from v2vcli.flow.occlusion import confidence, consistency_error, occlusion_mask
from v2vcli.flow.storage import read_flow, read_flow_folder, write_flow
from v2vcli.flow.warp import warp

__all__ = [
    "DEFAULT_METHOD",
    "METHODS",
    "FlowPair",
    "compute_flow",
    "confidence",
    "consistency_error",
    "export_flow",
    "flow_between",
    "flow_to_color",
    "make_estimator",
    "occlusion_mask",
    "read_flow",
    "read_flow_folder",
    "warp",
    "write_flow",
]
