"""Precision, recall (Kynkaanniemi et al. 2019), density and coverage (Naeem et al. 2020) on
k-nearest-neighbour balls in feature space, as the `prdc` package computes them.

- precision: share of generated samples inside some real sample's k-NN ball (fidelity);
- recall: share of real samples inside some generated sample's k-NN ball (diversity);
- density: how many real balls hold a generated sample, on average, over k (fidelity, robust
  to real outliers; 1 for samples distributed like the real ones);
- coverage: share of real samples whose ball holds a generated sample (diversity, robust to
  generated outliers).

The distance matrices are built in row blocks, never whole: 10,000 x 22,000 floats would take
GBs. The two sets should have equal sizes (recall and coverage grow with the generated count):
`prdc_equal_sizes` draws the larger one down first.
"""

import numpy as np

NEAREST_K = 5  # Naeem et al.'s recommended k


def _blocks(n, rows):
    return ((start, min(n, start + rows)) for start in range(0, n, rows))


def _distances(x, y, y_sq):
    """Euclidean distances between rows of x and rows of y (float64), as sklearn's formula."""
    d2 = (x * x).sum(axis=1)[:, None] - 2 * x @ y.T + y_sq[None, :]
    return np.sqrt(np.maximum(d2, 0.0))


def kth_neighbour_distances(features, k, block_rows=1024):
    """Distance of each row to its k-th nearest row of the same set (itself not counted, as
    prdc's k + 1-th smallest distance counting itself at 0)."""
    x = np.asarray(features, np.float64)
    sq = (x * x).sum(axis=1)
    radii = np.empty(len(x))
    for start, stop in _blocks(len(x), block_rows):
        d = _distances(x[start:stop], x, sq)
        radii[start:stop] = np.partition(d, k, axis=1)[:, k]
    return radii


def precision_recall_density_coverage(real, gen, k=NEAREST_K, block_rows=1024):
    """{"precision", "recall", "density", "coverage"} of generated features against real ones."""
    real, gen = np.asarray(real, np.float64), np.asarray(gen, np.float64)
    if min(len(real), len(gen)) <= k:
        raise ValueError(f"precision/recall need more than k = {k} rows in each set")
    real_radii, gen_radii = kth_neighbour_distances(real, k, block_rows), kth_neighbour_distances(gen, k, block_rows)
    gen_sq = (gen * gen).sum(axis=1)
    in_real_balls = np.zeros(len(gen), np.int64)  # per generated sample: how many real balls hold it
    recalled, covered = np.zeros(len(real), bool), np.zeros(len(real), bool)
    for start, stop in _blocks(len(real), block_rows):
        d = _distances(real[start:stop], gen, gen_sq)  # (real block, gen)
        inside = d < real_radii[start:stop, None]
        in_real_balls += inside.sum(axis=0)
        covered[start:stop] = d.min(axis=1) < real_radii[start:stop]
        recalled[start:stop] = (d < gen_radii[None, :]).any(axis=1)
    return {"precision": float((in_real_balls > 0).mean()), "recall": float(recalled.mean()),
            "density": float(in_real_balls.mean() / k), "coverage": float(covered.mean())}


def prdc_equal_sizes(real, gen, k=NEAREST_K, seed=0):
    """PRDC with the larger set drawn down (without replacement, seeded) to the smaller one's size."""
    rng = np.random.default_rng(seed)
    n = min(len(real), len(gen))
    real = real[np.sort(rng.choice(len(real), n, replace=False))] if len(real) > n else real
    gen = gen[np.sort(rng.choice(len(gen), n, replace=False))] if len(gen) > n else gen
    return precision_recall_density_coverage(real, gen, k)
