"""One emulated run: tasks started as their inputs are ready, as Argo starts pods.

Each task goes through the driver (``driver.py``), then the cache
(``cache.py``) or the launcher (``launcher.py``) with a task runner
(``runners.py``), and is recorded in ML Metadata (``store.py``) as the backend
records it. Independent tasks run at the same time (up to ``parallelism``).
A failed task fails the run, and no task starts after it; the tasks running
then finish (``v2/compiler/argocompiler/dag.go`` leaves the root DAG's
``failFast`` unset, and Argo's default is true; a dependant also needs
"<dep>.Succeeded").
The driver and every ML Metadata call stay on the calling thread; only the
launchers run in worker threads.

A partial run (``--to``, ``--from``, ``--only``) runs the selected tasks and
takes the outputs of the skipped ones they need from the cache, as a cache
hit does: each skipped task's cache key is computed from its inputs and must
match an earlier execution's. A partial emulation is a pre-flight for one
changed task; the backend itself has no partial runs.
"""

import concurrent.futures
import dataclasses
import datetime
import os
import sys
import time
import traceback
import uuid
from collections.abc import Mapping
from typing import IO, Any

from kubetfx.components.kfp_contract import OBJECT_STORE_SCHEMES, schema_title
from kubetfx.pipelines.console import last_exception
from kubetfx.pipelines.definition import lock
from kubetfx.pipelines.definition.selection import Selection, select
from kubetfx.pipelines.definition.settings import METADATA_FILE, PREDICT_SUFFIX
from kubetfx.pipelines.errors import PipelineFailed, UserError
from kubetfx.pipelines.kfp import package as kfp_package
from kubetfx.pipelines.kfp import spec as contract
from kubetfx.pipelines.kfp.emulator.cache import cache_fingerprint, reuse_error
from kubetfx.pipelines.kfp.emulator.driver import (
    Driver,
    RunContext,
    platform_executors,
    volume_mounts,
)
from kubetfx.pipelines.kfp.emulator.launcher import Launcher, import_artifact
from kubetfx.pipelines.kfp.emulator.object_store import ObjectStore
from kubetfx.pipelines.kfp.emulator.runners import POD_FOLDERS, DockerRunner, SubprocessRunner
from kubetfx.pipelines.kfp.emulator.store import EmulatorStore, task_log_path
from kubetfx.pipelines.preflight import check_metadata_layout, check_project_store

DEFAULT_PARALLELISM = 4


@dataclasses.dataclass
class TaskResult:
    name: str
    state: str  # complete, cached, failed, not run
    seconds: float = 0.0
    log_path: str = ""


@dataclasses.dataclass
class EmulatedRun:
    run_id: str
    state: str  # succeeded or failed
    tasks: list[TaskResult]  # in the pipeline's topological order
    output_dir: str

    def task(self, name: str) -> TaskResult:
        return next(t for t in self.tasks if t.name == name)


def artifact_type_name(artifact: dict[str, Any]) -> str:
    """The ML Metadata type of an artifact: its schema title (checked by check_spec)."""
    artifact_type = artifact.get("type", {})
    title = schema_title(
        artifact_type.get("schemaTitle", ""), artifact_type.get("instanceSchema", "")
    )
    return title or "system.Artifact"


class Emulator:
    """Runs one pipeline package; see the module docstring for what it mirrors."""

    def __init__(
        self,
        package_path: str,
        output_dir: str,
        params: Mapping[str, Any] | None = None,
        docker_image: str | None = None,
        enable_cache: bool = True,
        pipeline_root: str = contract.DEFAULT_PIPELINE_ROOT,
        parallelism: int = DEFAULT_PARALLELISM,
        out: IO[str] = sys.stdout,
        selection: Selection | None = None,
    ):
        self.pipeline_spec, self.platform_spec = kfp_package.load_package(package_path)
        kfp_package.check_spec(self.pipeline_spec, self.platform_spec)
        if not pipeline_root.startswith(OBJECT_STORE_SCHEMES):
            raise UserError(
                f"--pipeline-root must be an object-store URI (minio://, s3://, gs://), "
                f"got {pipeline_root}"
            )
        self.params = kfp_package.root_parameters(self.pipeline_spec, params or {})
        if docker_image:
            _check_docker_can_stage(self.platform_spec)
        self.runner = DockerRunner(docker_image) if docker_image else SubprocessRunner()
        self.output_dir = os.path.abspath(output_dir)
        self.pipeline_name = self.pipeline_spec["pipelineInfo"]["name"]
        metadata_path = os.path.join(self.output_dir, METADATA_FILE)
        check_metadata_layout(metadata_path, "kfp")
        # The predict pipeline (its last task is Predictions) is the project's name + suffix.
        tasks = self.pipeline_spec["root"]["dag"]["tasks"]
        project = (
            self.pipeline_name.removesuffix(PREDICT_SUFFIX)
            if contract.PREDICTIONS_TASK in tasks
            else self.pipeline_name
        )
        check_project_store(metadata_path, project)
        self.enable_cache = enable_cache
        self.selection = selection or Selection()
        self.pipeline_root = pipeline_root.rstrip("/")
        self.parallelism = max(1, parallelism)
        self.out = out
        self.object_store = ObjectStore(os.path.join(self.output_dir, "object_store"))
        self.log_dir = os.path.join(self.output_dir, "logs")
        os.makedirs(self.log_dir, exist_ok=True)
        self.launcher = Launcher(
            self.object_store,
            self.pipeline_root,
            self.runner,
            os.path.join(self.output_dir, "pods"),
        )

    def run(self) -> EmulatedRun:
        """The run, holding the output folder's lock: one writer at a time."""
        run_id = str(uuid.uuid4())
        with lock.exclusive(self.output_dir, run_id):
            return self._run(run_id)

    def _run(self, run_id: str) -> EmulatedRun:
        created = datetime.datetime.now(datetime.timezone.utc)
        tasks = self.pipeline_spec["root"]["dag"]["tasks"]
        order = kfp_package.topological_order(tasks)
        upstream = kfp_package.dependencies(tasks)
        taken: list[str] = []
        if self.selection:
            self.selection = named = self.selection.named(order)
            selected, taken = select(order, upstream, named)
            # Importers and tasks compiled without caching (DataFingerprint,
            # LatestPushedModel) look afresh on every run: they run, not taken.
            afresh = {n for n in taken if self._looks_afresh(tasks[n])}
            selected = [n for n in order if n in selected or n in afresh]
            taken = [n for n in taken if n not in afresh]
            order = [n for n in order if n in selected or n in taken]
        store = EmulatorStore(os.path.join(self.output_dir, METADATA_FILE))
        store.start_run(self.pipeline_name, run_id, self.params)
        driver = Driver(
            RunContext(
                pipeline_name=self.pipeline_name,
                pipeline_root=self.pipeline_root,
                run_id=run_id,
                display_name=f"{self.pipeline_name} {created:%Y-%m-%d %H-%M-%S}",
                created_utc=created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                parameters=self.params,
            ),
            store,
        )
        self.out.write(f"emulating {self.pipeline_name}, run {run_id}\n")
        if self.selection:
            store.record_selection(run_id, named.describe(), taken)
            self.out.write(
                f"partial run {named.describe()}: runs {', '.join(selected)}"
                + (f"; takes {', '.join(taken)} from the cache" if taken else "")
                + "\n"
            )
        results: dict[str, TaskResult] = {}
        running: dict[concurrent.futures.Future, tuple[str, int, float, str]] = {}
        state = "failed"
        with concurrent.futures.ThreadPoolExecutor(self.parallelism) as pool:
            try:
                while len(results) < len(order):
                    for name in order:
                        if name in results or any(n == name for n, *_ in running.values()):
                            continue
                        states = {
                            results[d].state if d in results else None for d in upstream[name]
                        }
                        if any(r.state == "failed" for r in results.values()):
                            self._report(results, TaskResult(name, "not run"))
                        elif states <= {"complete", "cached"} and len(running) < self.parallelism:
                            started = self._start(
                                store, driver, run_id, name, tasks[name], pool, name in taken
                            )
                            if isinstance(started, TaskResult):
                                self._report(results, started)
                            else:
                                future, bookkeeping = started
                                running[future] = bookkeeping
                    if running:
                        finished, _ = concurrent.futures.wait(
                            running, return_when=concurrent.futures.FIRST_COMPLETED
                        )
                        for future in finished:
                            result = self._finish(store, run_id, future, running.pop(future))
                            self._report(results, result)
                failed = any(r.state == "failed" for r in results.values())
                state = "failed" if failed else "succeeded"
            finally:
                for future in running:
                    future.cancel()
                store.finish_run(run_id, state)
        return EmulatedRun(run_id, state, [results[n] for n in order], self.output_dir)

    def _looks_afresh(self, task: dict[str, Any]) -> bool:
        """An importer, or a task the package runs without KFP's cache."""
        label = self.pipeline_spec["components"][task["componentRef"]["name"]]["executorLabel"]
        importer = "importer" in self.pipeline_spec["deploymentSpec"]["executors"][label]
        return importer or not _caching_on(task)

    def _report(self, results: dict[str, TaskResult], result: TaskResult) -> None:
        results[result.name] = result
        width = max([20, *(len(name) for name in self.pipeline_spec["root"]["dag"]["tasks"])])
        if result.state == "not run":
            self.out.write(f"  {result.name:<{width}} not run\n")
        else:
            self.out.write(f"  {result.name:<{width}} {result.state:<9} {result.seconds:6.1f} s\n")
        self.out.flush()

    def _start(self, store, driver, run_id, name, task, pool, take: bool = False):
        """Driver, then importer, cache hit or a launcher started on the pool.

        Returns the TaskResult when the task ended here, else (future, bookkeeping).
        A task to ``take`` must be a cache hit, whether or not caching is on.
        """
        started = time.monotonic()
        component = self.pipeline_spec["components"][task["componentRef"]["name"]]
        label = component["executorLabel"]
        executor = self.pipeline_spec["deploymentSpec"]["executors"][label]
        executor_input = driver.executor_input(name, task, component)
        if "importer" in executor:
            import_artifact(
                store,
                self.object_store,
                run_id,
                name,
                executor["importer"],
                component,
                executor_input["inputs"]["parameterValues"],
                artifact_type_name({"type": executor["importer"]["typeSchema"]}),
            )
            return TaskResult(name, "complete", time.monotonic() - started)

        container = executor["container"]
        log_path = task_log_path(self.log_dir, run_id, name)
        fingerprint = None
        if take or (self.enable_cache and _caching_on(task)):
            fingerprint = cache_fingerprint(executor_input, container, self.runner.image, component)
            cached = store.find_cached(self.pipeline_name, fingerprint)
            if cached is None and take:
                raise UserError(
                    f"{self.selection.describe()} takes the outputs of {name} from the cache, "
                    f"but no earlier run in {self.output_dir} ran it with these inputs; "
                    "emulate the whole package (or from an earlier task) first"
                )
            if cached is not None:
                error = reuse_error(executor_input, store.outputs_of(cached))
                if error:
                    with open(log_path, "w") as log:
                        log.write(error + "\n")
                    return TaskResult(name, "failed", time.monotonic() - started, log_path)
                # driver/container.go: reuseCachedOutputs; the execution is CACHED.
                store.record_cached(run_id, name, fingerprint, cached, executor_input)
                return TaskResult(name, "cached", time.monotonic() - started)

        execution = store.start_execution(run_id, name, fingerprint, executor_input)
        mounts = volume_mounts(self.platform_spec, label, os.path.join(self.output_dir, "volumes"))
        future = pool.submit(
            self.launcher.launch, name, executor_input, component, container, mounts, log_path
        )
        return future, (name, execution, started, log_path)

    def _finish(self, store, run_id, future, bookkeeping) -> TaskResult:
        name, execution, started, log_path = bookkeeping
        ok, outputs, parameters = False, {}, {}
        try:
            ok, outputs, parameters = future.result()
        except BaseException:
            with open(log_path, "a") as log:  # where `kubetfx status` looks for the error
                log.write("\nThe emulator failed to run the task:\n" + traceback.format_exc())
            raise
        finally:
            store.publish_execution(run_id, execution, outputs, ok, artifact_type_name, parameters)
        state = "complete" if ok else "failed"
        return TaskResult(name, state, time.monotonic() - started, log_path)


def _check_docker_can_stage(platform_spec: dict[str, Any]) -> None:
    """Refuses a package whose tasks mount a volume where the launcher stages artifacts.

    A package compiled for a Beam job service (``--beam-runner portable``,
    ``flink``, ``spark``) mounts the Beam work volume at ``/minio``, which the
    containers' own staging folder would hide; as subprocesses, the tasks and
    the job service's workers share this machine's files instead.
    """
    staging = {"/" + folder for folder in POD_FOLDERS}
    for label, executor in platform_executors(platform_spec).items():
        for mount in executor.get("pvcMount", []):
            if mount.get("mountPath") in staging:
                raise UserError(
                    f"{label} mounts a volume at {mount['mountPath']}, where the launcher "
                    "stages artifacts (a package compiled for a Beam job service): emulate it "
                    "without --docker, its tasks then share this machine's files with the "
                    "job service's workers"
                )


def _caching_on(task: dict[str, Any]) -> bool:
    """Whether the package lets KFP's cache serve the task."""
    return bool(task.get("cachingOptions", {}).get("enableCache"))


def emulate(
    package_path: str,
    output_dir: str,
    params: list[str] | None = None,
    docker_image: str | None = None,
    enable_cache: bool = True,
    parallelism: int = DEFAULT_PARALLELISM,
    out: IO[str] = sys.stdout,
    selection: Selection | None = None,
) -> EmulatedRun:
    """Emulates one run, or the part ``selection`` names; PipelineFailed names a failed task."""
    pipeline_spec, platform_spec = kfp_package.load_package(package_path)
    kfp_package.check_spec(pipeline_spec, platform_spec)
    emulator = Emulator(
        package_path,
        output_dir,
        kfp_package.parse_params(params or [], pipeline_spec),
        docker_image=docker_image,
        enable_cache=enable_cache,
        parallelism=parallelism,
        out=out,
        selection=selection,
    )
    started = datetime.datetime.now()
    run = emulator.run()
    if run.state == "failed":
        failed = next(t for t in run.tasks if t.state == "failed")
        raise PipelineFailed(
            f"task {failed.name} failed: {last_exception(failed.log_path)} (log: {failed.log_path})"
        )
    elapsed = (datetime.datetime.now() - started).total_seconds()
    out.write(f"run {run.run_id} succeeded in {elapsed:.1f} s\n")
    return run
