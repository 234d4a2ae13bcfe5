"""Crop every annotated dog to a small square, fast: each photo is decoded once, with JPEG
DCT-domain downscaling (PIL draft mode) when its boxes are much larger than the output, and
photos are spread over worker processes. Output order is (image_id, object), whatever the
worker count, so the cache is byte-identical across runs and input forms."""

import io
import math
import multiprocessing
import warnings
import zlib
from dataclasses import dataclass
from itertools import groupby

import numpy as np
from PIL import Image

from doggan.config import option
from doggan.data.sources import PHOTO_MAX_BYTES, Reader, photo_entries
from doggan.errors import DataError
from doggan.parallel import ordered_map

FILTERS = {"lanczos": Image.Resampling.LANCZOS, "bicubic": Image.Resampling.BICUBIC,
           "bilinear": Image.Resampling.BILINEAR, "box": Image.Resampling.BOX}


@dataclass(frozen=True)
class CropConfig:
    size: int        = option("output side in pixels", low=8, high=1024)
    margin: float    = option("grow each box side by this fraction of its size", low=0.0, high=1.0)
    mode: str        = option("square_pad: square around the box, edges replicated; "
                              "center: largest square inside the box; stretch: box resized ignoring aspect",
                              choices=("square_pad", "center", "stretch"))
    filter: str      = option("resize filter (FID is sensitive to it)", choices=tuple(FILTERS))
    min_size: int    = option("skip boxes whose shorter side is below this many pixels", low=1)
    min_aspect: float = option("skip boxes with height/width below this (1st place used 0.2)", low=0.0, low_open=True)
    max_aspect: float = option("skip boxes with height/width above this (1st place used 4)", low=0.0, low_open=True)
    draft: bool      = option("decode JPEGs at 1/2, 1/4 or 1/8 scale when boxes allow")
    workers: int     = option("parallel processes (0: all cores)", low=0)
    heldout: float   = option("share of each breed's photos whose crops no network trains on: the held-out crops "
                              "the breed judge is tested on (crops.csv `split`)", low=0.0, high=0.5)


def heldout_photos(table, fraction):
    """The image_ids whose crops no network trains on: `fraction` of each breed's photos, rounded,
    at least one of a breed with two or more, drawn with a seed of the breed's name, so the same photos
    whatever the table's order or its other breeds. A photo goes whole: its dogs look alike."""
    chosen = set()
    for breed, ids in table.groupby("breed")["image_id"]:
        photos = sorted(set(ids))
        count = min(len(photos) - 1, max(1, round(fraction * len(photos)))) if fraction > 0 and len(photos) > 1 else 0
        rng = np.random.default_rng(zlib.crc32(str(breed).encode()))
        chosen.update(photos[i] for i in rng.permutation(len(photos))[:count])
    return chosen


def box_filter_reason(row, cfg):
    """(kind, reason) why a box is unusable for training, or None if it is fine."""
    w, h = row["xmax"] - row["xmin"], row["ymax"] - row["ymin"]
    if min(w, h) < cfg.min_size:
        return "box below crop.min_size", f"box {w}x{h} smaller than crop.min_size {cfg.min_size}"
    if not cfg.min_aspect <= h / w <= cfg.max_aspect:
        return "box aspect out of range", f"box aspect h/w {h / w:.2f} outside [{cfg.min_aspect}, {cfg.max_aspect}]"
    return None


def _region(box, cfg):
    """The (x0, y0, x1, y1) float region to take from the photo for one box."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    x0, y0, x1, y1 = x0 - cfg.margin * w, y0 - cfg.margin * h, x1 + cfg.margin * w, y1 + cfg.margin * h
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    if cfg.mode == "stretch":
        return x0, y0, x1, y1
    side = max(x1 - x0, y1 - y0) if cfg.mode == "square_pad" else min(x1 - x0, y1 - y0)
    return cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2


def _draft_scale(regions, cfg):
    """Largest JPEG DCT scale (1, 2, 4, 8) that keeps every region at least the output size.

    libjpeg's scaled IDCT is itself a low-pass downscale, so Lanczos is left a final step of at
    most 2x: on demo photos the crops differ from full decoding by ~1/255 on average, and the
    resize, which dominates the stage, gets up to 4x fewer input pixels.
    """
    smallest = min(min(r[2] - r[0], r[3] - r[1]) for r in regions)
    scale = 1
    while scale < 8 and smallest / (scale * 2) >= cfg.size:
        scale *= 2
    return scale


def crop_photo(data, boxes, cfg, where="photo"):
    """Crops (len(boxes), size, size, 3) uint8 from one photo's bytes; DataError if it can't be decoded."""
    if not data:
        raise DataError(f"{where}: empty file", "empty photo")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            width, height = img.size
            regions = [_region(b, cfg) for b in boxes]
            if cfg.draft and img.format == "JPEG":
                scale = _draft_scale(regions, cfg)
                if scale > 1:
                    img.draft("RGB", (math.ceil(width / scale), math.ceil(height / scale)))
            img.load()
            img = img.convert("RGB")  # grayscale, CMYK, palette and RGBA photos are dogs too
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise DataError(f"{where}: unreadable image ({exc})", "unreadable photo") from None
    sx, sy = img.width / width, img.height / height
    out = np.empty((len(boxes), cfg.size, cfg.size, 3), np.uint8)
    for i, (x0, y0, x1, y1) in enumerate(regions):
        x0, x1, y0, y1 = round(x0 * sx), round(x1 * sx), round(y0 * sy), round(y1 * sy)
        if cfg.mode == "center":  # keep the square inside the photo by shifting it
            x0, x1 = _shift_inside(x0, x1, img.width)
            y0, y1 = _shift_inside(y0, y1, img.height)
        cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, img.width), min(y1, img.height)
        if cx1 <= cx0 or cy1 <= cy0:
            raise DataError(f"{where}: box {boxes[i]} lies outside the {width}x{height} photo", "box outside photo")
        patch = img.crop((cx0, cy0, cx1, cy1))
        if (cx0, cy0, cx1, cy1) != (x0, y0, x1, y1):  # replicated edges look like photo, black bars don't
            pad = ((cy0 - y0, y1 - cy1), (cx0 - x0, x1 - cx1), (0, 0))
            patch = Image.fromarray(np.pad(np.asarray(patch), pad, mode="edge"))
        out[i] = np.asarray(patch.resize((cfg.size, cfg.size), FILTERS[cfg.filter]))
    return out


def _shift_inside(a, b, limit):
    if b - a >= limit:
        return 0, limit
    if a < 0:
        return 0, b - a
    if b > limit:
        return a - (b - limit), limit
    return a, b


_reader = None


def _init_worker(images_source):
    global _reader
    _reader = Reader(images_source)


def _crop_job(job):
    entry, boxes, cfg = job
    try:
        return crop_photo(_reader.read(entry, PHOTO_MAX_BYTES), boxes, cfg, entry.name), None
    except DataError as exc:
        return None, {"file": entry.name, "kind": exc.kind, "reason": str(exc).removeprefix(f"{entry.name}: ")}


def crop_all(rows, images_source, cfg, strict=False, progress=None):
    """Crop every usable box. Returns (crops array, kept rows, skipped records).

    rows: annotation rows (dicts with image_id, object, xmin..ymax, label, breed).
    progress: optional callable wrapping an iterable (e.g. tqdm) for long runs.
    """
    photos = photo_entries(images_source)
    skipped, usable = [], []
    for row in sorted(rows, key=lambda r: (r["image_id"], r["object"])):
        problem = box_filter_reason(row, cfg)
        if problem:
            skipped.append({"file": f"{row['image_id']}#{row['object']}", "kind": problem[0], "reason": problem[1]})
        else:
            usable.append(row)
    if strict and skipped:
        raise DataError(f"{skipped[0]['file']}: {skipped[0]['reason']}", skipped[0]["kind"])
    groups = [(photos[k], list(g)) for k, g in groupby(usable, key=lambda r: r["image_id"])]
    jobs = [(entry, [(r["xmin"], r["ymin"], r["xmax"], r["ymax"]) for r in g], cfg) for entry, g in groups]
    workers = cfg.workers or multiprocessing.cpu_count()
    results = ordered_map(_crop_job, jobs, workers, _init_worker, (images_source,))
    results = list(progress(results, total=len(jobs)) if progress else results)
    chunks, kept = [], []
    for (entry, group), (crops, error) in zip(groups, results):
        if error is not None:
            if strict:
                raise DataError(f"{error['file']}: {error['reason']}", error["kind"])
            skipped.append(error)
            continue
        chunks.append(crops)
        kept.extend(group)
    crops = np.concatenate(chunks) if chunks else np.empty((0, cfg.size, cfg.size, 3), np.uint8)
    return crops, kept, skipped
