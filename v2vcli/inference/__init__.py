"""Generation with a trained model: sequential, frame by frame, streamed from and to video files."""
