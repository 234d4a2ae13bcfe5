"""pytorch/examples' DCGAN (dcgan/main.py) as it is, the yardstick: if a variant cannot beat it on the
same crops, at the same seeds, steps and keep rule, the variant is broken, not the budget.

As there: G of four up-convolutions from z seen as a 1x1 map, BatchNorm and ReLU, a tanh output, no
biases; D of four strided convolutions, LeakyReLU 0.2, BatchNorm but on the first, a 4x4 convolution
to one output, no biases; convolutions N(0, 0.02), BatchNorm weights N(1, 0.02) and biases 0; BCE with
real label 1 and fake 0; Adam at model.lr / beta1 / beta2 (2e-4, 0.5, 0.999, the example's); one D
step then one G step per batch, G's against D's updated weights on the same fakes. No tricks: its
params block (the quality run's, bench/quality.yaml; the demo's params.yaml has none) gives it the
example's ngf = ndf = 64 and no flips; model's constant LR and no EMA of G are the example's too. Batch
size and nz are the shared model's (32, 100; the example's 64 learns less per CPU-minute on 2 cores).
"""

from dataclasses import dataclass

import torch
from torch import nn

from doggan.config import option
from doggan.models.base import GANModel, TrainConfig
from doggan.training.losses import bce_d_loss, bce_g_loss


@dataclass(frozen=True)
class Config(TrainConfig):
    ngf: int = option("generator width (pytorch/examples: 64)", low=1)
    ndf: int = option("discriminator width (pytorch/examples: 64)", low=1)


class Generator(nn.Module):
    """netG: z (N, nz) -> image (N, 3, 64, 64) in [-1, 1]; labels are accepted and ignored."""

    def __init__(self, nz, ngf):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),  # 4x4
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),  # 8x8
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),  # 16x16
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),  # 32x32
            nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh())  # 64x64

    def forward(self, z, labels=None):
        return self.main(z.view(len(z), -1, 1, 1))


class Discriminator(nn.Module):
    """netD without its final nn.Sigmoid: image (N, 3, 64, 64) -> logit (N,). The sigmoid is inside the
    loss: the shared BCE (training/losses.py) is binary_cross_entropy_with_logits, the example's
    BCELoss(sigmoid(x)) in one log-sum-exp, the same function and gradients without the sigmoid's
    rounding to 0 or 1 (where BCELoss clamps its logs at -100)."""

    def __init__(self, ndf):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(3, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True),  # 32x32
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, True),  # 16x16
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, True),  # 8x8
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 8), nn.LeakyReLU(0.2, True),  # 4x4
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False))

    def forward(self, x, labels=None):
        return self.main(x).view(-1)


def weights_init(m):
    """The example's weights_init, by class name as there (Conv2d and ConvTranspose2d alike)."""
    name = m.__class__.__name__
    if name.find("Conv") != -1:
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif name.find("BatchNorm") != -1:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def build_generator(cfg, n_classes):
    return Generator(cfg.nz, cfg.ngf)


class Model(GANModel):
    # Sampling. The example draws its samples with netG in train mode: BatchNorm on the statistics of
    # the batch drawn. Here a sample must not depend on what shares its forward pass (the server packs
    # requests, generate pads its passes, CheapFID and generator.pt put G in eval mode), so G samples in
    # eval mode with the base class's prepare_sampler: standing statistics, the plain average of the
    # batch statistics of 16 batches of batch_size samples at G's final weights (its own RNG), i.e. the
    # expectation of the statistics the example's train-mode sampling uses, fixed. The running averages
    # that training leaves (momentum 0.1 over the last steps' weights) would be the unfaithful choice.

    def __init__(self, cfg, n_classes):
        super().__init__(cfg, n_classes)
        self.generator = build_generator(cfg, n_classes).apply(weights_init)  # netG, then netD, as the example
        self.discriminator = Discriminator(cfg.ndf).apply(weights_init)
        self.setup_ema()  # none at model.ema 0, as the example
        self.optimizers = self.adam_for_g_and_d()

    def train_step(self, real, labels, progress):
        G, D = self.generator, self.discriminator
        with self.autocast():
            fake = G(torch.randn(real.shape[0], self.cfg.nz, device=real.device))
            loss_d = bce_d_loss(D(real), D(fake.detach()), real_target=1.0, fake_target=0.0)  # errD_real + errD_fake
        loss_d = self.optimize("d", loss_d)
        with self.autocast():
            loss_g = bce_g_loss(D(fake))  # errG: the fakes labelled real, through the updated D
        return {"loss_d": loss_d, "loss_g": self.optimize("g", loss_g)}
