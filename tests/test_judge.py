"""The judge: MiFID's threshold calibrated on the data, the yardsticks, and the ordering a person
would give them, on the demo data with the shipped params."""

import dataclasses

import numpy as np
import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_post_hook

from conftest import PARAMS, section_config
from doggan.config import lookup
from doggan.data.annotations import parse_annotations
from doggan.data.crops import CropConfig, crop_all
from doggan.data.demo import DemoConfig, write_demo
from doggan.metrics import memorization_distance, mifid_from_features
from doggan.metrics.features import extract_features
from doggan.metrics.mifid import calibrated_eps, unseen_real_distance
from doggan.metrics.rotnet import FeatnetConfig, RotNet, train_featnet, turned
from doggan.metrics.yardsticks import KINDS, YARDSTICKS, yardstick_scores


def test_unseen_real_distance_leaves_each_row_out():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(50, 8)).astype(np.float32)
    unit = real / np.linalg.norm(real, axis=1, keepdims=True)
    distance = 1 - np.abs(unit @ unit.T)
    np.fill_diagonal(distance, np.inf)
    assert unseen_real_distance(real, chunk_rows=7) == pytest.approx(distance.min(axis=1).mean(), rel=1e-5)


def test_calibrated_eps_lets_unseen_real_images_pass_and_catches_copies():
    rng = np.random.default_rng(1)
    mix = rng.normal(size=(16, 16))
    real, unseen = rng.normal(size=(800, 16)) @ mix, rng.normal(size=(400, 16)) @ mix
    eps = calibrated_eps(real)
    assert memorization_distance(unseen, real) > eps  # fresh draws of the same distribution: not memorised
    assert mifid_from_features(unseen, real, eps)["distance_thresholded"] == 1.0
    copies = real[rng.integers(0, len(real), 400)] + 1e-3 * rng.normal(size=(400, 16))
    assert mifid_from_features(copies, real, eps)["distance_thresholded"] < eps  # penalised


def test_rotnet_turns_each_image_by_its_own_quarter_turns():
    x = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).reshape(2, 3, 4, 4)
    out = turned(x, torch.tensor([1, 3]))
    assert torch.equal(out[0], torch.rot90(x[0], 1, dims=(1, 2))) and torch.equal(out[1], torch.rot90(x[1], 3, dims=(1, 2)))


def test_featnet_runs_its_epochs_up_to_max_steps_and_a_cap_above_them_changes_nothing():
    images = torch.randint(0, 256, (20, 3, 64, 64), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    cfg = section_config(FeatnetConfig, "featnet", epochs=3, batch_size=4, val_fraction=0.0, width=4, features=8)
    steps = []
    hook = register_optimizer_step_post_hook(lambda *_: steps.append(1))
    try:
        runs = {cap: train_featnet(images, dataclasses.replace(cfg, max_steps=cap)) for cap in (7, 15, 100)}
    finally:
        hook.remove()
    assert len(steps) == 7 + 15 + 15 and [m["steps"] for _, m in runs.values()] == [7, 15, 15]
    weights = {cap: net.state_dict() for cap, (net, _) in runs.items()}
    assert all(torch.equal(weights[15][k], weights[100][k]) for k in weights[15])
    assert not all(torch.equal(weights[7][k], weights[15][k]) for k in weights[7])


def test_rotnet_features_are_its_parts_at_unit_total_variance():
    torch.manual_seed(0)
    net = RotNet(width=4, features=8).eval()
    images = torch.randint(0, 256, (40, 3, 64, 64), dtype=torch.uint8)
    from doggan.metrics.rotnet import fit_part_scales

    fit_part_scales(net, images)
    features = extract_features(net.features, images.permute(0, 2, 3, 1).numpy(), batch_size=16).astype(np.float64)
    widths = [4, 8, 16, 32, 8]  # the four blocks' channels, then the penultimate layer
    bounds = np.cumsum([0, *widths])
    for start, stop in zip(bounds[:-1], bounds[1:]):
        assert features[:, start:stop].var(axis=0, ddof=1).sum() == pytest.approx(1.0, rel=1e-3)


def smooth_crops(n, seed):
    """Stand-ins for crops: a dark blob on a two-colour background, in smooth muted colours."""
    rng = np.random.default_rng(seed)
    images = np.empty((n, 64, 64, 3), np.uint8)
    images[:, :36], images[:, 36:] = rng.integers(100, 220, (n, 1, 1, 3)), rng.integers(40, 140, (n, 1, 1, 3))
    for i, (top, left) in enumerate(rng.integers(12, 28, (n, 2))):
        images[i, top : top + 24, left : left + 20] = rng.integers(0, 90, 3)
    return images


def test_yardsticks_score_every_case_and_catch_the_memoriser():
    pool = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(4), torch.nn.Flatten())
    net = lambda x: torch.cat([pool(x), pool(x * x)], 1)  # noqa: E731  (96 fixed features: local mean and energy)
    crops = smooth_crops(300, 0)
    features = extract_features(net, crops)
    scores = yardstick_scores(crops, features, lambda x: extract_features(net, x), calibrated_eps(features), n_images=500)
    assert list(scores) == [y.name for y in YARDSTICKS] + ["memorizer"]
    for name, case in scores.items():
        assert case["kind"] in KINDS and case["label"]
        assert {"fid", "kid", "kid_std", "precision", "recall", "density", "coverage", "mifid", "cosine_eps"} <= set(case)
    floor, memorizer, noise = scores["real_vs_real"], scores["memorizer"], scores["noise"]
    assert memorizer["distance"] < 1e-6 and memorizer["mifid"] > 1e6 * max(memorizer["fid"], 1e-9)
    assert floor["distance_thresholded"] == 1.0  # unseen real crops are not memorised
    assert noise["fid"] > 10 * floor["fid"] and noise["precision"] < floor["precision"]


def test_the_judge_ranks_the_yardsticks_on_the_demo_data(tmp_path):
    """The shipped demo data and featnet params: real < every shape-kept < every shape-destroyed
    < noise, each group at least 1.5x apart on FID and on KID."""
    write_demo(section_config(DemoConfig, "demo"), tmp_path)
    rows, _ = parse_annotations(tmp_path / "Annotation", tmp_path / "all-dogs")
    crops, kept, _ = crop_all(rows, tmp_path / "all-dogs", section_config(CropConfig, "crop"))
    images = torch.from_numpy(crops).permute(0, 3, 1, 2).contiguous()
    net, metrics = train_featnet(images, section_config(FeatnetConfig, "featnet"))
    assert metrics["val_accuracy"] > 0.9  # it tells which way is up

    features = extract_features(net.features, crops, 100)
    scores = yardstick_scores(crops, features, lambda x: extract_features(net.features, x, 100), calibrated_eps(features),
                              lookup(PARAMS, "generate.n_images"))
    for metric in ("fid", "kid"):
        by_kind = {kind: [case[metric] for case in scores.values() if case["kind"] == kind] for kind in KINDS}
        order = ["floor", "shape kept", "shape destroyed", "noise"]
        for better, worse in zip(order, order[1:]):
            assert 1.5 * max(by_kind[better]) < min(by_kind[worse]), (metric, better, worse, by_kind)
