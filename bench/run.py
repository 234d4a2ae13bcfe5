"""Benchmarks: `python bench/run.py [crop|train|metrics|judge|compare|drivers|serve|scale|layouts ...]` prints one table per section.

Every ratio compares two ways of doing the same work, measured side by side in this one run on
the same inputs; absolute times drift with the machine, ratios much less.
"""

import argparse
import asyncio
import contextlib
import dataclasses
import hashlib
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
import urllib.request
import zipfile
from pathlib import Path

import httpx2
import numpy as np
import torch
from PIL import Image
from torch.utils.flop_counter import FlopCounterMode

from doggan.cli import thread_budget
from doggan.config import load_merged, load_section, read_params
from doggan.data.annotations import parse_annotations
from doggan.data.crops import FILTERS, CropConfig, _region, crop_all
from doggan.data.dataset import load_crops
from doggan.data.demo import DemoConfig, write_demo
from doggan.generate import save_generator
from doggan.io import save_figure
from doggan.metrics import frechet_distance, memorization_distance
from doggan.metrics.features import InceptionFeatures, RotNetFeatures, extract_features, fid_inception
from doggan.metrics.rotnet import RotNet
from doggan.models import VARIANTS, variant_module
from doggan.models.progan import RESOLUTIONS, schedule
from doggan.training.loop import train

from common import read_bench_params

REAL_PHOTOS = 20_579  # Kaggle's all-dogs


OUT = Path("reports/bench")
TABLES = {}  # file name -> the running section's tables in it, as markdown; main() writes them under OUT


def table(title, header, rows, file=None):
    """Print a markdown table; it goes to reports/bench/<section>.md, or to `file` there."""
    text = (f"### {title}\n\n| " + " | ".join(header) + " |\n|" + "|".join("---" for _ in header) + "|\n"
            + "".join("| " + " | ".join(str(c) for c in row) + " |\n" for row in rows))
    print("\n" + text, flush=True)
    TABLES.setdefault(file, []).append(text)


def timed(fn, repeat=1):
    """Best wall time of `repeat` calls, and the last result."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def naive_crops(rows, images, cfg):
    """What the competition notebooks did: open the photo again for every box, full decode, one process."""
    paths = {p.stem: p for p in Path(images).rglob("*.jpg")}
    out = []
    for r in rows:
        img = Image.open(paths[r["image_id"]]).convert("RGB")
        x0, y0, x1, y1 = (round(v) for v in _region((r["xmin"], r["ymin"], r["xmax"], r["ymax"]), cfg))
        out.append(np.asarray(img.crop((x0, y0, x1, y1)).resize((cfg.size, cfg.size), FILTERS[cfg.filter])))
    return np.stack(out)


def bench_crop(args):
    with tempfile.TemporaryDirectory() as tmp:
        annotations, images = args.annotations, args.images
        if annotations is None:
            demo = load_section(DemoConfig, read_params(args.params), "demo")
            write_demo(dataclasses.replace(demo, n_images=args.photos, n_breeds=12), tmp)
            annotations, images = Path(tmp) / "Annotation", Path(tmp) / "all-dogs"
        rows, quality = parse_annotations(annotations, images)
        n_photos = len({r["image_id"] for r in rows})
        short_sides = np.array([min(r["xmax"] - r["xmin"], r["ymax"] - r["ymin"]) for r in rows])
        print(f"\n{n_photos} photos, {len(rows)} boxes from {images}; box short side median "
              f"{np.median(short_sides):.0f} px, {np.mean(short_sides >= 256):.0%} at least 256 px "
              f"(real Stanford Dogs: median 246 px, 45%)")
        base = dataclasses.replace(load_section(CropConfig, read_params(args.params), "crop"),
                                   min_size=1, min_aspect=1e-3, max_aspect=1e3)
        ways = [("naive loop (open per box, full decode, 1 process)", lambda: naive_crops(rows, images, base)),
                ("stage, 1 worker, no draft", lambda: crop_all(rows, images, dataclasses.replace(base, workers=1, draft=False))[0]),
                ("stage, 1 worker, draft", lambda: crop_all(rows, images, dataclasses.replace(base, workers=1))[0]),
                ("stage, 2 workers, draft (default)", lambda: crop_all(rows, images, dataclasses.replace(base, workers=2))[0])]
        results = []
        for name, fn in ways:
            seconds, crops = timed(fn, repeat=2)
            results.append((name, seconds, len(crops)))
        naive = results[0][1]
        table("crop: crops/s on the same photos, best of 2", ["way", "crops", "seconds", "crops/s", "vs naive",
                                                               f"all {REAL_PHOTOS:,} real photos"],
              [(name, n, f"{s:.2f}", f"{n / s:.0f}", f"{naive / s:.1f}x",
                f"{s / n_photos * REAL_PHOTOS / 60:.1f} min") for name, s, n in results])


def demo_model(variant, params, **overrides):
    module = variant_module(variant)
    cfg = load_merged(module.Config, params, "model", f"variants.{variant}")
    return module.Model(dataclasses.replace(cfg, **overrides), n_classes=8)


def matmul_flops(n=4096, repeat=3):
    """This machine's fp32 matmul FLOP/s (the roofline a conv net can hope for)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    seconds, _ = timed(lambda: a @ b, repeat)
    return 2 * n**3 / seconds


def bench_train(args):
    """Training images/s per variant at the demo params (batch 32, random images), on this CPU."""
    params = read_bench_params(args.params)
    real, labels = torch.rand(32, 3, 64, 64) * 2 - 1, torch.randint(0, 8, (32,))
    peak = matmul_flops()
    rows = []
    for variant in VARIANTS:
        torch.manual_seed(0)
        model = demo_model(variant, params, batch_size=32)
        progresses = [0.99] if variant != "progan" else [0.99, 0.5, 0.1]  # progan: 64, 16 and 4-8 px stages
        for progress in progresses:
            model.train_step(real, labels, progress)  # warm up
            seconds, _ = timed(lambda: model.train_step(real, labels, progress), args.repeat)
            note = ""
            if variant == "dcgan":
                with FlopCounterMode(display=False) as counter:
                    model.train_step(real, labels, progress)
                flops = counter.get_total_flops()
                note = f"{flops / 1e9:.1f} GFLOP/step = {flops / seconds / 1e9:.1f} GFLOP/s, {flops / seconds / peak:.0%} of matmul peak"
            if variant == "progan":
                note = f"at {RESOLUTIONS[schedule(model.cfg, progress)[0]]} px"
            rows.append((variant, f"{seconds * 1000:.0f}", f"{32 / seconds:.0f}", note))
    table(f"train: one step at the demo params, batch 32, {torch.get_num_threads()} threads, best of {args.repeat} "
          f"(fp32 matmul peak here: {peak / 1e9:.0f} GFLOP/s)", ["variant", "ms/step", "images/s", "note"], rows)
    bench_levers(args, params)


LEVERS = ("channels-last", "torch.compile", "bf16 autocast", "1 thread", "batch 64", "flush denormals")


def lever_step(variant, params, lever, repeat):
    """(seconds per image of one training step with `lever`, compile seconds): best of `repeat`
    after two warm-up steps (torch.compile compiles in them)."""
    batch = 64 if lever == "batch 64" else 32
    torch.manual_seed(0)
    model = demo_model(variant, params, batch_size=batch)
    real, labels = torch.rand(batch, 3, 64, 64) * 2 - 1, torch.randint(0, 8, (batch,))
    threads, context = torch.get_num_threads(), contextlib.nullcontext()
    if lever == "channels-last":
        model = model.to(memory_format=torch.channels_last)
        real = real.contiguous(memory_format=torch.channels_last)
    elif lever == "torch.compile":
        model.generator, model.discriminator = torch.compile(model.generator), torch.compile(model.discriminator)
    elif lever == "bf16 autocast":
        context = torch.autocast("cpu", dtype=torch.bfloat16)
    elif lever == "1 thread":
        torch.set_num_threads(1)
    elif lever == "flush denormals":
        torch.set_flush_denormal(True)
    progress = 0.99  # progan: at 64 px
    try:
        with context:
            compile_seconds, _ = timed(lambda: [model.train_step(real, labels, progress) for _ in range(2)])
            seconds, _ = timed(lambda: model.train_step(real, labels, progress), repeat)
    finally:
        torch.set_num_threads(threads)
        torch.set_flush_denormal(False)
    return seconds / batch, compile_seconds


def bench_levers(args, params):
    """Each lever against the plain step, side by side, per variant: images per second relative to
    plain fp32 at batch 32 (above 1: faster); torch.compile's compile time apart."""
    rows = []
    for variant in VARIANTS:
        base, _ = lever_step(variant, params, None, args.repeat)
        cells, compiled = [], ""
        for lever in LEVERS:
            try:
                seconds, warmup = lever_step(variant, params, lever, args.repeat)
            except Exception as exc:  # a lever this variant's code cannot take: say why, measure the rest
                cells.append(f"fails ({type(exc).__name__})")
                continue
            cells.append(f"{base / seconds:.2f}x")
            if lever == "torch.compile":
                compiled = f"{warmup:.0f} s"
        rows.append((variant, f"{1 / base:.0f}", *cells, compiled))
        print(f"train levers: {variant} done", flush=True)
    table(f"train levers: images/s of a training step against plain fp32 at batch 32 ({torch.get_num_threads()} threads), "
          f"best of {args.repeat}; progan at 64 px", ["variant", "plain images/s", *LEVERS, "compile time"], rows)


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
    for path in sorted(Path("models").glob("*/generator.pt")):
        generator, payload = load_generator(path)
        sets[f"pipeline: {payload['variant']}"] = sample(generator, payload, np.arange(len(made)) % len(breeds), 0.0, 5, 50)

    fids, judged, submitted = {}, {}, {}
    submissions = sorted(Path("submissions").glob("*/images.zip"))
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
                submitted[name, seed, path.parent.name] = frechet_distance(*statistics(gen), *statistics(real))
    names = list(dict.fromkeys(name for name, _, _ in fids))

    seeds_text = " / ".join(map(str, args.seeds))
    table(f"FID per feature network (featnet seeds {seeds_text}), {len(made)} images against the other {len(reference)} crops",
         ["set", *names], [(s, *(" / ".join(f"{fids[n, seed, s]:.3g}" for seed in args.seeds) for n in names)) for s in sets])
    if submissions:
        compared = list(dict.fromkeys(name for name, _, _ in submitted))
        table(f"FID of the pipeline's submissions (submissions/<V>/images.zip) against all {len(crops)} crops, featnet seeds "
              f"{seeds_text}", ["variant", *compared],
              [(p.parent.name, *(" / ".join(f"{submitted[n, seed, p.parent.name]:.3g}" for seed in args.seeds)
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


def bench_drivers(args):
    """The whole pipeline under each driver, one after the other, each in a fresh copy of the project
    (data/bench/drivers/) at model.budget --drivers-budget: `dvc repro` against the design's
    `snakemake --cores 4 report`, which asks for more cores than a small machine has."""
    from workspace import copy_pipeline, tool

    rows = []
    for name, cmd in (("dvc repro", [tool("dvc"), "repro"]),
                      ("snakemake --cores 4 report", [tool("snakemake"), "--cores", "4", "report"])):
        root = Path("data/bench/drivers") / name.split()[0]
        shutil.rmtree(root, ignore_errors=True)
        copy_pipeline(root, {"model": {"budget": args.drivers_budget}})
        seconds, result = timed(lambda: subprocess.run(cmd, cwd=root, capture_output=True, text=True))
        if result.returncode != 0:
            raise SystemExit(f"drivers: {name} failed:\n{result.stderr[-2000:]}")
        rows.append((name, f"{seconds:.0f}"))
        print(f"drivers: {name}: {seconds:.0f} s", flush=True)
    rows = [(*row, f"{float(row[1]) / float(rows[0][1]):.2f}") for row in rows]
    table(f"drivers: the whole demo pipeline at model.budget {args.drivers_budget:g}, {thread_budget()} usable CPUs",
          ["driver", "seconds", "vs dvc repro"], rows)


def bench_scale(args):
    """Each stage's wall time and peak memory as the data grows: the whole pipeline (`dvc repro` at the
    demo's training budgets) on demo sets of --scale-photos photos of --scale-breeds breeds, each in a
    copy of the project (data/bench/scale-<photos>/; a rerun keeps what is done). A stage's growth is
    the exponent k in time ~ photos^k between the smallest and the largest set: 1 is linear, 0 flat."""
    import json

    import matplotlib
    from workspace import copy_pipeline, tool

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    timings = {}
    for photos in args.scale_photos:
        root = copy_pipeline(Path("data/bench") / f"scale-{photos}",
                             {"demo": {"n_images": photos, "n_breeds": args.scale_breeds}})
        print(f"scale: dvc repro at {photos:,} photos", flush=True)
        subprocess.run([tool("dvc"), "repro"], cwd=root, check=True)
        timings[photos] = {path.stem: json.loads(path.read_text()) for path in (root / "reports/timings").glob("*.json")}
    sizes = sorted(timings)
    small, large = sizes[0], sizes[-1]
    stages = sorted(timings[large], key=lambda s: (s.split("@")[0] not in ("demo_data", "parse", "crop", "featnet", "reference"), s))

    def growth(key, stage):
        a, b = timings[small][stage][key], timings[large][stage][key]
        return f"{np.log(b / a) / np.log(large / small):.2f}" if a > 0 and b > 0 and large > small else "–"

    rows = [(stage, *(f"{timings[n][stage]['seconds']:.1f}" for n in sizes), growth("seconds", stage),
             *(f"{timings[n][stage]['peak_memory_mb']:,.0f}" for n in sizes))
            for stage in stages if all(stage in timings[n] for n in sizes)]
    totals = [sum(t["seconds"] for t in timings[n].values()) for n in sizes]
    rows.append(("all stages", *(f"{t:.0f}" for t in totals), "", *("" for _ in sizes)))
    table(f"scale: seconds and peak memory (MB, max RSS of the stage and its workers) per stage, {args.scale_breeds} breeds; "
          f"growth k: time ~ photos^k from {small:,} to {large:,} photos",
          ["stage", *(f"s at {n:,}" for n in sizes), "growth k", *(f"MB at {n:,}" for n in sizes)], rows)

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for k, stage in enumerate(s for s in stages if all(s in timings[n] for n in sizes)):
        style = dict(marker="o", color=f"C{k % 10}", ls="-" if k < 10 else "--", label=stage)
        axes[0].plot(sizes, [timings[n][stage]["seconds"] for n in sizes], **style)
        axes[1].plot(sizes, [timings[n][stage]["peak_memory_mb"] / 1024 for n in sizes], **style)
    axes[0].set(xscale="log", yscale="log", xlabel="photos", ylabel="seconds", title="wall time per stage")
    axes[1].set(xscale="log", xlabel="photos", ylabel="GB", title="peak memory per stage")
    axes[1].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    save_figure(fig, OUT / "scale.png")
    plt.close(fig)


def zip_folder(folder):
    """folder.zip beside `folder`, its entries named from the folder's own name down, as Kaggle's are."""
    folder = Path(folder)
    with zipfile.ZipFile(folder.with_suffix(".zip"), "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder.parent).as_posix())
    return folder.with_suffix(".zip")


def bench_layouts(args):
    """Kaggle's layout (all-dogs/ + Annotation/, as folders and as zips) and Stanford's (Images/<synset>-<breed>/,
    folder and zip) of one demo set of --layouts-photos photos: parse and crop each, and compare the crops
    and their labels byte for byte. --layouts-demo reuses a demo set already drawn (all-dogs/ + Annotation/)."""
    Path("data/bench").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="layouts-", dir="data/bench") as tmp:
        tmp = Path(tmp)
        if args.layouts_demo:  # hard links: the set is only read
            for name in ("Annotation", "all-dogs"):
                shutil.copytree(Path(args.layouts_demo) / name, tmp / name, copy_function=os.link)
        else:
            demo = load_section(DemoConfig, read_params(args.params), "demo")
            write_demo(dataclasses.replace(demo, n_images=args.layouts_photos, n_breeds=args.scale_breeds), tmp,
                       workers=thread_budget())
        for xml in (tmp / "Annotation").glob("*/*"):  # Stanford: Images/n02085620-Chihuahua/n02085620_7.jpg
            (tmp / "Images" / xml.parent.name).mkdir(parents=True, exist_ok=True)
            os.link(tmp / "all-dogs" / f"{xml.name}.jpg", tmp / "Images" / xml.parent.name / f"{xml.name}.jpg")
        layouts = {"Kaggle, folders": (tmp / "Annotation", tmp / "all-dogs"),
                   "Kaggle, zips": (zip_folder(tmp / "Annotation"), zip_folder(tmp / "all-dogs")),
                   "Stanford, folders": (tmp / "Annotation", tmp / "Images"),
                   "Stanford, zips": (tmp / "Annotation.zip", zip_folder(tmp / "Images"))}
        cfg = load_section(CropConfig, read_params(args.params), "crop")
        cfg = dataclasses.replace(cfg, workers=min(cfg.workers or thread_budget(), thread_budget()))
        rows, first = [], None
        for name, (annotations, images) in layouts.items():
            parse_seconds, (boxes, _) = timed(lambda: parse_annotations(annotations, images))
            crop_seconds, (crops, kept, _) = timed(lambda: crop_all(boxes, images, cfg))
            labels = [(r["image_id"], r["object"], r["label"], r["breed"]) for r in kept]
            digest = hashlib.sha256(crops.tobytes() + repr(labels).encode()).hexdigest()
            first = first or digest
            photos = len({r["image_id"] for r in kept})
            rows.append((name, f"{annotations.name}, {images.name}", f"{photos:,}", f"{len(crops):,}",
                         f"{parse_seconds:.1f}", f"{crop_seconds:.1f}", digest[:16], "yes" if digest == first else "NO"))
            print(f"layouts: {name}: {len(crops):,} crops, {digest[:16]}", flush=True)
    same = all(row[-1] == "yes" for row in rows)
    table(f"layouts: one demo set in each layout, parsed and cropped ({cfg.workers} crop workers); "
          f"identical crops and labels: {'yes' if same else 'NO'}",
          ["layout", "read from", "photos cropped", "crops", "parse s", "crop s", "sha256 of crops and labels", "same as the first"],
          rows)


def bench_metrics(args):
    """Feature extraction, FID and the memorization distance at Kaggle's scale."""
    from pytorch_fid.fid_score import calculate_frechet_distance

    images = np.random.default_rng(0).integers(0, 256, (256, 64, 64, 3), dtype=np.uint8)
    rows = []
    for name, net, n in (("rotnet (demo width)", RotNetFeatures(RotNet(16, 128)).eval(), 256),
                         ("inception (random weights)", InceptionFeatures(fid_inception()), 32)):
        extract_features(net, images[:8], batch_size=8)
        seconds, _ = timed(lambda: extract_features(net, images[:n], batch_size=32))
        rows.append((f"features/s, {name}", f"{n / seconds:.0f} images/s", ""))

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3000, 2048)), rng.normal(size=(3000, 2048)) @ rng.normal(size=(2048, 2048)) / 45
    mu1, s1, mu2, s2 = a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)
    ours, fid = timed(lambda: frechet_distance(mu1, s1, mu2, s2), 3)
    theirs, ref = timed(lambda: calculate_frechet_distance(mu1, s1, mu2, s2), 3)
    rows.append(("frechet_distance at 2048-d, ours (eigh)", f"{ours:.2f} s", f"{theirs / ours:.1f}x faster"))
    rows.append(("calculate_frechet_distance, pytorch-fid (sqrtm)", f"{theirs:.2f} s", f"relative difference {abs(fid - ref) / ref:.1e}"))

    gen = rng.standard_normal((10_000, 2048), dtype=np.float32)
    real = rng.standard_normal((22_125, 2048), dtype=np.float32)
    tracemalloc.start()
    seconds, distance = timed(lambda: memorization_distance(gen, real))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rows.append(("memorization distance, 10,000 x 22,125 x 2048 float32", f"{seconds:.1f} s",
                 f"peak extra memory {peak / 2**20:.0f} MiB (inputs {(gen.nbytes + real.nbytes) / 2**20:.0f} MiB)"))
    from doggan.metrics.kid import kernel_inception_distance
    from doggan.metrics.prdc import prdc_equal_sizes

    for dims in (368, 2048):  # rotnet's features, Inception's
        seconds, _ = timed(lambda: kernel_inception_distance(gen[:, :dims], real[:, :dims]))
        rows.append((f"KID, 10,000 x 22,125 x {dims}: 100 subsets of 1,000", f"{seconds:.1f} s", ""))
    tracemalloc.start()
    seconds, _ = timed(lambda: prdc_equal_sizes(real[:, :368], gen[:, :368]))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rows.append(("precision/recall/density/coverage, 10,000 x 10,000 x 368", f"{seconds:.1f} s",
                 f"peak extra memory {peak / 2**20:.0f} MiB"))
    table("metrics", ["what", "time or rate", "note"], rows)


def load_test(url, query, clients, seconds):
    """(requests/s, latencies in s) of `clients` clients sending `query` back to back for `seconds`,
    every request with a new seed."""

    async def run():
        seeds, latencies = iter(range(10**9)), []
        async with httpx2.AsyncClient(base_url=url, timeout=60, limits=httpx2.Limits(max_connections=clients)) as http:
            started = time.perf_counter()
            deadline = started + seconds

            async def client():
                while time.perf_counter() < deadline:
                    sent = time.perf_counter()
                    (await http.get("/api/generate", params={**query, "seed": next(seeds)})).raise_for_status()
                    latencies.append(time.perf_counter() - sent)

            await asyncio.gather(*(client() for _ in range(clients)))
            return len(latencies) / (time.perf_counter() - started), np.array(latencies)

    return asyncio.run(run())


def bodies_sent_at_once(url, queries):
    """The response bodies of `queries`, all sent at the same time."""

    async def run():
        async with httpx2.AsyncClient(base_url=url, timeout=60) as http:
            return [r.content for r in await asyncio.gather(*(http.get("/api/generate", params=q) for q in queries))]

    return asyncio.run(run())


def started_server(models, *options):
    """(process, URL) of `doggan serve` on a free loopback port, in a process of its own: the load
    generator must not share the server's interpreter."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "doggan", "serve", "--models", str(models), "--metrics", str(models),
                               "--port", str(port), *options], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            urllib.request.urlopen(f"{url}/api/variants", timeout=5)
            return server, url
        except OSError:
            if server.poll() is not None:
                raise RuntimeError(f"doggan serve exited with {server.returncode}") from None
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("doggan serve did not start in 60 s")


def bench_serve(args):
    """`doggan serve` under a bounded load on loopback: requests/s and p50/p99 latency at 1, 4 and 16
    concurrent clients, batched (requests packed into the server's passes of 16 images) and one request
    at a time. The generators are built at the demo params, untrained: a pass costs what a trained one's does."""
    params = read_bench_params(args.params)
    loads = [(16, 1), (16, 4), (16, 16), (2, 16)]  # (images per request, clients); n=2 shows where packing pays
    modes = {"batched": (), "one at a time": ("--one-at-a-time",)}
    results, digests = {}, {}
    with tempfile.TemporaryDirectory() as models:
        for variant in args.serve_variants:
            save_generator(Path(models) / variant / "generator.pt", demo_model(variant, params), variant,
                           [f"breed{i}" for i in range(8)], [1] * 8)
        servers = {}
        try:
            for mode, options in modes.items():
                servers[mode] = started_server(models, *options)
            for variant in args.serve_variants:
                for _, url in servers.values():
                    load_test(url, {"variant": variant, "n": 16}, 1, 1.0)  # warm-up
                for n, clients in loads:
                    for mode, (_, url) in servers.items():  # side by side, so that drift on a shared machine hits both
                        results[mode, variant, n, clients] = load_test(url, {"variant": variant, "n": n}, clients,
                                                                       args.serve_seconds)
                queries = [{"variant": variant, "n": 5, "seed": seed} for seed in range(8)]
                for mode, (_, url) in servers.items():
                    digests[mode, variant] = hashlib.sha256(b"".join(bodies_sent_at_once(url, queries))).hexdigest()
        finally:
            for server, _ in servers.values():
                server.terminate()
                server.wait()
    rows = []
    for variant in args.serve_variants:
        for n, clients in loads:
            cells = []
            for mode in modes:
                rate, latencies = results[mode, variant, n, clients]
                cells += [f"{rate:.1f}", *(f"{np.percentile(latencies, q) * 1000:.0f}" for q in (50, 99))]
            ratio = results["batched", variant, n, clients][0] / results["one at a time", variant, n, clients][0]
            rows.append((variant, n, clients, *cells, f"{ratio:.2f}x"))
    same = all(len(set(digests[mode, v] for mode in modes)) == 1 for v in args.serve_variants)
    table(f"serve: doggan serve on loopback, {args.serve_seconds:g} s per row, {thread_budget()} torch threads; "
          f"8 requests sent at once give the same bytes batched and one at a time: {'yes' if same else 'NO'}",
          ["variant", "images per request", "clients", "batched req/s", "p50 ms", "p99 ms",
           "one at a time req/s", "p50 ms", "p99 ms", "batched vs one at a time"], rows)


SECTIONS = {"crop": bench_crop, "train": bench_train, "metrics": bench_metrics, "judge": bench_judge, "compare": bench_compare,
            "drivers": bench_drivers, "serve": bench_serve, "scale": bench_scale,
            "layouts": bench_layouts}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sections", nargs="*", help=f"some of {', '.join(SECTIONS)} (default: all)")
    parser.add_argument("--photos", type=int, default=800, help="demo photos for the crop bench")
    parser.add_argument("--images", help="crop bench on your photos (folder or zip) instead of demo ones")
    parser.add_argument("--annotations", help="with --images: their annotation folder or zip")
    parser.add_argument("--params", default="params.yaml", help="the demo params the train and quality benches use")
    parser.add_argument("--repeat", type=int, default=3, help="timed repeats per train step")
    parser.add_argument("--minutes", type=float, default=2.0, help="compare: training budget per model and seed")
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1], help="compare: seeds")
    parser.add_argument("--fid-samples", type=int, default=2000, help="compare: samples per cheap FID")
    parser.add_argument("--variants", nargs="*", help="compare: only these variants (beside plain_dcgan)")
    parser.add_argument("--drivers-budget", type=float, default=0.25, help="drivers: model.budget of both runs")
    parser.add_argument("--judge-steps", type=int, nargs="*", default=[1400],
                        help="judge: plain_dcgan's training steps at its batch size (32: 1,400 steps, 10 minutes on 2 cores)")
    parser.add_argument("--scale-photos", type=int, nargs="*", default=[600, 5000, REAL_PHOTOS], help="scale: demo sizes")
    parser.add_argument("--scale-breeds", type=int, default=120, help="scale: breeds of every demo set")
    parser.add_argument("--layouts-photos", type=int, default=REAL_PHOTOS, help="layouts: demo photos (of --scale-breeds breeds)")
    parser.add_argument("--layouts-demo", help="layouts: a demo set already drawn (its folder of all-dogs/ and Annotation/)")
    parser.add_argument("--serve-variants", nargs="*", default=["dcgan", "biggan"], help="serve: the variants to load-test")
    parser.add_argument("--serve-seconds", type=float, default=5.0, help="serve: seconds of load per row")
    args = parser.parse_args()
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}")
    OUT.mkdir(parents=True, exist_ok=True)
    for section in args.sections or SECTIONS:
        TABLES.clear()
        SECTIONS[section](args)
        command = " ".join(["python bench/run.py", *sys.argv[1:]])
        for file, tables in TABLES.items():  # a section that skipped (no crops yet) keeps its last files
            (OUT / (file or f"{section}.md")).write_text(
                f"Written by `{command}` ({thread_budget()} usable CPUs).\n\n" + "\n".join(tables))


if __name__ == "__main__":
    main()
