"""The quality run: the pipeline itself under bench/quality.yaml's params (every variant and
pytorch/examples' DCGAN, three training seeds each, at equal compute), in data/quality/ on the demo
data. Its report, tables and figures go to docs/quality/; its generators stay in data/quality/models/
for `doggan serve --models data/quality/models --metrics docs/quality/metrics`.

    make quality                        # python bench/quality.py: about 2 hours on 2 cores, resumable
    python bench/quality.py --calibrate # measure each variant's cost alone, write its budget into bench/quality.yaml

Equal compute: a variant's `budget` (its demo steps' factor) is set from its cost per step measured
alone on this machine, so that every variant trains for --minutes. A run stopped anywhere resumes
where it stopped (`dvc repro`: each (variant, seed) a stage of its own, each train stage from its
checkpoint), so it can span several sittings.
"""

import argparse
import dataclasses
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import torch
import yaml

from doggan.config import load_merged, read_params
from doggan.data.dataset import load_crops
from doggan.io import read_json, save_figure, write_text
from doggan.models import variant_module
from doggan.report.build import (BREED_YARDSTICK_NOTE, CONFUSION_NOTE, breed_table, breed_yardstick_table,
                                 confusion_table, judge_note)
from doggan.runs import run_path, stage_name
from doggan.training.loop import train
from workspace import ROOT, copy_pipeline, merged, tool

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SETTINGS = ROOT / "bench" / "quality.yaml"
HEADER = """\
# The quality run (make quality, bench/quality.py): params.yaml with these values merged in, run by
# the pipeline itself in data/quality/: every variant and pytorch/examples' DCGAN (plain_dcgan) at
# three training seeds, each variant's `budget` (the factor on its demo steps) set from its cost
# measured alone so that each trains for `minutes` (bench/quality.py --calibrate writes them).
"""
DOCS = ROOT / "docs" / "quality"
CALIBRATION_BUDGETS = (0.1, 0.3)  # of each variant's demo steps (every progan resolution in proportion): the cost
# of the steps between them, so that what a run spends once (its first steps' warm-up) does not count per step
REPORTS = ("index.html", "README.md", "results.md", "losses.png", "comparison.png", "seeds.png", "breeds.png",
           "aggregate.json", "yardsticks.json", "breed_judge.json", "breed_yardsticks.json", "metrics", "breeds",
           "timings")  # what the report links to, and what doggan serve reads (metrics/, breeds/, aggregate.json)
FIGURES = re.compile(r"\((figures/[^)\s]+\.png)\)")  # figures/... linked from the report's README.md


class ParamsDumper(yaml.SafeDumper):
    """params.yaml's style: block mappings, [flow, lists] (bench/gpu.py's stand-in parser reads no other)."""


ParamsDumper.add_representer(list, lambda dumper, value: dumper.represent_sequence("tag:yaml.org,2002:seq", value,
                                                                                  flow_style=True))


def dump(settings):
    return yaml.dump(settings, Dumper=ParamsDumper, sort_keys=False, default_flow_style=False)


def quality_params():
    return merged(yaml.safe_load((ROOT / "params.yaml").read_text()), yaml.safe_load(SETTINGS.read_text()))


def repro(root, *targets):
    print(f"quality: dvc repro {' '.join(targets)} in {root}", flush=True)
    subprocess.run([tool("dvc"), "repro", *targets], cwd=root, check=True)


def seconds_per_budget(params, variant, images, labels, n_breeds):
    """Training seconds (evaluations left out) of one more unit of `budget` of `variant`, with the run's
    own threads: the difference of two runs, at the CALIBRATION_BUDGETS, over the difference of their budgets."""
    module = variant_module(variant)
    seconds = []
    for budget in CALIBRATION_BUDGETS:
        cfg = load_merged(module.Config, params, "model", f"variants.{variant}")
        cfg = dataclasses.replace(cfg, budget=budget, fid_every=0).with_budget()
        torch.manual_seed(0)
        model = module.Model(cfg, n_breeds)
        with tempfile.TemporaryDirectory() as tmp:
            result = train(model, images, labels, seed=0, checkpoint_path=Path(tmp) / "checkpoint.pt",
                           fingerprint="calibration")
        seconds.append(result.curve[-1][1])  # seconds before the one evaluation, at the end
    return (seconds[1] - seconds[0]) / (CALIBRATION_BUDGETS[1] - CALIBRATION_BUDGETS[0])


def calibrate(root, minutes):
    """Each variant's budget for `minutes` of training, measured alone, written into bench/quality.yaml."""
    params = read_params(root / "params.yaml")
    torch.set_num_threads(params["threads"])
    images, labels, breeds = load_crops(root / "data/interim/crops.npy", root / "data/interim/crops.csv", "train")
    settings = yaml.safe_load(SETTINGS.read_text())
    for variant in params["variants"]:
        cost = seconds_per_budget(params, variant, images, labels, len(breeds))
        budget = float(f"{minutes * 60 / cost:.3g}")
        settings["variants"].setdefault(variant, {})["budget"] = budget
        print(f"quality: {variant} trains {cost:.0f} s per unit of budget: budget {budget:g} for {minutes:g} minutes", flush=True)
    settings["minutes"] = minutes
    SETTINGS.write_text(HEADER + dump(settings))


def run_table(root, params):
    """One row per variant: steps, images shown, minutes (calibrated and as measured, mean over seeds),
    and FID over seeds with the verdicts (the aggregate stage's)."""
    spread = read_json(root / "reports" / "aggregate.json")
    beaten = {v: [x["worse"] for x in spread["verdicts"] if x["better"] == v] for v in spread["ranking"]}
    rows = []
    for v in spread["ranking"]:
        trained = [yaml.safe_load((root / "reports" / "train" / run_path(v, s) / "params.yaml").read_text())
                   for s in params["seeds"]]
        measured = [read_json(root / "reports" / "timings" / f"{stage_name('train', v, s)}.json")["train_seconds"] / 60
                    for s in params["seeds"]]
        fid = spread["variants"][v]["fid"]
        rows.append({"variant": v, "seeds": fid["n"], "steps": trained[0]["steps"],
                     "images shown": f"{trained[0]['steps'] * trained[0]['batch_size']:,}",
                     "minutes": f"{np.mean(measured):.1f} ({min(measured):.1f}-{max(measured):.1f})",
                     "FID": f"{fid['mean']:.3g} ± {fid['std']:.2g}", "FID per seed": ", ".join(f"{x:.3g}" for x in fid["values"]),
                     "recall": f"{spread['variants'][v]['recall']['mean']:.2f}", "beats": ", ".join(beaten[v]) or "none"})
    return pd.DataFrame(rows)


def breed_tables(root):
    """Markdown: the per-breed scores over seeds, which breeds each conditional variant draws right and
    which it confuses, and the per-breed yardsticks: the report's tables."""
    reports = root / "reports"
    spread = read_json(reports / "aggregate.json")

    def markdown(table):
        return table.to_markdown(index=False, disable_numparse=True)

    return "\n\n".join([judge_note(read_json(reports / "breed_judge.json")), markdown(breed_table(spread)),
                        CONFUSION_NOTE, markdown(confusion_table(spread, reports)), BREED_YARDSTICK_NOTE,
                        markdown(breed_yardstick_table(read_json(reports / "breed_yardsticks.json")))]) + "\n"


def curves(root, params):
    """{run: [(training minutes, cheap FID)]} from each run's DVCLive log and timing file."""
    out = {}
    for v in params["variants"]:
        for s in params["seeds"]:
            tsv = root / "reports" / "train" / run_path(v, s) / "plots" / "metrics" / "fid_rotnet.tsv"
            timing = read_json(root / "reports" / "timings" / f"{stage_name('train', v, s)}.json")
            seconds = dict(map(tuple, timing["seconds_at_fid"]))
            fid = pd.read_csv(tsv, sep="\t")
            out[v, s] = [(seconds[step] / 60, value) for step, value in zip(fid["step"], fid["fid_rotnet"]) if step in seconds]
    return out


def plot_curves(curves, out, minutes):
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    colours = {v: f"C{k}" for k, v in enumerate(dict.fromkeys(v for v, _ in curves))}
    for (variant, seed), curve in curves.items():
        if curve:
            xs, ys = zip(*curve)
            ax.plot(xs, ys, color=colours[variant], alpha=0.8, linewidth=1, label=variant if seed == min(
                s for v, s in curves if v == variant) else None, ls="--" if variant == "plain_dcgan" else "-")
    ax.set(xlabel="minutes of training (2 cores)", ylabel="cheap FID (rotnet)", yscale="log",
           title=f"Cheap FID while training, every seed, about {minutes:g} minutes each")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, out)
    plt.close(fig)


def export(root, params):
    """docs/quality/: the run's report as the pipeline wrote it, the equal-compute table, the curves."""
    shutil.rmtree(DOCS, ignore_errors=True)
    DOCS.mkdir(parents=True)
    for name in REPORTS:
        source = root / "reports" / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, DOCS / name)
    for name in FIGURES.findall((root / "reports" / "README.md").read_text()):  # the grids the report shows, no others
        (DOCS / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(root / "reports" / name, DOCS / name)
    table = run_table(root, params)
    write_text(DOCS / "table.md", table.to_markdown(index=False) + "\n")
    write_text(DOCS / "breeds.md", breed_tables(root))
    plot_curves(curves(root, params), DOCS / "fid_vs_minutes.png", params.get("minutes", 0))
    print(table.to_markdown(index=False))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=str(ROOT / "data" / "quality"), help="where the pipeline runs")
    parser.add_argument("--calibrate", action="store_true", help="measure each variant's cost alone and set its budget")
    parser.add_argument("--minutes", type=float, default=4.0, help="training minutes of every variant (with --calibrate)")
    args = parser.parse_args()
    settings = quality_params()
    run_params = {k: v for k, v in settings.items() if k != "minutes"}  # `minutes` says how budgets were set
    root = copy_pipeline(args.root, run_params)
    own = yaml.safe_load(SETTINGS.read_text())["variants"]
    if args.calibrate or any("budget" not in own.get(v, {}) for v in settings["variants"]):
        repro(root, "crop")
        started = time.perf_counter()
        calibrate(root, args.minutes)
        print(f"quality: calibrated in {time.perf_counter() - started:.0f} s", flush=True)
        settings = quality_params()
        root = copy_pipeline(args.root, {k: v for k, v in settings.items() if k != "minutes"})
    repro(root)
    export(root, settings)


if __name__ == "__main__":
    main()
