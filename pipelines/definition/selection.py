"""Which components a partial run selects: ``--to``, ``--from`` and ``--only``.

The options as given, the components' names matched case-insensitively, and
for an orchestrator without partial runs of its own (the emulator) the
selected components and the skipped ones whose outputs they need. TFX's
LocalDagRunner marks its own (``pipelines/local/partial.py``) by the same
rules: the components between ``--from`` and ``--to``; for ``--only``, the
named ones and any between them (each takes the outputs of a named one, so it
cannot keep an older output).
"""

import dataclasses

from kubetfx.pipelines.errors import UserError

# How a partial run is marked in ML Metadata, on its run context (both layouts).
SELECTION_PROPERTY = "kubetfx_selection"  # Selection.describe()
TAKEN_PROPERTY = "kubetfx_reused"  # the skipped components whose outputs it took, comma-separated


@dataclasses.dataclass(frozen=True)
class Selection:
    """What a partial run asks for, as given on the command line (names unchecked)."""

    to: str | None = None
    start: str | None = None  # --from
    only: tuple[str, ...] = ()

    def __post_init__(self):
        if self.only and (self.to or self.start):
            raise UserError("--only runs just the components it names; drop --to and --from")

    @classmethod
    def from_options(cls, to: str | None, start: str | None, only: str | None) -> "Selection":
        """From ``--to``, ``--from`` and a comma-separated ``--only``."""
        names = tuple(name.strip() for name in (only or "").split(",") if name.strip())
        return cls(to=to, start=start, only=names)

    def __bool__(self) -> bool:
        return bool(self.to or self.start or self.only)

    def describe(self) -> str:
        """The selection as the options that make it, e.g. ``--from Trainer --to Evaluator``."""
        if self.only:
            return "--only " + ",".join(self.only)
        parts = [f"--from {self.start}"] if self.start else []
        return " ".join(parts + ([f"--to {self.to}"] if self.to else []))

    def named(self, components: list[str]) -> "Selection":
        """The selection with each name spelled as in ``components``; UserError for an unknown."""
        return Selection(
            to=component(self.to, components, "--to") if self.to else None,
            start=component(self.start, components, "--from") if self.start else None,
            only=tuple(component(name, components, "--only") for name in self.only),
        )


def component(name: str, components: list[str], option: str) -> str:
    """The component called ``name``, matched case-insensitively."""
    by_lower = {c.lower(): c for c in components}
    found = by_lower.get(name.strip().lower())
    if found is None:
        raise UserError(
            f"{option} {name}: the pipeline has no such component; "
            f"its components are {', '.join(components)}"
        )
    return found


def _reach(start: set[str], edges: dict[str, set[str]]) -> set[str]:
    """``start`` and everything reachable from it along ``edges``."""
    seen, stack = set(start), list(start)
    while stack:
        for other in edges.get(stack.pop(), ()):
            if other not in seen:
                seen.add(other)
                stack.append(other)
    return seen


def select(
    order: list[str], upstream: dict[str, set[str]], selection: Selection
) -> tuple[list[str], list[str]]:
    """(run, taken): the components to run, and the skipped ones whose outputs they need.

    ``order`` is the components in an order that respects ``upstream`` (each
    one's direct inputs); ``selection`` is ``named`` already. Both lists keep
    that order; a component in neither is not run at all.
    """
    downstream: dict[str, set[str]] = {name: set() for name in order}
    for name, inputs in upstream.items():
        for other in inputs:
            downstream[other].add(name)
    everything = set(order)
    starts = set(selection.only) or ({selection.start} if selection.start else everything)
    ends = set(selection.only) or ({selection.to} if selection.to else everything)
    run = _reach(starts, downstream) & _reach(ends, upstream)
    if not run:
        raise UserError(f"{selection.describe()} selects no component: --from comes after --to")
    taken = _reach(run, upstream) - run
    return [n for n in order if n in run], [n for n in order if n in taken]
