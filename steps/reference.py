"""Stage reference: features, mean and covariance of the real crops under the metric's network,
MiFID's threshold on that network, and the yardsticks every score is read against."""

import argparse
import time

import numpy as np
from tqdm import tqdm

from doggan.cli import record_timing, run
from doggan.config import load_section, lookup, read_params
from doggan.data.dataset import load_crops
from doggan.device import torch_setup
from doggan.io import atomic_path, write_json
from doggan.metrics import statistics
from doggan.metrics.features import MetricConfig, extract_features, feature_network, memorization_eps
from doggan.metrics.yardsticks import yardstick_scores


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--crops", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--featnet", required=True)
    parser.add_argument("--out", required=True, help="reference_<network>.npz")
    parser.add_argument("--yardsticks", required=True, help="json: the yardsticks' scores")
    args = parser.parse_args()
    started = time.perf_counter()
    params = read_params(args.params)
    cfg = load_section(MetricConfig, params, "metric")
    device = torch_setup(params)
    images, _, _ = load_crops(args.crops, args.table)
    crops = images.permute(0, 2, 3, 1).numpy()
    net = feature_network(cfg, args.featnet, device)
    features = extract_features(net, crops, cfg.batch_size, device, progress=lambda it: tqdm(it, desc="reference", unit="batch"))
    mu, sigma = statistics(features)
    eps = memorization_eps(cfg, features)
    with atomic_path(args.out, suffix=".npz") as tmp:
        np.savez(tmp, mu=mu, sigma=sigma, features=features, network=np.array(cfg.network), cosine_eps=np.array(eps))
    yardsticks = yardstick_scores(crops, features, lambda x: extract_features(net, x, cfg.batch_size, device), eps,
                                  lookup(params, "generate.n_images"))
    write_json(args.yardsticks, {"network": cfg.network, "cosine_eps": eps, **yardsticks})
    record_timing("reference", started)
    floor = yardsticks["real_vs_real"]
    print(f"reference: {len(features)} x {features.shape[1]} {cfg.network} features, MiFID eps {eps:.4g}; "
          f"real-vs-real FID {floor['fid']:.2f}, KID {floor['kid']:.4f}")


if __name__ == "__main__":
    run(main)
