"""Hands and faces with the body (--detail body|hands|full): where they are looked for, whose they are,
how poses.json keeps them, and that normalization moves them with the body. Real footage: the face of
talking-head in (nearly) every frame and its hand where it is held up; the small people of sports2d."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import encode
from typer.testing import CliRunner

from v2vcli.cli import app
from v2vcli.errors import BadInput
from v2vcli.preprocess.hands_face import (
    Found,
    Window,
    assign_faces,
    assign_hands,
    cut,
    follow,
    hand_estimate,
    without_duplicates,
)
from v2vcli.preprocess.keypoint_json import decode_person, encode_people, encode_person
from v2vcli.preprocess.keypoints import absent_group
from v2vcli.preprocess.mediapipe_pose import FACE, LEFT_HAND, MEDIAPIPE_LAYOUT, RIGHT_HAND
from v2vcli.preprocess.normalize import PoseNormalizer, pose_statistics
from v2vcli.preprocess.pose import read_poses
from v2vcli.preprocess.pose_backend import PoseConfig, PoseEstimator

LAYOUT = MEDIAPIPE_LAYOUT
runner = CliRunner()


def body(x: float, height: float = 300.0, ground: float = 400.0) -> np.ndarray:
    """(33, 5) a standing person, arms hanging, all visible: nose `height` above the ankles at `ground`."""
    points = np.zeros((33, 5))
    points[:, 3:] = 1.0
    top = ground - height

    def at(indices, dx, fraction):
        points[indices, 0], points[indices, 1] = x + np.asarray(dx) * height, top + np.asarray(fraction) * height

    at(0, 0, 0)
    at([1, 2, 3, 4, 5, 6], [0.01, 0.02, 0.03, -0.01, -0.02, -0.03], -0.02)
    at([7, 8], [0.05, -0.05], 0)
    at([9, 10], [0.015, -0.015], 0.04)
    at([11, 12], [0.1, -0.1], 0.15)
    at([13, 14], [0.12, -0.12], 0.33)
    at([15, 16], [0.13, -0.13], 0.48)
    at([17, 18, 19, 20, 21, 22], [0.14, -0.14, 0.13, -0.13, 0.12, -0.12], [0.54, 0.54, 0.55, 0.55, 0.52, 0.52])
    at([23, 24], [0.06, -0.06], 0.52)
    at([25, 26], [0.06, -0.06], 0.76)
    at([27, 28, 29, 30, 31, 32], [0.06, -0.06, 0.05, -0.05, 0.08, -0.08], [1, 1, 1.01, 1.01, 1.02, 1.02])
    return points


def hand_at(person: np.ndarray, side: int, label: str | None = None, shift=(0.0, 0.0)) -> Found:
    """A hand whose wrist, index and pinky knuckles sit on the body's (moved by `shift` pixels)."""
    wrist, index, pinky = person[[15 + side, 19 + side, 17 + side], :2] + shift
    points = np.zeros((21, 3))
    points[:, :2] = wrist + np.linspace(0, 1.6, 21)[:, None] * ((index + pinky) / 2 - wrist)
    points[0, :2], points[5, :2], points[17, :2] = wrist, index, pinky
    return Found(points, label)


def full_person(person: np.ndarray, hands=(True, False), face=True) -> np.ndarray:
    """(553, 5): `person`'s body with a left hand and a face found (as chosen), the rest absent."""
    keypoints = np.zeros((LAYOUT.count, 5))
    keypoints[:33] = person
    for group in LAYOUT.groups:
        absent_group(keypoints, group)
    rng = np.random.default_rng(0)
    for found, start, side in ((hands[0], LEFT_HAND, 0), (hands[1], RIGHT_HAND, 1)):
        if found:
            keypoints[start:start + 21, :3] = hand_at(person, side).points + (0, 0, 0.01)
            keypoints[start:start + 21, 3:] = 1.0
    if face:
        keypoints[FACE:FACE + 478, :2] = person[0, :2] + rng.uniform(-20, 20, (478, 2))
        keypoints[FACE:FACE + 478, 2] = rng.uniform(-0.05, 0.05, 478)
        keypoints[FACE:FACE + 478, 3:] = 1.0
    return keypoints


def test_windows_stay_while_their_target_stays_inside_and_cut_clips_to_the_frame():
    window = follow(None, np.array([100.0, 100.0]), 80)
    assert window == Window(100, 100, 80)
    assert follow(window, np.array([115.0, 90.0]), 70) is window  # moved a little, a little smaller: kept
    assert follow(window, np.array([125.0, 100.0]), 70) == Window(125, 100, 70)  # moved out of its middle
    assert follow(window, np.array([100.0, 100.0]), 90) == Window(100, 100, 90)  # grew: the hand must fit
    assert follow(window, np.array([100.0, 100.0]), 40) == Window(100, 100, 40)  # shrank by half
    frame = np.arange(200 * 300 * 3, dtype=np.uint32).reshape(200, 300, 3).astype(np.uint8)
    part, corner = cut(frame, Window(20, 50, 60))  # overhangs the left edge
    assert corner == (0, 20) and part.shape == (60, 50, 3) and (part == frame[20:80, 0:50]).all()
    assert cut(frame, Window(-40, 50, 60)) is None  # off the frame
    assert cut(frame, Window(305, 205, 60)) is None  # a corner of it: under a quarter in the frame


def test_hands_go_to_the_nearest_body_hands_one_each():
    people = np.stack([body(150), body(450)])
    # Four hands found, in no particular order, a little off the body's estimates; one duplicate; one far off.
    found = [hand_at(people[1], 1, shift=(6, -4)), hand_at(people[0], 0, shift=(-5, 3)),
             hand_at(people[0], 1, shift=(4, 4)), hand_at(people[1], 0), hand_at(people[1], 0, shift=(1, 1)),
             hand_at(people[0], 0, shift=(0, -250))]
    given = assign_hands(found, people)
    assert set(given) == {(0, 0), (0, 1), (1, 0), (1, 1)}
    for (person, side), hand in given.items():
        assert np.linalg.norm(hand.points[0, :2] - people[person, 15 + side, :2]) < 10
    assert len(without_duplicates(found)) == 5  # the two copies of person 1's left hand are one
    # Two hands where one body hand is: the nearer gets it; the farther does not take the other slot when
    # it is more than a hand's size from it.
    size = hand_estimate(people[0], 0)[1]
    near, far = hand_at(people[0], 0, shift=(3, 0)), hand_at(people[0], 0, shift=(0.8 * size, 0))
    given = assign_hands([far, near], people[:1])
    assert given[(0, 0)] is near and (0, 1) not in given


def test_handedness_breaks_a_near_tie_and_an_unsure_body_hand_reaches_further():
    person = body(300)
    person[[15, 16], 0] = person[[15, 16], 0].mean()  # both wrists at the same place: a tie
    person[[17, 18, 19, 20], 0] = person[[17, 18, 19, 20], 0].mean()
    left, right = hand_at(person, 0, label="left", shift=(2, 0)), hand_at(person, 1, label="right", shift=(-2, 0))
    fingers = [index for index in range(1, 21) if index not in (5, 17)]
    right.points[fingers, 0] += 30  # its fingers elsewhere: another hand, not a copy of the left one
    for order in ([left, right], [right, left]):
        given = assign_hands(order, person[None])
        assert given[(0, 0)] is left and given[(0, 1)] is right
    # A hand 1.5 hand sizes from the body's estimate: refused while the body's wrist is present, taken when
    # the body model only guesses where the wrist is (a close-up, the arm out of the frame).
    size = hand_estimate(person, 0)[1]
    away = hand_at(person, 0, shift=(0, -1.5 * size))
    assert assign_hands([away], person[None]) == {}
    person[[15, 16], 4] = 0.1
    assert list(assign_hands([away], person[None])) == [(0, 0)]


def test_faces_go_to_the_person_whose_nose_and_eyes_they_have():
    people = np.stack([body(150), body(450)])

    def face_of(person: np.ndarray) -> Found:
        points = np.zeros((478, 3))
        points[:, :2] = person[0, :2]
        points[468, :2], points[473, :2] = person[5, :2], person[2, :2]  # right and left iris centres
        return Found(points)

    given = assign_faces([face_of(people[1]), face_of(people[0] + (0, -200, 0, 0, 0))], people)
    assert list(given) == [1] and given[1].points[4, 0] == people[1, 0, 0]


def test_poses_json_keeps_hands_and_faces_compactly_and_reads_them_back():
    person = full_person(body(300), hands=(True, False), face=True)
    entry = encode_person(person, LAYOUT)
    assert set(entry) == {"body", "left_hand", "face"}  # the right hand was not found: left out
    assert len(entry["body"][0]) == 5 and len(entry["left_hand"][0]) == 3 and len(entry["face"][0]) == 2
    back = decode_person(json.loads(json.dumps(entry)), LAYOUT)
    np.testing.assert_allclose(back[:33], person[:33], atol=0.006)
    np.testing.assert_allclose(back[LEFT_HAND:LEFT_HAND + 21, :3], person[LEFT_HAND:LEFT_HAND + 21, :3], atol=0.051)
    np.testing.assert_allclose(back[FACE:, :2], person[FACE:, :2], atol=0.051)
    assert (back[FACE:, 2] == 0).all() and (back[FACE:, 3:] == 1).all()  # a face's depth is not kept
    right = back[RIGHT_HAND:RIGHT_HAND + 21]
    assert (right[:, 3:] == 0).all() and (right[:, :2] == person[16, :2].astype(np.float32)).all()
    # Its size: about 8 KB a frame for one person with a face, 1.3 KB for a body alone.
    assert 6000 < len(encode_people(person[None], LAYOUT)) < 9000
    assert len(encode_people(full_person(body(300), hands=(False, False), face=False)[None], LAYOUT)) < 1400
    # A file written before hands and faces (the body's rows alone) reads with them absent.
    old = decode_person(np.round(person[:33], 2).tolist(), LAYOUT)
    assert old.shape == (553, 5) and (old[33:, 3] == 0).all()


def test_a_poses_json_with_a_broken_part_is_refused_with_one_line(tmp_path):
    person = encode_person(full_person(body(300)), LAYOUT)
    person["left_hand"] = person["left_hand"][:20]
    path = tmp_path / "poses.json"
    path.write_text(json.dumps({"format": "v2v.poses", "version": 2, "backend": "mediapipe", "frames": [[person]]}))
    with pytest.raises(BadInput, match=r"frame 0: a person's left_hand must be 21 rows of 3 numbers"):
        read_poses(path)
    person["tail"] = person.pop("left_hand")
    path.write_text(json.dumps({"format": "v2v.poses", "version": 2, "backend": "mediapipe", "frames": [[person]]}))
    with pytest.raises(BadInput, match="parts this layout does not: tail"):
        read_poses(path)


def test_normalization_moves_and_scales_hands_and_face_with_the_body():
    def walk(x0, near, far, frames=30):
        return [full_person(body(x0 + 2 * i, far[1] + (near[1] - far[1]) * i / (frames - 1),
                                 far[0] + (near[0] - far[0]) * i / (frames - 1)), hands=(True, True))
                for i in range(frames)]

    source, target = walk(100, near=(220, 110), far=(170, 70)), walk(320, near=(460, 300), far=(360, 200))
    normalize = PoseNormalizer(pose_statistics(source, LAYOUT), pose_statistics(target, LAYOUT), LAYOUT)
    pose = source[12]
    mapped = normalize(pose)
    scale = (mapped[27, 1] - mapped[0, 1]) / (pose[27, 1] - pose[0, 1])
    assert scale > 1.8
    for anchor, group in ((15, LEFT_HAND), (16, RIGHT_HAND), (0, FACE)):
        points = range(group, group + (478 if group == FACE else 21))
        offsets = (pose[points, :2] - pose[anchor, :2]) * scale
        np.testing.assert_allclose(mapped[points, :2] - mapped[anchor, :2], offsets, atol=1e-6)
    np.testing.assert_array_equal(mapped[:, 2:], pose[:, 2:])


def test_detail_is_checked_before_any_work(tmp_path):
    with pytest.raises(BadInput, match="unknown detail 'feet'; choose one of: body, hands, full"):
        PoseConfig(detail="feet")
    result = runner.invoke(app, ["pose", str(tmp_path / "missing.mp4"), "--detail", "feet"])
    assert result.exit_code == 1 and "unknown detail 'feet'" in result.output


def frames_of(path, first: int, count: int) -> list[np.ndarray]:
    from v2vcli.io.video import read_frames

    return [frame for index, frame in enumerate(read_frames(path)) if first <= index < first + count]


@pytest.mark.real
@pytest.mark.slow
def test_talking_head_face_in_every_frame_and_the_hand_where_it_is_held_up(footage, tmp_path):
    # Frames 50-97 of talking-head (640x360): her face throughout, her hand before her mouth from frame 58.
    clip = encode(tmp_path / "talk.mp4", frames_of(footage("talking-head"), 50, 48), 640, 360, "24000/1001",
                  ["-c:v", "libx264", "-crf", "16", "-pix_fmt", "yuv420p"])
    result = runner.invoke(app, ["pose", str(clip), "-o", str(tmp_path / "full"), "-q", "--json"])
    assert result.exit_code == 0, result.output
    header, frames = read_poses(tmp_path / "full" / "poses.json")
    assert header["detail"] == "full" and [group["name"] for group in header["groups"]] == \
        ["left_hand", "right_hand", "face"]
    people = [frame[0] for frame in frames if frame is not None]
    assert len(people) >= 40  # the pose is lost in a few frames where the hand hides her face
    faces = sum(person[FACE, 3] >= 0.5 for person in people)
    hands = sum((person[[LEFT_HAND, RIGHT_HAND], 3] >= 0.5).any() for person in people)
    assert faces >= 0.95 * len(people) and hands >= 0.75 * len(people)
    # Frame 70: the tip of her index finger along her upper lip at about (446, 287), the tip of her nose at
    # about (416, 238) (placed by eye); the face mesh's nose tip is point 4.
    person = frames[20][0]
    hand = next(start for start in (LEFT_HAND, RIGHT_HAND) if person[start, 3] >= 0.5)
    assert np.hypot(*(person[hand + 8, :2] - (446, 287))) < 15
    assert np.hypot(*(person[FACE + 4, :2] - (416, 238))) < 8
    size = (tmp_path / "full" / "poses.json").stat().st_size
    assert size / len(frames) < 10_000  # bytes a frame, header included
    body_run = runner.invoke(app, ["pose", str(clip), "-o", str(tmp_path / "body"), "-q", "--detail", "body"])
    assert body_run.exit_code == 0, body_run.output
    _, bodies = read_poses(tmp_path / "body" / "poses.json")
    assert all(frame is None or (frame[:, 33:, 3] == 0).all() for frame in bodies)
    assert (tmp_path / "body" / "poses.json").stat().st_size < size / 4


@pytest.mark.real
@pytest.mark.slow
def test_sports2d_small_people_get_hands_and_a_face_from_windows_around_them(footage):
    from mediapipe.tasks.python import BaseOptions, vision

    from v2vcli.weights import find_weight_file

    # Frames 100-119 of sports2d (1768x994): the woman walking across, about 420 px tall, her hands about
    # 40 px, her face in profile.
    frames = frames_of(footage("sports2d"), 100, 20)
    with PoseEstimator(30, PoseConfig(num_poses=2, smooth=False, detail="full")) as estimator:
        people = [frame.landmarks[0] for frame in map(estimator, frames) if frame is not None]
    assert len(people) >= 18
    hands = [(person, start, side) for person in people for side, start in ((0, LEFT_HAND), (1, RIGHT_HAND))
             if person[start, 3] == 1]
    assert sum((person[[LEFT_HAND, RIGHT_HAND], 3] == 1).any() for person in people) >= 0.9 * len(people)
    assert len(hands) >= 1.3 * len(people)
    for person, start, side in hands:  # each on her wrist, where the body model sees it
        if person[15 + side, 3] >= 0.5:
            assert np.hypot(*(person[start, :2] - person[15 + side, :2])) < 40
    # The hand landmarker on the whole frame finds none of them.
    options = vision.HandLandmarkerOptions(base_options=BaseOptions(model_asset_path=str(
        find_weight_file("hand_landmarker.task"))), num_hands=4)
    with vision.HandLandmarker.create_from_options(options) as landmarker:
        import mediapipe as mp

        whole = landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(frames[-1])))
    assert not whole.hand_landmarks
