"""Each stack's locks: the image's is the development lock's share, and both satisfy
what the wheel itself requires on that stack's Pythons."""

import re
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
# Each stack and the Python versions its lock serves.
STACKS = {"1.16": ["3.10"], "1.21": ["3.11", "3.12", "3.13"]}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)(?:\s*;\s*(.+))?$", re.MULTILINE)


def _pins(path: Path, python: str) -> dict[str, str]:
    """The lock's pins that apply on ``python`` (a universal lock marks some per version)."""
    environment = {"python_version": python, "python_full_version": f"{python}.0"}
    environment |= {"sys_platform": "linux", "platform_system": "Linux"}
    environment |= {"platform_machine": "x86_64", "implementation_name": "cpython"}
    pins = {}
    for name, version, marker in PIN.findall(path.read_text()):
        if not marker or Marker(marker).evaluate(environment):
            pins[canonicalize_name(name)] = version
    return pins


@pytest.mark.parametrize("stack", STACKS)
def test_the_image_installs_its_stacks_versions_and_mlflows_client_alone(stack):
    python = STACKS[stack][0]
    folder = ROOT / "stacks" / stack
    image = _pins(folder / "requirements-image.lock", python)
    development = _pins(folder / "requirements.lock", python)
    assert {name: development.get(name) for name in image} == image
    assert "mlflow-skinny" in image and "tensorflow" in image
    # The tracking server and its store, and the test tools, stay out of the image.
    assert not {"mlflow", "sqlalchemy", "alembic", "flask", "pytest", "ruff"} & set(image)


PYTHONS = [(stack, python) for stack, pythons in STACKS.items() for python in pythons]


@pytest.mark.parametrize(("stack", "python"), PYTHONS)
def test_the_lock_satisfies_what_the_wheel_requires_on_each_python_of_its_stack(stack, python):
    pins = _pins(ROOT / "stacks" / stack / "requirements-image.lock", python)
    environment = {"python_version": python, "python_full_version": f"{python}.0", "extra": ""}
    tfx = None
    for text in metadata.requires("kubetfx"):
        requirement = Requirement(text)
        if requirement.marker and not requirement.marker.evaluate(environment):
            continue
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is not in the {stack} lock"
        assert requirement.specifier.contains(
            pins[name], prereleases=True
        ), f"the {stack} lock pins {name}=={pins[name]}, outside {requirement}"
        if name == "tfx":
            tfx = requirement
    assert tfx is not None and str(tfx.specifier) == f"=={stack}.0"
