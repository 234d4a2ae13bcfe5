"""model.compile: every variant trains with its networks compiled in place, with a bounded number of
graphs, and a compiled run's checkpoint and generator are a plain run's (the same keys), resumable and
loadable with compile on or off.

To keep the file short on 2 cores, the steps compile with Dynamo's tracing only (backend "eager"),
where the variants failed (a wrapper module, a recompile per fade step); the progan run with R1 adds
AOTAutograd's forward and backward graphs (aot_eager), where a compiled D failed R1's double backward;
one test runs inductor, whose code generation costs 20 s and more per graph here, on the cheapest
variant (docs/benchmarks.md: inductor on every variant at the demo params)."""

import pytest
import torch
from torch._dynamo.utils import counters

from doggan.generate import load_generator, save_generator
from doggan.models import VARIANTS, base
from doggan.models.progan import RESOLUTIONS
from doggan.training.loop import train
from test_training import data, run_training, tiny_model


@pytest.fixture(autouse=True)
def dynamo_only(monkeypatch):
    monkeypatch.setitem(base.COMPILE_OPTIONS, "backend", "eager")
    torch._dynamo.reset()
    counters.clear()
    yield
    torch._dynamo.reset()  # no compiled code or guards left for the next test


def graphs():
    return counters["stats"].get("unique_graphs", 0)


# progan: 4 to 64 px, alpha 0 then 0.5 at each new resolution; without R1 its D is compiled too
PROGAN = dict(r1=0.0, resolution_steps=[1, 2, 2, 2, 2], fade=1.0)


def compiled_model(variant, **overrides):
    return tiny_model(variant, compile=True, **{**(PROGAN if variant == "progan" else {"steps": 1}), **overrides})


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_trains_compiled(tmp_path, variant):
    """A step (progan: a short schedule through every resolution, with fades) with the same
    state_dict keys as a plain model, and few graphs: at most 4 (G and D each in two modes or
    shapes), for progan one per resolution and network, none per alpha."""
    model = compiled_model(variant)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    run_training(tmp_path, "c", model=model)
    assert graphs() == 2 * len(RESOLUTIONS) if variant == "progan" else 0 < graphs() <= 4
    assert not counters["graph_break"]
    after = model.state_dict()
    assert after.keys() == tiny_model(variant).state_dict().keys() == before.keys()
    assert any(not torch.equal(before[k], after[k]) for k in before if after[k].is_floating_point())


@pytest.mark.parametrize("first, then", [(True, False), (False, True)])
def test_a_checkpoint_resumes_with_compile_on_or_off(tmp_path, first, then):
    steps = []
    run_training(tmp_path, "cut", model=tiny_model("gan", compile=first), stop_after=3)
    checkpoint = torch.load(tmp_path / "cut.pt", weights_only=True)
    assert checkpoint["model"].keys() == tiny_model("gan").state_dict().keys()
    images, labels = data()
    train(tiny_model("gan", compile=then), images, labels, seed=0, checkpoint_path=tmp_path / "cut.pt",
          fingerprint="f", on_log=lambda step, _: steps.append(step))
    assert steps == [4, 5, 6]  # picked up at step 3


def test_progan_with_r1_trains_compiled_and_its_generator_loads_as_a_plain_one(tmp_path, monkeypatch):
    """Under R1 D stays eager (AOTAutograd has no double backward), G's blocks compile; the saved
    generator is the sampler's weights under its plain keys."""
    monkeypatch.setitem(base.COMPILE_OPTIONS, "backend", "aot_eager")
    model = run_training(tmp_path, "c", model=compiled_model("progan", r1=0.1, resolution_steps=[1] * 5))
    assert 0 < graphs() <= len(RESOLUTIONS)
    save_generator(tmp_path / "generator.pt", model, "progan", ["a", "b", "c"], [4, 4, 4])
    generator, payload = load_generator(tmp_path / "generator.pt")
    assert payload["config"]["compile"] is True
    expected = model.sampler().state_dict()
    assert generator.state_dict().keys() == expected.keys()
    assert all(torch.equal(value, expected[key]) for key, value in generator.state_dict().items())


def test_inductor_compiles_and_trains(tmp_path, monkeypatch):
    """The real backend, on the autoencoder (two small graphs)."""
    monkeypatch.delitem(base.COMPILE_OPTIONS, "backend")
    model = run_training(tmp_path, "c", model=compiled_model("autoencoder", steps=1))
    assert graphs() == 2 and model.encoder._compiled_call_impl is not None
