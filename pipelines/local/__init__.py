"""Running the pipeline on this machine: TFX's LocalDagRunner, with progress on the terminal."""
