"""Conditional DCGAN (the C-DCGAN seed, ported from Fashion-MNIST to 64x64 dogs).

The breed enters G as a learned embedding joined to z, and D as an extra input channel: the
embedding painted as a 64x64 map. D has dropout; BCE with the real target smoothed to 0.9.
Before D's output, the spread of its features among the batch's images of the same breed
(`breedwise_stddev`): ProGAN's minibatch stddev over random groups mixes breeds, whose images
differ anyway, so a G drawing one image per breed went unseen. The
seed also smoothed the fake target to 0.1, which removes D's push on samples far from the data
(Salimans et al. 2016, section 3.4): it is 0 here by default (`fake_target`).

Breedwise stddev alone left each breed's samples at a third of the real images' pixel spread
(std over z 0.13 against 0.36): G also pays MSGAN's mode-seeking term (Mao et al. 2019), for
which G draws the first half of the batch's breeds a second time, from other z. D never sees those
extra samples: its fake batch has exactly the real batch's breeds. When it saw the pairs, every breed
of a fake batch came at least twice, while most real images at 120 breeds are their batch's only one
of their breed; breedwise_stddev gave those a constant no fake got, and D told a perfect G's fakes
from real images 86% of the time after 400 steps (tests/test_variants.py, the perfect-G test).

Neither held at 8x the demo's budget: D learnt the demo's 892 crops by heart (its loss fell to
0.37, near BCE's floor with a 0.9 target) and each breed collapsed to one image again. D sees
real and fake through DiffAugment (`augment`, as biggan), which keeps it from memorising them.
"""

from dataclasses import dataclass
from functools import partial

import torch
from torch import nn

from doggan.config import option
from doggan.models.base import GANModel, TrainConfig
from doggan.models.layers import DCGANGenerator, breedwise_stddev, truncated_normal_init
from doggan.training.augment import check_policy, diff_augment
from doggan.training.losses import bce_d_loss, bce_g_loss, mode_seeking_loss, mode_seeking_pairs


@dataclass(frozen=True)
class Config(TrainConfig):
    ngf: int            = option("generator width", low=4)
    ndf: int            = option("discriminator width", low=4)
    embed: int          = option("size of G's breed embedding", low=1)
    d_dropout: float    = option("dropout after each of D's blocks", low=0.0, high=0.95)
    minibatch_std: bool = option("minibatch stddev within each breed before D's last layer, so a G that "
                                 "ignores z within a breed is caught")
    real_target: float  = option("BCE target for real images", low=0.5, high=1.0)
    fake_target: float  = option("BCE target for generated images (the seed's 0.1 lets bad samples off: "
                                 "Salimans et al. 2016, 3.4)", low=0.0, high=0.5)
    mode_seeking: float = option("weight of MSGAN's mode-seeking term: G pays for drawing alike images of "
                                 "one breed from different z", low=0.0)
    augment: str        = option("DiffAugment policy for D's inputs, comma-separated ('' for none)")

    def __post_init__(self):
        check_policy(self.augment)


class Generator(nn.Module):
    """(z, breed) -> image: DCGAN's up-convolutions on [z, embed(breed)]."""

    def __init__(self, nz, ngf, embed, n_classes):
        super().__init__()
        self.embed = nn.Embedding(n_classes, embed)
        self.body = DCGANGenerator(nz + embed, ngf, dropout=0.0)

    def forward(self, z, labels):
        return self.body(torch.cat([z, self.embed(labels)], 1))


class Discriminator(nn.Module):
    """(image, breed) -> logit; the breed is a fourth input channel."""

    def __init__(self, ndf, dropout, n_classes, size=64, minibatch_std=True):
        super().__init__()
        self.size, self.minibatch_std = size, minibatch_std
        self.label_map = nn.Embedding(n_classes, size * size)

        def down(cin, cout, bn=True):
            return [nn.Conv2d(cin, cout, 4, 2, 1, bias=not bn), *([nn.BatchNorm2d(cout)] if bn else []),
                    nn.LeakyReLU(0.2, True), nn.Dropout(dropout)]

        self.net = nn.Sequential(*down(4, ndf, bn=False), *down(ndf, ndf * 2), *down(ndf * 2, ndf * 4),
                                 *down(ndf * 4, ndf * 8))
        self.out = nn.Conv2d(ndf * 8 + minibatch_std, 1, 4, 1, 0)

    def forward(self, x, labels):
        label_channel = self.label_map(labels).view(-1, 1, self.size, self.size)
        h = self.net(torch.cat([x, label_channel], 1))
        return self.out(breedwise_stddev(h, labels, self.label_map.num_embeddings) if self.minibatch_std else h).flatten()


def build_generator(cfg, n_classes):
    return Generator(cfg.nz, cfg.ngf, cfg.embed, n_classes)


class Model(GANModel):
    conditional = True

    def __init__(self, cfg, n_classes):
        super().__init__(cfg, n_classes)
        self.generator = build_generator(cfg, n_classes)
        self.discriminator = Discriminator(cfg.ndf, cfg.d_dropout, n_classes, minibatch_std=cfg.minibatch_std)
        self.apply(truncated_normal_init)
        self.setup_ema()
        self.optimizers = self.adam_for_g_and_d()

    def train_step(self, real, labels, progress):
        G, D, cfg = self.generator, self.discriminator, self.cfg
        # with mode seeking G also draws the first half's breeds once more, ahead of the batch: D's
        # fakes must carry the real batch's breeds, or D tells them by the batch's breed counts alone
        g_labels = mode_seeking_pairs(labels) if cfg.mode_seeking else labels
        pairs = len(g_labels) - len(labels)  # G's first 2 * pairs samples are mode_seeking_loss's pairs
        z = torch.randn(len(g_labels), cfg.nz, device=real.device)
        augment = partial(diff_augment, policy=cfg.augment)
        with self.autocast():
            drawn = G(z, g_labels)
            fake = drawn[pairs:]  # what D sees: one fake per real image, of its breed
            loss_d = bce_d_loss(D(augment(real), labels), D(augment(fake.detach()), labels),
                                cfg.real_target, cfg.fake_target)
        loss_d = self.optimize("d", loss_d)
        with self.autocast():
            loss_g = bce_g_loss(D(augment(fake), labels))
            if cfg.mode_seeking:
                loss_g = loss_g + cfg.mode_seeking * mode_seeking_loss(drawn[:2 * pairs], z[:2 * pairs])
        return {"loss_d": loss_d, "loss_g": self.optimize("g", loss_g)}
