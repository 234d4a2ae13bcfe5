"""Stage breeds@V-S: does the run draw the breeds? The breed judge's coverage of its submission, and for conditional variants breed accuracy, per-breed KID and memorisation of samples drawn breed by breed, and the classification accuracy score."""

import argparse
import time
from functools import partial

import numpy as np
import torch

from doggan.cli import record_timing, run
from doggan.config import load_section, lookup, read_params
from doggan.data.dataset import load_crops
from doggan.device import torch_setup
from doggan.generate import GenerateConfig, is_conditional, load_generator, sample
from doggan.io import save_grid, write_json
from doggan.metrics.breeds import JudgeConfig, classification_accuracy_score, judge_samples, nearest, summary
from doggan.metrics.features import MetricConfig, extract_features, feature_network
from doggan.metrics.rotnet import load_featnet
from doggan.runs import run_of, stage_name
from doggan.score import read_submission

NEIGHBOURS = 16  # samples shown with their 3 nearest train crops


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--generator", required=True)
    parser.add_argument("--submission", required=True)
    parser.add_argument("--crops", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--featnet", required=True, help="the pooled score's feature network")
    parser.add_argument("--judge", required=True, help="breed_judge.pt")
    parser.add_argument("--out", required=True, help="json: every per-breed score")
    parser.add_argument("--summary", required=True, help="json: breed accuracy, KID, CAS and coverage: DVC's metrics")
    parser.add_argument("--figure", required=True, help="png: samples beside their nearest train crops")
    args = parser.parse_args()
    started = time.perf_counter()
    params = read_params(args.params)
    cfg, metric = load_section(JudgeConfig, params, "judge"), load_section(MetricConfig, params, "metric")
    gen_cfg = load_section(GenerateConfig, params, "generate")
    device = torch_setup(params)
    variant, seed = run_of(args.generator)
    generator, payload = load_generator(args.generator, device, variant)
    train, train_labels, breeds = load_crops(args.crops, args.table, "train")
    heldout, heldout_labels, _ = load_crops(args.crops, args.table, "heldout")
    judge = load_featnet(args.judge, device)
    features_of = partial(extract_features, feature_network(metric, args.featnet, device),
                          batch_size=metric.batch_size, device=device)
    real = features_of(train)
    submitted = torch.from_numpy(read_submission(args.submission, lookup(params, "generate.n_images"))).permute(0, 3, 1, 2)
    asked = labels = None
    if is_conditional(payload):  # every breed, samples_per_breed each, latents from generate.seed
        labels = np.repeat(np.arange(len(breeds)), cfg.samples_per_breed)
        asked = torch.from_numpy(sample(generator, payload, labels, gen_cfg.truncation, gen_cfg.seed, gen_cfg.batch_size,
                                        device)).permute(0, 3, 1, 2)
    counts = np.bincount(train_labels.numpy(), minlength=len(breeds))
    scores = judge_samples(judge, features_of, submitted, real, train_labels.numpy(), counts, breeds, asked, labels, device)
    if asked is not None:  # as many generated images as the judge had real ones, in the train split's breed mix
        mix = np.concatenate([np.full(c, b) for b, c in enumerate(counts)])
        drawn = torch.from_numpy(sample(generator, payload, mix, gen_cfg.truncation, gen_cfg.seed + 1, gen_cfg.batch_size,
                                        device))
        scores["cas"] = classification_accuracy_score(drawn.permute(0, 3, 1, 2), mix, heldout, heldout_labels,
                                                      len(breeds), cfg, device)
    shown = submitted[:NEIGHBOURS]
    closest = nearest(features_of(shown), real)
    save_grid(args.figure, np.concatenate([[img, *train[row].numpy()] for img, row in zip(shown.numpy(), closest)])
              .transpose(0, 2, 3, 1), columns=1 + closest.shape[1])
    write_json(args.out, {"variant": variant, "training_seed": seed, "conditional": asked is not None, **scores})
    write_json(args.summary, summary(scores))
    record_timing(stage_name("breeds", variant, seed), started)
    print(f"breeds {variant}, seed {seed}: " + ", ".join(f"{k} {v:.3g}" for k, v in summary(scores).items()))


if __name__ == "__main__":
    run(main)
