"""Every variant's scores over its training seeds, and which differences between variants that
spread supports.

The rule: A beats B on a score when every training seed of A scores better than every seed of B,
and that ordering would be rare by chance. Under no difference each of the C(m+n, m) orderings of
m seeds against n is equally likely, so A's m values all on the better side has probability
p = 1 / C(m+n, m) (the exact one-sided Mann-Whitney test at U = 0). A verdict needs p <= 0.05:
3 seeds against 3 give p = 1/20; 2 against 2 (p = 1/6) can never give one. Everything else is
"not distinguishable at these seeds". Beside it: the spread of the first seed's generator drawn
again (another generate.seed), which says how much of the spread over seeds is sampling alone.
"""

import math
from dataclasses import dataclass
from itertools import permutations

import numpy as np

from doggan.config import option

KEYS = ("fid", "kid", "precision", "recall", "density", "coverage", "mifid",  # the score stage's
        "breed_top1", "breed_top5", "breed_kid", "cas_top1", "breeds_drawn", "breed_kl")  # the breeds stage's
LOWER_IS_BETTER = ("fid", "kid", "mifid", "breed_kid", "breed_kl")
ALPHA = 0.05
RULE = ("A beats B when every training seed of A scores better than every seed of B and p = 1/C(m+n, m) <= 0.05 "
        "(the exact one-sided Mann-Whitney test at U = 0; 3 seeds against 3: p = 0.05); else not distinguishable")


@dataclass(frozen=True)
class AggregateConfig:
    resamples: int = option("extra draws of the first seed's generator (stage resample): the spread of the scores "
                            "that sampling alone makes (0: none)", low=0)


def spread(values):
    """n, mean, sample std (None for one value), min, max and the values themselves."""
    values = [float(v) for v in values]
    return {"n": len(values), "mean": float(np.mean(values)),
            "std": float(np.std(values, ddof=1)) if len(values) > 1 else None,
            "min": min(values), "max": max(values), "values": values}


def separation_p(m, n):
    """The chance that m values all land on one chosen side of n others when nothing differs."""
    return 1 / math.comb(m + n, m)


def beats(a, b, key="fid"):
    """True when scores `a` (one per seed) are better than `b` by RULE."""
    better = (max(a) < min(b)) if key in LOWER_IS_BETTER else (min(a) > max(b))
    return bool(a and b) and better and separation_p(len(a), len(b)) <= ALPHA


def aggregate(runs, resampled=None, key="fid"):
    """runs: {variant: {seed: metrics dict}}; resampled: {variant: [metrics dict of each extra draw of
    its first seed]}. Returns each variant's spread of every score over its seeds, the resampling
    spread, and the verdicts on `key` by RULE, best mean first."""
    resampled = resampled or {}
    variants = {}
    for variant, by_seed in runs.items():
        seeds = list(by_seed)
        entry = {"seeds": seeds, **{k: spread([by_seed[s][k] for s in seeds]) for k in KEYS if all(k in by_seed[s] for s in seeds)}}
        draws = resampled.get(variant) or []
        if draws:  # the first seed's own submission is one draw of its generator too
            entry["resampled"] = {k: spread([by_seed[seeds[0]][k], *(d[k] for d in draws)]) for k in KEYS
                                  if k in by_seed[seeds[0]] and all(k in d for d in draws)}
        variants[variant] = entry
    sign = 1 if key in LOWER_IS_BETTER else -1
    ranking = sorted(variants, key=lambda v: sign * variants[v][key]["mean"])
    values = {v: variants[v][key]["values"] for v in ranking}
    verdicts = [{"better": a, "worse": b, "p": separation_p(len(values[a]), len(values[b]))}
                for a, b in permutations(ranking, 2) if beats(values[a], values[b], key)]
    return {"rule": RULE, "key": key, "ranking": ranking, "variants": variants, "verdicts": verdicts}


def compact(result):
    """{variant: {fid_mean, fid_std, seeds}}: what `dvc metrics show` and `dvc exp show` print."""
    key = result["key"]
    return {v: {f"{key}_mean": float(f"{e[key]['mean']:.4g}"),
                f"{key}_std": None if e[key]["std"] is None else float(f"{e[key]['std']:.2g}"), "seeds": len(e["seeds"])}
            for v, e in result["variants"].items()}
