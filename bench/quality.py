"""The quality run: the whole pipeline on the demo data with every variant trained --budget times
longer (model.budget), in a copy of the project (data/quality/), beside pytorch/examples' DCGAN
(bench/plain_dcgan.py) trained for as many minutes as each variant. Its report, figures and
tables go to docs/quality/ (the demo's reports/ stay as they are); its generators stay in
data/quality/models/ for `doggan serve --models data/quality/models --metrics docs/quality/metrics`.

    make quality        # python bench/quality.py: about 90 minutes on 2 cores

The best variant is trained again with every other seed of --seeds, in data/quality-seed<N>/.
"""

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from doggan.cli import set_threads
from doggan.config import load_section, read_params
from doggan.data.dataset import load_crops, to_uint8
from doggan.io import save_grid, write_text
from doggan.metrics.features import MetricConfig, feature_network
from doggan.score import load_reference, score_images
from plain_dcgan import PlainDCGAN
from workspace import copy_pipeline, tool

DOCS = Path("docs/quality")
KEYS = ("fid", "kid", "precision", "recall", "density", "coverage")
PLAIN_BATCH = 32  # as bench/run.py judge: on 2 cores it learns more per CPU-minute at 32 than at 64


def repro(root):
    print(f"quality: dvc repro in {root}", flush=True)
    subprocess.run([tool("dvc"), "repro"], cwd=root, check=True)


def train_minutes(root, variant):
    return json.loads((root / "reports" / "timings" / f"train@{variant}.json").read_text())["seconds"] / 60


def plain_dcgan_at(root, minutes, seed, n_images):
    """{minutes: uint8 samples of the plain DCGAN after that many minutes of training}, one run."""
    images, _, _ = load_crops(root / "data/interim/crops.npy", root / "data/interim/crops.csv")
    model, samples, pending = PlainDCGAN(seed), {}, sorted(set(minutes))
    z = torch.randn(n_images, 100, generator=torch.Generator().manual_seed(seed + 1))

    def snapshot(spent, steps):
        while pending and spent >= pending[0] * 60:
            with torch.no_grad():
                sampler = model.sampler()
                samples[pending.pop(0)] = np.concatenate([to_uint8(sampler(z[i : i + 500])) for i in range(0, n_images, 500)])
            print(f"quality: plain dcgan at {spent / 60:.1f} min, step {steps}", flush=True)

    model.train(images, max(minutes) * 60 + 1, batch_size=PLAIN_BATCH, on_eval=snapshot, eval_every=5)
    return samples


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=8.0, help="model.budget of the run (the demo's is 1)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="seed of the run, then the best variant's others")
    parser.add_argument("--root", default="data/quality", help="where the copy of the pipeline runs")
    args = parser.parse_args()
    set_threads()
    root = copy_pipeline(args.root, {"seed": args.seeds[0], "model": {"budget": args.budget}})
    repro(root)

    params = read_params(root / "params.yaml")
    variants = list(params["variants"])
    scores = {v: json.loads((root / "reports" / "metrics" / f"{v}.json").read_text()) for v in variants}
    minutes = {v: train_minutes(root, v) for v in variants}
    best = min((v for v in variants if v != "autoencoder"), key=lambda v: scores[v]["fid"])

    cfg = load_section(MetricConfig, params, "metric")
    reference = load_reference(root / f"data/interim/reference_{cfg.network}.npz")
    net = feature_network(cfg, root / "models/featnet.pt")
    samples = plain_dcgan_at(root, list(minutes.values()), args.seeds[0], params["generate"]["n_images"])
    plain = {m: score_images(images, reference, net, cfg) for m, images in samples.items()}

    seeds = {args.seeds[0]: scores[best]}
    for seed in args.seeds[1:]:
        other = copy_pipeline(f"{args.root}-seed{seed}", {"seed": seed, "model": {"budget": args.budget}})
        settings = yaml.safe_load((other / "params.yaml").read_text())
        settings["variants"] = {best: settings["variants"][best]}
        (other / "params.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
        repro(other)
        seeds[seed] = json.loads((other / "reports" / "metrics" / f"{best}.json").read_text())

    shutil.rmtree(DOCS, ignore_errors=True)
    for name in ("index.html", "README.md", "losses.png", "comparison.png", "yardsticks.json", "figures", "metrics"):
        source = root / "reports" / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, DOCS / name)
    rows = []
    for v in sorted(variants, key=lambda v: scores[v]["fid"]):
        train = yaml.safe_load((root / "reports" / "train" / v / "params.yaml").read_text())
        rows.append({"variant": v, "steps": train["steps"], "images shown": f"{train['steps'] * train['batch_size']:,}",
                     "train minutes": f"{minutes[v]:.1f}", **{k: f"{scores[v][k]:.3g}" for k in KEYS},
                     "plain DCGAN FID, same minutes": f"{plain[minutes[v]]['fid']:.3g}"})
    table = pd.DataFrame(rows)
    seed_rows = pd.DataFrame([{"seed": s, **{k: f"{r[k]:.3g}" for k in KEYS}} for s, r in seeds.items()])
    text = (f"# Quality run: model.budget {args.budget:g} on the demo data\n\n"
            f"Made by `make quality` (`python bench/quality.py`); network {reference['network']}, "
            f"{params['generate']['n_images']:,} samples per variant. The plain DCGAN is pytorch/examples' "
            f"(bench/plain_dcgan.py, batch {PLAIN_BATCH}) trained for as many minutes as each variant.\n\n"
            f"{table.to_markdown(index=False)}\n\n## {best}, the best GAN, over seeds\n\n{seed_rows.to_markdown(index=False)}\n\n"
            f"Per-breed grid of {best}: ![{best}](figures/{best}_breeds.png)\n\nThe whole report: [index.html](index.html).\n")
    write_text(DOCS / "quality.md", text)
    save_grid(DOCS / "figures" / "plain_dcgan_samples.png", samples[max(samples)][:64])
    print(text)


if __name__ == "__main__":
    sys.exit(main())
