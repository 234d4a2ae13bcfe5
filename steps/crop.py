"""Stage crop: photos + boxes -> crops.npy (N, 64, 64, 3 uint8), crops.csv (breed, label, split), a grid, data quality."""

import argparse
import dataclasses
import json
import time
from collections import Counter

import numpy as np
import pandas as pd
from tqdm import tqdm

from doggan.cli import record_timing, run, thread_budget
from doggan.config import load_section, lookup, read_params
from doggan.data.crops import CropConfig, crop_all, heldout_photos
from doggan.io import atomic_path, save_grid, write_json


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--images", required=True, help="photo folder or zip (data.images)")
    parser.add_argument("--boxes", required=True, help="annotations.csv from the parse stage")
    parser.add_argument("--parse-quality", required=True, help="the parse stage's quality json")
    parser.add_argument("--crops", required=True, help="crops.npy")
    parser.add_argument("--table", required=True, help="crops.csv")
    parser.add_argument("--quality", required=True, help="data_quality.json (parse + crop)")
    parser.add_argument("--figure", required=True, help="grid of crops (png)")
    args = parser.parse_args()
    started = time.perf_counter()
    params = read_params(args.params)
    cfg = load_section(CropConfig, params, "crop")
    cfg = dataclasses.replace(cfg, workers=min(cfg.workers or thread_budget(), thread_budget()))  # same bytes for any count
    strict = lookup(params, "data.strict")
    rows = pd.read_csv(args.boxes).to_dict("records")
    crops, kept, skipped = crop_all(rows, args.images, cfg, strict=bool(strict),
                                    progress=lambda it, total: tqdm(it, total=total, desc="crop", unit="photo"))
    with atomic_path(args.crops, suffix=".npy") as tmp:
        np.save(tmp, crops)
    table = pd.DataFrame(kept, columns=["image_id", "object", "breed", "label"])
    table["split"] = np.where(table["image_id"].isin(heldout_photos(table, cfg.heldout)), "heldout", "train")
    with atomic_path(args.table, suffix=".csv") as tmp:
        table.rename_axis("row").to_csv(tmp)
    save_grid(args.figure, crops[np.linspace(0, len(crops) - 1, min(64, len(crops))).astype(int)])
    quality = json.loads(open(args.parse_quality).read())
    quality["skipped"] += skipped
    quality["crops"] = len(crops)
    quality["skipped_by_reason"] = dict(sorted(Counter(s["kind"] for s in quality["skipped"]).items()))
    write_json(args.quality, quality)
    record_timing("crop", started)
    print(f"crop: {len(crops)} crops ({(table['split'] == 'heldout').sum()} held out), {len(skipped)} skipped here")


if __name__ == "__main__":
    run(main)
