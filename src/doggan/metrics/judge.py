"""Every score of a set of generated features against the real ones, on one feature network:

- fid, distance, distance_thresholded, mifid: MiFID as Kaggle computed it (mifid.py), with the
  threshold eps of that network;
- kid, kid_std: Kernel Inception Distance, unbiased, with its spread over subsets (kid.py);
- precision, recall, density, coverage: k-NN manifold scores on equal-size sets (prdc.py).
"""

from doggan.metrics.kid import kernel_inception_distance
from doggan.metrics.mifid import mifid_from_features
from doggan.metrics.prdc import prdc_equal_sizes


def score_features(gen, real, eps, real_stats=None, seed=0):
    """One flat dict of scores; `real_stats`: (mu, sigma) of `real` if already computed."""
    scores = mifid_from_features(gen, real, eps, real_stats)
    scores["cosine_eps"] = eps
    scores.update(kernel_inception_distance(gen, real, seed=seed))
    scores.update(prdc_equal_sizes(real, gen, seed=seed))
    return scores
