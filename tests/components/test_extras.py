"""What a command says when an optional part of kubetfx is not installed."""

import sys

from kubetfx.components import extras


def test_tracking_without_mlflow_installed_names_the_extra_that_brings_it(monkeypatch):
    assert extras.missing_mlflow("sqlite:///runs/mlflow.db") is None
    # A None in sys.modules is how Python marks a module as not importable.
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)
    assert extras.missing_mlflow("sqlite:///runs/mlflow.db") == (
        "tracking to a local store needs MLflow, which is not installed here: "
        "pip install 'kubetfx[mlflow]'"
    )
    assert extras.missing_mlflow("http://mlflow.kubeflow:5000") is None  # the client suffices
    monkeypatch.setitem(sys.modules, "mlflow", None)
    assert extras.missing_mlflow("http://mlflow.kubeflow:5000") == (
        "tracking to a server needs MLflow, which is not installed here: "
        "pip install 'kubetfx[mlflow]'"
    )
