"""Stage generate@V-S: a Kaggle submission (images.zip of 64x64 PNGs) and sample grids."""

import argparse
import time
from dataclasses import asdict

import numpy as np
from tqdm import tqdm

from doggan.cli import record_timing, run
from doggan.config import load_section, read_params
from doggan.device import torch_setup
from doggan.generate import GenerateConfig, breeds_in_figure, draw_submission, load_generator, sample, write_submission
from doggan.io import save_grid, write_json
from doggan.runs import run_of, stage_name


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--generator", required=True)
    parser.add_argument("--out", required=True, help="images.zip")
    parser.add_argument("--figure", required=True, help="grid of samples (png)")
    parser.add_argument("--breed-figure", required=True, help="grid with one row per breed (png)")
    parser.add_argument("--record", required=True, help="json: how the submission was made, and how long it took")
    args = parser.parse_args()
    started = time.perf_counter()
    params = read_params(args.params)
    cfg = load_section(GenerateConfig, params, "generate")
    device = torch_setup(params)
    generator, payload = load_generator(args.generator, device)
    images = draw_submission(generator, payload, cfg, device=device,
                             progress=lambda passes: tqdm(passes, desc="generate", unit="batch"))
    write_submission(args.out, images)
    save_grid(args.figure, images[:64])
    # one row per breed shown; an unconditional variant ignores the label, so its rows are just more samples
    shown = breeds_in_figure(len(payload["breeds"]))
    save_grid(args.breed_figure, sample(generator, payload, np.repeat(shown, 8), cfg.truncation, cfg.seed + 1,
                                             device=device), columns=8)
    write_json(args.record, {**asdict(cfg), "breeds_in_figure": [payload["breeds"][i] for i in shown],
                             "breeds": len(payload["breeds"])})
    record_timing(stage_name("generate", *run_of(args.generator)), started)
    print(f"generate: {len(images)} images -> {args.out}")


if __name__ == "__main__":
    run(main)
