"""The pipeline, defined once from a project: its components and the settings of a run."""
