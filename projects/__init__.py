"""Projects that ship with kubetfx: each folder holds a ``kubetfx.yaml`` and its schema."""
