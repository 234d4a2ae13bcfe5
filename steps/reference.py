"""Stage reference: features, mean and covariance of the real crops under the metric's network,
and the sanity scores (real vs real, memoriser, noise) every MiFID is read against."""

import argparse
import time

import numpy as np
from tqdm import tqdm

from doggan.cli import record_timing, run, set_threads
from doggan.config import load_section, lookup, read_params
from doggan.data.dataset import load_crops
from doggan.io import atomic_path, write_json
from doggan.metrics import statistics
from doggan.metrics.features import MetricConfig, extract_features, feature_network
from doggan.metrics.sanity import sanity_scores


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--crops", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--featnet", required=True)
    parser.add_argument("--out", required=True, help="reference_<network>.npz")
    parser.add_argument("--sanity", required=True, help="json: real-vs-real, memoriser and noise scores")
    args = parser.parse_args()
    started = time.perf_counter()
    params = read_params(args.params)
    cfg = load_section(MetricConfig, params, "metric")
    set_threads()
    images, _, _ = load_crops(args.crops, args.table)
    net = feature_network(cfg, args.featnet)
    features = extract_features(net, images, cfg.batch_size, progress=lambda it: tqdm(it, desc="reference", unit="batch"))
    mu, sigma = statistics(features)
    with atomic_path(args.out, suffix=".npz") as tmp:
        np.savez(tmp, mu=mu, sigma=sigma, features=features, network=np.array(cfg.network))
    sanity = sanity_scores(features, net, lookup(params, "generate.n_images"), cfg.cosine_eps, cfg.batch_size)
    write_json(args.sanity, {"network": cfg.network, **sanity})
    record_timing("reference", started)
    print(f"reference: {len(features)} x {features.shape[1]} {cfg.network} features; real-vs-real FID "
          f"{sanity['real_vs_real']['fid']:.1f}, d {sanity['real_vs_real']['distance']:.3f}")


if __name__ == "__main__":
    run(main)
