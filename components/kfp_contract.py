"""Conventions between compiled Kubeflow specs and the task entrypoint.

Kept free of heavy imports: the compiler, the emulator and the entrypoint all
read it.
"""

# A task input parameter named override__<exec property>__<field>[__<field>...]
# sets one field inside a JSON-encoded proto exec property, e.g.
# override__train_args__num_steps. KFP can bind a pipeline parameter to a task
# input, but not to a field inside TFX's proto-valued properties.
OVERRIDE_PREFIX = "override__"

# package://<importable package>/<path>: a file or folder that ships inside an
# installed Python package, resolved where the task runs (the image).
PACKAGE_SCHEME = "package://"

# Output artifacts whose type is one of these are rendered by the KFP dashboard;
# the entrypoint writes them after the TFX executor.
VISUALIZATION_TYPES = ("system.HTML", "system.Markdown", "system.Metrics")


def schema_title(title: str, instance_schema: str) -> str:
    """An artifact type's name: its schema title, else the ``title:`` of its instance schema.

    Specs name types either way (``ArtifactTypeSchema``); "" when neither does.
    """
    if title:
        return title
    for line in instance_schema.splitlines():
        if line.startswith("title:"):
            return line.split(":", 1)[1].strip()
    return ""
