"""Kernel Inception Distance (Binkowski et al. 2018), as torch-fidelity computes it.

KID is the unbiased estimate of the squared MMD between two feature sets under the cubic
polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over random subsets of equal size, with
the spread over subsets. Unlike FID it has no bias from a small sample, so a 900-crop reference
and 10,000 generated images give the same expected value as any other sizes.
"""

import numpy as np

SUBSETS, MAX_SUBSET_SIZE = 100, 1000  # torch-fidelity's defaults


def polynomial_kernel(x, y, degree=3, coef0=1.0):
    return (x @ y.T / x.shape[1] + coef0) ** degree


def mmd2_unbiased(x, y):
    """Unbiased squared MMD of two equal-size samples under the polynomial kernel: the off-diagonal
    means of K_xx and K_yy, less twice the mean of K_xy."""
    m = len(x)
    k_xx, k_yy, k_xy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2 * k_xy.sum() / (m * m))


def default_subset_size(n_gen, n_real):
    """torch-fidelity's 1000, or half the smaller set where that has fewer than 2000 rows, so that
    subsets differ and their spread says how much the estimate moves (a 900-crop reference: 450)."""
    return max(2, min(MAX_SUBSET_SIZE, min(n_gen, n_real) // 2))


def kernel_inception_distance(gen, real, subsets=SUBSETS, subset_size=None, seed=0):
    """{"kid": mean, "kid_std": spread} over `subsets` random subsets of `subset_size` rows
    (default_subset_size). Subsets are drawn in torch-fidelity's order (numpy RandomState:
    generated rows, then real rows), so the same seed and size give its numbers."""
    gen, real = np.asarray(gen, np.float64), np.asarray(real, np.float64)
    size = subset_size or default_subset_size(len(gen), len(real))
    if size < 2 or size > min(len(gen), len(real)):
        raise ValueError(f"KID subset size {size} needs 2 to {min(len(gen), len(real))} rows in each set")
    rng = np.random.RandomState(seed)
    mmds = np.empty(subsets)
    for i in range(subsets):
        g = gen[rng.choice(len(gen), size, replace=False)]
        r = real[rng.choice(len(real), size, replace=False)]
        mmds[i] = mmd2_unbiased(g, r)
    return {"kid": float(mmds.mean()), "kid_std": float(mmds.std())}
