"""Person outlines drawn by hand on frames of the real clips (examples/footage.py), the reference for the
person masks' IoU in tests/test_segment_real.py and docs/segment.md.

How they were made: each frame was decoded at full size, cropped around each person, enlarged 1.5-2.5x
with a labelled 20-px grid drawn over it, and the outline placed point by point by eye (40-70 points for
a whole body, 14-30 for a head and shoulders); every polygon was then drawn back over its frame and
checked by looking. Coordinates are pixels of the full-size frame. Limits: the outline is about 2-3 px
off the true edge in places (more in motion blur and where hair meets a dark background), gaps narrower
than that (between fingers, strands of hair) are not drawn, and a person cut by the frame's edge is
outlined up to that edge. A perfect mask would score about 0.9-0.95 IoU against the small full-body
outlines of sports2d, nearer 1 on the large close-up ones.

    python tests/person_outlines.py [--overlays DIR]    # the IoU and coverage tables of docs/segment.md
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

# clip name -> frame index -> polygons (one per person), (x, y) pixels of the full-size frame.
OUTLINES: dict[str, dict[int, list[list[tuple[int, int]]]]] = {
    "sports2d": {
        15: [
            [(639, 45), (650, 48), (657, 58), (658, 75), (655, 92), (660, 102), (685, 105), (730, 105), (770, 100),
             (800, 92), (810, 92), (810, 110), (770, 115), (730, 122), (700, 130), (682, 138), (678, 180),
             (681, 218), (692, 250), (696, 300), (700, 330), (708, 370), (712, 390), (722, 410), (738, 430),
             (705, 435), (698, 390), (685, 340), (678, 310), (660, 310), (648, 310), (600, 310), (592, 355),
             (585, 400), (570, 435), (548, 430), (565, 415), (570, 400), (575, 380), (578, 340), (582, 300),
             (585, 255), (592, 220), (602, 215), (600, 180), (598, 140), (595, 125), (570, 122), (525, 115),
             (485, 110), (465, 110), (460, 100), (470, 92), (510, 100), (550, 105), (585, 105), (615, 102),
             (625, 98), (622, 85), (622, 60), (628, 49)],
        ],
        75: [
            [(622, 85), (635, 86), (642, 98), (644, 120), (640, 132), (642, 142), (660, 148), (672, 158), (682, 175),
             (690, 200), (700, 225), (712, 265), (718, 285), (712, 298), (702, 290), (698, 260), (688, 230),
             (678, 208), (674, 192), (675, 225), (679, 260), (681, 300), (674, 340), (668, 348), (670, 375),
             (671, 400), (664, 420), (672, 445), (675, 455), (642, 458), (645, 435), (642, 395), (638, 365),
             (631, 332), (622, 355), (620, 395), (615, 420), (622, 445), (620, 455), (590, 455), (592, 445),
             (600, 420), (592, 385), (590, 360), (588, 340), (586, 295), (588, 265), (588, 212), (582, 235),
             (578, 265), (572, 295), (562, 302), (555, 295), (560, 275), (565, 235), (575, 200), (582, 162),
             (595, 150), (610, 145), (612, 138), (610, 125), (609, 100), (612, 90)],
            [(1268, 528), (1285, 528), (1295, 538), (1298, 555), (1295, 570), (1300, 578), (1300, 585), (1310, 592),
             (1318, 605), (1322, 630), (1335, 660), (1348, 695), (1360, 725), (1370, 745), (1372, 758), (1362, 760),
             (1355, 750), (1340, 715), (1328, 685), (1316, 658), (1315, 685), (1315, 710), (1310, 720), (1305, 735),
             (1310, 790), (1315, 830), (1318, 870), (1318, 890), (1322, 918), (1315, 925), (1278, 922), (1282, 910),
             (1298, 890), (1295, 860), (1285, 830), (1275, 790), (1268, 765), (1260, 770), (1232, 800), (1228, 835),
             (1230, 870), (1235, 910), (1225, 922), (1170, 918), (1172, 910), (1208, 895), (1202, 860), (1200, 810),
             (1205, 780), (1242, 725), (1240, 710), (1240, 685), (1225, 695), (1205, 710), (1192, 725), (1185, 738),
             (1175, 740), (1168, 732), (1170, 720), (1180, 710), (1200, 695), (1225, 670), (1242, 635), (1255, 600),
             (1260, 582), (1258, 572), (1248, 560), (1250, 548), (1255, 535), (1260, 529)],
        ],
        195: [
            [(1188, 710), (1200, 714), (1207, 726), (1208, 742), (1204, 756), (1196, 764), (1188, 768), (1176, 772),
             (1200, 802), (1232, 834), (1252, 854), (1264, 862), (1256, 866), (1236, 860), (1218, 844), (1196, 822),
             (1182, 812), (1172, 816), (1160, 812), (1148, 806), (1140, 810), (1134, 828), (1128, 842), (1120, 858),
             (1110, 872), (1120, 890), (1120, 898), (1056, 898), (1052, 886), (1070, 874), (1074, 858), (1080, 838),
             (1060, 830), (1044, 828), (1026, 816), (1019, 798), (1020, 778), (1028, 766), (1044, 756), (1072, 742),
             (1100, 730), (1128, 722), (1160, 715), (1176, 712)],
            [(0, 532), (22, 524), (50, 529), (69, 549), (78, 566), (83, 582), (94, 604), (100, 638), (100, 671),
             (92, 677), (97, 716), (111, 743), (128, 760), (139, 766), (136, 777), (119, 777), (108, 768), (94, 749),
             (86, 741), (72, 754), (67, 766), (69, 799), (78, 827), (97, 843), (122, 866), (144, 882), (156, 893),
             (172, 893), (178, 910), (167, 921), (144, 918), (128, 904), (106, 879), (89, 871), (67, 866), (39, 868),
             (22, 854), (6, 821), (0, 810)],
        ],
    },
    "talking-head": {
        40: [
            [(425, 0), (400, 30), (375, 65), (355, 100), (335, 140), (320, 180), (305, 225), (295, 275), (290, 320),
             (287, 360), (640, 360), (640, 40), (620, 20), (600, 0)],
        ],
        200: [
            [(373, 0), (347, 27), (327, 67), (313, 107), (300, 147), (287, 193), (277, 240), (270, 287), (267, 333),
             (265, 360), (640, 360), (640, 240), (627, 200), (613, 147), (600, 87), (580, 40), (547, 0)],
        ],
        400: [
            [(280, 40), (313, 20), (353, 10), (400, 7), (440, 15), (473, 30), (507, 67), (533, 113), (553, 167),
             (573, 220), (593, 267), (613, 313), (627, 360), (257, 360), (253, 307), (250, 253), (247, 200),
             (243, 147), (250, 100), (260, 67)],
        ],
    },
    "single-face": {
        10: [
            [(227, 50), (253, 37), (287, 30), (320, 40), (347, 53), (360, 73), (367, 100), (368, 127), (373, 160),
             (367, 187), (353, 227), (345, 273), (373, 287), (413, 300), (440, 320), (460, 340), (467, 360),
             (40, 360), (67, 333), (107, 313), (153, 293), (200, 280), (230, 277), (235, 253), (230, 227),
             (223, 193), (217, 160), (210, 127), (212, 93), (220, 67)],
        ],
    },
}
BACKENDS = ("pose", "selfie")


def outline_masks(clip: str, index: int, size: tuple[int, int], scale: float = 1.0) -> list[np.ndarray]:
    """One bool (H, W) mask per outlined person of `clip`'s frame `index`, for frames of `size` (W, H)
    that are the full-size frame scaled by `scale`."""
    import cv2

    masks = []
    for polygon in OUTLINES[clip][index]:
        mask = np.zeros((size[1], size[0]), np.uint8)
        cv2.fillPoly(mask, [np.round(np.array(polygon) * scale).astype(np.int32)], 1)
        masks.append(mask.astype(bool))
    return masks


def reference_mask(clip: str, index: int, size: tuple[int, int], scale: float = 1.0) -> np.ndarray:
    """bool (H, W): everyone outlined in `clip`'s frame `index` (sizes as `outline_masks`)."""
    return np.logical_or.reduce(outline_masks(clip, index, size, scale))


def iou(predicted: np.ndarray, truth: np.ndarray) -> float:
    return float((predicted & truth).sum() / max((predicted | truth).sum(), 1))


def excerpt(video: Path, first: int, last: int, scale: float = 1.0) -> Iterator[np.ndarray]:
    """Frames `first`..`last` (inclusive) of `video`, scaled by `scale` (area), RGB uint8 (H, W, 3)."""
    import imageio_ffmpeg

    from v2vcli.io.video import probe_video

    info = probe_video(video)
    width, height = round(info.width * scale), round(info.height * scale)
    reader = imageio_ffmpeg.read_frames(str(video), pix_fmt="rgb24", output_params=[
        "-vf", f"select='between(n,{first},{last})',scale={width}:{height}:flags=area", "-fps_mode", "passthrough"])
    next(reader)  # the metadata
    for buffer in reader:
        yield np.frombuffer(buffer, np.uint8).reshape(height, width, 3)


def person_masks(frames, backend: str, fps: float) -> Iterator[np.ndarray]:
    """bool (H, W) person masks of `frames` by a segmentation backend, in order (it tracks people)."""
    from v2vcli.preprocess.segment import SegmentConfig, make_backend, segment_frames

    with make_backend(SegmentConfig(backend=backend)) as segmenter:
        for labels in segment_frames(frames, segmenter, fps=fps):
            yield labels == 1


def main() -> None:
    import argparse
    import itertools
    import sys
    import time

    import cv2

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
    from footage import fetch

    from v2vcli.io.video import probe_video

    parser = argparse.ArgumentParser(description="IoU against the hand-drawn outlines, and coverage, per backend")
    parser.add_argument("--overlays", type=Path, help="write each scored frame with its mask and outline here")
    args = parser.parse_args()
    if args.overlays:
        args.overlays.mkdir(parents=True, exist_ok=True)
    for clip, frames in OUTLINES.items():
        video = fetch(clip)
        info = probe_video(video)
        for backend in BACKENDS:
            fractions, scores = [], {}
            started = time.perf_counter()
            # The whole clip from its first frame, as `v2v segment` runs it (the backends track people).
            shown, segmented = itertools.tee(excerpt(video, 0, info.frame_count - 1))
            masks = person_masks(segmented, backend, float(info.fps))
            for index, (frame, mask) in enumerate(zip(shown, masks, strict=True)):
                fractions.append(mask.mean())
                if index in frames:
                    truth = reference_mask(clip, index, (info.width, info.height))
                    scores[index] = round(iou(mask, truth), 3)
                    if args.overlays:
                        picture = frame.copy()
                        picture[mask] = (picture[mask] * 0.4 + np.array([255, 0, 0]) * 0.6).astype(np.uint8)
                        contours, _ = cv2.findContours(truth.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
                        cv2.drawContours(picture, contours, -1, (255, 255, 0), 1)
                        cv2.imwrite(str(args.overlays / f"{clip}_{index:03d}_{backend}.png"), picture[..., ::-1])
            seconds = time.perf_counter() - started
            coverage = np.array(fractions)
            print(json.dumps({"clip": clip, "backend": backend, "iou": scores, "frames": len(coverage),
                              "no_person": int((coverage == 0).sum()), "under_0.5%": int((coverage < 0.005).sum()),
                              "seconds": round(seconds, 1)}))


if __name__ == "__main__":
    main()
