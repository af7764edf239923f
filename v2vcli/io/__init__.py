"""Video, audio and frame-folder input/output."""
