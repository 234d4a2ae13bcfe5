"""Which feature space judges as a person does: `python bench/judge.py` (section judge).

judge  candidate feature networks trained on the demo crops score the yardsticks, the pipeline's
       generators and plain_dcgan's; needs data/interim/crops.npy (`dvc repro crop`)
"""

import dataclasses
import math
import tempfile
from pathlib import Path

import numpy as np
import torch

from doggan.config import load_merged, load_section
from doggan.data.dataset import load_crops
from doggan.metrics import frechet_distance
from doggan.metrics.features import extract_features
from doggan.models import variant_module
from doggan.training.loop import train

from common import OUT, main, read_bench_params, shared, table


def plain_dcgan_generators(images, labels, n_breeds, params, seed, steps):
    """{n: the variant plain_dcgan's sampler after n steps of doggan's loop (its params' batch size, its
    standing statistics; eval mode)} for every n in `steps`, from one run; trained once, then read from
    data/bench/judge/."""
    module = variant_module("plain_dcgan")
    cfg = load_merged(module.Config, params, "model", "variants.plain_dcgan")
    cfg = dataclasses.replace(cfg, steps=max(steps), fid_every=math.gcd(*steps), checkpoint_every=10**9, keep="last")
    paths = {n: Path(f"data/bench/judge/plain_dcgan_b{cfg.batch_size}_s{seed}_{n}steps.pt") for n in steps}
    if not all(p.is_file() for p in paths.values()):
        torch.manual_seed(seed)
        model = module.Model(cfg, n_breeds)

        def snapshot(step):  # called after prepare_sampler: the sampler as generator.pt would hold it
            if step in paths:
                paths[step].parent.mkdir(parents=True, exist_ok=True)
                torch.save(model.sampler().state_dict(), paths[step])
            return math.nan  # no FID: nothing to keep by

        with tempfile.TemporaryDirectory() as tmp:
            result = train(model, images, labels, seed=seed, checkpoint_path=Path(tmp) / "c.pt", fingerprint="bench",
                           evaluate=snapshot)
        print(f"judge: plain_dcgan seed {seed}: {max(steps)} steps in {result.seconds / 60:.1f} min", flush=True)
    samplers = {}
    for n, path in paths.items():
        samplers[n] = module.build_generator(cfg, n_breeds)
        samplers[n].load_state_dict(torch.load(path, weights_only=True))
        samplers[n].eval()
    return samplers


def judge_networks(images, labels, n_breeds, params, seed):
    """{name: features function of uint8 (N, 64, 64, 3) images}: the judge and what it was chosen over."""
    from doggan.metrics.rotnet import FeatnetConfig, RotNet, fit_part_scales, train_featnet

    cfg = dataclasses.replace(load_section(FeatnetConfig, params, "featnet"), seed=seed)
    rotnet, _ = train_featnet(images, cfg)
    breednet, _ = train_featnet(images, dataclasses.replace(cfg, epochs=6), labels=labels, n_classes=n_breeds)  # what rotnet replaced
    torch.manual_seed(seed)
    random = RotNet(cfg.width, cfg.features).eval()  # Naeem et al.: random embeddings for PRDC
    fit_part_scales(random, images)

    def penultimate(net):
        return lambda x: net.parts(x)[-1]

    nets = {"rotnet (the judge)": rotnet.features, "rotnet, penultimate layer only": penultimate(rotnet),
            "breednet, penultimate layer (the judge before)": penultimate(breednet), "random init, all parts": random.features}
    return {name: lambda x, f=f: extract_features(f, x, 100) for name, f in nets.items()}


def bench_judge(args):
    """Which feature space ranks images as a person does. Candidate networks, each trained on the
    demo crops (seeds --seeds), score the yardsticks (half the crops, kept or degraded, against the
    other half), samples of every variant the pipeline trained (models/<V>/generator.pt) and the
    plain DCGAN after each of --judge-steps, all at the same sizes. Draws a row of every set in
    reports/bench/judge_sets.png."""
    from doggan.data.dataset import to_uint8
    from doggan.generate import load_generator, sample
    from doggan.metrics import statistics
    from doggan.metrics.judge import score_features
    from doggan.metrics.mifid import calibrated_eps
    from doggan.metrics.yardsticks import YARDSTICKS, halves
    from doggan.score import read_submission

    if not Path("data/interim/crops.npy").is_file():
        print("\n### judge: skipped, it needs data/interim/crops.npy (`dvc repro crop`)")
        return
    params = read_bench_params(args.params)
    images, labels, breeds = load_crops("data/interim/crops.npy", "data/interim/crops.csv")
    crops = images.permute(0, 2, 3, 1).numpy()
    made, reference = halves(len(crops))
    rng = np.random.default_rng(0)
    sets = {f"{y.kind}: {y.name}": y.make(crops[made], rng) for y in YARDSTICKS}
    z = torch.randn(len(made), 100, generator=torch.Generator().manual_seed(5))
    for seed in args.seeds:
        for steps, generator in plain_dcgan_generators(images, labels, len(breeds), params, seed, args.judge_steps).items():
            with torch.no_grad():
                sets[f"plain dcgan, {steps} steps, seed {seed}"] = to_uint8(generator(z))
    for path in sorted(Path("models").glob("*/seed0/generator.pt")):  # each variant's first training seed
        generator, payload = load_generator(path)
        sets[f"pipeline: {payload['variant']}"] = sample(generator, payload, np.arange(len(made)) % len(breeds), 0.0, 5, 50)

    fids, judged, submitted = {}, {}, {}
    submissions = sorted(Path("submissions").glob("*/seed0/images.zip"))
    for seed in args.seeds:
        networks = judge_networks(images, labels, len(breeds), params, seed)
        for name, extract in networks.items():
            real = extract(crops[reference])
            stats = statistics(real)
            for set_name, images_ in sets.items():
                gen = extract(images_)
                fids[name, seed, set_name] = frechet_distance(*statistics(gen), *stats)
                if name.startswith("rotnet (the judge)"):
                    scores = score_features(gen, real, calibrated_eps(extract(crops)), stats, seed)
                    scores["mifid_at_kaggle_eps"] = scores["fid"] / (scores["distance"] if scores["distance"] < 0.1 else 1.0)
                    judged[seed, set_name] = scores
            print(f"judge: {name}, featnet seed {seed}: done", flush=True)
        for name in ("rotnet (the judge)", "breednet, penultimate layer (the judge before)"):
            real = networks[name](crops)
            for path in submissions:  # as the score stage does: every image of it against all crops
                gen = networks[name](read_submission(path, expected=params["generate"]["n_images"]))
                submitted[name, seed, path.parent.parent.name] = frechet_distance(*statistics(gen), *statistics(real))
    names = list(dict.fromkeys(name for name, _, _ in fids))

    seeds_text = " / ".join(map(str, args.seeds))
    table(f"FID per feature network (featnet seeds {seeds_text}), {len(made)} images against the other {len(reference)} crops",
         ["set", *names], [(s, *(" / ".join(f"{fids[n, seed, s]:.3g}" for seed in args.seeds) for n in names)) for s in sets])
    if submissions:
        compared = list(dict.fromkeys(name for name, _, _ in submitted))
        table(f"FID of the pipeline's submissions (submissions/<V>/images.zip) against all {len(crops)} crops, featnet seeds "
              f"{seeds_text}", ["variant", *compared],
              [(p.parent.parent.name, *(" / ".join(f"{submitted[n, seed, p.parent.parent.name]:.3g}" for seed in args.seeds)
                                 for n in compared)) for p in submissions], file="judge_submissions.md")
    keys = ["fid", "kid", "precision", "recall", "density", "coverage"]
    table(f"every score on the judge (rotnet), featnet seed {args.seeds[0]}", ["set", *keys],
         [(s, *(f"{judged[args.seeds[0], s][k]:.3g}" for k in keys)) for s in sets])
    table(f"MiFID on the judge (featnet seed {args.seeds[0]}): Kaggle's eps 0.1 against the calibrated one",
         ["set", "distance", "MiFID at eps 0.1", f"MiFID at eps {judged[args.seeds[0], next(iter(sets))]['cosine_eps']:.3g}"],
         [(s, f"{judged[args.seeds[0], s]['distance']:.4f}", f"{judged[args.seeds[0], s]['mifid_at_kaggle_eps']:.3g}",
           f"{judged[args.seeds[0], s]['mifid']:.3g}") for s in sets])

    plains = [s for s in sets if s.startswith("plain dcgan")]
    verdict = []
    for n in names:
        for seed in args.seeds:
            f = {s: fids[n, seed, s] for s in sets}
            of = lambda kind: [v for s, v in f.items() if s.startswith(kind + ":")]  # noqa: E731
            order = [max(of("floor")), min(of("shape kept")), max(of("shape kept")), min(of("shape destroyed")),
                     max(of("shape destroyed")), min(of("noise"))]
            ranked = order[0] < order[1] and order[2] < order[3] and order[4] < order[5]
            verdict.append((n, seed, "yes" if ranked else "NO", f"{order[3] / order[2]:.2f}",
                            *(f"{order[3] / f[p]:.2f}" for p in plains)))
    table("verdict: is real < every shape kept < every shape destroyed < noise? and how far below the best "
          "shape-destroyed set each plain DCGAN scores (above 1: below it)",
          ["network", "featnet seed", "ranked", "best destroyed / worst kept", *(f"best destroyed / {p}" for p in plains)],
          verdict)
    from doggan.io import save_grid

    save_grid(OUT / "judge_sets.png", np.concatenate([images_[:8] for images_ in sets.values()]), columns=8)
    print(f"wrote {OUT / 'judge_sets.png'}, one row of each set: {', '.join(sets)}")


SECTIONS = {"judge": bench_judge}


def add_options(parser):
    shared(parser, "--params", "--seeds")
    parser.add_argument("--judge-steps", type=int, nargs="*", default=[1400],
                        help="judge: plain_dcgan's training steps at its batch size (32: 1,400 steps, 10 minutes on 2 cores)")


if __name__ == "__main__":
    main(__doc__, SECTIONS, add_options)
