"""The basic GAN of the autoencoder-vs-GAN solution: three convolutions in G and three in D,
batch norm in both, leaky ReLU, a tanh output, BCE and Adam. The smallest thing that is a GAN,
so every other variant has a floor to beat."""

from dataclasses import dataclass

import torch
from torch import nn

from doggan.config import option
from doggan.models.base import GANModel, TrainConfig
from doggan.training.losses import bce_d_loss, bce_g_loss


@dataclass(frozen=True)
class Config(TrainConfig):
    width: int = option("channels of G's last and D's first convolution (x2, x4 at the others)", low=4)


def block(conv, channels, norm=True):
    return [conv, *([nn.BatchNorm2d(channels)] if norm else []), nn.LeakyReLU(0.2, True)]


class Generator(nn.Module):
    """z -> dense 8x8 map -> three up-convolutions to 64x64."""

    def __init__(self, nz, width):
        super().__init__()
        self.input = nn.Sequential(nn.Linear(nz, width * 4 * 8 * 8, bias=False), nn.BatchNorm1d(width * 4 * 8 * 8),
                                   nn.LeakyReLU(0.2, True), nn.Unflatten(1, (width * 4, 8, 8)))
        self.net = nn.Sequential(
            *block(nn.ConvTranspose2d(width * 4, width * 2, 4, 2, 1, bias=False), width * 2),  # 16x16
            *block(nn.ConvTranspose2d(width * 2, width, 4, 2, 1, bias=False), width),  # 32x32
            nn.ConvTranspose2d(width, 3, 4, 2, 1), nn.Tanh(),  # 64x64
        )

    def forward(self, z, labels=None):
        return self.net(self.input(z))


class Discriminator(nn.Module):
    """64x64 -> three strided convolutions to 8x8 -> dense logit."""

    def __init__(self, width):
        super().__init__()
        self.net = nn.Sequential(
            *block(nn.Conv2d(3, width, 4, 2, 1), width, norm=False),  # 32x32
            *block(nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), width * 2),  # 16x16
            *block(nn.Conv2d(width * 2, width * 4, 4, 2, 1, bias=False), width * 4),  # 8x8
            nn.Flatten(), nn.Linear(width * 4 * 8 * 8, 1),
        )

    def forward(self, x, labels=None):
        return self.net(x).flatten()


def build_generator(cfg, n_classes):
    return Generator(cfg.nz, cfg.width)


class Model(GANModel):
    def __init__(self, cfg, n_classes):
        super().__init__(cfg, n_classes)
        self.generator = build_generator(cfg, n_classes)
        self.discriminator = Discriminator(cfg.width)
        self.setup_ema()
        self.optimizers = self.adam_for_g_and_d()

    def train_step(self, real, labels, progress):
        G, D = self.generator, self.discriminator
        with self.autocast():
            fake = G(torch.randn(real.shape[0], self.cfg.nz, device=real.device))
            loss_d = bce_d_loss(D(real), D(fake.detach()))
        loss_d = self.optimize("d", loss_d)
        with self.autocast():
            loss_g = bce_g_loss(D(fake))
        return {"loss_d": loss_d, "loss_g": self.optimize("g", loss_g)}
