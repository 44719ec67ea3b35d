"""Names a package exports from its modules, each imported on first use.

``kubetfx`` and ``kubetfx.components`` list their public API this way, so that
importing either (as the command line does) imports neither TFX nor TensorFlow.
"""

import importlib
from collections.abc import Callable


def lazy(
    package: dict, homes: dict[str, str], aliases: dict[str, str] | None = None
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """A package's ``__getattr__`` and ``__dir__`` for ``homes`` (name: defining module).

    ``package`` is the package's ``globals()``; a name found is kept there.
    ``aliases`` gives the name a module defines it by, where that differs.
    """
    aliases = aliases or {}

    def __getattr__(name: str):
        if name not in homes:
            raise AttributeError(f"module {package['__name__']!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(homes[name]), aliases.get(name, name))
        package[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(package) | set(package["__all__"]))

    return __getattr__, __dir__
