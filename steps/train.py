"""Stage train@V-S: train one variant with training seed S on the crops (resumable), log through DVCLive, save generator.pt."""

import argparse
import hashlib
import json
import math
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from dvclive import Live

import doggan
from doggan.cli import record_timing, run
from doggan.config import load_merged, read_params
from doggan.data.dataset import load_crops
from doggan.device import describe, torch_setup
from doggan.generate import save_generator
from doggan.imports import closure, variant_file
from doggan.metrics.features import RotNetFeatures
from doggan.metrics.rotnet import load_featnet
from doggan.models import variant_module
from doggan.runs import seed_arg, stage_name
from doggan.training.loop import checkpoint_step, train
from doggan.training.monitor import CheapFID


def fingerprint(variant, cfg, seed, data_files, device):
    """Everything that decides the run's bytes: the variant's resolved params, the seed, the crops and
    their labels, the source of every module the run imports, the device and the thread count
    (doggan.device.describe). A checkpoint resumes only under the same, so an edit of the code or the
    labels after a kill starts the run over instead of finishing a generator of two versions."""
    src = Path(doggan.__file__).parents[1]  # the doggan that runs (the installed one, or PYTHONPATH's)
    modules = {variant_file(variant, src), *closure(__file__, variant_file(variant, src), src=src)}
    digest = lambda path: hashlib.sha256(Path(path).read_bytes()).hexdigest()  # noqa: E731
    sources = {"steps/train.py": digest(__file__), **{str(Path(m).relative_to(src)): digest(m) for m in modules}}
    parts = [variant, asdict(cfg), seed, [digest(path) for path in data_files], sources, describe(device)]
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--variant", required=True)
    parser.add_argument("--seed", type=seed_arg, required=True, help="training seed (one of params.yaml's seeds)")
    parser.add_argument("--crops", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--featnet", required=True, help="rotnet for the cheap FID during training")
    parser.add_argument("--out", required=True, help="generator.pt")
    parser.add_argument("--live", required=True, help="DVCLive folder")
    args = parser.parse_args()
    started = time.perf_counter()
    params = read_params(args.params)
    module = variant_module(args.variant)
    cfg = load_merged(module.Config, params, "model", f"variants.{args.variant}").with_budget()
    seed = args.seed
    device = torch_setup(params)
    images, labels, breeds = load_crops(args.crops, args.table, "train")  # the held-out crops only judge
    torch.manual_seed(seed)
    model = module.Model(cfg, len(breeds))
    checkpoint = Path(args.out).with_name("checkpoint.pt")
    print_ = fingerprint(args.variant, cfg, seed, [args.crops, args.table], device)
    resumed = checkpoint_step(checkpoint, print_)
    if resumed >= cfg.steps:  # finished, so the stage reran for a param this variant does not read:
        checkpoint.unlink()  # train again (same bytes) rather than leave DVCLive's logs empty
        resumed = 0
    if resumed:  # a killed or requeued job's log says where its rerun picked up
        print(f"train {args.variant}: resuming from step {resumed} of {cfg.steps}", flush=True)
    monitor = CheapFID(RotNetFeatures(load_featnet(args.featnet, device)), images, labels, cfg.fid_samples, device)
    with Live(args.live, resume=resumed > 0, dvcyaml=None, save_dvc_exp=False, report=None) as live:
        live.log_params(asdict(cfg))  # the resolved config: model: with variants.<V> on top

        def on_log(step, metrics):
            live.step = step
            for name, value in metrics.items():
                live.log_metric(f"train/{name}", value)

        def evaluate(step):
            live.step = step
            fid = monitor(model)
            live.log_metric("fid_rotnet", fid)
            return fid

        result = train(model, images, labels, seed=seed, checkpoint_path=checkpoint, fingerprint=print_,
                       device=device, on_log=on_log, evaluate=evaluate)
        live.summary["kept_step"] = result.best_step
        if math.isfinite(result.best_fid):
            live.summary["kept_fid_rotnet"] = round(result.best_fid, 2)
    counts = np.bincount(labels.numpy(), minlength=len(breeds))
    save_generator(args.out, model.cpu(), args.variant, breeds, counts)
    record_timing(stage_name("train", args.variant, seed), started, train_seconds=round(result.seconds, 1),
                  images_per_second=round(cfg.steps * cfg.batch_size / max(result.seconds, 1e-9), 1),
                  seconds_at_fid=result.curve)  # [step, training seconds before it]: FID against minutes
    print(f"train {args.variant}, seed {seed}: {result.seconds:.0f} s, kept step {result.best_step} (cheap FID {result.best_fid:.1f})")


if __name__ == "__main__":
    run(main)
