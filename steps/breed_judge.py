"""Stage breed_judge: rotnet's net trained to name breeds on the train crops, tested on the held-out crops (its accuracy: the ceiling of every breed score), and the per-breed yardsticks."""

import argparse
import time
from functools import partial

import numpy as np
from tqdm import tqdm

from doggan.cli import record_timing, run
from doggan.config import load_section, read_params
from doggan.data.dataset import load_crops
from doggan.device import torch_setup
from doggan.io import write_json
from doggan.metrics.breeds import JudgeConfig, TOP_K, accuracy, judge_logits, train_judge, yardsticks
from doggan.metrics.features import MetricConfig, extract_features, feature_network
from doggan.metrics.rotnet import save_featnet


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--crops", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--featnet", required=True, help="the pooled score's feature network (per-breed KID)")
    parser.add_argument("--out", required=True, help="breed_judge.pt")
    parser.add_argument("--metrics", required=True, help="json: held-out accuracy (the ceiling) and chance")
    parser.add_argument("--yardsticks", required=True, help="json: the per-breed scores of sets with a known answer")
    args = parser.parse_args()
    started = time.perf_counter()
    params = read_params(args.params)
    cfg, metric = load_section(JudgeConfig, params, "judge"), load_section(MetricConfig, params, "metric")
    device = torch_setup(params)
    train, train_labels, breeds = load_crops(args.crops, args.table, "train")
    heldout, heldout_labels, _ = load_crops(args.crops, args.table, "heldout")
    judge = train_judge(train, train_labels, len(breeds), cfg, device)
    save_featnet(judge, args.out)
    logits = judge_logits(judge, heldout, device)
    features_of = partial(extract_features, feature_network(metric, args.featnet, device),
                          batch_size=metric.batch_size, device=device)
    real_features = features_of(train, progress=lambda it: tqdm(it, desc="breed judge", unit="batch"))
    counts = np.bincount(train_labels.numpy(), minlength=len(breeds))
    result = {"heldout_top1": accuracy(logits, heldout_labels), "heldout_top5": accuracy(logits, heldout_labels, TOP_K),
              "chance_top1": 1 / len(breeds), "n_train": len(train), "n_heldout": len(heldout), "breeds": len(breeds)}
    write_json(args.metrics, result)
    write_json(args.yardsticks, yardsticks(judge, features_of, heldout, heldout_labels, real_features,
                                           train_labels.numpy(), counts, breeds, cfg.seed, device))
    record_timing("breed_judge", started)
    print(f"breed judge: held-out top-1 {result['heldout_top1']:.3f}, top-5 {result['heldout_top5']:.3f} "
          f"({len(heldout)} crops of {len(breeds)} breeds; chance {1 / len(breeds):.3f})")


if __name__ == "__main__":
    run(main)
