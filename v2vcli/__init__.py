"""v2v: video-to-video synthesis (vid2vid) from raw video files to finished videos."""

__version__ = "0.1.0"
