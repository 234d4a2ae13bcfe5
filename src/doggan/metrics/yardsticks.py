"""The yardsticks every score is read against: image sets with a known answer, scored exactly
like a submission on the same feature network.

One half of the crops (chosen by the seed) is made into each set and scored against the other
half, so every set has the same sizes and none holds the reference's own images:

    floor            real vs real: the half as it is; what a perfect generator reaches at this size
    shape kept       mild blur, hues turned: a person still sees every dog
    shape destroyed  heavy blur, 16-px tiles shuffled, flat colour plus noise: each crop's colours
                     and textures, no dog
    noise            uniform noise

A judge fit to rank generators scores floor < every shape kept < every shape destroyed < noise.
The memoriser (training crops resubmitted, Kaggle-sized, against all crops) is the case MiFID's
penalty must catch.
"""

from dataclasses import dataclass
from typing import Callable

import numpy as np

from doggan.metrics import degrade, statistics
from doggan.metrics.judge import score_features

KINDS = ("floor", "shape kept", "shape destroyed", "noise", "memoriser")
MILD_BLUR, HEAVY_BLUR, TILE = 1.0, 4.0, 16  # pixels, at 64 x 64


@dataclass(frozen=True)
class Yardstick:
    name: str
    kind: str
    label: str
    make: Callable  # (crops uint8 (N, 64, 64, 3), numpy Generator) -> images of the same shape


YARDSTICKS = (
    Yardstick("real_vs_real", "floor", "real crops, one half against the other", lambda a, rng: a),
    Yardstick("mild_blur", "shape kept", f"real crops blurred (Gaussian, sigma {MILD_BLUR:g} px)",
              lambda a, rng: degrade.gaussian_blur(a, MILD_BLUR)),
    Yardstick("hue_rotated", "shape kept", "real crops with their hues turned 90-270 degrees", degrade.rotate_hue),
    Yardstick("heavy_blur", "shape destroyed", f"real crops blurred (Gaussian, sigma {HEAVY_BLUR:g} px)",
              lambda a, rng: degrade.gaussian_blur(a, HEAVY_BLUR)),
    Yardstick("tiles_shuffled", "shape destroyed", f"real crops cut into {TILE}-px tiles, shuffled",
              lambda a, rng: degrade.shuffle_tiles(a, rng, TILE)),
    Yardstick("flat_colour", "shape destroyed", "each crop's mean colour and spread, as noise", degrade.flat_colour),
    Yardstick("noise", "noise", "uniform noise", lambda a, rng: degrade.uniform_noise(len(a), rng)),
)


def halves(n, seed=0):
    """Two disjoint sorted index sets splitting range(n) at random."""
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[: n // 2]), np.sort(order[n // 2 :])


def yardstick_scores(crops, features, extract, eps, n_images, seed=0):
    """{name: {"kind": ..., "label": ..., scores}} for every yardstick and the memoriser.

    crops: uint8 (N, 64, 64, 3); features: their features on the judged network; extract(images)
    -> features of new images; eps: that network's MiFID threshold; n_images: the memoriser's size.
    """
    rng = np.random.default_rng(seed)
    made, reference = halves(len(crops), seed)
    real, real_stats = features[reference], statistics(features[reference])
    out = {}
    for y in YARDSTICKS:
        gen = features[made] if y.name == "real_vs_real" else extract(y.make(crops[made], rng))
        out[y.name] = {"kind": y.kind, "label": y.label, **score_features(gen, real, eps, real_stats, seed)}
    memorised = features[rng.integers(0, len(crops), n_images)]
    out["memorizer"] = {"kind": "memoriser", "label": "training crops resubmitted, against all crops",
                        **score_features(memorised, features, eps, seed=seed)}
    return out
