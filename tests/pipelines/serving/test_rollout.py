"""`kubetfx rollout`: the states it moves through and the manifests it renders for each."""

import pytest
import yaml
from click.testing import CliRunner

from kubetfx.pipelines.cli import cli
from kubetfx.pipelines.errors import UserError
from kubetfx.pipelines.serving import rollout
from kubetfx.pipelines.serving.rollout import Rollout
from tests.test_kubernetes_manifests import KUBERNETES, _run, _tool, validate_core_objects


def test_a_first_version_becomes_stable_and_a_second_one_the_canary():
    first = rollout.start(None, "100", 30)
    assert first == Rollout("100", "100", 0)
    assert rollout.start(first, "200", 10) == Rollout("100", "200", 10)


def test_the_canary_moves_in_steps_and_is_promoted_or_rolled_back():
    canary = Rollout("100", "200", 10)
    assert rollout.set_percent(canary, 50) == Rollout("100", "200", 50)
    assert rollout.promote(canary, force=True) == Rollout("200", "200", 0)
    assert rollout.rollback(canary) == Rollout("100", "200", 0)
    # A drained canary can be replaced by another.
    assert rollout.start(Rollout("100", "200", 0), "300", 5) == Rollout("100", "300", 5)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda: rollout.start(Rollout("100", "200", 10), "300", 5), "promote it or roll it back"),
        (lambda: rollout.start(Rollout("100", "100", 0), "100", 5), "is the stable version"),
        (lambda: rollout.start(None, "v2", 5), "is not a version"),
        (lambda: rollout.set_percent(Rollout("100", "100", 0), 5), "there is no canary to set"),
        (lambda: rollout.promote(None), "nothing is served yet"),
        (lambda: rollout.set_percent(Rollout("100", "200", 0), 101), "not between 0 and 100"),
    ],
)
def test_changes_that_make_no_sense_are_refused(change, message):
    with pytest.raises(UserError, match=message):
        change()


def test_the_state_is_read_back_from_the_route():
    versions = {rollout.STABLE_ANNOTATION: "1", rollout.CANARY_ANNOTATION: "2"}
    route = {
        "metadata": {"annotations": versions},
        "spec": {
            "rules": [
                {
                    "backendRefs": [
                        {"name": "kubetfx-serving-stable", "weight": 3},
                        {"name": "kubetfx-serving-canary", "weight": 1},
                    ]
                }
            ]
        },
    }
    assert rollout.from_route(route) == Rollout("1", "2", 25)
    with pytest.raises(UserError, match="was not written by kubetfx"):
        rollout.from_route({"metadata": {}, "spec": {}})


def _dry_run(tmp_path, name, *args):
    result = CliRunner().invoke(cli, ["rollout", *args, "--dry-run"])
    assert result.exit_code == 0, result.output
    path = tmp_path / f"{name}.yaml"
    path.write_text(result.output)
    return path, [d for d in yaml.safe_load_all(result.output) if d]


def _served(objects):
    """Each track's pinned version and weight, read as the cluster would: through the names."""
    by_kind = {}
    for o in objects:
        by_kind.setdefault(o["kind"], {})[o["metadata"]["name"]] = o
    (route,) = by_kind["HTTPRoute"].values()
    (gateway,) = by_kind["Gateway"].values()
    assert route["spec"]["parentRefs"] == [{"name": gateway["metadata"]["name"]}]
    served = {}
    for backend in route["spec"]["rules"][0]["backendRefs"]:
        service = by_kind["Service"][backend["name"]]
        selected = [
            d
            for d in by_kind["Deployment"].values()
            if service["spec"]["selector"].items()
            <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        (deployment,) = selected
        volumes = deployment["spec"]["template"]["spec"]["volumes"]
        (config,) = (v["configMap"]["name"] for v in volumes if "configMap" in v)
        text = by_kind["ConfigMap"][config]["data"]["models.config"]
        version = text.split("versions:")[1].split("}")[0].strip()
        served[backend["name"].rsplit("-", 1)[1]] = (version, backend["weight"])
    return served


def test_dry_runs_render_valid_manifests_with_the_versions_and_weights_asked(tmp_path):
    base = tmp_path / "base.yaml"
    rendered = _run(_tool("kubectl"), "kustomize", str(KUBERNETES / "serving"))
    assert rendered.returncode == 0, rendered.stderr
    base.write_text(rendered.stdout)

    args = ["start", "200", "--percent", "10", "--from", str(base)]
    started, objects = _dry_run(tmp_path, "start", *args)
    assert _served(objects) == {"stable": ("1", 90), "canary": ("200", 10)}
    assert validate_core_objects(objects, tmp_path) == 8

    half, objects = _dry_run(tmp_path, "half", "set", "--percent", "50", "--from", str(started))
    assert _served(objects) == {"stable": ("1", 50), "canary": ("200", 50)}

    _, objects = _dry_run(tmp_path, "back", "rollback", "--from", str(half))
    assert _served(objects) == {"stable": ("1", 100), "canary": ("200", 0)}

    # Unchecked, so forced (test_check.py has the gate).
    _, objects = _dry_run(tmp_path, "promoted", "promote", "--force", "--from", str(half))
    assert _served(objects) == {"stable": ("200", 100), "canary": ("200", 0)}

    status = CliRunner().invoke(cli, ["rollout", "status", "--from", str(half)])
    assert status.exit_code == 0
    assert status.output.splitlines()[0] == (
        "kubetfx: version 1 serves 50% of requests, canary 200 50%"
    )


def test_a_refused_change_is_one_line_and_exit_2(tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text(_run(_tool("kubectl"), "kustomize", str(KUBERNETES / "serving")).stdout)
    result = CliRunner().invoke(cli, ["rollout", "promote", "--dry-run", "--from", str(base)])
    assert result.exit_code == 2
    assert result.output.strip() == (
        "kubetfx: error: there is no canary to promote: start one with `kubetfx rollout start`"
    )


@pytest.mark.parametrize(
    "text", ["city,fare\nOslo,1\n", "kind: HTTPRoute\nmetadata:\n  name: kubetfx-serving\n"]
)
def test_a_manifest_that_is_not_a_rollout_is_one_line(tmp_path, text):
    path = tmp_path / "other.yaml"
    path.write_text(text)
    result = CliRunner().invoke(cli, ["rollout", "status", "--from", str(path)])
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line.startswith("kubetfx: error: ")
