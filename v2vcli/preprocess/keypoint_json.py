"""How poses.json writes and reads one person's keypoints: the body's rows, then each hand and face found.

A person of a layout without groups is a list of K rows [x, y, z, visibility, presence] (x, y in pixels
to 1/100, the rest to 1/10000: far below the models' accuracy, a third of the file size). A person of a
layout with groups (mediapipe's hands and face) is an object: "body", the body's rows as above; then,
for each group found (any of its points visible and present), its name and one row per point with the
columns GROUP_COLUMNS gives its kind: a hand's [x, y, z] (x, y to 1/10 pixel, z to 1/10000), a face's
[x, y] (to 1/10 pixel; 478 points, most of the file). A group left out was not found. Read back, a
found group's points are visible and present (1; the landmarkers give no per-point visibility) and a
face's z is 0; a missing group's points lie at its anchor, not visible (keypoints.absent_group).

Reading also takes a plain list of the body's rows for a layout with groups (files written before v2v
found hands and faces: their groups are missing).
"""

from __future__ import annotations

import json

import numpy as np

from v2vcli.preprocess.keypoints import GROUP_COLUMNS, KeypointLayout, absent_group

COLUMNS = 5  # x, y, z, visibility, presence (pose_backend.COLUMNS)
MIN_VISIBLE = 0.5  # a group with a point this visible and present is written


def _rows(points: np.ndarray, decimals: tuple[int, ...]) -> list[list[float]]:
    """points (N, C) rounded column by column to `decimals` (one entry per column kept)."""
    return np.stack([np.round(points[:, column], places) for column, places in enumerate(decimals)],
                    axis=1).tolist()


def encode_person(person: np.ndarray, layout: KeypointLayout) -> list | dict:
    """One person's keypoints (K, 5) in `layout` as poses.json holds them (see the module docstring)."""
    body = _rows(person[:layout.body_count], (2, 2, 4, 4, 4))
    if not layout.groups:
        return body
    entry: dict = {"body": body}
    for group in layout.groups:
        points = person[group.start:group.start + group.count]
        if ((points[:, 3] >= MIN_VISIBLE) & (points[:, 4] >= MIN_VISIBLE)).any():
            entry[group.name] = _rows(points, (1, 1, 4)[:len(GROUP_COLUMNS[group.kind])])
    return entry


def encode_people(landmarks: np.ndarray | None, layout: KeypointLayout) -> str:
    """One frame of poses.json's "frames": null, or a list of people (landmarks (P, K, 5)), as JSON text."""
    if landmarks is None:
        return "null"
    people = np.asarray(landmarks, dtype=np.float64)
    return json.dumps([encode_person(person, layout) for person in people], separators=(",", ":"))


def _points(rows, count: int, columns: int, what: str) -> np.ndarray:
    points = np.asarray(rows, dtype=np.float64) if isinstance(rows, list) else None
    if points is None or points.shape != (count, columns):
        shape = None if points is None else points.shape
        raise ValueError(f"{what} must be {count} rows of {columns} numbers, not {shape}")
    return points


def decode_person(entry, layout: KeypointLayout) -> np.ndarray:
    """float32 (K, 5) in `layout` from a person as poses.json holds it; ValueError naming what is wrong."""
    person = np.zeros((layout.count, COLUMNS))
    if isinstance(entry, list) and len(entry) == layout.count:
        return _points(entry, layout.count, COLUMNS, "a person").astype(np.float32)
    body = entry.get("body") if isinstance(entry, dict) else entry
    person[:layout.body_count] = _points(body, layout.body_count, COLUMNS, "a person's body")
    groups = {group.name: group for group in layout.groups}
    found = set(entry) - {"body"} if isinstance(entry, dict) else set()
    if found - set(groups):
        raise ValueError(f"a person has parts this layout does not: {', '.join(sorted(found - set(groups)))}")
    for name, group in groups.items():
        if name not in found:
            absent_group(person, group)
            continue
        columns = len(GROUP_COLUMNS[group.kind])
        points = person[group.start:group.start + group.count]
        points[:, :columns] = _points(entry[name], group.count, columns, f"a person's {name}")
        points[:, 3:] = 1.0
    return person.astype(np.float32)
