"""Stage reference: features, mean and covariance of the real crops under the metric's network."""

import argparse

import numpy as np
from tqdm import tqdm

from doggan.cli import run, set_threads
from doggan.config import load_section, read_params
from doggan.data.dataset import load_crops
from doggan.io import atomic_path
from doggan.metrics import statistics
from doggan.metrics.features import MetricConfig, extract_features, feature_network


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--crops", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--featnet", required=True)
    parser.add_argument("--out", required=True, help="reference_<network>.npz")
    args = parser.parse_args()
    cfg = load_section(MetricConfig, read_params(args.params), "metric")
    set_threads()
    images, _, _ = load_crops(args.crops, args.table)
    net = feature_network(cfg, args.featnet)
    features = extract_features(net, images, cfg.batch_size, progress=lambda it: tqdm(it, desc="reference", unit="batch"))
    mu, sigma = statistics(features)
    with atomic_path(args.out, suffix=".npz") as tmp:
        np.savez(tmp, mu=mu, sigma=sigma, features=features, network=np.array(cfg.network))
    print(f"reference: {len(features)} x {features.shape[1]} {cfg.network} features")


if __name__ == "__main__":
    run(main)
