"""Stage score@V-S: check the submission as Kaggle did; MiFID, KID and precision/recall/density/coverage
against the reference, and a summary of five of them for `dvc metrics show` and `dvc exp show`."""

import argparse
import time

from doggan.cli import record_timing, run
from doggan.config import load_section, lookup, read_params
from doggan.device import torch_setup
from doggan.io import write_json
from doggan.runs import run_of, stage_name
from doggan.metrics.features import MetricConfig, feature_network
from doggan.score import load_reference, read_submission, score_images

SUMMARY = ("fid", "kid", "precision", "recall", "mifid")  # the few scores DVC shows (the metrics json has them all)


def summary(result):
    """The scores DVC shows, to 4 significant digits: a short header in `dvc metrics show`."""
    return {key: float(f"{result[key]:.4g}") for key in SUMMARY}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--submission", required=True)
    parser.add_argument("--reference", required=True)
    parser.add_argument("--featnet", required=True)
    parser.add_argument("--out", required=True, help="metrics json: every score (the report and doggan serve read it)")
    parser.add_argument("--summary", required=True, help="json of fid, kid, precision, recall and mifid: DVC's metrics")
    args = parser.parse_args()
    started = time.perf_counter()
    params = read_params(args.params)
    cfg = load_section(MetricConfig, params, "metric")
    device = torch_setup(params)
    images = read_submission(args.submission, expected=lookup(params, "generate.n_images"))
    reference = load_reference(args.reference)
    result = score_images(images, reference, feature_network(cfg, args.featnet, device), cfg, device=device)
    write_json(args.out, result)
    write_json(args.summary, summary(result))
    record_timing(stage_name("score", *run_of(args.out)), started)
    print(f"score: FID {result['fid']:.2f}, KID {result['kid']:.4f}, MiFID {result['mifid']:.2f} (d {result['distance']:.4f}, "
          f"eps {result['cosine_eps']:.4g}), precision {result['precision']:.2f}, recall {result['recall']:.2f} "
          f"on {result['network']}")


if __name__ == "__main__":
    run(main)
