"""A run is one variant trained with one seed. Its files sit where the variant's would, one level
down: models/<variant>/seed<N>/generator.pt, reports/metrics/<variant>/seed<N>.json, and so on;
its stages are DVC's matrix names, train@<variant>-<N>."""

import argparse
import re
from pathlib import Path

from doggan.errors import ParamError, UserError

SEED_DIR = re.compile(r"seed(\d+)")


def run_path(variant, seed):
    """'dcgan/seed0': the part of every path of a run that names it."""
    return f"{variant}/seed{seed}"


def stage_name(kind, variant, seed):
    """'train@dcgan-0': DVC's name of a matrix stage over (variant, seed)."""
    return f"{kind}@{variant}-{seed}"


def run_of(path):
    """(variant, seed) of a run's file: models/dcgan/seed0/generator.pt or reports/metrics/dcgan/seed0.json."""
    parts = Path(path).with_suffix("").parts
    for i in range(len(parts) - 1, 0, -1):
        match = SEED_DIR.fullmatch(parts[i])
        if match:
            return parts[i - 1], int(match.group(1))
    raise UserError(f"{path}: not a run's file (expected .../<variant>/seed<N>...)")


def check_seeds(seeds, key="seeds"):
    """The training seeds: a non-empty list of distinct non-negative integers."""
    if not isinstance(seeds, list) or not seeds:
        raise ParamError(f"{key}: expected a list of training seeds such as [0, 1, 2], got {seeds!r}")
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ParamError(f"{key}: expected non-negative integers, got {seed!r}")
    if len(set(seeds)) < len(seeds):
        raise ParamError(f"{key}: a seed appears twice in {seeds}")
    return seeds


def trained_seeds(models, variant):
    """The seeds of `variant` with a generator under `models`, in order."""
    return sorted(int(m.group(1)) for p in Path(models, variant).glob("seed*/generator.pt")
                  if (m := SEED_DIR.fullmatch(p.parent.name)))


def pick_seed(models, variant, seed=None):
    """`seed` if `variant` was trained with it (the first trained seed when None), else a one-line
    error naming the seeds there are."""
    seeds, folder = trained_seeds(models, variant), Path(models, variant)
    if not seeds:
        raise UserError(f"{folder}: no trained generator (no seed<N>/generator.pt)")
    if seed is None:
        return seeds[0]
    if seed not in seeds:
        raise UserError(f"{folder}: no generator of training seed {seed} (seeds there: {', '.join(map(str, seeds))})")
    return seed


def seed_arg(text):
    """argparse type of a training seed on a step's command line."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return int(text)
