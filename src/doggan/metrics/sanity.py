"""The yardsticks a MiFID needs beside it, on the same feature network and reference:

- real vs real: two random halves of the crops scored against each other, the floor a perfect
  generator would reach with this many images (FID is biased upwards for small samples);
- memoriser: training crops resubmitted (drawn with replacement to a Kaggle-sized set), which
  MiFID must punish: distance 0, so MiFID far above FID;
- noise: uniform random images, which any generator should beat by far.
"""

import numpy as np

from doggan.metrics.features import extract_features
from doggan.metrics.mifid import mifid_from_features


def sanity_scores(real_features, feature_net, n_images, eps, batch_size=200, seed=0):
    """{case: mifid_from_features result} for real_vs_real, memorizer and noise."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(real_features))
    half_a, half_b = real_features[order[: len(order) // 2]], real_features[order[len(order) // 2 :]]
    memorized = real_features[rng.integers(0, len(real_features), n_images)]
    noise = rng.integers(0, 256, (min(n_images, 2000), 64, 64, 3), dtype=np.uint8)
    noise_features = extract_features(feature_net, noise, batch_size)
    return {
        "real_vs_real": mifid_from_features(half_a, half_b, eps),
        "memorizer": mifid_from_features(memorized, real_features, eps),
        "noise": mifid_from_features(noise_features, real_features, eps),
    }
