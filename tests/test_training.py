"""The shared loop on every variant (tiny configs): shapes, one step, determinism, exact resume;
then that each dcgan trick acts (the other variants' tricks: test_variants.py)."""

import dataclasses
import io
import math

import pytest
import torch

from conftest import variant_config
from doggan.models import VARIANTS, variant_module
from doggan.training.loop import lr_factor, train
from doggan.training.losses import bce_d_loss

COMMON = dict(batch_size=4, steps=6, checkpoint_every=3, log_every=1, fid_every=0)
TINY = {
    "dcgan": dict(ngf=8, ndf=8, nz=16),
    "cdcgan": dict(ngf=8, ndf=8, nz=16, embed=4),
    "gan": dict(width=8, nz=16),
    "progan": dict(channels=16, nz=16, embed=4, resolution_steps=[3, 3, 3, 3, 6], fade=0.5, ema=0.9),
    "autoencoder": dict(width=8, nz=64),
    "biggan": dict(g_ch=4, d_ch=4, nz=20, shared_dim=8, ema=0.9),
    "plain_dcgan": dict(ngf=8, ndf=8, nz=16),
}


def tiny_model(variant="dcgan", n_classes=3, **overrides):
    torch.manual_seed(0)
    return variant_module(variant).Model(variant_config(variant, **{**COMMON, **TINY[variant], **overrides}), n_classes=n_classes)


def data(n=12):
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (n, 3, 64, 64), dtype=torch.uint8, generator=g), torch.randint(0, 3, (n,), generator=g)


def generator_bytes(model):
    buffer = io.BytesIO()
    torch.save(model.sampler().state_dict(), buffer)
    return buffer.getvalue()


def test_every_variant_has_a_tiny_config():
    assert set(TINY) == set(VARIANTS)


@pytest.mark.parametrize("variant", VARIANTS)
def test_shapes_and_one_step(variant):
    model = tiny_model(variant)
    labels = torch.tensor([0, 2])
    out = model.generator(torch.randn(2, model.cfg.nz), labels)
    assert out.shape == (2, 3, 64, 64) and out.abs().max() <= 1
    before = [p.clone() for p in model.generator.parameters()]
    losses = model.train_step(out.detach(), labels, progress=0.99)
    assert losses and all(math.isfinite(v) for v in losses.values())
    assert any(not torch.equal(a, b) for a, b in zip(before, model.generator.parameters()))


def run_training(tmp_path, name, variant="dcgan", stop_after=None, model=None):
    images, labels = data()
    model = model or tiny_model(variant)
    train(model, images, labels, seed=0, checkpoint_path=tmp_path / f"{name}.pt", fingerprint="f", stop_after=stop_after)
    return model


@pytest.mark.parametrize("variant", VARIANTS)
def test_same_seed_gives_the_same_bytes(tmp_path, variant):
    assert generator_bytes(run_training(tmp_path, "a", variant)) == generator_bytes(run_training(tmp_path, "b", variant))


@pytest.mark.parametrize("variant", VARIANTS)
def test_resume_after_interruption_equals_an_uninterrupted_run(tmp_path, variant):
    whole = run_training(tmp_path, "whole", variant)
    run_training(tmp_path, "cut", variant, stop_after=4)  # killed after step 4 (checkpoint at 3 and at the stop)
    resumed = run_training(tmp_path, "cut", variant, model=tiny_model(variant))  # as a fresh process would
    assert generator_bytes(resumed) == generator_bytes(whole)


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_budget_multiplies_every_length_in_steps_and_the_loop_runs_them(tmp_path, variant):
    base = tiny_model(variant, fid_every=2).cfg
    cfg = dataclasses.replace(base, budget=2.5).with_budget()
    assert (cfg.fid_every, cfg.checkpoint_every) == (5, 8)  # round(2 x 2.5), round(3 x 2.5)
    if variant == "progan":  # its steps are those of its resolutions: 3, 3, 3, 3, 6 at budget 1
        assert cfg.resolution_steps == [8, 8, 8, 8, 15] and cfg.steps == sum(cfg.resolution_steps) == 47
    else:
        assert cfg.steps == 15  # round(6 x 2.5)
    model = variant_module(variant).Model(cfg, n_classes=3)
    steps, scored, original = [], [], model.train_step
    model.train_step = lambda real, labels, progress: steps.append(progress) or original(real, labels, progress)
    images, labels = data()
    result = train(model, images, labels, seed=0, checkpoint_path=tmp_path / "c.pt", fingerprint="f",
                   evaluate=lambda step: scored.append(step) or 1.0)
    assert len(steps) == cfg.steps and steps[-1] == (cfg.steps - 1) / cfg.steps  # the schedules stretch with it
    assert scored[: cfg.steps // cfg.fid_every] == list(range(cfg.fid_every, cfg.steps + 1, cfg.fid_every))
    assert [step for step, _ in result.curve] == scored  # the training seconds at each cheap FID
    assert all(0 < a < b for (_, a), (_, b) in zip(result.curve, result.curve[1:]))


def test_checkpoint_of_other_params_is_not_resumed(tmp_path):
    images, labels = data()
    train(tiny_model(), images, labels, seed=0, checkpoint_path=tmp_path / "c.pt", fingerprint="old", stop_after=3)
    fresh = tiny_model()
    train(fresh, images, labels, seed=0, checkpoint_path=tmp_path / "c.pt", fingerprint="new")
    assert generator_bytes(fresh) == generator_bytes(run_training(tmp_path, "ref"))


def test_label_smoothing_reaches_the_discriminator_loss():
    model = tiny_model(label_smoothing=0.1)
    assert model.real_target() == pytest.approx(0.9)
    logits = torch.tensor([3.0, -1.0])
    smoothed = bce_d_loss(logits, logits, real_target=0.9)
    expected = -(0.9 * torch.log(torch.sigmoid(logits)) + 0.1 * torch.log(1 - torch.sigmoid(logits))).mean() - torch.log(
        1 - torch.sigmoid(logits)).mean()
    assert smoothed.item() == pytest.approx(expected.item(), rel=1e-6)
    assert smoothed.item() != pytest.approx(bce_d_loss(logits, logits).item())


def test_instance_noise_decays_to_zero_and_is_applied():
    model = tiny_model(instance_noise=0.2)
    assert [model.noise_std(p) for p in (0.0, 0.5, 1.0)] == pytest.approx([0.2, 0.1, 0.0])
    images, labels = data(4)
    real = images.float() / 127.5 - 1
    seen = []
    model.discriminator.register_forward_pre_hook(lambda m, args: seen.append(args[0].clone()))
    model.train_step(real, labels, progress=0.0)
    assert not torch.equal(seen[0], real)  # D saw a noisy real batch
    assert (seen[0] - real).std().item() == pytest.approx(0.2, rel=0.1)


def test_cosine_lr_reaches_the_optimizer(tmp_path):
    model = tiny_model(lr_schedule="cosine", lr=1e-3)
    images, labels = data()
    lrs = []
    train(model, images, labels, seed=0, checkpoint_path=tmp_path / "c.pt", fingerprint="f",
          on_log=lambda step, m: lrs.append((m["lr"], model.optimizers["g"].param_groups[0]["lr"])))
    total = len(lrs)
    for step, (logged, actual) in enumerate(lrs):
        assert actual == logged == pytest.approx(1e-3 * lr_factor("cosine", step / total))
    assert lrs[0][1] > lrs[-1][1]



FIDS = {2: 5.0, 4: 1.0, 6: 3.0}  # the cheap FID a scripted evaluation reports at each step


def scripted_evaluate(model, seen):
    """An evaluate() that returns FIDS[step] and records the sampler's bytes at each call."""

    def evaluate(step):
        seen[step] = generator_bytes(model)
        return FIDS[step]

    return evaluate


@pytest.mark.parametrize("keep", ["best", "last"])
def test_keep_best_saves_the_sampler_of_the_lowest_fid(tmp_path, keep):
    images, labels = data()
    model, seen = tiny_model(fid_every=2, keep=keep), {}
    result = train(model, images, labels, seed=0, checkpoint_path=tmp_path / "c.pt", fingerprint="f",
                   evaluate=scripted_evaluate(model, seen))
    assert list(seen) == [2, 4, 6]  # every fid_every steps, the last one at the end
    kept = 4 if keep == "best" else 6
    assert generator_bytes(model) == seen[kept] != seen[6 if keep == "best" else 4]
    assert result.best_step == kept and (result.best_fid == 1.0 if keep == "best" else math.isnan(result.best_fid))


@pytest.mark.parametrize("variant", ["dcgan", "autoencoder"])
def test_resume_keeps_the_best_exactly(tmp_path, variant):
    images, labels = data()
    whole, seen = tiny_model(variant, fid_every=2), {}
    train(whole, images, labels, seed=0, checkpoint_path=tmp_path / "w.pt", fingerprint="f",
          evaluate=scripted_evaluate(whole, seen))
    cut = tiny_model(variant, fid_every=2)  # killed after step 5: the best (step 4) is only in the checkpoint
    train(cut, images, labels, seed=0, checkpoint_path=tmp_path / "c.pt", fingerprint="f", stop_after=5,
          evaluate=scripted_evaluate(cut, {}))
    resumed = tiny_model(variant, fid_every=2)
    result = train(resumed, images, labels, seed=0, checkpoint_path=tmp_path / "c.pt", fingerprint="f",
                   evaluate=scripted_evaluate(resumed, {}))
    assert result.best_step == 4 and generator_bytes(resumed) == generator_bytes(whole) == seen[4]
