"""DCGAN with the bag of tricks of the DCGAN-Dog-Generator solution, each one really acting.

The original computed label smoothing, instance noise and a cosine LR schedule but never fed
them to the loss or the optimiser. Here the smoothed target reaches the BCE, the noise is added
to both of D's inputs with a level that decays linearly to 0, and the cosine schedule (model
`lr_schedule: cosine`, set by the shared loop) drives the optimisers' learning rate.
"""

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import spectral_norm

from doggan.config import option
from doggan.models.base import GANModel, TrainConfig
from doggan.models.layers import DCGANGenerator, minibatch_stddev, truncated_normal_init
from doggan.training.losses import bce_d_loss, bce_g_loss


@dataclass(frozen=True)
class Config(TrainConfig):
    ngf: int               = option("generator width", low=4)
    ndf: int               = option("discriminator width", low=4)
    g_dropout: float       = option("dropout after G's first two blocks (the original's 0.5 feeds BatchNorm, "
                                    "so eval-mode samples get the wrong variance)", low=0.0, high=0.95)
    label_smoothing: float = option("real target is 1 - this (one-sided smoothing)", low=0.0, high=0.5)
    instance_noise: float  = option("std of noise on D's inputs at step 0, decayed linearly to 0", low=0.0)
    spectral_norm: bool    = option("spectral norm on D's convolutions")
    d_batchnorm: bool      = option("BatchNorm after D's inner convolutions, as pytorch/examples' DCGAN")
    minibatch_std: bool    = option("minibatch stddev before D's last layer (ProGAN's), so D sees a batch's diversity")


class Discriminator(nn.Module):
    """image (N, 3, 64, 64) -> logit (N,)."""

    def __init__(self, ndf, use_sn, batchnorm=False, minibatch_std=False):
        super().__init__()
        self.minibatch_std = minibatch_std
        sn = spectral_norm if use_sn else (lambda m: m)

        def down(cin, cout, bn=batchnorm):
            return [sn(nn.Conv2d(cin, cout, 4, 2, 1, bias=not bn)), *([nn.BatchNorm2d(cout)] if bn else []),
                    nn.LeakyReLU(0.2, True)]

        self.net = nn.Sequential(
            *down(3, ndf, bn=False), *down(ndf, ndf * 2), *down(ndf * 2, ndf * 4), *down(ndf * 4, ndf * 8),  # 4x4
        )
        self.out = sn(nn.Conv2d(ndf * 8 + minibatch_std, 1, 4, 1, 0))

    def forward(self, x, labels=None):
        h = self.net(x)
        return self.out(minibatch_stddev(h) if self.minibatch_std else h).flatten()


def build_generator(cfg, n_classes):
    return DCGANGenerator(cfg.nz, cfg.ngf, cfg.g_dropout)


class Model(GANModel):
    def __init__(self, cfg, n_classes):
        super().__init__(cfg, n_classes)
        self.generator = build_generator(cfg, n_classes)
        self.discriminator = Discriminator(cfg.ndf, cfg.spectral_norm, cfg.d_batchnorm, cfg.minibatch_std)
        self.apply(truncated_normal_init)
        self.setup_ema()
        self.optimizers = self.adam_for_g_and_d()

    def noise_std(self, progress):
        """Instance-noise level: cfg.instance_noise at the start, 0 at the end."""
        return self.cfg.instance_noise * max(0.0, 1.0 - progress)

    def real_target(self):
        return 1.0 - self.cfg.label_smoothing

    def train_step(self, real, labels, progress):
        G, D = self.generator, self.discriminator
        sigma = self.noise_std(progress)
        noisy = lambda x: x + sigma * torch.randn_like(x) if sigma > 0 else x  # noqa: E731
        with self.autocast():
            fake = G(torch.randn(real.shape[0], self.cfg.nz, device=real.device))
            loss_d = bce_d_loss(D(noisy(real)), D(noisy(fake.detach())), real_target=self.real_target())
        loss_d = self.optimize("d", loss_d)
        with self.autocast():
            loss_g = bce_g_loss(D(noisy(fake)))
        return {"loss_d": loss_d, "loss_g": self.optimize("g", loss_g), "instance_noise": sigma}
