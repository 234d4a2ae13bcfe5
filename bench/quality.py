"""The quality run: the whole pipeline on the demo data with every variant trained --budget times
longer (model.budget), in a copy of the project (data/quality/), beside pytorch/examples' DCGAN
(bench/plain_dcgan.py) trained for as many minutes as each variant. Its report, figures and
tables go to docs/quality/ (the demo's reports/ stay as they are); its generators stay in
data/quality/models/ for `doggan serve --models data/quality/models --metrics docs/quality/metrics`.

    make quality        # python bench/quality.py: about 90 minutes on 2 cores

The best GAN is trained again with each further seed of --seeds, in data/quality-seed<N>/.
"""

import argparse
import json
import shutil
import subprocess
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import torch
import yaml

from doggan.cli import set_threads
from doggan.config import load_section, read_params
from doggan.data.dataset import load_crops, to_uint8
from doggan.io import save_figure, save_grid, save_torch, write_text
from doggan.metrics.features import MetricConfig, RotNetFeatures, feature_network
from doggan.metrics.rotnet import load_featnet
from doggan.score import load_reference, score_images
from doggan.training.monitor import CheapFID
from plain_dcgan import PlainDCGAN
from workspace import copy_pipeline, tool

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DOCS = Path("docs/quality")
KEYS = ("fid", "kid", "precision", "recall", "density", "coverage")
PLAIN_BATCH = 32  # as bench/run.py: on 2 cores it learns more per CPU-minute at batch 32 than at its default 64


def repro(root):
    print(f"quality: dvc repro in {root}", flush=True)
    subprocess.run([tool("dvc"), "repro"], cwd=root, check=True)


def read_json(path):
    return json.loads(Path(path).read_text())


def plain_dcgan(root, minutes, seed, n_images, cheap_fid):
    """The plain DCGAN trained for max(minutes): ({m: its uint8 samples after m minutes}, its cheap-FID
    curve [(minutes, FID)]). Kept in `root`, so a rerun with more seeds does not train it again."""
    cache, marks = root / f"plain_dcgan_seed{seed}.pt", sorted(set(minutes))
    if cache.is_file():
        saved = torch.load(cache, weights_only=True)
        if saved["minutes"] == marks:
            return {m: s.numpy() for m, s in zip(marks, saved["samples"])}, saved["curve"]
    images, _, _ = load_crops(root / "data/interim/crops.npy", root / "data/interim/crops.csv")
    model, samples, curve, pending = PlainDCGAN(seed), {}, [], list(marks)
    z = torch.randn(n_images, 100, generator=torch.Generator().manual_seed(seed + 1))

    def on_eval(spent, steps):
        curve.append((spent / 60, cheap_fid(model)))
        while pending and spent >= pending[0] * 60:
            with torch.no_grad():
                sampler = model.sampler()
                samples[pending.pop(0)] = np.concatenate([to_uint8(sampler(z[i : i + 500])) for i in range(0, n_images, 500)])
            print(f"quality: plain dcgan, {spent / 60:.1f} min, step {steps}", flush=True)

    # evaluations come every 30 s; the last marks fall between the last one and the end
    on_eval(*model.train(images, max(marks) * 60 + 1, batch_size=PLAIN_BATCH, on_eval=on_eval, eval_every=30))
    save_torch({"minutes": marks, "samples": [torch.from_numpy(samples[m]) for m in marks], "curve": curve}, cache)
    return samples, curve


def variant_curve(root, variant):
    """[(training minutes, cheap FID)] of one variant, from its DVCLive log and its timing file."""
    fid = pd.read_csv(root / "reports" / "train" / variant / "plots" / "metrics" / "fid_rotnet.tsv", sep="\t")
    seconds = dict(map(tuple, read_json(root / "reports" / "timings" / f"train@{variant}.json")["seconds_at_fid"]))
    return [(seconds[step] / 60, value) for step, value in zip(fid["step"], fid["fid_rotnet"]) if step in seconds]


def plot_curves(curves, out, budget):
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for k, (name, curve) in enumerate(curves.items()):
        if curve:
            xs, ys = zip(*curve)
            ax.plot(xs, ys, marker=".", color=f"C{k}", ls="--" if name.startswith("plain") else "-", label=name)
    ax.set(xlabel="CPU minutes of training (2 cores)", ylabel="cheap FID (rotnet)", yscale="log",
           title=f"FID against training time at model.budget {budget:g}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, out)
    plt.close(fig)


def other_seeds(root, best, seeds, budget):
    """{seed: scores of `best`} for each of `seeds`: the whole pipeline with that variant alone, in
    <root>-seed<N>/ (featnet has a seed of its own: the same network as the first run's)."""
    out = {}
    for seed in seeds:
        other = copy_pipeline(f"{root}-seed{seed}", {"seed": seed, "model": {"budget": budget}})
        settings = yaml.safe_load((other / "params.yaml").read_text())
        settings["variants"] = {best: settings["variants"][best]}
        (other / "params.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
        repro(other)
        out[seed] = read_json(other / "reports" / "metrics" / f"{best}.json")
    return out


def write_seeds(best, seeds):
    rows = [{"seed": s, **{k: f"{r[k]:.3g}" for k in KEYS}} for s, r in sorted(seeds.items())]
    write_text(DOCS / "seeds.md", f"{best}, the best GAN, over seeds:\n\n" + pd.DataFrame(rows).to_markdown(index=False) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=8.0, help="model.budget of the run (the demo's is 1)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="seed of the run, then the best GAN's others")
    parser.add_argument("--root", default="data/quality", help="where the copy of the pipeline runs")
    args = parser.parse_args()
    set_threads()
    root = copy_pipeline(args.root, {"seed": args.seeds[0], "model": {"budget": args.budget}})
    repro(root)

    params = read_params(root / "params.yaml")
    variants = list(params["variants"])
    scores = {v: read_json(root / "reports" / "metrics" / f"{v}.json") for v in variants}
    minutes = {v: read_json(root / "reports" / "timings" / f"train@{v}.json")["train_seconds"] / 60 for v in variants}
    best = min((v for v in variants if v != "autoencoder"), key=lambda v: scores[v]["fid"])

    cfg = load_section(MetricConfig, params, "metric")
    reference = load_reference(root / f"data/interim/reference_{cfg.network}.npz")
    net = feature_network(cfg, root / "models/featnet.pt")
    images, labels, _ = load_crops(root / "data/interim/crops.npy", root / "data/interim/crops.csv")
    cheap_fid = CheapFID(RotNetFeatures(load_featnet(root / "models/featnet.pt")), images, labels, params["model"]["fid_samples"])
    samples, plain_curve = plain_dcgan(root, list(minutes.values()), args.seeds[0], params["generate"]["n_images"], cheap_fid)
    plain = {m: score_images(images_, reference, net, cfg) for m, images_ in samples.items()}

    seeds = {args.seeds[0]: scores[best], **other_seeds(args.root, best, args.seeds[1:], args.budget)}

    shutil.rmtree(DOCS, ignore_errors=True)
    DOCS.mkdir(parents=True)
    for name in ("index.html", "README.md", "results.md", "losses.png", "comparison.png", "yardsticks.json", "figures",
                 "metrics", "timings"):
        source = root / "reports" / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, DOCS / name)
    save_grid(DOCS / "figures" / "plain_dcgan_samples.png", samples[max(samples)][:64])
    plot_curves({**{v: variant_curve(root, v) for v in variants}, f"plain dcgan (batch {PLAIN_BATCH})": plain_curve},
                DOCS / "fid_vs_minutes.png", args.budget)

    rows = []
    for v in sorted(variants, key=lambda v: scores[v]["fid"]):
        train = yaml.safe_load((root / "reports" / "train" / v / "params.yaml").read_text())
        rows.append({"variant": v, "steps": train["steps"], "images shown": f"{train['steps'] * train['batch_size']:,}",
                     "minutes": f"{minutes[v]:.1f}", **{k: f"{scores[v][k]:.3g}" for k in KEYS},
                     "plain DCGAN's FID at the same minutes": f"{plain[minutes[v]]['fid']:.3g}"})
    write_text(DOCS / "table.md", pd.DataFrame(rows).to_markdown(index=False) + "\n")
    write_seeds(best, seeds)
    print((DOCS / "table.md").read_text() + "\n" + (DOCS / "seeds.md").read_text())


if __name__ == "__main__":
    main()
