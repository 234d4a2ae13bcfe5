"""The autoencoder seed: a conv encoder to an 8x8 code and a decoder back, trained on
reconstruction; new dogs are decoded from codes drawn from a Gaussian fitted to the training
codes (mean and full covariance), so the sampler is part of the saved generator.
"""

from dataclasses import dataclass

import torch
from torch import nn

from doggan.config import option
from doggan.data.dataset import to_float
from doggan.errors import ParamError
from doggan.models.base import GANModel, TrainConfig
from doggan.training.losses import reconstruction_loss

# The sampler's Gaussian is fitted on at most this many crops, evenly spaced over them (every
# breed): 16 per code dimension at nz 512. Encoding all of Kaggle's 22,125 at every cheap FID
# took three quarters of the training stage's time.
SAMPLER_FIT_IMAGES = 8192


@dataclass(frozen=True)
class Config(TrainConfig):
    width: int  = option("channels of the first encoder block", low=4)
    loss: str   = option("reconstruction loss", choices=("l1", "mse"))

    def __post_init__(self):
        if self.nz % 64:
            raise ParamError(f"nz: the autoencoder's code is 8x8xC, so nz must be a multiple of 64, got {self.nz}")


def encoder(width, channels):
    def down(cin, cout):
        return [nn.Conv2d(cin, cout, 4, 2, 1), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2, True)]

    return nn.Sequential(*down(3, width), *down(width, width * 2), *down(width * 2, width * 4),  # 8x8
                         nn.Conv2d(width * 4, channels, 3, 1, 1))


def decoder(width, channels):
    def up(cin, cout):
        return [nn.ConvTranspose2d(cin, cout, 4, 2, 1), nn.BatchNorm2d(cout), nn.ReLU(True)]

    return nn.Sequential(nn.Conv2d(channels, width * 4, 3, 1, 1), nn.ReLU(True),
                         *up(width * 4, width * 2), *up(width * 2, width), nn.ConvTranspose2d(width, 3, 4, 2, 1), nn.Tanh())


class Generator(nn.Module):
    """z ~ N(0, I) (N, nz) -> code = mean + z @ factor.T, the fitted Gaussian -> decoded image."""

    def __init__(self, nz, width):
        super().__init__()
        self.channels = nz // 64
        self.decoder = decoder(width, self.channels)
        self.register_buffer("mean", torch.zeros(nz))
        self.register_buffer("factor", torch.eye(nz))

    def forward(self, z, labels=None):
        code = self.mean + z @ self.factor.T
        return self.decoder(code.view(-1, self.channels, 8, 8))


def build_generator(cfg, n_classes):
    return Generator(cfg.nz, cfg.width)


def gaussian_factor(codes):
    """(mean, F) with F F^T the covariance of the codes (rows), via a symmetric eigendecomposition
    so a rank-deficient covariance (fewer crops than code dimensions) is fine."""
    codes = codes.double()
    mean = codes.mean(0)
    cov = torch.cov(codes.T)
    values, vectors = torch.linalg.eigh(cov)
    return mean.float(), (vectors * values.clamp(min=0).sqrt()).float()


class Model(GANModel):
    def __init__(self, cfg, n_classes):
        super().__init__(cfg, n_classes)
        self.encoder = encoder(cfg.width, cfg.nz // 64)
        self.generator = build_generator(cfg, n_classes)
        self.setup_ema()
        params = [*self.encoder.parameters(), *self.generator.parameters()]
        self.optimizers = {"ae": torch.optim.Adam(params, cfg.lr, betas=(cfg.beta1, cfg.beta2))}

    def compile_targets(self):
        return [self.encoder, self.generator.decoder]  # what train_step runs; it has no discriminator

    def train_step(self, real, labels, progress):
        with self.autocast():
            loss = reconstruction_loss(self.generator.decoder(self.encoder(real)), real, self.cfg.loss)
        return {"loss_rec": self.optimize("ae", loss)}

    @torch.no_grad()
    def prepare_sampler(self, images, device):
        if len(images) > SAMPLER_FIT_IMAGES:
            images = images[torch.linspace(0, len(images) - 1, SAMPLER_FIT_IMAGES).round().long()]
        self.encoder.eval()
        codes = torch.cat([self.encoder(to_float(images[i : i + 256]).to(device)).flatten(1).float().cpu()
                           for i in range(0, len(images), 256)])
        self.encoder.train()
        mean, factor = gaussian_factor(codes)
        for target in filter(None, (self.generator, self.generator_ema)):
            target.mean.copy_(mean)
            target.factor.copy_(factor)
