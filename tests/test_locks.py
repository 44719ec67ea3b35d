"""The task image's lock is requirements.lock's share of it: the same pins, fewer packages."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pins(name: str) -> dict[str, str]:
    text = (ROOT / name).read_text()
    return dict(re.findall(r"^([a-z0-9][a-z0-9._-]*)==(\S+)", text, flags=re.MULTILINE))


def test_the_image_installs_requirements_locks_versions_and_mlflows_client_alone():
    image, development = _pins("requirements-image.lock"), _pins("requirements.lock")
    assert {name: development.get(name) for name in image} == image
    assert "mlflow-skinny" in image and "tensorflow" in image
    # The tracking server and its store, and the test tools, stay out of the image.
    assert not {"mlflow", "sqlalchemy", "alembic", "flask", "pytest", "ruff"} & set(image)
