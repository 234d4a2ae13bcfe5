"""Stage resample@V: the first training seed's generator drawn again, aggregate.resamples times, with
generate.seed + n_images, + 2 n_images, ... (a submission's passes take the seeds from generate.seed up,
so no latent is drawn twice); each draw scored as the submission was. The spread of these scores is
what sampling alone makes, to set beside the spread over training seeds (stage aggregate)."""

import argparse
import dataclasses
import time

from tqdm import tqdm

from doggan.cli import record_timing, run
from doggan.config import load_section, read_params
from doggan.device import torch_setup
from doggan.generate import GenerateConfig, draw_submission, load_generator
from doggan.io import write_json
from doggan.metrics.features import MetricConfig, feature_network
from doggan.metrics.spread import AggregateConfig
from doggan.runs import run_of
from doggan.score import load_reference, score_images


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--generator", required=True, help="models/<variant>/seed<N>/generator.pt of the first seed")
    parser.add_argument("--reference", required=True)
    parser.add_argument("--featnet", required=True)
    parser.add_argument("--out", required=True, help="json: the scores of every extra draw")
    args = parser.parse_args()
    started = time.perf_counter()
    params = read_params(args.params)
    cfg, metric = load_section(GenerateConfig, params, "generate"), load_section(MetricConfig, params, "metric")
    resamples = load_section(AggregateConfig, params, "aggregate").resamples
    device = torch_setup(params)
    variant, seed = run_of(args.generator)
    draws = []
    if resamples:  # else nothing to load
        generator, payload = load_generator(args.generator, device, variant)
        reference, net = load_reference(args.reference), feature_network(metric, args.featnet, device)
    for k in tqdm(range(1, resamples + 1), desc=f"resample {variant}", unit="draw"):
        draw_seed = cfg.seed + k * cfg.n_images
        images = draw_submission(generator, payload, cfg, draw_seed, device)
        draws.append({"generate_seed": draw_seed, **score_images(images, reference, net, metric, device=device)})
    write_json(args.out, {"variant": variant, "training_seed": seed, "draws": draws,
                          "generate": dataclasses.asdict(cfg)})
    record_timing(f"resample@{variant}", started)
    print(f"resample {variant}, seed {seed}: FID " + (", ".join(f"{d['fid']:.2f}" for d in draws) or "(no draws)"))


if __name__ == "__main__":
    run(main)
