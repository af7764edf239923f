"""People keep their id through a clip (v2vcli.preprocess.tracking), commands follow one chosen person, and
poses.json records everyone with their ids. Synthetic tracks (crossing, hiding, duplicates, glitches), a
two-person backend defined here for the commands, and sports2d's real clip (marked real, slow)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from v2vcli.cli import app
from v2vcli.errors import BadInput
from v2vcli.io.frames import frame_paths, read_image
from v2vcli.preprocess.keypoints import KeypointLayout
from v2vcli.preprocess.pose import read_poses, write_poses
from v2vcli.preprocess.pose_backend import POSE_BACKENDS, PoseConfig, PoseEstimator
from v2vcli.preprocess.render import render_pose
from v2vcli.preprocess.tracking import PeopleClip, PersonSummary, PersonTracker, choose_person, parse_person

runner = CliRunner()

# A stick figure: head, shoulders, hands, hips, feet.
FIGURE = KeypointLayout(
    landmark_names=("head", "left_shoulder", "right_shoulder", "left_hand", "right_hand", "left_hip", "right_hip",
                    "left_foot", "right_foot"),
    connections=((0, 1), (0, 2), (1, 3), (2, 4), (1, 5), (2, 6), (5, 6), (5, 7), (6, 8)),
    ground_joints=(("feet", (7, 8)), ("hips", (5, 6))),
    head=0,
)
SHAPE = np.array([(0, -0.45), (-0.15, -0.3), (0.15, -0.3), (-0.25, 0), (0.25, 0), (-0.1, 0.05), (0.1, 0.05),
                  (-0.12, 0.5), (0.12, 0.5)])


def figure(x: float, y: float, height: float, swing: float = 0.0, rng=None, noise: float = 0.0) -> np.ndarray:
    """(9, 5) keypoints of a stick figure `height` px tall centred at (x, y), arms raised by `swing` (0..1)."""
    points = np.zeros((len(SHAPE), 5))
    shape = SHAPE.copy()
    shape[3:5, 1] -= 0.35 * swing
    points[:, :2] = (x, y) + shape * height
    if rng is not None:
        points[:, :2] += rng.normal(0, noise, (len(SHAPE), 2))
    points[:, 3:] = 1.0
    return points


def track_ids(frames: list[list[np.ndarray]], fps: float = 30.0) -> list[list[tuple[int, np.ndarray]]]:
    """Run a PersonTracker over frames (lists of (9, 5) people): per frame [(id, person), ...]."""
    tracker = PersonTracker(FIGURE, fps)
    result = []
    for index, people in enumerate(frames):
        landmarks = np.stack(people) if people else None
        kept, ids = tracker(index, landmarks)
        result.append([(track_id, landmarks[person]) for person, track_id in zip(kept, ids, strict=True)])
    return result


def positions(tracked, track_id: int) -> dict[int, float]:
    """frame -> mean x of `track_id`'s keypoints."""
    return {index: float(person[:, 0].mean()) for index, people in enumerate(tracked)
            for found_id, person in people if found_id == track_id}


def test_people_crossing_keep_their_ids_through_an_occlusion():
    """A walks right, B walks left along the same line; as they cross, B hides A for 5 frames; the
    backend lists them in no lasting order. Each keeps their id: A's track only ever moves right."""
    rng = np.random.default_rng(0)
    frames = []
    for index in range(60):
        a = figure(100 + 7 * index, 200, 200, swing=(index % 10) / 10, rng=rng, noise=1.5)
        b = figure(513 - 7 * index, 205, 190, swing=0.5, rng=rng, noise=1.5)
        people = [b] if 27 <= index < 32 else [a, b]
        frames.append(people[::-1] if index % 3 else people)
    tracked = track_ids(frames)
    assert {track_id for people in tracked for track_id, _ in people} == {0, 1}
    first = dict(tracked[0])
    walker_right = 0 if first[0][:, 0].mean() < first[1][:, 0].mean() else 1
    right, left = positions(tracked, walker_right), positions(tracked, 1 - walker_right)
    assert len(right) == 55 and len(left) == 60
    for track, direction in ((right, 1), (left, -1)):
        frames = sorted(track)
        speeds = np.diff([track[index] for index in frames]) / np.diff(frames)  # pixels a frame
        assert (direction * speeds > 0).all() and np.abs(speeds).max() < 14  # no swap, no jump


def test_short_absences_keep_the_id_and_long_ones_start_a_new_one():
    frames = [[figure(300 + 2 * index, 200, 200)] for index in range(90)]
    for index in range(20, 24):  # 4 frames: well under 0.5 s
        frames[index] = []
    for index in range(40, 70):  # 1 s: the person has left
        frames[index] = []
    tracked = track_ids(frames)
    ids = [people[0][0] if people else None for people in tracked]
    assert set(ids[:40]) - {None} == {0} and set(ids[70:]) == {1}


def test_a_person_seen_twice_counts_once_and_a_glitch_frame_does_not_break_the_track():
    rng = np.random.default_rng(1)
    frames = []
    for index in range(40):
        person = figure(200 + 8 * index, 300, 200, rng=rng, noise=1.0)
        if index == 10:  # the backend finds the same person twice
            frames.append([person, person + np.r_[1.5, -1.0, 0, 0, 0]])
        elif index == 20:  # a squashed skeleton for one frame (seen on sports2d)
            squashed = person.copy()
            squashed[:, 1] = 300 + (person[:, 1] - 300) * 0.5 + 60
            frames.append([squashed])
        else:
            frames.append([person])
    tracked = track_ids(frames)
    assert len(tracked[10]) == 1
    assert {track_id for people in tracked for track_id, _ in people} == {0}


def summary(track_id: int, frames: int, size: float, x: float, diagonal: float = 1000.0) -> PersonSummary:
    return PersonSummary(id=track_id, first_frame=0, last_frame=frames - 1, frames=frames, size=size,
                         centre=(x, 300.0), prominence=frames * size / diagonal)


def test_choosing_the_person_to_follow():
    people = [summary(0, 200, 300, 500),   # dancing in the middle the whole clip: prominence 60
              summary(1, 100, 400, 800),   # near the camera, on the right, half the clip: 40
              summary(2, 20, 600, 30)]     # a passer-by close to the camera at the left edge: 12
    width = 1000
    assert choose_person(people, "auto", width) == 0
    assert choose_person(people, "largest", width) == 1  # the passer-by is not among the main people
    assert choose_person(people, "left", width) == 0 and choose_person(people, "right", width) == 1
    assert choose_person(people, "center", width) == 0
    assert choose_person(people, "2", width) == 2 and choose_person([], "auto", width) is None
    with pytest.raises(BadInput, match=r"--person 7: no person has that id \(ids: 0, 1, 2\)"):
        choose_person(people, 7, width)
    with pytest.raises(BadInput, match="auto, largest, left, right, center"):
        parse_person("middle")
    assert parse_person(" Left ") == "left" and parse_person("3") == 3


def test_people_clip_fills_short_gaps_and_gives_each_persons_frames():
    clip = PeopleClip(FIGURE, (640, 480), 30.0)
    for index in range(30):
        walker = figure(100 + 5 * index, 240, 200)
        if 10 <= index < 13:  # the walker is missed for 3 frames
            clip.add(figure(500, 240, 150)[None], [1])
        else:
            clip.add(np.stack([walker, figure(500, 240, 150)]), [0, 1])
    clip.add(None)
    smoothed = clip.smoothed(PoseConfig().smoothing)
    walker = smoothed.person_poses(0)
    assert len(walker) == 31 and all(pose is not None for pose in walker[:30]) and walker[30] is None
    np.testing.assert_allclose(walker[11][:, :2], figure(155, 240, 200)[:, :2], atol=0.05)  # interpolated
    landmarks, ids = smoothed.frame(11)
    assert ids == [0, 1] and landmarks.shape == (2, 9, 5)
    people = {person.id: person for person in smoothed.people()}
    assert people[0].frames == 27 and people[0].filled_frames == (10, 11, 12) and people[1].frames == 30
    assert smoothed.choose("auto") == 0 and smoothed.choose("right") == 1
    assert clip.frame(11, person=0) == (None, [])


def test_poses_json_records_everyone_and_reads_back_the_person_followed(pair_backend, tmp_path):
    from fractions import Fraction

    clip = PeopleClip(FIGURE, (640, 480), 24.0)
    clip.add(np.stack([figure(100, 240, 200), figure(400, 240, 220)]), [0, 3])
    clip.add(figure(100, 240, 200)[None], [0])
    clip.add(None)
    config = PoseConfig(backend="pair", smooth=False)
    path = tmp_path / "poses.json"
    drawn = write_poses(path, clip, 3, fps=Fraction(24), config=config, choice="right")
    header, frames = read_poses(path)
    assert drawn == 1 and header["version"] == 3 and header["person"] == 3 and header["drawn"] == "person"
    assert header["ids"] == [[0, 3], [0], None] and [person["id"] for person in header["people"]] == [0, 3]
    assert frames[0].shape == (1, 9, 5) and frames[1] is None and frames[2] is None
    np.testing.assert_allclose(frames[0][0], figure(400, 240, 220), atol=0.01)
    _, everyone = read_poses(path, everyone=True)
    assert everyone[0].shape == (2, 9, 5) and everyone[1].shape == (1, 9, 5) and everyone[2] is None
    write_poses(path, clip, 3, fps=Fraction(24), config=config, all_people=True)
    assert read_poses(path)[1][0].shape == (2, 9, 5)
    data = json.loads(path.read_text())
    data["ids"][0] = [0]
    path.write_text(json.dumps(data))
    with pytest.raises(BadInput, match="ids"):
        read_poses(path)


@pytest.fixture()
def pair_backend():
    """A backend that finds two stick figures, listed in a different order every frame: one on the left
    walking right, a bigger one standing on the right."""

    class PairPose(PoseEstimator):
        name = "pair"
        layout = FIGURE
        summary = "two stick figures"

        def detect(self, frame, timestamp_ms):
            height, width = frame.shape[:2]
            walker = figure(width * 0.25 + timestamp_ms / 50, height / 2, height * 0.5)
            stander = figure(width * 0.75, height / 2, height * 0.7)
            people = [walker, stander] if (timestamp_ms // 40) % 2 else [stander, walker]
            return np.stack(people), None

    yield PairPose
    del POSE_BACKENDS["pair"]


def test_commands_follow_the_chosen_person(pair_backend, short_clip, tmp_path):
    output = tmp_path / "out"
    result = runner.invoke(app, ["pose", str(short_clip), "-o", str(output), "--pose-backend", "pair",
                                 "--person", "left", "--preview-format", "png", "--json", "-q"])
    assert result.exit_code == 0, result.output
    summary_json = json.loads(result.stdout)
    assert summary_json["people"] == 2 and summary_json["frames_with_person"] == 12
    header, frames = read_poses(output / "poses.json")
    walker = summary_json["person"]
    assert header["person"] == walker and header["person_choice"] == "left"
    assert all(frame.shape == (1, 9, 5) and frame[0, 0, 0] < 48 for frame in frames)  # the left one, always
    preview = read_image(frame_paths(output / "preview")[5])
    assert (preview == render_pose(frames[5], (96, 64), layout=FIGURE)).all()
    # Everyone drawn: both figures, with their ids written in white.
    everyone = tmp_path / "everyone"
    result = runner.invoke(app, ["pose", str(short_clip), "-o", str(everyone), "--pose-backend", "pair",
                                 "--all-people", "--preview-format", "png", "-q"])
    assert result.exit_code == 0, result.output
    drawn = read_image(frame_paths(everyone / "preview")[5])
    assert drawn[:, 60:].max() > 0 and drawn[:, :40].max() > 0 and (drawn > 200).all(axis=2).any()
    # A person who is not there, and a position v2v does not know: one line each, nothing written.
    for choice, message in (("9", "no person has that id (ids: 0, 1)"),
                            ("middle", "or one of: auto, largest, left, right, center")):
        result = runner.invoke(app, ["pose", str(short_clip), "-o", str(tmp_path / choice), "--pose-backend",
                                     "pair", "--person", choice])
        assert result.exit_code == 1 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1
        assert not (tmp_path / choice).exists()


def test_prepare_and_dance_follow_the_chosen_person(pair_backend, short_clip, tmp_path):
    from v2vcli.inference.dance import source_poses
    from v2vcli.io.video import probe_video

    dataset = tmp_path / "dataset"
    result = runner.invoke(app, ["prepare", str(short_clip), "-o", str(dataset), "--pose-backend", "pair",
                                 "--person", "right", "--no-masks", "--no-flow", "-q"])
    assert result.exit_code == 0, result.output
    meta = json.loads((dataset / "dataset.json").read_text())
    stander = meta["sequences"][0]["person"]
    labels = [read_image(path) for path in frame_paths(dataset / "short" / "labels")]
    assert len(labels) == 12 and all(label[:, 60:].max() > 0 and label[:, :40].max() == 0 for label in labels)
    poses, person = source_poses(short_clip, probe_video(short_clip), PoseConfig(backend="pair"), "left")
    assert person != stander and all(pose is not None and pose[0, 0] < 48 for pose in poses)


@pytest.mark.real
@pytest.mark.slow
def test_sports2d_follows_the_man_on_the_box_and_never_switches(footage):
    """sports2d: a man doing jumping jacks on a box (frames 3-168, then a backflip off it), a woman walking
    across below him (frames 59-200). Checked by looking at the frames: at 20 and 100 the man's box
    centre is near (640, 200) and (650, 240); the woman walks at y ~ 700."""
    from v2vcli.io.video import VideoReader, probe_video
    from v2vcli.preprocess.pose import find_people
    from v2vcli.preprocess.tracking import body_indices, person_box

    path = footage("sports2d")
    info = probe_video(path)
    clip = find_people(VideoReader(path, info=info), info.fps)
    followed = clip.choose("auto")
    body = body_indices(clip.layout)
    boxes = {index: person_box(pose[body].astype(np.float64))
             for index, pose in enumerate(clip.person_poses(followed)) if pose is not None}
    assert len(boxes) >= 160 and min(boxes) <= 5 and 160 <= max(boxes) <= 172
    for index, expected in ((20, (640, 200)), (100, (650, 240))):
        assert np.hypot(*(boxes[index][0] - expected)) < 60
    # Never a jump: consecutive frames' box centres within half the man's size.
    for index in boxes:
        if index + 1 in boxes:
            assert np.hypot(*(boxes[index + 1][0] - boxes[index][0])) < 0.5 * boxes[index][1], index
    woman = clip.choose("right")
    walking = {person.id: person for person in clip.people()}[woman]
    assert woman != followed and walking.frames >= 100 and walking.centre[1] > 600
