"""Condition types (pose, segment, edges, face): v2vcli.conditions.base has the registry and the interface."""

from v2vcli.conditions.base import Condition, MapMaker, VideoMaps, condition_named, condition_names, condition_types

__all__ = ["Condition", "MapMaker", "VideoMaps", "condition_named", "condition_names", "condition_types"]
