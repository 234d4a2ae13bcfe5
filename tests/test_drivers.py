"""One DAG, two drivers: dvc.yaml and the Snakefile declare the same stages, commands, deps,
outs and params keys; each runs the tiny pipeline end to end, incrementally, to the same bytes."""

import hashlib
import json
import math
import os
import re
import shutil
import sys
from pathlib import Path

import pytest
import torch
import yaml

from conftest import ROOT, dvc_dag, make_project, project_env, run, snakemake_dag
from doggan.cli import usable_cpus


CHECKED = "data/interim/params_valid.json"
RUN_STAGES = ("train", "generate", "score", "breeds")  # once per (variant, training seed)


def test_dvc_and_snakemake_declare_the_same_dag(tiny_project):
    """The same stages but one: DVC removes a stage's outputs before running any of our code, so
    dvc.yaml checks the params in a first stage, check_params, whose output every stage depends on;
    the Snakefile checks them as it is read, before any job."""
    dvc, snake = dvc_dag(tiny_project), snakemake_dag(tiny_project)
    assert CHECKED in dvc.pop("check_params")[2]
    for name, (command, deps, outs, params) in dvc.items():
        assert CHECKED in deps, name
        dvc[name] = (command, deps - {CHECKED}, outs, params)
    assert sorted(dvc) == sorted(snake)
    assert {"demo_data", "parse", "crop", "featnet", "reference", "train@dcgan-0", "generate@dcgan-0", "score@dcgan-0",
            "resample@dcgan", "breed_judge", "breeds@dcgan-0", "aggregate", "report"} <= set(dvc)
    for name in dvc:
        command, *rest = snake[name]  # Snakemake's steps read params.yaml merged with its --config
        snake[name] = (command.replace("--params .snakemake/params.yaml", "--params params.yaml"), *rest)
        for what, a, b in zip(("command", "deps", "outs", "params"), dvc[name], snake[name]):
            assert a == b, f"{name}: {what} differ\n dvc:       {a}\n snakemake: {b}"


def test_the_variant_list_lives_in_params_yaml_and_the_registry_only():
    """The variant modules and the blocks of params.yaml and of the quality run's params (which adds the
    plain DCGAN, its yardstick) are the same list; dvc.yaml and the Snakefile name no variant (they
    iterate over params.yaml), so a new variant needs no edit there."""
    from doggan.models import VARIANTS

    blocks = {name for path in ("params.yaml", "bench/quality.yaml")
              for name in yaml.safe_load((ROOT / path).read_text())["variants"]}
    assert not set(VARIANTS) - blocks, f"variant modules without a params.yaml block: {set(VARIANTS) - blocks}"
    assert not blocks - set(VARIANTS), f"params.yaml variants without a module in doggan/models: {blocks - set(VARIANTS)}"
    for name in ("dvc.yaml", "Snakefile"):
        code = "\n".join(line.split("#")[0] for line in (ROOT / name).read_text().splitlines())
        named = {v for v in VARIANTS if re.search(rf"\b{v}\b", code)}
        assert not named, f"{name} names variants {named}: iterate over params.yaml's instead"


def test_peak_memory_counts_what_a_stage_and_its_workers_held():
    import subprocess

    from doggan.cli import peak_memory_mb

    before = peak_memory_mb()
    subprocess.run([sys.executable, "-c", "import numpy; numpy.ones(300 * 2**20 // 8)"], check=True)  # a 300 MB worker
    assert peak_memory_mb() >= max(before, 300)


def test_the_data_stages_follow_the_thread_budget_snakemake_gives_them_up_to_the_usable_cpus(monkeypatch):
    """demo_data and crop use a pool of that many workers (any count writes the same bytes); torch
    steps compute with params.yaml's `threads` instead."""
    from doggan import cli

    monkeypatch.setattr(cli.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})  # a 4-CPU share of the machine
    monkeypatch.delenv("DOGGAN_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # what Snakemake exports for a rule with threads: 3
    assert cli.thread_budget() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "8")  # more than the CPUs: threads beyond them only wait
    assert cli.thread_budget() == 4
    monkeypatch.setenv("DOGGAN_THREADS", "1")
    assert cli.thread_budget() == 1
    monkeypatch.delenv("DOGGAN_THREADS")
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert cli.thread_budget() == 4


@pytest.fixture
def without_slurm(tmp_path, monkeypatch):
    """PATH with every command of this machine's but SLURM's, as on a laptop."""
    slurm = {"sbatch", "srun", "salloc", "squeue", "sinfo", "sacct", "scontrol", "scancel", "sacctmgr"}
    folder = tmp_path / "bin"
    folder.mkdir()
    for path in filter(os.path.isdir, os.environ["PATH"].split(os.pathsep)):
        for tool in Path(path).iterdir():
            if tool.name not in slurm and not (folder / tool.name).exists():
                (folder / tool.name).symlink_to(tool)
    monkeypatch.setenv("PATH", str(folder))


def test_snakemake_threads_and_the_slurm_profile_plan_the_dag(tiny_project, without_slurm):
    def dry_run(cmd):
        result = run(cmd, tiny_project)
        output = result.stdout + result.stderr
        return output, re.findall(r"^rule train:\n(.*?)(?=^\[|\Z)", output, re.M | re.S)

    local, train_jobs = dry_run("snakemake -n --cores 4 report")
    # 2 threads a torch job; where 4 cores are more than this machine's CPUs, a bigger share of them,
    # so that no more torch jobs run at once than the CPUs hold (2 CPUs: one at a time)
    share = max(2, math.ceil(2 * 4 / usable_cpus()))
    assert len(train_jobs) == 2 and all(f"threads: {share}" in job for job in train_jobs)
    assert usable_cpus() > 2 or share == 4
    cluster, train_jobs = dry_run("snakemake -n --profile profiles/slurm report")
    assert snakemake_planned(cluster) == {"demo_data", "parse", "crop", "featnet", "reference", "train", "generate",
                                          "score", "breed_judge", "breeds", "resample", "aggregate", "report"}
    assert len(train_jobs) == 2 and all("runtime=720" in job and "gpu=1" in job for job in train_jobs)  # the profile's
    assert "Traceback" not in cluster
    assert "hint: --profile profiles/slurm needs SLURM (no sbatch on PATH)" in cluster


def test_the_slurm_profile_stops_in_one_line_where_there_is_no_slurm(tiny_project, without_slurm):
    result = run("snakemake --profile profiles/slurm report", tiny_project, check=False)
    assert result.returncode == 1
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("error: --profile profiles/slurm needs SLURM (no sbatch on PATH)")
    assert not (tiny_project / "data").exists()  # no job ran


def ran_stages(output):
    return set(re.findall(r"Running stage '([^']+)'", output))


def snakemake_planned(output):
    """Rule counts from the 'Job stats' table of a dry run."""
    table = output.split("Job stats:")[1] if "Job stats:" in output else ""
    return {m.group(1) for m in re.finditer(r"^(\w+)\s+\d+\s*$", table, re.M) if m.group(1) != "total"}


def digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def dvc_project(tmp_path_factory):
    root = make_project(tmp_path_factory.mktemp("dvc"))
    first = run("dvc repro", root)
    digests = {path: digest(root / path) for path in DETERMINISTIC}  # before any experiment changes them
    return root, first.stdout + first.stderr, digests, (root / "dvc.lock").read_text()


@pytest.fixture(scope="module")
def snakemake_project(tmp_path_factory):
    root = make_project(tmp_path_factory.mktemp("snakemake"))
    # a train job granted fewer CPUs than the machine has (Snakemake exports OMP_NUM_THREADS=1 to it),
    # where `dvc repro` runs on every usable CPU: the bytes follow params.yaml's `threads` in both
    run("snakemake report --cores 2 --set-threads train=1", root)
    return root


DETERMINISTIC = ["data/interim/crops.npy", "models/dcgan/seed0/generator.pt", "models/biggan/seed0/generator.pt",
                 "submissions/dcgan/seed0/images.zip", "models/breed_judge.pt", "reports/breeds/biggan/seed0.json",
                 "reports/resample/dcgan.json", "reports/aggregate.json"]
EXPECTED_OUTPUTS = ["reports/index.html", "reports/README.md", "reports/losses.png", "reports/seeds.png",
                    "reports/metrics/dcgan/seed0.json", "reports/summary/dcgan/seed0.json", "reports/spread.json",
                    "reports/data_quality.json", "reports/figures/crops.png", "reports/figures/dcgan/seed0_samples.png",
                    "submissions/dcgan/seed0/images.zip", "models/dcgan/seed0/generator.pt",
                    "models/dcgan/seed0/checkpoint.pt", "data/interim/crops.npy", "data/interim/reference_rotnet.npz",
                    "reports/breed_judge.json", "reports/breeds/dcgan/seed0.json", "reports/breeds.png"]


def test_dvcs_metrics_are_a_few_scores_per_variant_and_the_full_scores_a_plain_output():
    """`dvc metrics show` and `dvc exp show` print a column per metric: the score stage's metrics are
    its summary (five scores), and the metrics json, every score that the report and doggan serve read,
    is a plain output, kept in git (cache: false)."""
    import importlib.util

    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    score, run_ = stages["score"], "${item.variant}/seed${item.seed}"
    assert score["metrics"] == [{f"reports/summary/{run_}.json": {"cache": False}}]
    assert {f"reports/metrics/{run_}.json": {"cache": False}} in score["outs"]
    assert stages["aggregate"]["metrics"] == [{"reports/spread.json": {"cache": False}}]  # FID mean and std per variant
    spec = importlib.util.spec_from_file_location("score_step", ROOT / "steps/score.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    full = {"fid": 4.323215, "kid": 0.0380234, "kid_std": 0.0021, "precision": 0.7213, "recall": 0.0612, "density": 0.43,
            "coverage": 0.17, "mifid": 4.323215, "distance": 0.0252, "distance_thresholded": 1.0, "cosine_eps": 0.005,
            "network": "rotnet", "n": 10000}
    assert module.summary(full) == {"fid": 4.323, "kid": 0.03802, "precision": 0.7213, "recall": 0.0612, "mifid": 4.323}


def readme_commands(start):
    from test_docs import shown_commands

    commands = [command for page, command in shown_commands() if page == "README.md" and command.startswith(start)]
    assert commands, f"README.md shows no `{start}`"
    return commands


@pytest.mark.e2e
def test_the_readmes_comparisons_print_a_few_columns(dvc_project):
    """The README's `dvc metrics show` and `dvc exp show` lines, run on the tiny project: a row per
    variant of its five scores, and a column per variant's FID beside the params the README changes
    (bare, `dvc exp show` prints hundreds of columns)."""
    root = dvc_project[0]
    variants = list(yaml.safe_load((root / "params.yaml").read_text())["variants"])
    for variant in variants:
        summary = json.loads((root / f"reports/summary/{variant}/seed0.json").read_text())
        full = json.loads((root / f"reports/metrics/{variant}/seed0.json").read_text())
        assert len(summary) <= 6 and all(math.isclose(value, full[key], rel_tol=1e-3) for key, value in summary.items())
    for command in readme_commands("dvc metrics show"):
        lines = run(command, root).stdout.strip().splitlines()
        assert lines[0].split() == ["Path", "fid", "kid", "mifid", "precision", "recall"], lines[0]
        assert sorted(line.split()[0] for line in lines[1:]) == [f"reports/summary/{v}/seed0.json" for v in sorted(variants)]
    for command in readme_commands("dvc exp show"):
        header = run(command + " --csv", root).stdout.splitlines()[0].split(",")
        fids = {f"{v}.fid_mean" for v in variants}  # reports/spread.json's, named without the file where it is the one
        assert set(header) == {"Experiment", "model.lr", "model.budget", *fids}, header


@pytest.mark.e2e
def test_dvc_repro_runs_everything_then_nothing_then_only_what_lr_touches(dvc_project):
    root, first = dvc_project[:2]
    assert ran_stages(first) >= {"demo_data", "parse", "crop", "featnet", "reference", "train@dcgan-0", "resample@dcgan",
                                 "aggregate", "report"}
    for path in EXPECTED_OUTPUTS:
        assert (root / path).is_file(), path
    metrics = yaml.safe_load((root / "reports/metrics/dcgan/seed0.json").read_text())
    assert metrics["network"] == "rotnet" and metrics["n"] == 40 and metrics["fid"] > 0
    assert ran_stages(run("dvc repro", root).stdout) == set()
    exp = run("dvc exp run -S model.lr=3.0e-4 -S variants.dcgan.label_smoothing=0.0", root)
    # every train@V depends on the model section, but only variants without their own lr change
    # their generator; DVC sees the others' unchanged bytes and stops there
    params = yaml.safe_load((root / "params.yaml").read_text())
    inheriting = [v for v, over in params["variants"].items() if "lr" not in over]
    assert inheriting and len(inheriting) < len(params["variants"])
    assert ran_stages(exp.stdout) == ({"check_params"} | {f"train@{v}-0" for v in params["variants"]} | {"aggregate", "report"}
                                      | {f"{stage}@{v}-0" for v in inheriting for stage in ("generate", "score", "breeds")}
                                      | {f"resample@{v}" for v in inheriting})
    resolved = yaml.safe_load((root / "reports/train/dcgan/seed0/params.yaml").read_text())  # what trained
    assert resolved["lr"] == 3.0e-4 and resolved["label_smoothing"] == 0.0
    # one knob trains every variant longer: it makes every train stage stale, and nothing before them
    # (tests/test_training.py holds the steps it runs; what follows a train stage reruns where its generator changed)
    original = (root / "params.yaml").read_text()
    (root / "params.yaml").write_text(yaml.safe_dump({**params, "model": {**params["model"], "budget": 2.0}}, sort_keys=False))
    try:
        stale = set(json.loads(run("dvc status --json", root).stdout))
    finally:
        (root / "params.yaml").write_text(original)
    assert stale == {"check_params", "report"} | {f"train@{v}-0" for v in params["variants"]}


@pytest.mark.e2e
def test_a_new_training_seed_runs_its_own_stages_then_the_aggregate_under_both_drivers(dvc_project, snakemake_project,
                                                                                       tmp_path):
    """Seeds are a matrix axis: `-S 'seeds=[0,1]'` trains, generates and scores seed 1 of each variant
    and nothing of seed 0, then the aggregate puts both seeds of each variant side by side."""
    root = tmp_path / "dvc"
    shutil.copytree(dvc_project[0], root, symlinks=True)
    variants = list(yaml.safe_load((root / "params.yaml").read_text())["variants"])
    exp = run("dvc exp run -S 'seeds=[0,1]'", root)
    assert ran_stages(exp.stdout) == {f"{stage}@{v}-1" for v in variants for stage in RUN_STAGES} | {
        "check_params", "aggregate", "report"}
    spread = json.loads((root / "reports/aggregate.json").read_text())
    for v in variants:
        fids = [json.loads((root / f"reports/metrics/{v}/seed{s}.json").read_text())["fid"] for s in (0, 1)]
        assert spread["variants"][v]["fid"]["values"] == fids and spread["variants"][v]["seeds"] == [0, 1]
    assert "FID per seed" in (root / "reports/README.md").read_text()

    root = tmp_path / "snakemake"
    shutil.copytree(snakemake_project, root, symlinks=True)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["seeds"] = [0, 1]
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    plan = run("snakemake -n report", root).stdout
    assert snakemake_planned(plan) == {*RUN_STAGES, "aggregate", "report"}
    seeds = re.findall(r"wildcards: variant=\w+, seed=(\d+)", plan)
    assert len(seeds) == len(RUN_STAGES) * len(variants) and set(seeds) == {"1"}


@pytest.mark.e2e
def test_editing_a_module_makes_stale_exactly_the_stages_whose_steps_import_it(dvc_project):
    from test_deps import required_and_allowed

    root = dvc_project[0]
    stages = set(dvc_dag(root))
    expected = {  # derived from the imports; two pinned by hand as well
        module: {s for s in stages if module in required_and_allowed(s)[0]}
        for module in ["src/doggan/data/dataset.py", "src/doggan/config.py", "src/doggan/models/dcgan.py",
                       "src/doggan/report/build.py"]}
    assert expected["src/doggan/models/dcgan.py"] == {"check_params", "train@dcgan-0", "generate@dcgan-0", "breeds@dcgan-0",
                                                      "resample@dcgan"}
    assert expected["src/doggan/report/build.py"] == {"report"}
    for module, stale in expected.items():
        original = (root / module).read_text()
        (root / module).write_text(original + "# an edit\n")
        try:
            assert set(json.loads(run("dvc status --json", root).stdout)) == stale, module
        finally:
            (root / module).write_text(original)
    assert json.loads(run("dvc status --json", root).stdout) == {}


@pytest.mark.e2e
def test_dvc_accepts_what_snakemake_built_timings_aside(dvc_project, snakemake_project, tmp_path):
    """Every artifact is deterministic and no timing lives in one: Snakemake's build of the same
    project, under the lock of the first `dvc repro` and DVC's cache (content-addressed: an output is
    found there only with the same bytes), leaves DVC nothing to rerun."""
    dvc_root, root = dvc_project[0], tmp_path / "project"
    shutil.copytree(snakemake_project, root, symlinks=True)
    (root / "dvc.lock").write_text(dvc_project[3])  # as the first repro wrote it: experiments rewrite it
    shutil.copy(dvc_root / "data/interim/params_valid.json", root / "data/interim")  # check_params is DVC's alone
    run(f"dvc cache dir {dvc_root / '.dvc/cache'}", root)
    timings = sorted(p.name for p in (root / "reports/timings").glob("*.json"))
    assert {"crop.json", "train@dcgan-0.json", "score@biggan-0.json", "resample@dcgan.json"} <= set(timings)
    train = json.loads((root / "reports/timings/train@dcgan-0.json").read_text())
    assert train["seconds"] > 0 and train["peak_memory_mb"] > 100  # python and torch alone take more
    assert json.loads(run("dvc status --json", root).stdout) == {}


@pytest.mark.e2e
def test_a_new_variant_is_one_module_and_one_params_block(dvc_project, tmp_path):
    """The README's recipe, walked with a throwaway variant (the basic gan's code under a new name):
    no edit to dvc.yaml, the Snakefile or the registry, and only its own stages and the report run."""
    root = tmp_path / "project"
    shutil.copytree(dvc_project[0], root, symlinks=True)
    shutil.copy(root / "src/doggan/models/gan.py", root / "src/doggan/models/toy.py")
    params = yaml.safe_load((root / "params.yaml").read_text())
    full = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["variants"]["toy"] = {**full["variants"]["gan"], "width": 8, "steps": 4}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {"PYTHONPATH": str(root / "src")}  # the copy's code, with its new module, not the installed one
    assert ran_stages(run("dvc repro", root, env=env).stdout) == {"check_params", "resample@toy", "aggregate", "report",
                                                                  *(f"{stage}@toy-0" for stage in RUN_STAGES)}
    assert "toy" in (root / "reports/README.md").read_text()
    assert json.loads((root / "reports/metrics/toy/seed0.json").read_text())["n"] == 40


@pytest.mark.e2e
def test_a_run_pushed_to_a_shared_remote_is_pulled_by_a_fresh_clone_that_has_nothing_to_rerun(dvc_project, tmp_path):
    # the README's "Sharing artifacts", on a copy: the fixture's project stays as the other tests expect it
    work, remote, clone = tmp_path / "work", tmp_path / "remote", tmp_path / "clone"
    shutil.copytree(dvc_project[0], work, symlinks=True)
    run(f"dvc remote add -d shared {remote} && git add -A && git -c user.name=t -c user.email=t@t commit -qm run"
        " && dvc push", work)
    run(f"git clone -q {work} {clone} && cd {clone} && dvc pull", tmp_path)
    repro = run("dvc repro", clone)
    assert ran_stages(repro.stdout) == set() and "Data and pipelines are up to date" in repro.stdout, repro.stdout
    for path in DETERMINISTIC:
        assert digest(clone / path) == digest(work / path), path


@pytest.mark.e2e
def test_snakemake_builds_the_same_outputs_and_plans_only_what_lr_touches(snakemake_project, dvc_project, tmp_path):
    root = tmp_path / "project"  # a copy: the fixture's project stays as the other tests expect it
    shutil.copytree(snakemake_project, root, symlinks=True)
    for path in EXPECTED_OUTPUTS:
        assert (root / path).is_file(), path
    # deterministic stages: both drivers produce the same bytes
    for path, expected in dvc_project[2].items():
        assert digest(root / path) == expected, path
    assert "Nothing to be done" in run("snakemake -n report", root).stdout
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["model"]["lr"] = 3.0e-4
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    planned = {*RUN_STAGES, "resample", "aggregate", "report"}
    assert snakemake_planned(run("snakemake -n report", root).stdout) == planned
    budget = run("snakemake -n report --config 'model={budget: 2.0}'", root).stdout
    assert snakemake_planned(budget) == planned
    # any key, nested too, can be set from the command line, and reaches the step
    run("snakemake --cores 2 reports/train/dcgan/seed0/metrics.json --config 'variants={dcgan: {label_smoothing: 0.0}}'", root)
    resolved = yaml.safe_load((root / "reports/train/dcgan/seed0/params.yaml").read_text())
    assert resolved["label_smoothing"] == 0.0 and resolved["lr"] == 3.0e-4


@pytest.mark.e2e
def test_train_killed_with_sigkill_resumes_to_the_same_generator(dvc_project, tmp_path):
    import signal
    import subprocess
    import time

    from doggan.training.loop import checkpoint_step

    root = dvc_project[0]
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["model"].update(steps=160, checkpoint_every=10, fid_every=0)  # time to kill it mid-run
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))

    def train_cmd(out):
        return [str(Path(sys.executable)), "steps/train.py", "--params", str(tmp_path / "params.yaml"), "--variant", "dcgan",
                "--seed", "0", "--crops", "data/interim/crops.npy", "--table", "data/interim/crops.csv", "--featnet", "models/featnet.pt",
                "--out", str(out / "generator.pt"), "--live", str(out / "live")]

    whole, killed = tmp_path / "whole", tmp_path / "killed"
    subprocess.run(train_cmd(whole), cwd=root, check=True, capture_output=True)
    process = subprocess.Popen(train_cmd(killed), cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not (killed / "checkpoint.pt").exists() and process.poll() is None:
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "training finished before it could be killed"
    assert not (killed / "generator.pt").exists()  # nothing that looks finished
    step = checkpoint_step(killed / "checkpoint.pt", torch.load(killed / "checkpoint.pt", weights_only=True)["fingerprint"])
    assert 0 < step < 160
    subprocess.run(train_cmd(killed), cwd=root, check=True, capture_output=True)
    assert digest(killed / "generator.pt") == digest(whole / "generator.pt")


@pytest.mark.e2e
@pytest.mark.skipif(usable_cpus() < 2, reason="needs 2 usable CPUs")
@pytest.mark.parametrize("variant", ["dcgan", "biggan"])
def test_the_train_stage_writes_the_same_generator_on_one_and_on_two_cpus(dvc_project, tmp_path, variant):
    """Torch sums in another order at another thread count; the stage computes with params.yaml's
    `threads` whatever CPUs it may use, so a machine of more cores, a smaller --cores or a requeue on
    another node changes no byte."""
    import subprocess

    root = dvc_project[0]
    cmd = dvc_dag(root)[f"train@{variant}-0"][0].replace(f"models/{variant}/seed0/generator.pt", "{out}/generator.pt")
    cmd = cmd.replace(f"reports/train/{variant}/seed0", "{out}/live")

    def train_on(cpus):
        out = tmp_path / f"cpus{len(cpus)}"
        subprocess.run(cmd.format(out=out), shell=True, cwd=root, env=project_env(), check=True, capture_output=True,
                       preexec_fn=lambda: os.sched_setaffinity(0, cpus))
        return digest(out / "generator.pt")

    assert train_on({0}) == train_on({0, 1})


@pytest.mark.e2e
@pytest.mark.parametrize("driver", ["dvc", "snakemake"])
def test_a_bad_param_stops_the_run_first_and_leaves_every_output_in_place(dvc_project, snakemake_project, tmp_path,
                                                                          driver):
    """DVC removes a stage's outputs before it runs: the bad value must be caught before, by
    check_params, which every stage depends on."""
    root = tmp_path / "project"
    shutil.copytree(dvc_project[0] if driver == "dvc" else snakemake_project, root, symlinks=True)
    kept = [p for p in root.rglob("*") if p.is_file() and p.parts[len(root.parts)] in ("models", "reports", "submissions")]
    before = {p: digest(p) for p in kept}
    assert any("generator.pt" in str(p) for p in kept) and any("reports/train" in str(p) for p in kept)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["model"]["lr"] = "abc"  # dcgan inherits it, biggan sets its own: both stop
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    command = "dvc repro train@biggan-0" if driver == "dvc" else "snakemake --cores 2 models/biggan/seed0/generator.pt --forcerun train"
    result = run(command, root, check=False)
    assert result.returncode != 0
    assert "error: model.lr: expected a number, got 'abc'" in result.stderr + result.stdout
    assert {p: digest(p) for p in kept if p.exists()} == before and all(p.exists() for p in kept)
