"""Conditional ProGAN (the 6th-place solution): grows 4 -> 8 -> 16 -> 32 -> 64 with equalized
learning rate, pixel norm, minibatch stddev, a projection discriminator, hinge loss and an EMA
of G.

Each resolution trains `resolution_steps[i]` steps; a new resolution's first `fade` fraction
blends it in, alpha rising linearly from 0 to 1 (the original computed alpha with integer
division, so it stayed 0 and every new block was switched on abruptly). Real images are shown
to D at the current resolution, blended the same way. A step at 8 px costs a few percent of
one at 64 px, so the demo spends 700 of its 1,000 steps below 64 px.

The paper's D is held by WGAN-GP and a drift term; here hinge loss with a projection head, the
drift term `drift * D(real)^2` and R1 (`r1`): without R1, at 8x the demo's budget, the cheap FID
was best 1,000 steps into 64 px and rose after while D's loss kept falling. The projection
embedding starts at the scale of the head's linear term (torch's N(0, 1) rows made the class term
20x the rest of D's output).

MSGAN's mode-seeking term (`mode_seeking`, as cdcgan) pairs samples of one breed from two z. D
sees only one fake per real image, of its breed: when it saw the pairs, its minibatch stddev groups
(samples n/4 apart) each held two pairs of one breed, so a fake group spread less than a real
one, and D told a perfect G's fakes from real images 92% of the time after 1,500 steps at 120
breeds (tests/test_variants.py, the perfect-G test).

G's 3x3 convolutions pad by mirroring the edge (layers.GENERATOR_PADDING), not with zeros: with
zero padding every block marks its border, pixel norm scales that mark to full strength, and in
the demo's few hundred steps at 64 px G never unlearnt it: every sample had a bright frame.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from doggan.config import option
from doggan.errors import ParamError
from doggan.models.base import GANModel, TrainConfig, compile_method
from doggan.models.layers import GENERATOR_PADDING, ProjectionHead, minibatch_stddev
from doggan.training.losses import (drift_penalty, hinge_d_loss, hinge_g_loss, mode_seeking_loss, mode_seeking_pairs,
                                     r1_penalty)

RESOLUTIONS = (4, 8, 16, 32, 64)


@dataclass(frozen=True)
class Config(TrainConfig):
    channels: int                = option("channels up to 16x16 (halved at 32, quartered at 64)", low=8)
    embed: int                   = option("size of G's breed embedding (joined to z)", low=1)
    resolution_steps: list[int] = option("steps at 4, 8, 16, 32 and 64 px; their sum "
                                         "replaces model.steps", low=1)
    fade: float                 = option("fraction of each new resolution's steps spent fading it in",
                                         low=0.0, high=1.0)
    drift: float                = option("weight of D(real)^2 in D's loss (the paper's epsilon_drift)", low=0.0)
    r1: float                   = option("weight of the R1 penalty (gamma / 2) on D's gradient at real images", low=0.0)
    mode_seeking: float         = option("weight of MSGAN's mode-seeking term (as cdcgan's)", low=0.0)

    STEP_FIELDS = (*TrainConfig.STEP_FIELDS, "resolution_steps")

    def __post_init__(self):
        if len(self.resolution_steps) != len(RESOLUTIONS):
            raise ParamError(f"resolution_steps: expected 5 numbers (for {RESOLUTIONS} px), got {self.resolution_steps}")
        object.__setattr__(self, "steps", sum(self.resolution_steps))


def schedule(cfg, progress):
    """(stage, alpha) at `progress` in [0, 1]: stage indexes RESOLUTIONS, alpha the fade-in of it."""
    step = progress * sum(cfg.resolution_steps)
    start = 0.0
    for stage, steps in enumerate(cfg.resolution_steps):
        if step < start + steps or stage == len(RESOLUTIONS) - 1:
            if stage == 0 or cfg.fade == 0:
                return stage, 1.0
            return stage, min(1.0, (step - start) / (cfg.fade * steps))
        start += steps


class EqualizedConv2d(nn.Module):
    """Conv whose weights are N(0, 1) and scaled by He's constant at run time, so Adam's
    per-parameter step sizes act alike on every layer (ProGAN's equalized learning rate).
    `pad_mode`: "zeros", or an F.pad mode ("reflect")."""

    def __init__(self, cin, cout, kernel, padding=0, pad_mode="zeros"):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.scale, self.padding, self.pad_mode = math.sqrt(2 / (cin * kernel * kernel)), padding, pad_mode

    def forward(self, x):
        if self.pad_mode == "zeros":
            return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)
        return F.conv2d(F.pad(x, [self.padding] * 4, mode=self.pad_mode), self.weight * self.scale, self.bias)


class EqualizedLinear(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.scale = math.sqrt(2 / cin)

    def forward(self, x):
        return F.linear(x, self.weight * self.scale, self.bias)


def pixel_norm(x, eps=1e-8):
    return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + eps)


def widths(channels):
    return [channels, channels, channels, channels // 2, channels // 4]


class Generator(nn.Module):
    """(z, breed) -> image; `stage` and `alpha` (buffers, saved with the weights) choose the
    resolution; forward() always returns 64x64 (nearest-upsampled below 64) for sampling."""

    def __init__(self, nz, channels, embed, n_classes):
        super().__init__()
        w = widths(channels)
        self.embed = nn.Embedding(n_classes, embed)
        self.input = EqualizedLinear(nz + embed, w[0] * 16)

        def conv(cin, cout):
            return EqualizedConv2d(cin, cout, 3, 1, GENERATOR_PADDING)

        self.blocks = nn.ModuleList(
            [conv(w[0], w[0])] + [nn.ModuleList([conv(w[i - 1], w[i]), conv(w[i], w[i])]) for i in range(1, len(RESOLUTIONS))])
        self.to_rgb = nn.ModuleList([EqualizedConv2d(c, 3, 1) for c in w])
        self.register_buffer("stage", torch.tensor(len(RESOLUTIONS) - 1))
        self.register_buffer("alpha", torch.tensor(1.0))
        self.current = (len(RESOLUTIONS) - 1, 1.0)  # the buffers as numbers: read per forward without a device sync
        self.register_load_state_dict_post_hook(lambda module, _: module.set_stage(int(module.stage), float(module.alpha)))

    def set_stage(self, stage, alpha):
        """Choose the resolution; the buffers save it with the weights."""
        self.stage.fill_(stage)
        self.alpha.fill_(alpha)
        self.current = (stage, alpha)

    def block(self, i, x):
        if i == 0:
            return pixel_norm(F.leaky_relu(self.blocks[0](x), 0.2))
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        for conv in self.blocks[i]:
            x = pixel_norm(F.leaky_relu(conv(x), 0.2))
        return x

    def synthesize(self, z, labels):
        """Images at the current stage's resolution."""
        stage, alpha = self.current
        x = pixel_norm(torch.cat([pixel_norm(z), self.embed(labels)], 1))
        x = pixel_norm(F.leaky_relu(self.input(x), 0.2).view(len(z), -1, 4, 4))
        for i in range(stage):
            x = self.block(i, x)
        new = self.to_rgb[stage](self.block(stage, x))
        if alpha < 1.0:  # fade: blend with the previous resolution's output, upsampled
            old = F.interpolate(self.to_rgb[stage - 1](x), scale_factor=2, mode="nearest")
            new = alpha * new + (1 - alpha) * old
        return torch.tanh(new)

    def forward(self, z, labels):
        x = self.synthesize(z, labels)
        return F.interpolate(x, size=RESOLUTIONS[-1], mode="nearest") if x.shape[-1] != RESOLUTIONS[-1] else x


class Discriminator(nn.Module):
    """(image at any stage's resolution, breed) -> logit, with a projection head."""

    def __init__(self, channels, n_classes):
        super().__init__()
        w = widths(channels)
        self.from_rgb = nn.ModuleList([EqualizedConv2d(3, c, 1) for c in w])
        self.blocks = nn.ModuleList(
            [nn.ModuleList([EqualizedConv2d(w[0] + 1, w[0], 3, 1), EqualizedConv2d(w[0], w[0], 4)])]
            + [nn.ModuleList([EqualizedConv2d(w[i], w[i], 3, 1), EqualizedConv2d(w[i], w[i - 1], 3, 1)])
               for i in range(1, len(RESOLUTIONS))])
        self.head = ProjectionHead(w[0], n_classes, sn=False)
        nn.init.normal_(self.head.embed.weight, 0.0, w[0] ** -0.5)  # the class term on the scale of linear(h)

    def block(self, i, x):
        if i == 0:
            x = F.leaky_relu(self.blocks[0][0](minibatch_stddev(x)), 0.2)
            return F.leaky_relu(self.blocks[0][1](x), 0.2).flatten(1)
        for conv in self.blocks[i]:
            x = F.leaky_relu(conv(x), 0.2)
        return F.avg_pool2d(x, 2)

    def forward(self, image, labels, alpha=1.0):
        stage = RESOLUTIONS.index(image.shape[-1])
        x = self.block(stage, F.leaky_relu(self.from_rgb[stage](image), 0.2))
        if alpha < 1.0:
            old = F.leaky_relu(self.from_rgb[stage - 1](F.avg_pool2d(image, 2)), 0.2)
            x = alpha * x + (1 - alpha) * old
        for i in range(stage - 1, -1, -1):
            x = self.block(i, x)
        return self.head(x, labels)


def resize_real(real, stage, alpha):
    """Real images at the stage's resolution, blended with the previous one during a fade."""
    size = RESOLUTIONS[stage]
    x = F.adaptive_avg_pool2d(real, size)
    if alpha < 1.0:
        x = alpha * x + (1 - alpha) * F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="nearest")
    return x


def build_generator(cfg, n_classes):
    return Generator(cfg.nz, cfg.channels, cfg.embed, n_classes)


class Model(GANModel):
    conditional = True
    truncation_acts = False  # G pixel-normalises z first: redrawing its large entries leaves its direction, and the
                             # samples (pixel std over z 0.359 at truncation 0, 0.364 at 0.5, against biggan's 0.69 -> 0.27)

    def __init__(self, cfg, n_classes):
        super().__init__(cfg, n_classes)
        self.generator = build_generator(cfg, n_classes)
        self.discriminator = Discriminator(cfg.channels, n_classes)
        self.setup_ema()
        self.optimizers = self.adam_for_g_and_d()

    def sampler_is_final(self):
        return self.sampler().current == (len(RESOLUTIONS) - 1, 1.0)

    def compile_networks(self):
        """Only what is static within a stage: G's and D's blocks, one graph per resolution. Compiled
        whole, G.synthesize (which train_step calls, not forward) reads alpha as a Python float and
        compiled again at every step of a fade. D stays eager under R1: AOTAutograd has no double backward."""
        for net in (self.generator, self.discriminator) if self.cfg.r1 == 0 else (self.generator,):
            compile_method(net, "block", dynamic=False)

    def train_step(self, real, labels, progress):
        G, D = self.generator, self.discriminator
        stage, alpha = schedule(self.cfg, progress)
        for g in filter(None, (G, self.generator_ema)):
            g.set_stage(stage, alpha)
        real = resize_real(real, stage, alpha)
        # as cdcgan: with mode seeking G also draws the first half's breeds once more, ahead of the
        # batch, and D sees only the fakes of the real batch's own breeds (see the module docstring)
        g_labels = mode_seeking_pairs(labels) if self.cfg.mode_seeking else labels
        pairs = len(g_labels) - len(labels)  # G's first 2 * pairs samples are mode_seeking_loss's pairs
        z = torch.randn(len(g_labels), self.cfg.nz, device=real.device)
        real.requires_grad_(self.cfg.r1 > 0)
        with self.autocast():
            drawn = G.synthesize(z, g_labels)
            fake = drawn[pairs:]  # what D sees: one fake per real image, of its breed
            real_logits = D(real, labels, alpha)
            penalty = self.cfg.drift * drift_penalty(real_logits)
            if self.cfg.r1 > 0:
                penalty = penalty + self.cfg.r1 * r1_penalty(real_logits, real)
            loss_d = hinge_d_loss(real_logits, D(fake.detach(), labels, alpha)) + penalty
        loss_d = self.optimize("d", loss_d)
        with self.autocast():
            loss_g = hinge_g_loss(D(fake, labels, alpha))
            if self.cfg.mode_seeking:
                loss_g = loss_g + self.cfg.mode_seeking * mode_seeking_loss(drawn[:2 * pairs], z[:2 * pairs])
        loss_g = self.optimize("g", loss_g)
        return {"loss_d": loss_d, "loss_g": loss_g, "resolution": RESOLUTIONS[stage], "alpha": alpha}
