"""Each variant's tricks act as described, checked against independent computations."""

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from doggan.errors import ParamError
from doggan.generate import latents
from doggan.models import autoencoder, biggan, progan
from doggan.models.layers import SelfAttention, breedwise_stddev, minibatch_stddev, upsample2x
from doggan.training.augment import color, cutout, diff_augment, translation
from doggan.training.loop import train
from doggan.training.losses import mode_seeking_loss, r1_penalty

from test_training import data, tiny_model


def capture_outputs(module):
    seen = []
    module.register_forward_hook(lambda m, args, out: seen.append(out.detach().clone()))
    return seen


def capture_inputs(module):
    seen = []
    module.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach().clone()))
    return seen


def bce(logits, target):
    p = torch.sigmoid(logits.double())
    return -(target * torch.log(p) + (1 - target) * torch.log(1 - p)).mean()


def test_cdcgan_uses_09_0_targets_and_conditions_both_networks():
    model = tiny_model("cdcgan", d_dropout=0.3, real_target=0.9, fake_target=0.0)
    images, labels = data(4)
    logits = capture_outputs(model.discriminator)
    losses = model.train_step(images.float() / 127.5 - 1, labels, 0.0)
    real, fake = logits[0], logits[1]
    assert losses["loss_d"] == pytest.approx((bce(real, 0.9) + bce(fake, 0.0)).item(), rel=1e-5)
    z, x = torch.randn(1, 16), torch.rand(1, 3, 64, 64) * 2 - 1
    model.eval()
    assert not torch.equal(model.generator(z, torch.tensor([0])), model.generator(z, torch.tensor([1])))
    assert model.discriminator(x, torch.tensor([0])) != model.discriminator(x, torch.tensor([1]))
    model.discriminator.train()  # the seed's dropout in D: two passes over the same input differ
    assert not torch.equal(model.discriminator(x, torch.tensor([0])), model.discriminator(x, torch.tensor([0])))



def test_plain_dcgan_takes_pytorch_examples_steps():
    """Two training steps of plain_dcgan (logits, the shared BCE with logits) against two iterations of
    pytorch/examples' dcgan/main.py written out as there (D ending in nn.Sigmoid, nn.BCELoss, labels
    1 and 0, errD_real and errD_fake backward, D's step, then G's) on copies of the same networks."""
    model = tiny_model("plain_dcgan")
    cfg = model.cfg
    netG, netD = copy.deepcopy(model.generator), torch.nn.Sequential(copy.deepcopy(model.discriminator), torch.nn.Sigmoid())
    optimizerD = torch.optim.Adam(netD.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999))
    optimizerG = torch.optim.Adam(netG.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999))
    criterion = torch.nn.BCELoss()
    images, labels = data(4)
    real_cpu = images.float() / 127.5 - 1
    for step in range(2):
        torch.manual_seed(step)
        ours = model.train_step(real_cpu, labels, 0.0)
        torch.manual_seed(step)
        netD.zero_grad()
        label = torch.full((len(real_cpu),), 1.0)
        errD_real = criterion(netD(real_cpu), label)
        errD_real.backward()
        fake = netG(torch.randn(len(real_cpu), cfg.nz, 1, 1))  # z drawn after D's real pass: D draws nothing
        label.fill_(0.0)
        errD_fake = criterion(netD(fake.detach()), label)
        errD_fake.backward()
        optimizerD.step()
        netG.zero_grad()
        label.fill_(1.0)
        errG = criterion(netD(fake), label)
        errG.backward()
        optimizerG.step()
        assert ours["loss_d"].item() == pytest.approx((errD_real + errD_fake).item(), rel=1e-5)
        assert ours["loss_g"].item() == pytest.approx(errG.item(), rel=1e-5)
    for ours_net, their_net in ((model.generator, netG), (model.discriminator, netD[0])):
        for (name, mine), theirs in zip(ours_net.state_dict().items(), their_net.state_dict().values(), strict=True):
            assert torch.allclose(mine.float(), theirs.float(), atol=1e-6), name


def test_plain_dcgan_initialises_as_pytorch_examples():
    """Every convolution N(0, 0.02) without a bias, every BatchNorm weight N(1, 0.02) and bias 0; the
    example's widths: ngf x 8, 4, 2, 1 in G, ndf x 1, 2, 4, 8 in D."""
    model = tiny_model("plain_dcgan", ngf=64, ndf=64, nz=100)
    convs = [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(convs) == 10 and len(norms) == 7 and all(m.bias is None for m in convs)
    weights = torch.cat([m.weight.detach().flatten() for m in convs])
    assert abs(weights.mean()) < 1e-3 and weights.std().item() == pytest.approx(0.02, rel=0.02)
    gammas = torch.cat([m.weight.detach() for m in norms])
    assert gammas.mean().item() == pytest.approx(1.0, abs=3e-3) and gammas.std().item() == pytest.approx(0.02, rel=0.1)
    assert all(torch.equal(m.bias, torch.zeros_like(m.bias)) for m in norms)
    assert [m.out_channels for m in convs] == [512, 256, 128, 64, 3, 64, 128, 256, 512, 1]


def test_mode_seeking_loss_is_msgans():
    g = torch.Generator().manual_seed(0)
    fake, z = torch.randn(7, 3, 4, 4, generator=g), torch.randn(7, 5, generator=g)
    f, w = fake.double().numpy(), z.double().numpy()
    ratio = np.abs(f[:3] - f[3:6]).mean() / np.abs(w[:3] - w[3:6]).mean()  # the odd 7th has no pair
    assert mode_seeking_loss(fake, z).item() == pytest.approx(1 / (ratio + 1e-5), rel=1e-5)
    assert mode_seeking_loss(fake[:1].expand(7, -1, -1, -1), z).item() == pytest.approx(1e5)  # z ignored


@pytest.mark.parametrize("variant", ["cdcgan", "progan"])
def test_mode_seeking_pairs_breeds_and_spreads_samples(variant):
    model = tiny_model(variant, mode_seeking=1.0)
    images, labels = data(5)
    seen = {"g": [], "d": []}  # the breeds G's embedding looked up, and those D was given
    model.generator.embed.register_forward_pre_hook(lambda m, args: seen["g"].append(args[0].clone()))
    model.discriminator.register_forward_pre_hook(lambda m, args: seen["d"].append(args[1].clone()))
    model.train_step(images.float() / 127.5 - 1, labels, 0.0)
    # G draws the first half's breeds once more ahead of the batch: samples 0, 1 pair with 2, 3
    assert len(seen["g"]) == 1 and torch.equal(seen["g"][0], labels[[0, 1, 0, 1, 2, 3, 4]])
    assert len(seen["d"]) == 3 and all(torch.equal(y, labels) for y in seen["d"])  # D: the real batch's breeds only

    G = model.generator  # the term alone, minimised, moves one breed's samples apart
    z, y = torch.randn(8, 16, generator=torch.Generator().manual_seed(1)), torch.zeros(8, dtype=torch.long)
    spread = lambda: (G(z, y)[:4] - G(z, y)[4:]).abs().mean().item()  # noqa: E731
    before, optimizer = spread(), torch.optim.Adam(G.parameters(), 1e-3)
    for _ in range(20):  # progan's spread grows 1.1x in 5 steps, 1.4x in 20 (cdcgan's 2.3x, 6x)
        optimizer.zero_grad()
        mode_seeking_loss(G(z, y), z).backward()
        optimizer.step()
    assert spread() > 1.2 * before


PERFECT_G_BREEDS = 120  # Kaggle's breeds: in a batch of 32, 78% of real images are their breed's only one


def breed_images(labels, rng):
    """Images of the given breeds, 64 px in [-1, 1]: a 4x4 pattern of the breed's own, plus noise, so
    images of one breed are alike and differ from other breeds' (what a pairing can give away)."""
    patterns = torch.randn(PERFECT_G_BREEDS, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    x = patterns[labels] + 0.3 * torch.randn(len(labels), 3, 4, 4, generator=rng)
    x = F.interpolate(x, size=64, mode="bilinear", align_corners=False)
    return torch.tanh(x + 0.1 * torch.randn(len(labels), 3, 64, 64, generator=rng))


class PerfectGenerator(torch.nn.Module):
    """G(z, breeds) -> fresh images of those breeds from the data's own distribution: its fakes and the
    real images are alike given the breed, so nothing but the batch's breeds can tell them apart."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(()))  # for G's optimiser step
        self.rng, self.current = torch.Generator().manual_seed(1), (len(progan.RESOLUTIONS) - 1, 1.0)

    def forward(self, z, labels):
        return breed_images(labels, self.rng) + 0 * self.weight

    def set_stage(self, stage, alpha):
        self.current = (stage, alpha)

    def synthesize(self, z, labels):  # progan's, at the stage's resolution, resized as its real images are
        return progan.resize_real(self(z, labels), *self.current)


@pytest.fixture
def one_thread():
    """Tiny convolutions gain nothing from a second thread, and on 2 cores busy with other work
    two threads ran the perfect-G test 8x slower (140 s against 16 s)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("variant, overrides, steps", [
    # no DiffAugment (real and fake get the same anyway), ndf 4 and lr 4e-3, so that where D saw G's
    # pairs it told them in these 100 steps (accuracy 82%)
    ("cdcgan", dict(ndf=4, augment="", lr=4e-3), 100),
    # at 4 px (progress 0), where steps are cheap; the minibatch stddev is the same at every
    # resolution. Seeing G's pairs, D was right 81% of the time after these 250 steps
    ("progan", dict(lr=4e-3), 250),
])
def test_d_cannot_tell_a_perfect_generators_fakes_by_their_breeds(variant, overrides, steps, one_thread):
    """With mode seeking, G draws pairs of one breed. Where D saw them, every breed of a fake batch
    came twice or more, rarely so in a real batch at 120 breeds: D told a perfect G's fakes by it
    (cdcgan's breedwise_stddev gave a real breed's only image a constant no fake got; progan's minibatch
    stddev groups held two pairs each). D is trained through the model's own train_step."""
    model = tiny_model(variant, n_classes=PERFECT_G_BREEDS, batch_size=32, mode_seeking=0.25, **overrides)
    model.generator, model.generator_ema = PerfectGenerator(), None
    model.optimizers["g"] = torch.optim.Adam(model.generator.parameters())
    logits = capture_outputs(model.discriminator)  # per step: real, fake (D's loss), fake (G's loss)
    rng = torch.Generator().manual_seed(2)

    def step():
        labels = torch.randint(0, PERFECT_G_BREEDS, (32,), generator=rng)
        model.train_step(breed_images(labels, rng), labels, 0.0)

    for _ in range(steps):
        step()
    logits.clear()
    for _ in range(25):  # fresh batches
        step()
    real, fake = torch.cat(logits[0::3]), torch.cat(logits[1::3])
    accuracy = ((real > 0).float().mean() + (fake < 0).float().mean()).item() / 2  # balanced: D's bias tells nothing
    assert abs(accuracy - 0.5) < 0.1, f"D tells real from fake {accuracy:.0%} of the time"


def test_biggan_d_cannot_tell_a_perfect_generators_fakes_by_their_breed_mix(one_thread):
    """Breeds are not equally common (Stanford Dogs: 148 to 252 photos each). Fakes of uniformly drawn
    breeds let the projection head learn which breeds are real more often; fakes of the real batch's
    breeds give it nothing. Here 8 of 120 breeds hold half the images (D told a perfect G's uniform
    fakes 73% of the time after these 60 steps)."""
    model = tiny_model("biggan", n_classes=PERFECT_G_BREEDS, batch_size=32, augment="", d_lr=4e-3)
    model.generator, model.generator_ema = PerfectGenerator(), None
    model.optimizers["g"] = torch.optim.Adam(model.generator.parameters())
    logits = capture_outputs(model.discriminator)  # per step: real and fake in one pass (D's loss), fake (G's)
    weights = torch.ones(PERFECT_G_BREEDS)
    weights[:8] = (PERFECT_G_BREEDS - 8) / 8  # half the mass on 8 breeds
    rng = torch.Generator().manual_seed(2)

    def step():
        labels = torch.multinomial(weights, 32, replacement=True, generator=rng)
        model.train_step(breed_images(labels, rng), labels, 0.0)

    for _ in range(60):
        step()
    logits.clear()
    for _ in range(25):
        step()
    both = torch.stack(logits[0::2])  # (steps, 64): the first 32 real, the last 32 fake
    accuracy = ((both[:, :32] > 0).float().mean() + (both[:, 32:] < 0).float().mean()).item() / 2
    assert abs(accuracy - 0.5) < 0.1, f"D tells real from fake {accuracy:.0%} of the time"


def test_minibatch_stddev_acts_at_every_batch_size():
    """Groups of up to 4 that divide the batch; a prime batch (31) had groups of one: every sample's
    std was sqrt(1e-8), whatever the batch."""
    for n in (31, 32, 30, 5):
        out = minibatch_stddev(torch.randn(n, 4, 2, 2, generator=torch.Generator().manual_seed(n)))
        assert (out[:, -1] > 0.5).all(), n  # the std of N(0, 1) samples


def test_progan_schedule_fades_each_resolution_in_from_0_to_1():
    cfg = tiny_model("progan").cfg  # resolution_steps [3, 3, 3, 3, 6], fade 0.5: 18 steps in all
    assert cfg.steps == 18
    at = lambda step: progan.schedule(cfg, step / 6)  # noqa: E731  (in units of 3 steps)
    assert at(0.5) == (0, 1.0)
    assert [at(e) for e in (1.0, 1.25, 1.5, 1.9)] == [(1, 0.0), (1, 0.5), (1, 1.0), (1, 1.0)]
    assert [at(e) for e in (4.0, 4.5, 5.0, 5.99)] == [(4, 0.0), (4, 0.5), (4, 1.0), (4, 1.0)]


def test_progan_training_really_blends_during_the_fade(tmp_path):
    model = tiny_model("progan")
    images, labels = data()
    log = []
    train(model, images, labels, seed=0, checkpoint_path=tmp_path / "c.pt", fingerprint="f",
          on_log=lambda step, m: log.append((m["resolution"], m["alpha"])))
    assert [r for r, _ in log] == sorted(r for r, _ in log) and log[-1] == (64, 1.0)
    assert any(0 < a < 1 for _, a in log)  # the original's integer division never left 0
    G = model.generator
    z, y = torch.randn(2, 16), torch.tensor([0, 1])
    G.eval()
    out = {}
    for alpha in (0.0, 0.5, 1.0):
        G.set_stage(G.current[0], alpha)
        out[alpha] = torch.atanh(G.synthesize(z, y).double().clamp(-0.999999, 0.999999))
    assert torch.allclose(out[0.5], (out[0.0] + out[1.0]) / 2, atol=1e-4)
    assert not torch.allclose(out[0.0], out[1.0], atol=1e-3)


def test_r1_penalty_is_the_mean_squared_gradient_norm_at_reals():
    x = torch.randn(5, 3, 4, 4, requires_grad=True)
    logits = 0.5 * x.pow(2).flatten(1).sum(1)  # gradient: x itself
    assert r1_penalty(logits, x).item() == pytest.approx(x.detach().pow(2).flatten(1).sum(1).mean().item(), rel=1e-6)


def test_progan_adds_r1_to_ds_loss():
    images, labels = data(4)
    real = images.float() / 127.5 - 1
    loss_d = {}
    for r1 in (0.0, 2.0):
        model = tiny_model("progan", r1=r1, drift=0.0)
        D = copy.deepcopy(model.discriminator)
        torch.manual_seed(1)
        loss_d[r1] = model.train_step(real.clone(), labels, 1.0)["loss_d"]  # at 64 px: D sees `real` as it is
    x = real.clone().requires_grad_(True)
    assert loss_d[2.0] - loss_d[0.0] == pytest.approx(2.0 * r1_penalty(D(x, labels), x).item(), rel=1e-4)


def test_progan_building_blocks():
    conv = progan.EqualizedConv2d(8, 4, 3, 1)
    x = torch.randn(2, 8, 5, 5)
    assert torch.allclose(conv(x), F.conv2d(x, conv.weight * (2 / 72) ** 0.5, conv.bias, padding=1))
    y = progan.pixel_norm(torch.randn(3, 6, 2, 2) * 5)
    assert torch.allclose(y.pow(2).mean(1), torch.ones(3, 2, 2), atol=1e-5)
    x = torch.randn(8, 3, 2, 2)
    stat = progan.minibatch_stddev(x)
    groups = x.numpy().reshape(4, 2, 3, 2, 2)
    expected = np.sqrt(groups.var(0) + 1e-8).mean(axis=(1, 2, 3))  # one value per group member position
    assert stat.shape == (8, 4, 2, 2) and np.allclose(stat[:, 3, 0, 0].numpy(), np.tile(expected, 4), atol=1e-6)


def is_flat(x, atol):
    return torch.allclose(x, x[:, :, :1, :1].expand_as(x), atol=atol)


def test_generators_do_not_mark_their_borders():
    """A flat input stays flat through progan's and biggan's G blocks: zero padding marked every
    block's border, and the demo's samples wore a light frame."""
    G = progan.Generator(nz=8, channels=16, embed=4, n_classes=2)
    x = torch.ones(1, 16, 4, 4) * torch.randn(1, 16, 1, 1)
    for i in range(len(progan.RESOLUTIONS)):
        x = G.block(i, x)
        assert is_flat(x, 1e-5), f"progan block {i} marks the border"
    G.blocks[1][0].pad_mode = "zeros"
    assert not is_flat(G.block(1, G.block(0, torch.ones(1, 16, 4, 4))), 1e-3)

    block, cond = biggan.GBlock(8, 8, cond_dim=4), torch.randn(2, 4)
    x = torch.ones(2, 8, 4, 4) * torch.randn(2, 8, 1, 1)
    assert is_flat(block(x, cond), 1e-5)
    block.conv2.padding_mode = "zeros"
    assert not is_flat(block(x, cond), 1e-3)


def test_upsample2x_is_nearest_interpolation():
    x = torch.randn(3, 5, 4, 7)
    assert torch.equal(upsample2x(x), F.interpolate(x, scale_factor=2, mode="nearest"))


@pytest.mark.parametrize("channels", [8, 32])  # 1 and 4 query channels
def test_self_attention_is_sagans(channels):
    """x + gamma out(g softmax(theta^T phi)^T), phi and g max-pooled 2x, no scaling (SAGAN)."""
    torch.manual_seed(0)
    attention = SelfAttention(channels).eval()
    with torch.no_grad():
        attention.gamma.fill_(0.7)
        x = torch.randn(2, channels, 8, 6)
        theta = attention.theta(x).flatten(2).numpy()
        phi = F.max_pool2d(attention.phi(x), 2).flatten(2).numpy()
        g = F.max_pool2d(attention.g(x), 2).flatten(2).numpy()
        logits = theta.transpose(0, 2, 1) @ phi  # (n, hw, hw/4)
        weights = np.exp(logits - logits.max(-1, keepdims=True))
        weights /= weights.sum(-1, keepdims=True)
        o = torch.from_numpy(g @ weights.transpose(0, 2, 1)).view(2, -1, 8, 6)
        expected = x + 0.7 * attention.out(o)
        assert torch.allclose(attention(x), expected, atol=1e-5)


def test_breedwise_stddev_is_the_spread_within_each_breed():
    x, labels = torch.randn(7, 3, 2, 2), torch.tensor([0, 2, 0, 2, 2, 1, 0])
    stat = breedwise_stddev(x, labels, 3)[:, 3, 0, 0].numpy()
    flat = x.flatten(1).numpy()
    for i, y in enumerate(labels.tolist()):
        same = flat[labels.numpy() == y]
        assert stat[i] == pytest.approx(np.sqrt(same.var(0) + 1e-8).mean(), abs=1e-5)
    assert stat[5] == pytest.approx(1e-4)  # breed 1 appears once: no spread
    # the collapse minibatch_stddev misses: each breed one image, breeds differ
    labels = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    collapsed = torch.randn(4, 3, 2, 2)[labels]
    assert breedwise_stddev(collapsed, labels, 4)[:, 3].max() < 1e-3 < progan.minibatch_stddev(collapsed)[:, 3].min()


def test_breedwise_stddev_gradient_is_repeatable():
    """At cdcgan's demo shape, indexing's backward (atomic adds) gave another gradient in 17 of 20
    repeats, and training runs that were not repeatable."""
    g = torch.Generator().manual_seed(0)
    x, labels, weight = torch.randn(32, 256, 4, 4, generator=g), torch.randint(0, 8, (32,), generator=g), torch.randn(32, 257, 4, 4, generator=g)
    grads = []
    for _ in range(10):
        leaf = x.clone().requires_grad_()
        (breedwise_stddev(leaf, labels, 8) * weight).sum().backward()
        grads.append(leaf.grad)
    assert all(torch.equal(grads[0], grad) for grad in grads[1:])


@pytest.mark.parametrize("variant", ["dcgan", "cdcgan", "gan", "biggan", "plain_dcgan"])
def test_standing_stats_are_the_plain_average_over_the_samplers_batches(variant):
    model = tiny_model(variant)
    images, labels = data(4)
    model.train_step(images.float() / 127.5 - 1, labels, 0.5)
    G = model.sampler()
    norm = next(m for m in G.modules() if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)))
    seen, mode = capture_inputs(norm), G.training
    model.prepare_sampler(None, "cpu")
    dims = [0] + list(range(2, seen[0].dim()))
    assert len(seen) == 16
    assert torch.allclose(norm.running_mean, torch.stack([s.mean(dims) for s in seen]).mean(0), atol=1e-5)
    assert torch.allclose(norm.running_var, torch.stack([s.var(dims) for s in seen]).mean(0), rtol=1e-4, atol=1e-6)
    assert norm.momentum == 0.1 and G.training == mode
    state = {k: v.clone() for k, v in G.state_dict().items()}
    model.prepare_sampler(None, "cpu")  # deterministic: its own RNG
    assert all(torch.equal(state[k], v) for k, v in G.state_dict().items())


@pytest.mark.parametrize("variant", ["progan", "biggan"])
def test_projection_discriminator_and_ema(variant):
    model = tiny_model(variant)
    head = model.discriminator.head.eval()  # eval: spectral norm reuses its vectors, so weights stay put
    h = torch.randn(2, head.embed.weight.shape[1])
    difference = head(h, torch.tensor([0, 0])) - head(h, torch.tensor([1, 1]))
    assert torch.allclose(difference, ((head.embed.weight[0] - head.embed.weight[1]) * h).sum(1), atol=1e-5)
    head.train()
    before = [p.clone() for p in model.generator_ema.parameters()]
    images, labels = data(4)
    model.train_step(images.float() / 127.5 - 1, labels, 0.99)
    model.update_ema(step=10**6)  # past the warm-up: the decay is cfg.ema
    for ema, old, new in zip(model.generator_ema.parameters(), before, model.generator.parameters()):
        assert torch.allclose(ema, 0.9 * old + 0.1 * new, atol=1e-6)


def test_autoencoder_samples_from_the_gaussian_of_its_training_codes(tmp_path):
    model = tiny_model("autoencoder")
    images, labels = data()
    train(model, images, labels, seed=0, checkpoint_path=tmp_path / "c.pt", fingerprint="f")
    model.eval()
    with torch.no_grad():
        codes = model.encoder(images.float() / 127.5 - 1).flatten(1).double().numpy()
        G = model.generator
        drawn = (G.mean + torch.randn(20000, 64, generator=torch.Generator().manual_seed(0)) @ G.factor.T).double().numpy()
    assert np.allclose(G.mean.numpy(), codes.mean(0), atol=1e-5)
    assert np.allclose(np.cov(drawn.T), np.cov(codes.T), atol=0.05 * np.abs(np.cov(codes.T)).max())
    mean, factor = autoencoder.gaussian_factor(torch.as_tensor(codes))
    assert np.allclose((factor @ factor.T).numpy(), np.cov(codes.T), atol=1e-4)


def test_autoencoder_fits_its_sampler_on_at_most_sampler_fit_images_spread_over_the_crops(monkeypatch):
    model = tiny_model("autoencoder")
    images, _ = data(30)
    encoded = []
    model.encoder.register_forward_hook(lambda module, inputs, output: encoded.append(inputs[0].clone()))
    monkeypatch.setattr(autoencoder, "SAMPLER_FIT_IMAGES", 10)
    model.prepare_sampler(images, "cpu")
    seen = torch.cat(encoded)
    assert len(seen) == 10
    assert torch.equal(seen[0], images[0].float() / 127.5 - 1) and torch.equal(seen[-1], images[-1].float() / 127.5 - 1)
    encoded.clear()
    model.prepare_sampler(images[:10], "cpu")
    assert len(torch.cat(encoded)) == 10


def test_diffaugment_ops():
    torch.manual_seed(0)
    x = torch.rand(16, 3, 8, 8) + 1  # strictly positive, so zeros can only come from the ops
    shifted = translation(x)
    for img, orig in zip(shifted, x):
        kept = img[img != 0]
        assert len(kept) >= 3 * 7 * 7 and set(kept.tolist()) <= set(orig.flatten().tolist())
    cut = cutout(x)
    zeros = (cut == 0).all(1)
    assert ((zeros.sum((1, 2)) > 0) & (zeros.sum((1, 2)) <= 16)).all()  # at most a 4x4 square, cut at the border
    assert not torch.allclose(color(x), x)
    assert torch.equal(diff_augment(x, ""), x)


@pytest.mark.parametrize("variant", ["biggan", "cdcgan"])
def test_d_sees_real_and_fake_through_diffaugment(variant):
    images, labels = data(4)
    real = images.float() / 127.5 - 1
    for policy in ("", "cutout"):
        model = tiny_model(variant, augment=policy)
        seen = capture_inputs(model.discriminator)
        model.train_step(real, labels, 0.0)
        assert torch.equal(seen[0][: len(real)], real) != bool(policy)  # biggan's D sees real and fake in one pass
    holes = torch.cat(seen).eq(0).all(1).flatten(1).any(1)  # an image with a pixel zero in every channel
    assert holes.all()  # cutout's, in every real and fake D saw


def test_diffaugment_policy_is_checked():
    for variant in ("biggan", "cdcgan"):
        with pytest.raises(ParamError, match="augment: unknown policy zoom"):
            tiny_model(variant, augment="color,zoom")


def test_biggan_conditions_every_block():
    model = tiny_model("biggan")
    G = model.generator.eval()
    z, y = torch.randn(1, 20), torch.tensor([0])
    base = G(z, y)
    for chunk in range(5):  # hierarchical z: every chunk reaches the output
        z2 = z.clone()
        z2[:, chunk * 4 : (chunk + 1) * 4] += 1
        assert not torch.allclose(G(z2, y), base)
    assert not torch.allclose(G(z, torch.tensor([1])), base)  # the shared embedding conditions the BNs


def test_truncation_is_refused_where_it_changes_nothing():
    """progan pixel-normalises z: truncated latents drew the same spread as plain ones (pixel std over
    z 0.364 at 0.5 against 0.359 at 0), so the option would do nothing, silently."""
    from doggan.errors import ParamError
    from doggan.generate import sample_inputs

    G = tiny_model("progan").generator.eval()
    spread = lambda t: G(*sample_inputs({"variant": "biggan", "config": {"nz": 16}}, [0] * 64, t)).std(0).mean()  # noqa: E731
    assert spread(0.5) > 0.8 * spread(0.0)  # biggan's z, truncated, through progan's G: barely narrower
    with pytest.raises(ParamError, match="truncation: progan normalises z"):
        sample_inputs({"variant": "progan", "config": {"nz": 16}}, [0, 1], 0.5)
    assert len(sample_inputs({"variant": "progan", "config": {"nz": 16}}, [0, 1], 0.0)[0]) == 2


def test_truncation_bounds_latents():
    z = latents(1000, 20, 0.5, torch.Generator().manual_seed(0))
    assert z.abs().max() <= 0.5 and z.std() < 0.35


def test_ema_averages_batchnorm_statistics_and_copies_counters():
    model = tiny_model("biggan")  # ema 0.9; G has BatchNorm buffers and spectral-norm vectors
    before = {k: v.clone() for k, v in model.generator_ema.named_buffers()}
    images, labels = data(4)
    model.train_step(images.float() / 127.5 - 1, labels, 0.5)
    model.update_ema(step=10**6)  # past the warm-up: the decay is cfg.ema
    live = dict(model.generator.named_buffers())
    for name, ema in model.generator_ema.named_buffers():
        if ema.is_floating_point():
            expected = 0.9 * before[name] + 0.1 * live[name]
            if name.endswith(("_u", "_v")):  # spectral norm's vectors: averaged, then unit vectors again
                expected = torch.nn.functional.normalize(expected, dim=0)
            assert torch.allclose(ema, expected, atol=1e-6), name
        else:
            assert torch.equal(ema, live[name]), name
    assert any(not torch.equal(before[n], live[n]) for n in before if "running_var" in n)


def largest_spectral_norm(generator):
    """The largest spectral norm among the weights a spectral-normalised G computes with in eval mode
    (where torch's spectral norm divides by u.W.v as stored, without a power iteration)."""
    generator.eval()
    generator(torch.randn(2, generator.chunk * 5), torch.tensor([0, 1]))
    norms = [torch.linalg.matrix_norm(m.weight.flatten(1), ord=2) for m in generator.modules() if hasattr(m, "weight_u")]
    assert len(norms) > 20
    return max(norms).item()


def test_the_ema_generator_keeps_spectral_norm_at_most_one(tmp_path):
    """Averaging spectral norm's u and v shortens them: u.W.v falls below the top singular value and
    the EMA G's layers ran at spectral norm up to 1.31 (tiny biggan, 200 steps)."""
    model = tiny_model("biggan", ema=0.99, steps=60, checkpoint_every=60)
    images, labels = data()
    train(model, images, labels, seed=0, checkpoint_path=tmp_path / "c.pt", fingerprint="f")
    assert largest_spectral_norm(model.generator_ema) <= 1.05  # 1.065 with the vectors averaged as they were
    assert largest_spectral_norm(model.generator) <= 1.05  # the live G, for comparison


def test_ema_warms_up_then_holds_its_decay():
    model = tiny_model("biggan")  # ema 0.9
    assert model.ema_decay(0) == pytest.approx(0.1) and model.ema_decay(20) == pytest.approx(21 / 30)
    assert model.ema_decay(10**6) == 0.9


def test_progan_keeps_only_a_full_resolution_generator(tmp_path):
    model = tiny_model("progan", fid_every=2)  # resolution_steps [3, 3, 3, 3, 6]: 64 px at alpha 1 after step 16
    images, labels = data()
    result = train(model, images, labels, seed=0, checkpoint_path=tmp_path / "c.pt", fingerprint="f",
                   evaluate=lambda step: float(step))  # the earliest (lowest resolution) scores best
    assert result.best_step == 16 and model.sampler_is_final()


def test_biggan_follows_the_reference_layout_at_64px():
    """BigGAN-PyTorch arch[64]: G channels ch x (16, 16, 8, 4, 2) at 4..64 px; D downsamples 4 times
    and keeps its last block at 4x4 (one block too many left a 2x2 map of mostly padding)."""
    model = tiny_model("biggan")  # g_ch = d_ch = 4
    G, D = model.generator, model.discriminator
    assert [b.conv2.out_channels for b in G.blocks] == [4 * 16, 4 * 8, 4 * 4, 4 * 2]
    sizes, x = [], torch.zeros(2, 3, 64, 64)
    for block in D.blocks:
        x = block(x)
        sizes.append(x.shape[-1])
    assert sizes == [32, 16, 8, 4, 4]
