"""Executes a compiled pipeline package locally, the way the KFP 2.x backend would.

A pre-flight check before submitting to a cluster, and the closest thing to a
cluster a single machine has. It is split along the backend's own roles, each
module naming the files of kubeflow/pipelines (tag 2.17.0, ``backend/src/``)
it follows:

- ``kubetfx.pipelines.kfp.package``: the API server's checks of the package
  and the run's parameters (shared with ``kubetfx submit``);
- ``driver``: the ExecutorInput of a task, its volumes;
- ``cache``: KFP's cache key and the reuse of a cached execution;
- ``launcher``: staging, the command, the ExecutorOutput and the uploads;
  the importer;
- ``runners``: a task's command in a subprocess or in a container;
- ``object_store`` and ``store``: the object store (a folder) and ML Metadata
  (a SQLite file) as the backend keeps them;
- ``run``: the run, tasks started as their inputs are ready.

Start with ``run.emulate``.
"""
