"""Frame times for models that track people from frame to frame (mediapipe's VIDEO running mode)."""

from __future__ import annotations

from fractions import Fraction


def frame_milliseconds(index: int, fps: Fraction | float) -> int:
    """When frame `index` of a video read at the constant rate `fps` is shown, in whole milliseconds."""
    return round(index * 1000 / fps)


class StrictMilliseconds:
    """mediapipe's VIDEO mode refuses a timestamp that is not above the previous one, in integer
    milliseconds; frames less than 1 ms apart (fps above 1000, or a caller's clock that stalls) get the
    next free millisecond. `last` is the latest timestamp already used (-1: none)."""

    def __init__(self, last: int = -1):
        self.last = last

    def __call__(self, milliseconds: int) -> int:
        self.last = max(int(milliseconds), self.last + 1)
        return self.last
