"""``python -m kubetfx``: the ``kubetfx`` command line."""

from kubetfx.pipelines.cli import main

if __name__ == "__main__":
    main()
