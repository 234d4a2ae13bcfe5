"""Stage aggregate: every variant's scores (pooled and per breed) over its training seeds (mean, std, min-max, each seed's),
the resampling spread of its first seed, and the verdicts that spread supports (doggan.metrics.spread)."""

import argparse
from pathlib import Path

from doggan.cli import run
from doggan.config import load_section, lookup, read_params
from doggan.errors import UserError
from doggan.io import read_json, write_json
from doggan.metrics.spread import AggregateConfig, aggregate, compact
from doggan.runs import check_seeds, run_path


def read_scores(path):
    try:
        return read_json(path)
    except FileNotFoundError:
        raise UserError(f"{path}: not found (its score stage has not run)") from None


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--metrics", default="reports/metrics", help="folder of <variant>/seed<N>.json scores")
    parser.add_argument("--breeds", default="reports/breed_summary", help="folder of <variant>/seed<N>.json breed scores")
    parser.add_argument("--resampled", default="reports/resample", help="folder of <variant>.json extra draws")
    parser.add_argument("--out", required=True, help="json: every score's spread, and the verdicts")
    parser.add_argument("--summary", required=True, help="json of FID mean and std per variant: DVC's metrics")
    args = parser.parse_args()
    params = read_params(args.params)
    cfg = load_section(AggregateConfig, params, "aggregate")
    seeds, variants = check_seeds(lookup(params, "seeds")), lookup(params, "variants")
    runs = {v: {s: read_scores(Path(args.metrics) / f"{run_path(v, s)}.json")
                   | read_scores(Path(args.breeds) / f"{run_path(v, s)}.json") for s in seeds} for v in variants}
    resampled = {v: read_scores(Path(args.resampled) / f"{v}.json")["draws"] for v in variants} if cfg.resamples else {}
    result = aggregate(runs, resampled)
    write_json(args.out, result)
    write_json(args.summary, compact(result))
    for v in result["ranking"]:
        fid = result["variants"][v]["fid"]
        print(f"aggregate: {v} FID {fid['mean']:.2f}" + (f" ± {fid['std']:.2f}" if fid["std"] is not None else "")
              + f" over {fid['n']} seed(s)")
    print(f"aggregate: {len(result['verdicts'])} verdict(s) by the rule: {result['rule']}")


if __name__ == "__main__":
    run(main)
