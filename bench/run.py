"""Benchmarks: `python bench/run.py [crop|train|metrics ...]` prints one table per section.

Every ratio compares two ways of doing the same work, measured side by side in this one run on
the same inputs; absolute times drift with the machine, ratios much less.
"""

import argparse
import dataclasses
import json
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.flop_counter import FlopCounterMode

from doggan.config import load_merged, read_params
from doggan.data.annotations import parse_annotations
from doggan.data.crops import FILTERS, CropConfig, _region, crop_all
from doggan.data.dataset import load_crops
from doggan.data.demo import DemoConfig, write_demo
from doggan.generate import class_labels, sample
from doggan.metrics import frechet_distance, memorization_distance
from doggan.metrics.breednet import BreedNet
from doggan.metrics.features import BreedNetFeatures, InceptionFeatures, MetricConfig, extract_features, feature_network, fid_inception
from doggan.models import VARIANTS, variant_module
from doggan.models.progan import RESOLUTIONS, schedule
from doggan.score import load_reference, score_images
from doggan.training.loop import train

REAL_PHOTOS = 20_579  # Kaggle's all-dogs


def table(title, header, rows):
    print(f"\n### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")


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
            write_demo(DemoConfig(n_images=args.photos, n_breeds=12), tmp)
            annotations, images = Path(tmp) / "Annotation", Path(tmp) / "all-dogs"
        rows, quality = parse_annotations(annotations, images)
        n_photos = len({r["image_id"] for r in rows})
        short_sides = np.array([min(r["xmax"] - r["xmin"], r["ymax"] - r["ymin"]) for r in rows])
        print(f"\n{n_photos} photos, {len(rows)} boxes from {images}; box short side median "
              f"{np.median(short_sides):.0f} px, {np.mean(short_sides >= 256):.0%} at least 256 px "
              f"(real Stanford Dogs: median 246 px, 45%)")
        base = CropConfig(min_size=1, min_aspect=1e-3, max_aspect=1e3)
        ways = [("naive loop (open per box, full decode, 1 process)", lambda: naive_crops(rows, images, base)),
                ("stage, 1 worker, no draft", lambda: crop_all(rows, images, CropConfig(**{**vars(base), "workers": 1, "draft": False}))[0]),
                ("stage, 1 worker, draft", lambda: crop_all(rows, images, CropConfig(**{**vars(base), "workers": 1}))[0]),
                ("stage, 2 workers, draft (default)", lambda: crop_all(rows, images, CropConfig(**{**vars(base), "workers": 2}))[0])]
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
    params = read_params(args.params)
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


def bench_quality(args):
    """MiFID per variant at an equal wall-clock training budget, 2 seeds, on the demo crops.

    Each variant's demo schedule (epochs; progan's resolution_epochs) is scaled so its training
    takes about --minutes, using the time its `dvc repro` run took (reports/train/V/metrics.json).
    """
    needed = ["data/interim/crops.npy", "models/featnet.pt", "data/interim/reference_breednet.npz",
              *(f"reports/train/{v}/metrics.json" for v in args.variants or VARIANTS)]
    missing = [path for path in needed if not Path(path).is_file()]
    if missing:
        print(f"\n### quality: skipped, it needs a finished `dvc repro` with metric.network breednet (missing {missing[0]})")
        return
    params = read_params(args.params)
    images, labels, breeds = load_crops("data/interim/crops.npy", "data/interim/crops.csv")
    metric = dataclasses.replace(MetricConfig(), network="breednet")
    features = feature_network(metric, "models/featnet.pt")
    reference = load_reference("data/interim/reference_breednet.npz")
    counts = np.bincount(labels.numpy(), minlength=len(breeds))
    rows = []
    for variant in args.variants or VARIANTS:
        seconds_demo = json.loads(Path(f"reports/train/{variant}/metrics.json").read_text())["train_seconds"]
        factor = args.minutes * 60 / seconds_demo
        module = variant_module(variant)
        cfg = load_merged(module.Config, params, "model", f"variants.{variant}")
        if variant == "progan":
            cfg = dataclasses.replace(cfg, resolution_epochs=[max(1, round(e * factor)) for e in cfg.resolution_epochs])
        else:
            cfg = dataclasses.replace(cfg, epochs=max(1, round(cfg.epochs * factor)))
        scores = []
        for seed in (0, 1):
            torch.manual_seed(seed)
            model = module.Model(cfg, len(breeds))
            with tempfile.TemporaryDirectory() as tmp:
                took = train(model, images, labels, seed=seed, checkpoint_path=Path(tmp) / "c.pt", fingerprint="bench")
            payload = {"config": dataclasses.asdict(cfg)}
            chosen = class_labels(10_000, counts, "uniform", seed)
            generated = sample(model.sampler().eval(), payload, chosen, seed=seed)
            result = score_images(generated, reference, features, metric)
            scores.append((took, result))
        mifids = [r["mifid"] for _, r in scores]
        rows.append((variant, cfg.epochs, f"{np.mean([t for t, _ in scores]) / 60:.1f}",
                     " / ".join(f"{r['fid']:.1f}" for _, r in scores), " / ".join(f"{r['distance']:.3f}" for _, r in scores),
                     " / ".join(f"{m:.0f}" for m in mifids), f"{np.mean(mifids):.0f}"))
    table(f"quality: about {args.minutes} min of training each, seeds 0 / 1, 10,000 samples, breednet features",
          ["variant", "epochs", "minutes", "FID", "distance", "MiFID", "mean MiFID"], rows)


def bench_metrics(args):
    """Feature extraction, FID and the memorization distance at Kaggle's scale."""
    from pytorch_fid.fid_score import calculate_frechet_distance

    images = np.random.default_rng(0).integers(0, 256, (256, 64, 64, 3), dtype=np.uint8)
    rows = []
    for name, net, n in (("breednet (demo width)", BreedNetFeatures(BreedNet(8, 16, 128)).eval(), 256),
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
    table("metrics", ["what", "time or rate", "note"], rows)


SECTIONS = {"crop": bench_crop, "train": bench_train, "metrics": bench_metrics, "quality": bench_quality}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sections", nargs="*", help=f"some of {', '.join(SECTIONS)} (default: all)")
    parser.add_argument("--photos", type=int, default=800, help="demo photos for the crop bench")
    parser.add_argument("--images", help="crop bench on your photos (folder or zip) instead of demo ones")
    parser.add_argument("--annotations", help="with --images: their annotation folder or zip")
    parser.add_argument("--params", default="params.yaml", help="the demo params the train and quality benches use")
    parser.add_argument("--repeat", type=int, default=3, help="timed repeats per train step")
    parser.add_argument("--minutes", type=float, default=2.0, help="training budget per variant and seed (quality)")
    parser.add_argument("--variants", nargs="*", help="quality: only these variants")
    args = parser.parse_args()
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}")
    for section in args.sections or SECTIONS:
        SECTIONS[section](args)


if __name__ == "__main__":
    main()
