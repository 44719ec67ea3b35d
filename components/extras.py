"""kubetfx's optional parts, installed as extras, and the line that names a missing one."""

import importlib.util


def missing_mlflow(uri: str) -> str | None:
    """What to install to track runs at ``uri``, when this environment lacks it; else None.

    A tracking server takes MLflow's client alone (mlflow-skinny, as in the
    image); a database or file store needs the whole of MLflow.
    """
    server = uri.startswith(("http://", "https://", "databricks"))
    needed = ["mlflow"] if server else ["mlflow", "sqlalchemy", "alembic"]
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    return (
        f"tracking to {'a server' if server else 'a local store'} needs MLflow, which is "
        "not installed here: pip install 'kubetfx[mlflow]'"
    )
