"""Every variant beside the plain DCGAN at equal wall time: `python bench/compare.py` (section compare).

compare  cheap FID of each variant and of plain_dcgan after --minutes of training each on the demo
         crops, seeds --seeds; needs data/interim/crops.npy and models/featnet.pt (`dvc repro featnet`)
"""

import dataclasses
import tempfile
from pathlib import Path

import numpy as np
import torch

from doggan.config import load_merged
from doggan.data.dataset import load_crops
from doggan.metrics.features import RotNetFeatures
from doggan.models import VARIANTS, variant_module
from doggan.training.loop import train

from common import OUT, main, read_bench_params, shared, table, timed


def seconds_per_step(module, cfg, images, labels, n_classes, progress):
    """Wall time of one training step at `progress`, best of 3 after a warm-up."""
    model = module.Model(cfg, n_classes)
    real = images[: cfg.batch_size].float() / 127.5 - 1
    model.train_step(real, labels[: cfg.batch_size], progress)
    return timed(lambda: model.train_step(real, labels[: cfg.batch_size], progress), 3)[0]


def scaled_to(module, cfg, seconds, images, labels, n_classes):
    """The variant's demo schedule stretched or shrunk so that training takes about `seconds`."""
    if hasattr(cfg, "resolution_steps"):  # progan: a step's cost depends on its resolution
        shares = cfg.resolution_steps
        per_stage = [seconds_per_step(module, cfg, images, labels, n_classes, (sum(shares[:i]) + 0.75 * n) / sum(shares))
                     for i, n in enumerate(shares)]
        factor = seconds / sum(n * t for n, t in zip(shares, per_stage))
        return dataclasses.replace(cfg, resolution_steps=[max(1, round(n * factor)) for n in shares])
    return dataclasses.replace(cfg, steps=max(1, round(seconds / seconds_per_step(module, cfg, images, labels, n_classes, 0.5))))


def bench_compare(args):
    """Every variant beside pytorch/examples' DCGAN (the variant plain_dcgan) at equal wall time on the
    demo crops, two seeds, all through doggan's loop. Each variant's demo schedule is scaled to --minutes
    of training and keeps what its params say (best or last); the cheap FID (the judge's rotnet features,
    --fid-samples samples against all crops) is logged 8 times along the way. Prints the table, writes
    the FID-against-CPU-minutes curves and the sample grids to reports/bench/."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from doggan.data.dataset import to_uint8
    from doggan.metrics.rotnet import load_featnet
    from doggan.training.monitor import CheapFID

    if not Path("models/featnet.pt").is_file():
        print("\n### compare: skipped, it needs data/interim/crops.npy and models/featnet.pt (`dvc repro featnet`)")
        return
    params = read_bench_params(args.params)
    images, labels, breeds = load_crops("data/interim/crops.npy", "data/interim/crops.csv")
    features = RotNetFeatures(load_featnet("models/featnet.pt"))
    during = CheapFID(features, images, labels, args.fid_samples)
    final = CheapFID(features, images, labels, args.fid_samples, seed=777)  # other z than the one `keep` chose on
    budget = args.minutes * 60
    names = ["plain_dcgan", *(v for v in args.variants or VARIANTS if v != "plain_dcgan")]
    curves, scores, grids, steps_run = {}, {}, {}, {}
    z = torch.randn(8, 512, generator=torch.Generator().manual_seed(3))  # the widest nz; each model takes its first nz
    for name in names:
        for seed in args.seeds:
            torch.manual_seed(seed)
            module = variant_module(name)
            cfg = load_merged(module.Config, params, "model", f"variants.{name}")
            cfg = scaled_to(module, cfg, budget, images, labels, len(breeds))
            cfg = dataclasses.replace(cfg, fid_every=max(1, cfg.steps // 8), checkpoint_every=10**9)
            torch.manual_seed(seed)
            model, fids = module.Model(cfg, len(breeds)), {}

            def evaluate(step):
                fids[step] = during(model)
                return fids[step]

            with tempfile.TemporaryDirectory() as tmp:
                result = train(model, images, labels, seed=seed, checkpoint_path=Path(tmp) / "c.pt",
                               fingerprint="bench", evaluate=evaluate)
            curve, steps = [(seconds, fids[step]) for step, seconds in result.curve], cfg.steps
            curves[name, seed], scores[name, seed], steps_run[name] = curve, final(model), steps
            sampler = model.sampler().eval()
            with torch.no_grad():
                y = torch.arange(8) % len(breeds)
                grids[name, seed] = to_uint8(sampler(z[:, : model.cfg.nz], y))
            print(f"compare: {name} seed {seed}: {steps} steps, FID {scores[name, seed]:.1f}", flush=True)
    plain = np.mean([scores["plain_dcgan", s] for s in args.seeds])
    rows = []
    for name in names:
        fids = [scores[name, s] for s in args.seeds]
        rows.append((name, steps_run[name], " / ".join(f"{f:.1f}" for f in fids), f"{np.mean(fids):.1f}",
                     f"{np.mean(fids) / plain:.2f}"))
    table(f"compare: {args.minutes:g} min of training each on {len(images)} demo crops, {torch.get_num_threads()} threads; "
          f"cheap FID (rotnet, {args.fid_samples} samples) of the generator each keeps, seeds "
          f"{' / '.join(map(str, args.seeds))}", ["model", "steps", "FID per seed", "mean FID", "vs plain_dcgan"], rows)

    out = OUT
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for k, name in enumerate(names):
        for seed in args.seeds:
            xs, ys = zip(*curves[name, seed]) if curves[name, seed] else ((), ())
            ax.plot(np.array(xs) / 60, ys, color=f"C{k}", ls="-" if seed == args.seeds[0] else "--",
                    label=name if seed == args.seeds[0] else None, marker=".")
    ax.set(xlabel="CPU minutes of training (2 cores)", ylabel="cheap FID (rotnet)", yscale="log",
           title=f"FID against training time, seeds {' (solid) / '.join(map(str, args.seeds))} (dashed)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "fid_vs_minutes.png", dpi=110)
    rows_img = [np.concatenate(list(grids[name, seed]), axis=1) for name in names for seed in args.seeds]
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(rows_img) + 0.4))
    ax.imshow(np.concatenate(rows_img, axis=0))
    ax.set_yticks([32 + 64 * i for i in range(len(rows_img))],
                  [f"{name} s{seed} ({scores[name, seed]:.0f})" for name in names for seed in args.seeds], fontsize=7)
    ax.set_xticks([])
    fig.tight_layout()
    fig.savefig(out / "samples.png", dpi=110)
    print(f"\nwrote {out / 'fid_vs_minutes.png'} and {out / 'samples.png'}")


SECTIONS = {"compare": bench_compare}


def add_options(parser):
    shared(parser, "--params", "--seeds")
    parser.add_argument("--minutes", type=float, default=2.0, help="compare: training budget per model and seed")
    parser.add_argument("--fid-samples", type=int, default=2000, help="compare: samples per cheap FID")
    parser.add_argument("--variants", nargs="*", help="compare: only these variants (beside plain_dcgan)")


if __name__ == "__main__":
    main(__doc__, SECTIONS, add_options)
