"""KID and precision/recall/density/coverage against the packages that define them (torch-fidelity,
prdc), and the yardsticks' degradations against what each must keep or destroy."""

import numpy as np
import pytest
import torch
from prdc import compute_prdc
from torch_fidelity.metric_kid import kid_features_to_metric

from doggan.metrics import degrade
from doggan.metrics.kid import default_subset_size, kernel_inception_distance, mmd2_unbiased
from doggan.metrics.prdc import kth_neighbour_distances, precision_recall_density_coverage, prdc_equal_sizes


@pytest.fixture
def features():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(300, 16)).astype(np.float32)
    gen = (rng.normal(size=(250, 16)) * 1.3 + 0.4).astype(np.float32)
    return real, gen


def test_kid_matches_torch_fidelity_subset_for_subset(features):
    real, gen = features
    theirs = kid_features_to_metric(torch.from_numpy(gen), torch.from_numpy(real), kid_subsets=20, kid_subset_size=200,
                                    rng_seed=7, kid_degree=3, kid_gamma=None, kid_coef0=1, verbose=False)
    ours = kernel_inception_distance(gen, real, subsets=20, subset_size=200, seed=7)
    # torch-fidelity sums in float32, we in float64
    assert ours["kid"] == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-5)
    assert ours["kid_std"] == pytest.approx(theirs["kernel_inception_distance_std"], rel=1e-4)


def test_kid_is_unbiased_for_one_distribution_and_fits_its_subsets_to_the_smaller_set():
    rng = np.random.default_rng(1)
    trials = [mmd2_unbiased(rng.normal(size=(40, 8)), rng.normal(size=(40, 8))) for _ in range(300)]
    assert abs(np.mean(trials)) < 3 * np.std(trials) / np.sqrt(len(trials))  # a biased estimate sits above 0
    a, b = rng.normal(size=(120, 8)), rng.normal(size=(900, 8))
    same, shifted = kernel_inception_distance(a, b, subsets=20), kernel_inception_distance(a + 1.0, b, subsets=20)
    assert shifted["kid"] > 10 * abs(same["kid"]) and same["kid_std"] > 0  # subsets of 60 rows: they differ
    assert default_subset_size(10_000, 900) == 450 and default_subset_size(50_000, 22_000) == 1000
    with pytest.raises(ValueError, match="subset size"):
        kernel_inception_distance(a, b, subset_size=500)  # more than the 120 rows of the smaller set


def test_prdc_matches_the_prdc_package_in_small_blocks(features, capsys):
    real, gen = features
    expected = compute_prdc(real, gen, nearest_k=5)
    ours = precision_recall_density_coverage(real, gen, k=5, block_rows=37)
    assert ours == pytest.approx({k: float(v) for k, v in expected.items()}, abs=1e-12)
    assert kth_neighbour_distances(real, 3, block_rows=50) == pytest.approx(
        np.sort(np.linalg.norm(real[:, None] - real[None], axis=2), axis=1)[:, 3], rel=1e-6)


def test_prdc_of_a_set_against_itself_and_against_a_far_set():
    rng = np.random.default_rng(2)
    real = rng.normal(size=(200, 8))
    itself = precision_recall_density_coverage(real, real.copy())
    assert itself["precision"] == itself["recall"] == itself["coverage"] == 1.0
    far = precision_recall_density_coverage(real, real + 100)
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_prdc_equal_sizes_draws_the_larger_set_down():
    rng = np.random.default_rng(3)
    real, gen = rng.normal(size=(100, 4)), rng.normal(size=(1000, 4))
    got = prdc_equal_sizes(real, gen, seed=5)
    pick = np.sort(np.random.default_rng(5).choice(1000, 100, replace=False))
    assert got == precision_recall_density_coverage(real, gen[pick])


def crops(n=6, seed=0):
    """Crops with a shape: a dark square 'dog' on a two-colour background."""
    rng = np.random.default_rng(seed)
    images = np.empty((n, 64, 64, 3), np.uint8)
    images[:, :32], images[:, 32:] = rng.integers(60, 200, (n, 1, 1, 3)), rng.integers(60, 200, (n, 1, 1, 3))
    images[:, 20:44, 16:48] = rng.integers(0, 60, (n, 1, 1, 3))
    return images


def test_hue_rotation_turns_the_colour_wheel_about_the_grey_axis():
    rgb = np.array([[[[200, 40, 10], [128, 128, 128]]]], np.uint8)
    turned = degrade.rotate_hue(rgb, np.random.default_rng(0), low=120, high=120)
    assert turned[0, 0, 0].tolist() == [10, 200, 40]  # a third of the wheel: R -> G -> B
    assert turned[0, 0, 1].tolist() == [128, 128, 128]  # grey stays
    full = degrade.hue_rotation_matrix(360)
    assert np.allclose(full, np.eye(3))
    assert np.allclose(degrade.hue_rotation_matrix(77).sum(axis=1), 1)  # brightness (R + G + B) kept


def test_shuffled_tiles_keep_every_tile_and_lose_the_layout():
    images = crops()
    shuffled = degrade.shuffle_tiles(images, np.random.default_rng(0), tile=16)

    def tiles(x):
        return sorted(x[r : r + 16, c : c + 16].tobytes() for r in range(0, 64, 16) for c in range(0, 64, 16))

    for before, after in zip(images, shuffled):
        assert tiles(before) == tiles(after)
    assert (shuffled != images).any(axis=(1, 2, 3)).all()
    assert (degrade.shuffle_tiles(images, np.random.default_rng(0), tile=64) == images).all()


def test_flat_colour_keeps_each_crops_colour_statistics_and_no_shape():
    images = crops()
    flat = degrade.flat_colour(images, np.random.default_rng(0)).astype(float)
    assert np.allclose(flat.mean(axis=(1, 2)), images.mean(axis=(1, 2)), atol=4)  # clipping to 0..255 moves it a little
    assert np.allclose(flat.std(axis=(1, 2)), images.std(axis=(1, 2)), rtol=0.1, atol=2)
    def halves_differ(x):  # the top half's mean colour against the bottom half's
        return np.abs(x[:, :32].astype(float).mean(axis=(1, 2)) - x[:, 32:].mean(axis=(1, 2))).max(axis=1)

    assert (halves_differ(flat) < 8).all() and (halves_differ(images) > 20).all()  # the two-colour background is gone


def test_blur_keeps_the_mean_and_a_heavy_one_erases_the_square():
    images = crops()
    mild, heavy = degrade.gaussian_blur(images, 1.0), degrade.gaussian_blur(images, 6.0)
    assert np.allclose(mild.mean(axis=(1, 2)), images.mean(axis=(1, 2)), atol=1)
    edge = lambda x: np.abs(np.diff(x.astype(float), axis=2)).max()  # noqa: E731
    assert edge(heavy) < 0.2 * edge(images) < edge(mild)
