"""The CUDA path, run on the CPU: bf16 autocast through the loop (the AMP path a GPU takes), resume
onto another device (`meta` stands in for CUDA), and the fp32 islands that autocast must not touch."""

import math

import pytest
import torch

from doggan.models import VARIANTS
from doggan.models.layers import breedwise_stddev, minibatch_stddev
from doggan.training import losses
from doggan.training.loop import train
from test_training import data, generator_bytes, tiny_model

GANS = [v for v in VARIANTS if v != "autoencoder"]  # the variants with a D


def short_model(variant):
    """tiny_model, 3 steps (progan: 6, two at 64 px): bf16 on a CPU without bf16 units is slow."""
    return tiny_model(variant, **({"resolution_steps": [1, 1, 1, 1, 2]} if variant == "progan" else {"steps": 3}))


def record_d_in_the_g_step(model):
    """Record D's first forward after D's optimiser step (the G step's): D's state then (weights after
    the step, buffers before this forward), whether autocast was on, the inputs and the output."""
    D, seen, stepped = model.discriminator, [], [False]
    model.optimizers["d"].register_step_post_hook(lambda *_: stepped.__setitem__(0, True))

    def before(module, args, kwargs):
        if stepped[0]:
            state = {k: v.detach().clone() for k, v in module.state_dict().items()}
            detach = lambda a: a.detach() if isinstance(a, torch.Tensor) else a  # noqa: E731
            seen.append([state, torch.is_autocast_enabled("cpu"), [detach(a) for a in args],
                         {k: detach(v) for k, v in kwargs.items()}])

    def after(module, args, kwargs, output):
        if stepped[0]:
            seen[-1].append(output.detach())
            stepped[0] = False

    D.register_forward_pre_hook(before, with_kwargs=True)
    D.register_forward_hook(after, with_kwargs=True)
    return seen


@pytest.mark.parametrize("variant", GANS)
def test_d_in_the_g_step_sees_its_updated_weights_under_autocast(tmp_path, variant):
    """Autocast caches its bf16 casts of the weights for the whole context: with the optimiser steps
    inside one context, G trained against D's weights from before D's step (|difference| up to 1.64
    on cdcgan). D's output in the G step must equal D's output recomputed, from its updated weights,
    under a fresh autocast."""
    model, logged = short_model(variant), []
    seen = record_d_in_the_g_step(model)
    images, labels = data()
    train(model, images, labels, seed=0, checkpoint_path=tmp_path / "c.pt", fingerprint="f", amp=True,
          on_log=lambda step, metrics: logged.append(metrics))
    assert len(logged) == len(seen) == model.cfg.steps and all(math.isfinite(v) for m in logged for v in m.values())
    assert all(p.dtype == torch.float32 for p in model.parameters())
    replica = tiny_model(variant).discriminator
    for state, autocast, args, kwargs, output in seen:
        assert autocast  # the path under test is autocast's
        replica.load_state_dict(state)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert torch.equal(replica(*args, **kwargs), output)


@pytest.mark.parametrize("variant", ["autoencoder", "dcgan"])  # the GANs' AMP path runs in the test above
def test_the_amp_path_trains_with_finite_losses_and_the_same_bytes_for_the_same_seed(tmp_path, variant):
    def run(name):
        model, logged = short_model(variant), []
        images, labels = data()
        train(model, images, labels, seed=0, checkpoint_path=tmp_path / f"{name}.pt", fingerprint="f", amp=True,
              on_log=lambda step, metrics: logged.append(metrics))
        assert len(logged) == 3 and all(math.isfinite(v) for m in logged for v in m.values())
        return generator_bytes(model)

    assert run("a") == run("b")


@pytest.mark.parametrize("variant", ["dcgan", "cdcgan", "biggan"])  # (progan reads its stage buffers at load: no meta)
def test_resume_puts_the_optimiser_state_on_the_device_of_its_parameters(tmp_path, variant):
    """A checkpoint written on the CPU, resumed onto another device: Adam's moments must follow the
    weights (loaded before the move, they stayed on the CPU and the first CUDA step failed)."""
    images, labels = data()
    train(tiny_model(variant), images, labels, seed=0, checkpoint_path=tmp_path / "c.pt", fingerprint="f", stop_after=3)
    model = tiny_model(variant)
    # moving to meta keeps the Parameter objects the optimisers hold only when swapping (CUDA's .to keeps them anyway)
    torch.__future__.set_swap_module_params_on_conversion(True)
    try:
        train(model, images, labels, seed=0, checkpoint_path=tmp_path / "c.pt", fingerprint="f", device="meta",
              stop_after=3)  # resumes at step 3 and stops there: no step runs on meta
    finally:
        torch.__future__.set_swap_module_params_on_conversion(False)
    states = [(p, opt.state[p]) for opt in model.optimizers.values() for g in opt.param_groups for p in g["params"]]
    assert states and all(state for _, state in states)  # the checkpoint's moments were loaded
    for p, state in states:
        assert p.device.type == "meta"
        for name, value in state.items():
            if name != "step":  # Adam keeps its step count on the CPU unless fused or capturable
                assert value.device == p.device, name


def bf16(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)).bfloat16()


ISLANDS = {  # name: (function of bf16 inputs, the same in float64)
    "bce_d_loss": (lambda a, b: losses.bce_d_loss(a, b, 0.9), lambda a, b: losses.bce_d_loss(a, b, 0.9)),
    "bce_g_loss": (losses.bce_g_loss, losses.bce_g_loss),
    "hinge_d_loss": (losses.hinge_d_loss, losses.hinge_d_loss),
    "hinge_g_loss": (losses.hinge_g_loss, losses.hinge_g_loss),
    "drift_penalty": (losses.drift_penalty, losses.drift_penalty),
}


@pytest.mark.parametrize("name", sorted(ISLANDS))
def test_losses_run_in_fp32_under_autocast(name):
    """A bf16 loss keeps 8 bits: its value and gradient scale would be off by up to 0.4%."""
    function, _ = ISLANDS[name]
    inputs = [bf16(257, seed=i) * 3 for i in range(function.__code__.co_argcount)]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = function(*inputs)
    reference = function(*[x.double() for x in inputs])
    assert value.dtype == torch.float32
    assert value.double().item() == pytest.approx(reference.item(), rel=1e-6)


def test_mode_seeking_and_reconstruction_run_in_fp32_under_autocast():
    fake, z = bf16(8, 3, 8, 8), bf16(8, 16, seed=1)
    for function, inputs in [(losses.mode_seeking_loss, (fake, z)),
                             (lambda a, b: losses.reconstruction_loss(a, b, "l1"), (fake, fake.roll(1, 0))),
                             (lambda a, b: losses.reconstruction_loss(a, b, "mse"), (fake, fake.roll(1, 0)))]:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            value = function(*inputs)
        assert value.dtype == torch.float32
        assert value.double().item() == pytest.approx(function(*[x.double() for x in inputs]).item(), rel=1e-6)


def test_r1_penalty_runs_in_fp32_under_autocast():
    x = bf16(6, 3, 4, 4).float().requires_grad_(True)
    w = bf16(3, 4, 4, seed=1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = (x.bfloat16() * w).flatten(1).sum(1)  # D's gradient at x: w
        value = losses.r1_penalty(logits, x)
    assert value.dtype == torch.float32
    assert value.item() == pytest.approx(w.double().pow(2).sum().item(), rel=1e-6)


@pytest.mark.parametrize("layer", ["minibatch_stddev", "breedwise_stddev"])
def test_batch_statistics_run_in_fp32_under_autocast(layer):
    """The std channel D reads: computed in fp32, rounded once to the activations' dtype."""
    x = bf16(8, 16, 4, 4) * 0.05 + 3  # a small spread on a large mean: bf16 arithmetic cancels it
    labels = torch.tensor([0, 1, 1, 2, 2, 2, 0, 1])
    call = (lambda t: minibatch_stddev(t)) if layer == "minibatch_stddev" else (lambda t: breedwise_stddev(t, labels, 3))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = call(x)
    reference = call(x.double())
    assert out.dtype == torch.bfloat16 and torch.equal(out[:, :-1], x)
    assert torch.equal(out[:, -1], reference[:, -1].to(torch.bfloat16))
