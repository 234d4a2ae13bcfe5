"""Per-breed judging: each metric against numbers worked out independently, and the yardsticks
ranking as they must on a judge and features that know the breeds."""

import math

import numpy as np
import pytest
import torch
from torch_fidelity.metric_kid import kid_features_to_metric

from doggan.metrics.breeds import (accuracy, breed_accuracy, coverage, judge_samples, nearest, per_breed_kid, summary,
                                   yardsticks)

BREEDS = ["pug", "Chihuahua", "Maltese_dog", "beagle", "basset", "papillon", "toy_terrier", "Afghan_hound"]


def test_accuracy_counts_the_label_among_the_top_k():
    logits = torch.tensor([[3.0, 2.0, 1.0, 0.0], [0.0, 1.0, 3.0, 2.0], [1.0, 0.0, 2.0, 3.0]])
    labels = torch.tensor([0, 3, 1])
    assert accuracy(logits, labels) == pytest.approx(1 / 3)
    assert accuracy(logits, labels, k=2) == pytest.approx(2 / 3)
    assert accuracy(logits, labels, k=9) == 1.0  # k above the classes: every label is among them
    result = breed_accuracy(logits, labels, ["a", "b", "c", "d"])
    assert result["per_breed"] == {"a": {"top1": 1.0, "top5": 1.0, "mistaken_for": None, "mistaken_share": 0.0},
                                   "b": {"top1": 0.0, "top5": 1.0, "mistaken_for": "d", "mistaken_share": 1.0},
                                   "d": {"top1": 0.0, "top5": 1.0, "mistaken_for": "c", "mistaken_share": 1.0}}


def test_the_breed_a_breed_is_mistaken_for_is_the_judges_most_frequent_wrong_name():
    # five samples asked as breed 0: named 0, 2, 2, 3, 0; breed 1's two samples named 1
    named = torch.tensor([0, 2, 2, 3, 0, 1, 1])
    logits = torch.nn.functional.one_hot(named, 4).float()
    result = breed_accuracy(logits, torch.tensor([0, 0, 0, 0, 0, 1, 1]), ["a", "b", "c", "d"])["per_breed"]
    assert result["a"]["top1"] == pytest.approx(0.4)
    assert result["a"]["mistaken_for"] == "c" and result["a"]["mistaken_share"] == pytest.approx(0.4)
    assert result["b"]["mistaken_for"] is None and result["b"]["mistaken_share"] == 0.0


def test_coverage_catches_a_quarter_of_the_breeds_and_reads_the_data_mix_as_full():
    data = [100] * 8
    full = coverage(np.repeat(np.arange(8), 50), data)
    assert full == {"drawn": 1.0, "kl": pytest.approx(0.0)}
    quarter = coverage(np.repeat([0, 1], 200), data)
    assert quarter["drawn"] == 0.25 and quarter["kl"] == pytest.approx(math.log(4))
    # a breed the judge finds less than half as often as the data holds it is not drawn
    assert coverage(np.concatenate([np.repeat(np.arange(8), 50), np.full(300, 0)]), data)["drawn"] == 1.0
    assert coverage(np.concatenate([np.repeat(np.arange(7), 40), np.full(15, 7)]), data)["drawn"] == 7 / 8


def test_per_breed_kid_is_torch_fidelitys_kid_on_each_breeds_own_rows():
    rng = np.random.default_rng(0)
    gen, real = rng.normal(size=(60, 6)).astype(np.float32), rng.normal(size=(90, 6)).astype(np.float32)
    gen_labels, real_labels = np.repeat([0, 1, 2], 20), np.repeat([0, 1, 2], 30)
    gen[gen_labels == 2] += 1.5  # breed 2 drawn off its place
    ours = per_breed_kid(gen, gen_labels, real, real_labels, ["a", "b", "c"], seed=3)
    for b, name in enumerate(["a", "b", "c"]):
        theirs = kid_features_to_metric(torch.from_numpy(gen[gen_labels == b]), torch.from_numpy(real[real_labels == b]),
                                        kid_subsets=100, kid_subset_size=10, rng_seed=3, kid_degree=3, kid_gamma=None,
                                        kid_coef0=1, verbose=False)
        assert ours["per_breed"][name]["kid"] == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-4)
    assert ours["worst"][0] == "c" and ours["mean"] == pytest.approx(np.mean([v["kid"] for v in ours["per_breed"].values()]))


def test_nearest_finds_the_closest_rows_by_absolute_cosine():
    real = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.1], [0.7, 0.7]])
    gen = np.array([[2.0, 0.05], [0.1, -3.0]])
    assert nearest(gen, real, k=2).tolist() == [[0, 2], [1, 3]]  # |cos|: a turned-round copy is as close


class ClusterJudge(torch.nn.Module):
    """A judge that knows the breeds: it reads the breed off an image's mean colour, as the data draws them."""

    def __init__(self, centres):
        super().__init__()
        self.centres = centres
        self.head = torch.nn.Sequential(torch.nn.Linear(1, len(centres)))

    def forward(self, x):  # x in [-1, 1]
        return -torch.cdist(x.mean(dim=(2, 3)), self.centres)


def breed_images(labels, centres, rng):
    """uint8 (N, 3, 8, 8) images of each breed's colour, with noise."""
    base = ((centres[labels] + 1) * 127.5).numpy()[:, :, None, None]
    return torch.from_numpy(np.clip(base + rng.normal(0, 12, (len(labels), 3, 8, 8)), 0, 255).astype(np.uint8))


def test_the_yardsticks_rank_as_they_must():
    """Real held-out crops: accuracy and coverage full, per-breed KID near 0; their breeds shuffled:
    accuracy near chance, KID far higher, coverage still full; a quarter of the breeds: coverage caught."""
    rng = np.random.default_rng(0)
    centres = torch.tensor(rng.uniform(-0.8, 0.8, (8, 3)), dtype=torch.float32)
    train_labels, heldout_labels = np.repeat(np.arange(8), 40), np.repeat(np.arange(8), 12)
    train, heldout = breed_images(train_labels, centres, rng), breed_images(heldout_labels, centres, rng)

    def features_of(images):
        return images.float().mean(dim=(2, 3)).numpy() / 255 + rng.normal(0, 0.001, (len(images), 3))

    judged = yardsticks(ClusterJudge(centres), features_of, heldout, heldout_labels, features_of(train), train_labels,
                        np.bincount(train_labels), BREEDS)
    real, shuffled, quarter = (summary(judged[k]) for k in ("real", "shuffled", "quarter"))
    assert real["breed_top1"] > 0.95 and shuffled["breed_top1"] < 0.35
    assert shuffled["breed_kid"] > 20 * max(real["breed_kid"], 1e-6)
    assert real["breeds_drawn"] == shuffled["breeds_drawn"] == 1.0 and real["breed_kl"] < 0.05
    assert quarter["breeds_drawn"] == 0.25 and quarter["breed_kl"] == pytest.approx(math.log(4), abs=0.05)
    unconditional = judge_samples(ClusterJudge(centres), features_of, heldout, features_of(train), train_labels,
                                  np.bincount(train_labels), BREEDS)
    assert set(summary(unconditional)) == {"breeds_drawn", "breed_kl"}
