"""The data stages, crop and parse: `python bench/data.py [crop|layouts]`.

crop     crops/s of the crop stage beside the competition notebooks' loop, on demo photos (or --images)
layouts  one demo set in Kaggle's and Stanford's layouts, folders and zips: parsed and cropped, the same bytes
"""

import dataclasses
import hashlib
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from doggan.cli import thread_budget
from doggan.config import load_section, read_params
from doggan.data.annotations import parse_annotations
from doggan.data.crops import FILTERS, CropConfig, _region, crop_all
from doggan.data.demo import DemoConfig, write_demo

from common import REAL_PHOTOS, main, shared, table, timed


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


SECTIONS = {"crop": bench_crop, "layouts": bench_layouts}


def add_options(parser):
    shared(parser, "--params", "--scale-breeds")
    parser.add_argument("--photos", type=int, default=800, help="demo photos for the crop bench")
    parser.add_argument("--images", help="crop bench on your photos (folder or zip) instead of demo ones")
    parser.add_argument("--annotations", help="with --images: their annotation folder or zip")
    parser.add_argument("--layouts-photos", type=int, default=REAL_PHOTOS, help="layouts: demo photos (of --scale-breeds breeds)")
    parser.add_argument("--layouts-demo", help="layouts: a demo set already drawn (its folder of all-dogs/ and Annotation/)")


if __name__ == "__main__":
    main(__doc__, SECTIONS, add_options)
