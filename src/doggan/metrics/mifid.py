"""MiFID exactly as Kaggle's Generative Dog Images scoring computed it.

    d     = mean over generated of min over real of 1 - |cos(f_g, f_r)|   (rows summing to 0 dropped)
    d_thr = d if d < eps else 1
    MiFID = FID / (d_thr + 1e-15)

The cosine matrix is built in chunks of generated rows, so 10,000 x 22,125 x 2048 stays within
a few hundred MB; it is float32, as the features Kaggle's TF graph produced.

eps belongs to a feature space: Kaggle's 0.1 was set for Inception's pool features. On any other
network the threshold comes from the data (`calibrated_eps`): half the distance at which an
unseen real image lies from the reference, so real dogs never count as memorised and copies of
training images always do.
"""

import numpy as np

from doggan.metrics.fid import frechet_distance, statistics


def _unit_rows(features):
    """float32 rows scaled to unit length, rows summing to 0 dropped (one copy, normalised in place)."""
    features = np.asarray(features)
    rows = features[features.sum(axis=1) != 0].astype(np.float32, copy=False)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return rows


def memorization_distance(gen, real, chunk_rows=1024):
    """Mean over generated rows of the min over real rows of 1 - |cosine similarity|.

    Extra memory: the two unit-row copies and one (chunk_rows x len(real)) float32 block.
    """
    g, r = _unit_rows(gen), _unit_rows(real)
    if len(g) == 0 or len(r) == 0:
        raise ValueError("no non-zero feature rows to compare")
    total = 0.0
    for start in range(0, len(g), chunk_rows):
        block = g[start : start + chunk_rows] @ r.T  # BLAS reads r transposed in place: no copy
        np.abs(block, out=block)
        # |cos| <= 1; float32 round-off may overshoot, and a negative distance would flip MiFID's sign
        nearest = np.minimum(block.max(axis=1), 1.0)
        total += float((1.0 - nearest).astype(np.float64).sum())
    return total / len(g)


def unseen_real_distance(real, chunk_rows=1024):
    """The memorization distance an unseen real image gets against `real`, estimated leave-one-out:
    the mean over rows of the min over the *other* rows of 1 - |cosine similarity|."""
    r = _unit_rows(real)
    if len(r) < 2:
        raise ValueError("need two or more non-zero feature rows")
    total = 0.0
    for start in range(0, len(r), chunk_rows):
        block = r[start : start + chunk_rows] @ r.T
        np.abs(block, out=block)
        rows = np.arange(len(block))
        block[rows, start + rows] = -1.0  # an image is not its own neighbour
        total += float((1.0 - np.minimum(block.max(axis=1), 1.0)).astype(np.float64).sum())
    return total / len(r)


EPS_SHARE_OF_UNSEEN = 0.5  # the threshold sits halfway between a copy (0) and an unseen real image


def calibrated_eps(real):
    """MiFID's threshold for a feature space other than Inception's (see the module docstring)."""
    return EPS_SHARE_OF_UNSEEN * unseen_real_distance(real)


def threshold_distance(distance, eps=0.1):
    return distance if distance < eps else 1.0


def mifid_from_features(gen, real, eps=0.1, real_stats=None):
    """fid, distance, distance_thresholded and mifid of generated vs real features.
    `real_stats`: (mu, sigma) of `real` if already computed."""
    mu_r, sigma_r = real_stats if real_stats is not None else statistics(real)
    mu_g, sigma_g = statistics(gen)
    fid = frechet_distance(mu_g, sigma_g, mu_r, sigma_r)
    distance = memorization_distance(gen, real)
    thresholded = threshold_distance(distance, eps)
    return {"fid": fid, "distance": distance, "distance_thresholded": thresholded, "mifid": fid / (thresholded + 1e-15)}
