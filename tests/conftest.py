"""Shared fixtures: tiny configs and a throwaway copy of the project for end-to-end runs."""

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from doggan.config import load_merged, load_section, read_params
from doggan.models import variant_module

ROOT = Path(__file__).resolve().parents[1]
PARAMS = read_params(ROOT / "params.yaml")
BIN = Path(sys.executable).parent
PROJECT_FILES = ["dvc.yaml", "Snakefile", "params.yaml", "steps", "src", "profiles", ".dvc/config", ".dvc/.gitignore",
                 ".dvcignore", ".gitignore"]


def section_config(cls, section, **overrides):
    """`cls` with the shipped params.yaml's values of `section`, some overridden: the classes hold no defaults."""
    return dataclasses.replace(load_section(cls, PARAMS, section), **overrides)


def variant_config(variant, **overrides):
    """A variant's Config from the shipped `model:` and `variants.<variant>`, some overridden. A variant
    the demo does not train (plain_dcgan: only the quality run's bench/quality.yaml has its block) takes
    the overrides as its block: they must give its own options."""
    params = PARAMS
    if variant not in PARAMS["variants"]:
        params = {**PARAMS, "variants": {**PARAMS["variants"], variant: overrides}}
    config = load_merged(variant_module(variant).Config, params, "model", f"variants.{variant}")
    return dataclasses.replace(config, **overrides)


def tiny_params(params):
    """A few dozen images and a few steps: the whole pipeline in seconds."""
    params["demo"].update(n_images=36, n_breeds=3)
    params["crop"]["workers"] = 1
    params["featnet"].update(epochs=1, width=8, features=32)
    params["model"].update(steps=4, budget=1.0, batch_size=8, checkpoint_every=2, log_every=1, fid_every=2, fid_samples=16)
    # two variants exercise the drivers (one inherits model.lr, one sets its own); tests/test_training.py
    # runs every variant through the loop
    params["variants"] = {v: params["variants"][v] for v in ("dcgan", "biggan")}
    tiny = {"ngf": 8, "ndf": 8, "channels": 16, "width": 8, "nz": 64, "g_ch": 4, "d_ch": 4, "resolution_steps": [1] * 5}
    for name, variant in params["variants"].items():
        variant.update({k: v for k, v in tiny.items() if k in variant})
        variant.pop("steps", None)
    params["variants"]["biggan"]["nz"] = 20
    params["variants"]["dcgan"].pop("lr")  # one variant inherits model.lr, one sets its own (biggan)
    params["generate"].update(n_images=40, batch_size=20)
    params["metric"]["batch_size"] = 50
    params["aggregate"]["resamples"] = 1
    return params


def headless_chromium():
    """Debian's chromium for the browser tests; skipped where it is missing, but a failure under
    CI=true (.ci/run installs it), so CI cannot pass by skipping them."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        message = "headless Chromium (Debian package chromium) is not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true)")
        pytest.skip(message)
    return path


def project_env(extra=None):
    """The environment the pipeline's commands run in: this venv's tools first."""
    return {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1", "PYTHONWARNINGS": "ignore",
            **(extra or {})}


def run(cmd, cwd, check=True, env=None):
    result = subprocess.run(cmd, cwd=cwd, env=project_env(env), capture_output=True, text=True,
                            shell=isinstance(cmd, str))
    if check and result.returncode != 0:
        raise AssertionError(f"{cmd} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def make_project(root):
    """A git repo at `root` holding the pipeline with tiny params."""
    for name in PROJECT_FILES:
        src, dst = ROOT / name, root / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, dst)
    params = tiny_params(yaml.safe_load((ROOT / "params.yaml").read_text()))
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run("git init -q -b main && git add -A && git -c user.name=t -c user.email=t@t commit -qm init", root)
    return root


@pytest.fixture
def tiny_project(tmp_path):
    return make_project(tmp_path)


def dvc_dag(root):
    """{stage name: (cmd, deps, outs, params keys)} as DVC resolves dvc.yaml."""
    from dvc.repo import Repo

    from dvc.dependency.param import ParamsDependency

    repo = Repo(str(root))
    stages = {}
    for stage in repo.index.stages:
        params, deps = set(), set()
        for dep in stage.deps:
            if isinstance(dep, ParamsDependency):
                params |= set(dep.params) if dep.params else {"params.yaml"}
            else:
                deps.add(dep.def_path)
        stages[stage.addressing.split(":")[-1]] = (stage.cmd, deps, {o.def_path for o in stage.outs}, params)
    repo.close()
    all_outs = {o for _, _, outs, _ in stages.values() for o in outs}

    def expand(dep):
        # a folder dep stands for its python sources, or for the outs of other stages inside it
        if (root / dep).is_dir() and dep.startswith("src/"):
            return {str(p.relative_to(root)) for p in (root / dep).rglob("*") if p.is_file() and "__pycache__" not in p.parts}
        inside = {o for o in all_outs if o.startswith(dep.rstrip("/") + "/")}
        return inside or {dep}

    return {name: (cmd, set().union(*map(expand, deps)), outs, params) for name, (cmd, deps, outs, params) in stages.items()}


def snakemake_dag(root):
    """The same view of the Snakefile's jobs for target `report`, via Snakemake's API."""
    from snakemake.api import DAGSettings, OutputSettings, ResourceSettings, SnakemakeApi
    from snakemake.settings.types import Quietness

    stages = {}
    with SnakemakeApi(OutputSettings(quiet={Quietness.ALL})) as api:
        workflow_api = api.workflow(snakefile=root / "Snakefile", resource_settings=ResourceSettings(cores=1), workdir=root)
        dag_api = workflow_api.dag(DAGSettings(targets={"report"}, forceall=True))
        workflow = dag_api.workflow_api._workflow  # the API exposes no job listing; this is its own DAG
        workflow._prepare_dag(forceall=True, ignore_incomplete=True, lock_warn_only=True, nolock=True)
        workflow._build_dag()
        for job in workflow.dag.jobs:
            wildcards = "-".join(map(str, job.wildcards_dict.values()))  # DVC's names: train@dcgan-0, resample@dcgan
            name = job.rule.name + (f"@{wildcards}" if wildcards else "")
            stages[name] = (job.shellcmd, set(map(str, job.input)), set(map(str, job.output)), set(job.params.settings))
    return stages
