"""Project files: reading and checking ``kubetfx.yaml``, and drafting one from data."""
