# One DAG, two drivers: dvc.yaml runs the same commands with the same paths and params keys
# (tests/test_drivers.py holds them equal). `snakemake --cores 4 report` builds everything.
import math
import shutil
import sys
from pathlib import Path

import yaml

from doggan.cli import usable_cpus
from doggan.errors import UserError
from doggan.imports import closure, model_code, variant_file
from doggan.validate import check_params

configfile: "params.yaml"

# profiles/slurm says so through `config: [profile=slurm]`: the only way the Snakefile can know
# (the executor is chosen after it is read); not a params key, so taken out before anything else
PROFILE = config.pop("profile", None)
NO_SLURM = ("--profile profiles/slurm needs SLURM (no sbatch on PATH): run it on the cluster's login node, "
            "or leave the profile out to run here (snakemake --cores 4 report)")
if PROFILE == "slurm" and shutil.which("sbatch") is None:
    print(f"hint: {NO_SLURM}", file=sys.stderr)  # a dry run still shows the plan

# Every value checked as the Snakefile is read, before any job can replace its outputs: one line
# naming the key (dvc.yaml checks them in its first stage, check_params: DVC runs no code of ours before)
try:
    check_params(config)
except UserError as exc:
    sys.exit(f"error: {exc}")

VARIANTS, SEEDS = list(config["variants"]), config["seeds"]
RUN = "{variant}/seed{seed}"  # a (variant, training seed) pair, as in every path of its files (doggan.runs)
RUNS = [f"{variant}/seed{seed}" for variant in VARIANTS for seed in SEEDS]
IMAGES, ANNOTATIONS = config["data"]["images"], config["data"]["annotations"]
REFERENCE = f"data/interim/reference_{config['metric']['network']}.npz"
# Torch steps compute with params.yaml's `threads` (the count shapes the bytes: doggan.device), so
# they claim that many of --cores: at the default 2, `--cores 4` trains two variants side by side.
# Where --cores is more than the CPUs this machine lets us use, each torch job claims a
# proportionally larger share of --cores, so that no more torch jobs run at once than the CPUs
# hold: two 2-thread jobs on 2 CPUs took 2.4x as long as one after the other. Under SLURM every
# job gets its own CPUs: `threads` each.
THREADS = config["threads"]
TORCH_THREADS = THREADS if PROFILE == "slurm" else max(THREADS, math.ceil(THREADS * workflow.cores / usable_cpus()))
# Torch steps use a GPU where torch sees one (params.yaml `device: auto`): each declares `gpu=1`, so
# `--resources gpu=N` runs at most N of them at once, and each takes a GPU no other doggan job
# holds (doggan.device.pick_device). Without --resources, Snakemake does not count GPUs. Under
# SLURM the plugin turns gpu=1 into sbatch's --gpus=1: there the profile says which jobs ask for one.
GPU = {} if PROFILE == "slurm" else {"gpu": 1}


def params_file():
    """The params the steps read: params.yaml merged with whatever `--config` set, written beside
    Snakemake's own state (so `--config 'model={lr: 1.0e-3}'` reaches the step). Always this one
    path, even when nothing was set: the path is part of every command and its params, and a path
    that changed with `--config` would rerun every rule, not just those P() says the value touches."""
    path = Path(".snakemake/params.yaml")
    path.parent.mkdir(exist_ok=True)
    text = yaml.safe_dump(config, sort_keys=False)
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)
    return str(path)


PARAMS = params_file()


def P(*keys):
    """Values of params keys a rule reads: declared, so a changed value reruns the rule."""
    def value(key):
        node = config
        for part in key.split("."):
            node = node[part]
        return node
    return {key: value(key) for key in keys}


MODEL_CODE = model_code(VARIANTS)  # parsed once, not once per job


wildcard_constraints:
    variant="[^/]+",
    seed=r"\d+",


def SOURCES(step, variant=None):
    """The step and the project modules it imports, directly or not (doggan.imports); train, generate
    and resample also depend on the model code and their variant's module, as dvc.yaml says."""
    sources = [f"steps/{step}.py", *closure(f"steps/{step}.py")]
    if variant is not None:
        sources = sorted(set(sources) | set(MODEL_CODE) | {variant_file(variant)})
    return sources


def FOLDER(path):
    """Every file of a source folder (dvc.yaml names the folder): the report's templates too."""
    return sorted(str(p) for p in Path(path).rglob("*") if p.is_file() and "__pycache__" not in p.parts)


onstart:  # runs before the first job, not in a dry run
    if PROFILE == "slurm" and shutil.which("sbatch") is None:
        sys.exit(f"error: {NO_SLURM}")


rule report:
    input:
        SOURCES("report"), FOLDER("src/doggan/report"),
        expand("reports/metrics/{run}.json", run=RUNS),
        expand("reports/train/{run}/{name}", run=RUNS, name=["metrics.json", "params.yaml", "plots"]),
        expand("reports/figures/{run}_{kind}.png", run=RUNS, kind=["samples", "breeds"]),
        expand("reports/generate/{run}.json", run=RUNS),
        expand("reports/breeds/{run}.json", run=RUNS), expand("reports/figures/{run}_neighbours.png", run=RUNS),
        "reports/aggregate.json", "reports/breed_judge.json", "reports/breed_yardsticks.json", "reports/figures/crops.png", "reports/yardsticks.json", "reports/data_quality.json",
        "reports/featnet.json",
    output: "reports/index.html", "reports/README.md", "reports/results.md", "reports/losses.png", "reports/comparison.png", "reports/seeds.png", "reports/breeds.png"
    params: settings={"params.yaml": config}, file=PARAMS, reports="reports"
    shell: "python steps/report.py --params {params.file} --reports {params.reports}"


rule aggregate:
    input:
        SOURCES("aggregate"), expand("reports/metrics/{run}.json", run=RUNS), expand("reports/breed_summary/{run}.json", run=RUNS),
        expand("reports/resample/{variant}.json", variant=VARIANTS),
    output: out="reports/aggregate.json", summary="reports/spread.json"
    params:
        settings=P("seeds", "variants", "aggregate"), file=PARAMS, metrics="reports/metrics", breeds="reports/breed_summary",
        resampled="reports/resample",
    shell: "python steps/aggregate.py --params {params.file} --metrics {params.metrics} --breeds {params.breeds} --resampled {params.resampled} --out {output.out} --summary {output.summary}"


rule demo_data:
    input: SOURCES("demo_data")
    output: images=directory("data/raw/demo/all-dogs"), annotations=directory("data/raw/demo/Annotation")
    params: settings=P("demo"), file=PARAMS, out="data/raw/demo"
    shell: "python steps/demo_data.py --params {params.file} --out {params.out}"


rule parse:
    input: SOURCES("parse"), images=IMAGES, annotations=ANNOTATIONS
    output: boxes="data/interim/annotations.csv", quality="data/interim/parse_quality.json"
    params: settings=P("data.strict"), file=PARAMS
    shell: "python steps/parse.py --params {params.file} --images {input.images} --annotations {input.annotations} --out {output.boxes} --quality {output.quality}"


rule crop:
    input: SOURCES("crop"), images=IMAGES, boxes=rules.parse.output.boxes, parse_quality=rules.parse.output.quality
    output:
        crops="data/interim/crops.npy", table="data/interim/crops.csv", quality="reports/data_quality.json",
        figure="reports/figures/crops.png",
    params: settings=P("crop", "data.strict"), file=PARAMS
    threads: config["crop"]["workers"] or workflow.cores
    shell: "python steps/crop.py --params {params.file} --images {input.images} --boxes {input.boxes} --parse-quality {input.parse_quality} --crops {output.crops} --table {output.table} --quality {output.quality} --figure {output.figure}"


rule featnet:
    input: SOURCES("featnet"), crops=rules.crop.output.crops, table=rules.crop.output.table
    output: net="models/featnet.pt", metrics="reports/featnet.json"
    params: settings=P("threads", "device", "featnet"), file=PARAMS
    threads: TORCH_THREADS
    resources: **GPU
    shell: "python steps/featnet.py --params {params.file} --crops {input.crops} --table {input.table} --out {output.net} --metrics {output.metrics}"


rule reference:
    input: SOURCES("reference"), crops=rules.crop.output.crops, table=rules.crop.output.table, featnet=rules.featnet.output.net
    output: reference=REFERENCE, yardsticks="reports/yardsticks.json"
    params: settings=P("threads", "device", "metric", "generate.n_images"), file=PARAMS
    threads: TORCH_THREADS
    resources: **GPU
    shell: "python steps/reference.py --params {params.file} --crops {input.crops} --table {input.table} --featnet {input.featnet} --out {output.reference} --yardsticks {output.yardsticks}"


rule train:
    input:
        lambda w: SOURCES("train", w.variant),
        crops=rules.crop.output.crops, table=rules.crop.output.table, featnet=rules.featnet.output.net,
    output:
        generator=f"models/{RUN}/generator.pt", metrics=f"reports/train/{RUN}/metrics.json",
        resolved=f"reports/train/{RUN}/params.yaml", plots=directory(f"reports/train/{RUN}/plots"),
    params: settings=lambda w: P("threads", "device", "model", f"variants.{w.variant}"), file=PARAMS, live=f"reports/train/{RUN}"
    threads: TORCH_THREADS
    resources: **GPU
    shell: "python steps/train.py --params {params.file} --variant {wildcards.variant} --seed {wildcards.seed} --crops {input.crops} --table {input.table} --featnet {input.featnet} --out {output.generator} --live {params.live}"


rule generate:
    input: lambda w: SOURCES("generate", w.variant), generator=rules.train.output.generator
    output:
        submission=f"submissions/{RUN}/images.zip", figure=f"reports/figures/{RUN}_samples.png",
        breed_figure=f"reports/figures/{RUN}_breeds.png", record=f"reports/generate/{RUN}.json",
    params: settings=P("threads", "device", "generate"), file=PARAMS
    threads: TORCH_THREADS
    resources: **GPU
    shell: "python steps/generate.py --params {params.file} --generator {input.generator} --out {output.submission} --figure {output.figure} --breed-figure {output.breed_figure} --record {output.record}"


rule score:
    input:
        SOURCES("score"), submission=rules.generate.output.submission, reference=REFERENCE, featnet=rules.featnet.output.net,
    output: metrics=f"reports/metrics/{RUN}.json", summary=f"reports/summary/{RUN}.json"
    params: settings=P("threads", "device", "metric", "generate.n_images"), file=PARAMS
    threads: TORCH_THREADS
    resources: **GPU
    shell: "python steps/score.py --params {params.file} --submission {input.submission} --reference {input.reference} --featnet {input.featnet} --out {output.metrics} --summary {output.summary}"


rule resample:
    input:
        lambda w: SOURCES("resample", w.variant), generator=f"models/{{variant}}/seed{SEEDS[0]}/generator.pt",
        reference=REFERENCE, featnet=rules.featnet.output.net,
    output: "reports/resample/{variant}.json"
    params: settings=P("threads", "device", "generate", "metric", "aggregate.resamples"), file=PARAMS
    threads: TORCH_THREADS
    resources: **GPU
    shell: "python steps/resample.py --params {params.file} --generator {input.generator} --reference {input.reference} --featnet {input.featnet} --out {output}"


rule breed_judge:
    input: SOURCES("breed_judge"), crops=rules.crop.output.crops, table=rules.crop.output.table, featnet=rules.featnet.output.net
    output: judge="models/breed_judge.pt", metrics="reports/breed_judge.json", yardsticks="reports/breed_yardsticks.json"
    params: settings=P("threads", "device", "judge", "metric"), file=PARAMS
    threads: TORCH_THREADS
    resources: **GPU
    shell: "python steps/breed_judge.py --params {params.file} --crops {input.crops} --table {input.table} --featnet {input.featnet} --out {output.judge} --metrics {output.metrics} --yardsticks {output.yardsticks}"


rule breeds:
    input:
        lambda w: SOURCES("breeds", w.variant), generator=rules.train.output.generator, submission=rules.generate.output.submission,
        crops=rules.crop.output.crops, table=rules.crop.output.table, featnet=rules.featnet.output.net, judge=rules.breed_judge.output.judge,
    output: out=f"reports/breeds/{RUN}.json", summary=f"reports/breed_summary/{RUN}.json", figure=f"reports/figures/{RUN}_neighbours.png"
    params: settings=P("threads", "device", "judge", "metric", "generate"), file=PARAMS
    threads: TORCH_THREADS
    resources: **GPU
    shell: "python steps/breeds.py --params {params.file} --generator {input.generator} --submission {input.submission} --crops {input.crops} --table {input.table} --featnet {input.featnet} --judge {input.judge} --out {output.out} --summary {output.summary} --figure {output.figure}"
