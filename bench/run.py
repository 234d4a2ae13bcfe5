"""Benchmarks: `python bench/run.py [crop|train|metrics ...]` prints one table per section.

Every ratio compares two ways of doing the same work, measured side by side in this one run on
the same inputs; absolute times drift with the machine, ratios much less.
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from doggan.data.annotations import parse_annotations
from doggan.data.crops import FILTERS, CropConfig, _region, crop_all
from doggan.data.demo import BREEDS, DemoConfig, demo_photo, demo_plan

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


def write_demo(root, n_images):
    cfg = DemoConfig(n_images=n_images, n_breeds=12)
    for breed_index, k in demo_plan(cfg):
        image_id, jpeg, xml = demo_photo(cfg, breed_index, k)
        synset, breed, _ = BREEDS[breed_index]
        (root / "all-dogs").mkdir(parents=True, exist_ok=True)
        (root / "all-dogs" / f"{image_id}.jpg").write_bytes(jpeg)
        (root / "Annotation" / f"{synset}-{breed}").mkdir(parents=True, exist_ok=True)
        (root / "Annotation" / f"{synset}-{breed}" / image_id).write_text(xml)
    return root / "Annotation", root / "all-dogs"


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
            annotations, images = write_demo(Path(tmp), args.photos)
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


SECTIONS = {"crop": bench_crop}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sections", nargs="*", help=f"some of {', '.join(SECTIONS)} (default: all)")
    parser.add_argument("--photos", type=int, default=300, help="demo photos for the crop bench")
    parser.add_argument("--images", help="crop bench on your photos (folder or zip) instead of demo ones")
    parser.add_argument("--annotations", help="with --images: their annotation folder or zip")
    args = parser.parse_args()
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}")
    for section in args.sections or SECTIONS:
        SECTIONS[section](args)


if __name__ == "__main__":
    main()
