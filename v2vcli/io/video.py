"""Video files in and out, the names the rest of v2v imports: frames are RGB uint8 arrays (H, W, 3).

probe_video (v2vcli.io.probe) describes a file as it is read: upright size, constant rate, the frames it
holds. VideoReader (v2vcli.io.reader) streams those frames. VideoWriter (v2vcli.io.writers) writes a video
file or a frame folder, the format chosen by the output path. See docs/io.md.
"""

from v2vcli.io.probe import VideoInfo, frame_timestamps, probe_video
from v2vcli.io.reader import VideoReader, read_frames
from v2vcli.io.writers import PREVIEW_PRESET, VideoWriter

__all__ = ["PREVIEW_PRESET", "VideoInfo", "VideoReader", "VideoWriter", "frame_timestamps", "probe_video",
           "read_frames"]
