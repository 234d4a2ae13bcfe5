"""FID and MiFID against independent references: pytorch-fid and a direct transcription of
Kaggle's public scoring formulas (dense, unchunked numpy)."""

import numpy as np
import torch
import pytest
from pytorch_fid.fid_score import calculate_frechet_distance

from doggan.metrics import frechet_distance, memorization_distance, mifid_from_features, statistics


def kaggle_cosine_distance(features1, features2):
    """Kaggle's cosine_distance, dense."""
    f1 = features1[np.sum(features1, axis=1) != 0]
    f2 = features2[np.sum(features2, axis=1) != 0]
    f1 = f1 / np.linalg.norm(f1, axis=1, keepdims=True)
    f2 = f2 / np.linalg.norm(f2, axis=1, keepdims=True)
    return np.mean(np.min(1.0 - np.abs(f1 @ f2.T), axis=1))


@pytest.fixture
def features():
    rng = np.random.default_rng(0)
    mix = rng.normal(size=(64, 64))
    real = rng.normal(size=(500, 64)) @ mix
    gen = rng.normal(0.3, 1.1, size=(400, 64)) @ mix
    return gen, real


def test_frechet_distance_matches_pytorch_fid(features):
    gen, real = features
    mine = frechet_distance(*statistics(gen), *statistics(real))
    reference = calculate_frechet_distance(*statistics(gen), *statistics(real))
    assert mine == pytest.approx(reference, rel=1e-6)


def test_frechet_distance_is_real_and_finite_with_fewer_samples_than_dimensions():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(20, 128)), rng.normal(1.0, 1.0, size=(20, 128))
    value = frechet_distance(*statistics(a), *statistics(b))
    assert np.isfinite(value) and value > 0
    scale = 2 * np.trace(statistics(a)[1])
    assert abs(frechet_distance(*statistics(a), *statistics(a))) < 1e-6 * scale


def test_memorization_distance_matches_kaggle_formula_with_chunks_and_zero_rows(features):
    gen, real = features
    gen, real = gen.copy(), real.copy()
    gen[:3] = 0  # rows summing to zero are dropped from both sets
    real[5] = 0
    expected = kaggle_cosine_distance(gen, real)
    assert memorization_distance(gen, real, chunk_rows=7) == pytest.approx(expected, rel=1e-5)


def test_mifid_thresholds_and_divides_as_kaggle(features):
    gen, real = features
    far = mifid_from_features(gen, real, eps=1e-9)
    assert far["distance_thresholded"] == 1.0 and far["mifid"] == pytest.approx(far["fid"])
    near = mifid_from_features(gen, real, eps=1.0)
    assert near["distance_thresholded"] == near["distance"]
    assert near["mifid"] == pytest.approx(near["fid"] / (near["distance"] + 1e-15))


def test_memorizer_is_penalized_and_noise_scores_badly(features):
    _, real = features
    copies = mifid_from_features(real[:200] * 1.0001, real)
    assert copies["distance"] < 0.1 and copies["mifid"] > 100 * max(copies["fid"], 1e-3)
    noise = mifid_from_features(np.random.default_rng(2).normal(size=(200, 64)) * 50, real)
    half = mifid_from_features(real[:250], real[250:])
    assert half["fid"] < noise["fid"]


def test_our_inception_forward_equals_pytorch_fids_module_on_the_same_weights(monkeypatch):
    import torchvision
    from pytorch_fid import inception as pfi

    from doggan.metrics.features import InceptionFeatures, fid_inception

    torch.manual_seed(0)  # random weights with the layout of the FID Inception checkpoint
    weights = torchvision.models.inception_v3(weights=None, aux_logits=False, num_classes=1008, init_weights=True).state_dict()
    ours = InceptionFeatures(fid_inception(weights))
    monkeypatch.setattr(pfi, "load_state_dict_from_url", lambda *a, **k: weights)
    reference = pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()  # pytorch-fid's own defaults
    images = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        expected = reference((images + 1) / 2)[0].flatten(1)
        got = ours(images)
    assert got.shape == (2, 2048)
    assert torch.allclose(got, expected, rtol=1e-5, atol=1e-6) and expected.abs().sum() > 0
