"""Reading a project file: YAML in, a checked ``Project`` out, each error with its line.

A project is checked three times, each as early as it can be: its own
settings on load (the typed model in ``kubetfx.components.project``), its
settings against its schema on load, and its columns against the data before
a run starts. Every failure is one ``UserError`` line of the form
``FILE:LINE: key.path: what is wrong``.
"""

import dataclasses
import difflib
import os
import re
from collections.abc import Iterable
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from kubetfx.components import project as model
from kubetfx.components.kfp_contract import PACKAGE_SCHEME
from kubetfx.pipelines.errors import UserError

PROJECT_FILE = "kubetfx.yaml"
Loc = tuple[str | int, ...]
# A location with a scheme (gs://, s3://, ...): kept as written, never made a local path.
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def bundled_project() -> str:
    """The Chicago taxi project that ships with kubetfx: the default of every command."""
    return str(resources.files("kubetfx.projects") / "taxi" / PROJECT_FILE)


class _Loader(yaml.SafeLoader):
    """YAML with only ``true`` and ``false`` as booleans.

    YAML 1.1, which PyYAML reads, also takes ``yes``, ``no``, ``on`` and ``off``
    for booleans: a class named ``yes`` would silently become ``True``.
    """


_BOOL = "tag:yaml.org,2002:bool"
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), "tTfF")


@dataclasses.dataclass(frozen=True)
class ProjectFile:
    """A loaded project: its settings with absolute paths, its schema and its lines."""

    project: model.Project
    path: str
    schema_text: str
    lines: dict[Loc, int]
    # Settings given on the command line, by dotted name, with the option that gave them.
    options: dict[str, str] = dataclasses.field(default_factory=dict)
    # The model.algorithm the file itself names (options may train another).
    file_algorithm: str = ""

    @property
    def folder(self) -> str:
        return os.path.dirname(self.path)

    @property
    def bundled(self) -> bool:
        return os.path.abspath(self.path) == os.path.abspath(bundled_project())

    def error(self, loc: Loc, message: str) -> UserError:
        """A one-line error naming where the setting at ``loc`` came from: line or option."""
        return _error(self.path, self.lines, self.options, loc, message)

    def schema(self):
        from google.protobuf import text_format
        from tensorflow_metadata.proto.v0 import schema_pb2

        return text_format.Parse(self.schema_text, schema_pb2.Schema())

    def with_overrides(
        self, changes: dict[str, Any], options: dict[str, str] | None = None
    ) -> "ProjectFile":
        """The project with other values for some settings, checked again.

        ``changes`` maps a dotted setting (``training.train_steps``) to its value;
        ``options`` names the command-line option each came from, for errors.
        """
        data = self.project.model_dump(by_alias=True, exclude_none=True)
        for dotted, value in changes.items():
            target = data
            *parents, last = dotted.split(".")
            for key in parents:
                target = target.setdefault(key, {})
            target[last] = value
        given = {**self.options, **(options or {})}
        project = _validate(data, self.path, self.lines, given)
        schema_text = self.schema_text
        if project.schema_file != self.project.schema_file:
            schema_text = _read_schema(project.schema_file, self.path, self.lines, given)
        loaded = ProjectFile(
            project, self.path, schema_text, self.lines, given, self.file_algorithm
        )
        check_against_schema(loaded)
        return loaded


def load_project(path: str | None = None) -> ProjectFile:
    """Reads and checks a project file (default: the bundled taxi project)."""
    path = os.path.abspath(path or bundled_project())
    if os.path.isdir(path):
        path = os.path.join(path, PROJECT_FILE)
    if not os.path.isfile(path):
        raise UserError(
            f"no project file at {path}; write one with `kubetfx init DIR --data ... --label ...`"
        )
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text; save the project file as UTF-8") from None
    try:
        root = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise UserError(f"{path}{line}: not valid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: a project file is a YAML mapping of settings (name, data, ...)")
    lines = _lines(root, path)
    project = _validate(data, path, lines)
    folder = os.path.dirname(path)
    project = _with_absolute_paths(project, folder)
    schema_text = _read_schema(project.schema_file, path, lines)
    loaded = ProjectFile(project, path, schema_text, lines, file_algorithm=project.model.algorithm)
    check_against_schema(loaded)
    return loaded


def _validate(
    data: dict[str, Any], path: str, lines: dict[Loc, int], options: dict[str, str] | None = None
) -> model.Project:
    try:
        return model.Project.model_validate(data)
    except model.ProjectError as e:
        raise _error(path, lines, options or {}, e.loc, e.message) from None
    except ValidationError as e:
        raise _error(path, lines, options or {}, *_first_error(e, lines)) from None


def _with_absolute_paths(project: model.Project, folder: str) -> model.Project:
    def absolute(value: str) -> str:
        if value.startswith(PACKAGE_SCHEME) or _URI.match(value):
            return value
        return os.path.normpath(os.path.join(folder, os.path.expanduser(value)))

    def absolute_code(value: str | None) -> str | None:
        if value is None or ":" not in value:
            return value  # a module path, found on the Python path
        file_name, _, function = value.rpartition(":")
        return f"{absolute(file_name)}:{function}"

    code = project.code.model_copy(
        update={
            "preprocessing_fn": absolute_code(project.code.preprocessing_fn),
            "run_fn": absolute_code(project.code.run_fn),
        }
    )
    return project.model_copy(
        update={
            "data": absolute(project.data),
            "schema_file": absolute(project.schema_file),
            "code": code,
        }
    )


def _read_schema(
    schema_path: str, path: str, lines: dict[Loc, int], options: dict[str, str] | None = None
) -> str:
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    if not os.path.isfile(schema_path):
        message = f"{schema_path} does not exist; draft one with `kubetfx schema --data DIR`"
        raise _error(path, lines, options or {}, ("schema",), message)
    try:
        with open(schema_path, encoding="utf-8") as f:
            text = f.read()
        text_format.Parse(text, schema_pb2.Schema())
    except (text_format.ParseError, UnicodeDecodeError) as e:
        raise UserError(f"{schema_path}: not a text-format TFX schema ({e})") from None
    return text


# -- the project against its schema and its data --------------------------------

_BYTES, _INT, _FLOAT = 1, 2, 3
_TYPE_WORDS = {_BYTES: "text", _INT: "integer", _FLOAT: "a decimal number"}


def check_against_schema(loaded: ProjectFile) -> None:
    """Every column the project names is in the schema, with a type its use fits."""
    project = loaded.project
    schema = loaded.schema()
    types = {feature.name: feature.type for feature in schema.feature}
    schema_name = os.path.basename(project.schema_file)

    def kind_of(loc: Loc, column: str) -> int:
        if column not in types:
            raise loaded.error(
                loc, f"{column} is not a column of the schema {schema_name}; add it there first"
            )
        return types[column]

    for column, feature in project.features.items():
        kind = kind_of(("features", column), column)
        needs = {
            "standardize": (_INT, _FLOAT),
            "bucketize": (_INT, _FLOAT),
            "identity": (_INT,),
            "vocabulary": (_BYTES, _INT),
        }[feature.transform]
        if kind not in needs:
            advice = "use vocabulary" if kind == _BYTES else "use standardize or bucketize"
            raise loaded.error(
                ("features", column),
                f"{feature.transform} needs {' or '.join(_TYPE_WORDS[n] for n in needs)} values, "
                f"but {column} is {_TYPE_WORDS.get(kind, 'of another type')} in the schema: "
                f"{advice}",
            )
    label = project.label
    kind = kind_of(("label", "column"), label.column)
    numeric = kind in (_INT, _FLOAT)
    if label.task == "regression" and not numeric:
        raise loaded.error(
            ("label", "task"),
            f"regression needs a numeric label, but {label.column} is text: "
            "use binary or multiclass",
        )
    if isinstance(label.positive, model.Threshold):
        if not numeric:
            raise loaded.error(
                ("label", "positive"),
                f"a threshold needs a numeric label, but {label.column} is text: "
                "name the positive class instead",
            )
        if label.positive.times and kind_of(("label", "positive"), label.positive.times) not in (
            _INT,
            _FLOAT,
        ):
            raise loaded.error(("label", "positive"), f"{label.positive.times} is not numeric")
    elif label.positive is not None and numeric and isinstance(label.positive, str):
        raise loaded.error(
            ("label", "positive"),
            f"{label.column} holds numbers, so the positive class is a number, not "
            f"{label.positive!r}",
        )
    if label.classes and numeric and not all(isinstance(c, int) for c in label.classes):
        raise loaded.error(
            ("label", "classes"), f"{label.column} holds numbers, so the classes are whole numbers"
        )
    for index, column in enumerate(project.evaluation.slices):
        kind_of(("evaluation", "slices", index), column)
    unaccounted = sorted(set(types) - set(project.columns()) - set(project.ignore))
    if unaccounted:
        raise loaded.error(
            ("features",),
            f"the schema has columns the project neither uses nor ignores: "
            f"{', '.join(unaccounted)}; add each to features or to ignore",
        )


def check_columns(loaded: ProjectFile, header: Iterable[str], where: str) -> None:
    """Every column the project reads is in the CSV header found in ``where``."""
    present = set(header)
    project = loaded.project
    places: list[tuple[Loc, str]] = [(("label", "column"), project.label.column)]
    if isinstance(project.label.positive, model.Threshold) and project.label.positive.times:
        places.append((("label", "positive"), project.label.positive.times))
    places += [(("features", column), column) for column in project.features]
    places += [(("evaluation", "slices", i), c) for i, c in enumerate(project.evaluation.slices)]
    for loc, column in places:
        if column not in present:
            raise loaded.error(
                loc,
                f"the data in {where} has no column {column}; its columns are: "
                + ", ".join(header),
            )


# -- line numbers -----------------------------------------------------------------


def _lines(root: yaml.Node, path: str) -> dict[Loc, int]:
    """The line of every key and list item, by its path; duplicate keys are refused."""
    lines: dict[Loc, int] = {(): 1}

    def walk(node: yaml.Node, loc: Loc) -> None:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = key_node.value
                if loc + (key,) in lines:
                    raise UserError(
                        f"{path}:{key_node.start_mark.line + 1}: {_dotted(loc + (key,))} is "
                        "given twice; keep one"
                    )
                lines[loc + (key,)] = key_node.start_mark.line + 1
                walk(value_node, loc + (key,))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines[loc + (index,)] = item.start_mark.line + 1
                walk(item, loc + (index,))

    if root is not None:
        walk(root, ())
    return lines


def _yaml_loc(loc: Loc, lines: dict[Loc, int]) -> Loc:
    """``loc`` without the parts that name no key of the file (union members, tags)."""
    found: Loc = ()
    for part in loc:
        key = part if isinstance(part, int) else str(part)
        if found + (key,) in lines:
            found += (key,)
    return found


def _located(path: str, lines: dict[Loc, int], loc: Loc, message: str) -> str:
    in_file = _yaml_loc(loc, lines)
    where = f"{_dotted(in_file)}: " if in_file else ""
    return f"{path}:{lines.get(in_file, 1)}: {where}{message}"


def _dotted(loc: Loc) -> str:
    parts = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            text = part if re.fullmatch(r"[\w-]+", part) else repr(part)
            parts.append(("." if parts else "") + text)
    return "".join(parts)


def _fields() -> dict[str, Any]:
    """Every setting of the project model by its name in the file."""
    fields: dict[str, Any] = {}
    for value in vars(model).values():
        if isinstance(value, type) and issubclass(value, BaseModel) and value is not BaseModel:
            for name, field in value.model_fields.items():
                fields[field.alias or name] = field
    return fields


_WORDS = {
    "string_type": "text",
    "int_type": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
    "model_type": "a mapping",
    "dict_type": "a mapping",
    "list_type": "a list",
}


def _first_error(error: ValidationError, lines: dict[Loc, int]) -> tuple[Loc, str]:
    """The first problem pydantic found, said plainly, with the setting it is about.

    An unknown key comes first, since a misspelt key also makes the right one
    missing; failed alternatives of one setting are said together.
    """
    errors = sorted(error.errors(include_url=False), key=lambda e: e["type"] != "extra_forbidden")
    first = errors[0]
    loc, kind = first["loc"], first["type"]
    place = _yaml_loc(loc, lines)
    if kind == "extra_forbidden":
        if len(loc) >= 2 and loc[-2] in (*model.ALGORITHMS, model.AUTO):
            owners = [a for a, cls in model.ALGORITHMS.items() if loc[-1] in cls.model_fields]
            if owners and loc[-2] == model.AUTO:
                return loc, (
                    f"auto has no {loc[-1]}; give it to a candidate in model.candidates, e.g. "
                    f"{{algorithm: {owners[0]}, {loc[-1]}: ...}}"
                )
            if owners:
                return loc, f"{loc[-2]} has no {loc[-1]}; that is a setting of " + " and ".join(
                    owners
                )
        close = difflib.get_close_matches(str(loc[-1]), _fields(), n=1)
        return loc, "unknown setting" + (f"; did you mean {close[0]}?" if close else "")
    if kind == "missing":
        return loc[:-1], f"{loc[-1]} is missing; add it"
    if kind == "union_tag_invalid":
        ctx = first.get("ctx", {})
        expected = ctx.get("expected_tags", "").replace("'", "")
        return loc, f"{ctx.get('tag')!r} is not one of: {expected}"
    if kind == "string_pattern_mismatch":
        field = _fields().get(str(place[-1]) if place else "")
        if field is not None and field.description:
            return loc, f"{first['input']!r} is not {field.description}"
    alternatives = [e for e in errors if _yaml_loc(e["loc"], lines) == place]
    if len(alternatives) > 1 and all(e["type"] in _WORDS for e in alternatives):
        words = list(dict.fromkeys(_WORDS[e["type"]] for e in alternatives))
        expected = ", ".join(words[:-1]) + f" or {words[-1]}"
        return loc, f"{first['input']!r} is not {expected}"
    message = first["msg"].replace("Input should be", "must be").removeprefix("Value error, ")
    return loc, message[0].lower() + message[1:]


def _error(
    path: str, lines: dict[Loc, int], options: dict[str, str], loc: Loc, message: str
) -> UserError:
    """The one-line error about the setting at ``loc``: from an option, or from a line."""
    dotted = ".".join(str(part) for part in loc)
    for setting, option in options.items():
        if dotted == setting or dotted.startswith(f"{setting}."):
            return UserError(f"{option}: {message}")
    return UserError(_located(path, lines, loc, message))
