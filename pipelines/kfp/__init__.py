"""Kubeflow Pipelines 2.x: compile the pipeline, emulate the backend, submit runs."""
