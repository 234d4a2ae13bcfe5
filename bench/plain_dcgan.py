"""The yardstick: pytorch/examples' DCGAN (dcgan/main.py), written out on its own so that it shares
nothing with doggan's models or training loop. Same architecture (ngf = ndf = 64), N(0, 0.02)
init, BCE on a sigmoid output, Adam 2e-4 / (0.5, 0.999), real label 1 and fake 0, one D and one
G step per batch, and samples drawn with G in train mode, as the example draws them.

If a doggan variant cannot beat this at the same wall time on the same crops, the variant is
broken, not the budget.
"""

import time

import torch
from torch import nn


class Generator(nn.Module):
    def __init__(self, nz=100, ngf=64):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
            nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh())

    def forward(self, z, labels=None):
        return self.main(z.view(len(z), -1, 1, 1))


class Discriminator(nn.Module):
    def __init__(self, ndf=64):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(3, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 8), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid())

    def forward(self, x):
        return self.main(x).view(-1)


def weights_init(m):
    name = m.__class__.__name__
    if name.find("Conv") != -1:
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif name.find("BatchNorm") != -1:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class PlainDCGAN:
    """Trains for a wall-clock budget; `sampler()` and `cfg.nz` match what doggan's CheapFID expects."""

    class cfg:  # noqa: N801  (read as model.cfg.nz, like a GANModel)
        nz = 100

    def __init__(self, seed):
        torch.manual_seed(seed)
        self.generator, self.discriminator = Generator(), Discriminator()
        self.generator.apply(weights_init)
        self.discriminator.apply(weights_init)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.seed = seed

    def sampler(self):
        return _TrainModeSampler(self.generator)

    def train(self, images, seconds=float("inf"), batch_size=64, on_eval=None, eval_every=None, steps=None, on_step=None):
        """images: uint8 (N, 3, 64, 64). Trains for `seconds` of training time (evaluations not
        counted), or for `steps` steps; on_eval(seconds, steps) every `eval_every` seconds,
        on_step(steps) after every step. Returns (seconds, steps)."""
        criterion, g = nn.BCELoss(), torch.Generator().manual_seed(self.seed)
        spent, done, next_eval, limit = 0.0, 0, eval_every, steps or float("inf")

        def finished():
            return spent >= seconds or done >= limit

        while not finished():
            for idx in torch.randperm(len(images), generator=g).split(batch_size):
                if len(idx) < batch_size or finished():
                    continue
                began = time.perf_counter()
                real = (images[idx].float() / 255 - 0.5) / 0.5  # transforms.Normalize((0.5,) * 3, (0.5,) * 3)
                noise = torch.randn(batch_size, 100)
                fake = self.generator(noise)
                self.discriminator.zero_grad()
                loss_d = criterion(self.discriminator(real), torch.full((batch_size,), 1.0))
                loss_d = loss_d + criterion(self.discriminator(fake.detach()), torch.full((batch_size,), 0.0))
                loss_d.backward()
                self.opt_d.step()
                self.generator.zero_grad()
                criterion(self.discriminator(fake), torch.full((batch_size,), 1.0)).backward()
                self.opt_g.step()
                done += 1
                spent += time.perf_counter() - began
                if on_step:
                    on_step(done)
                if on_eval and next_eval and spent >= next_eval:
                    on_eval(spent, done)
                    next_eval += eval_every
        return spent, done


class _TrainModeSampler(nn.Module):
    """pytorch/examples samples with netG in train mode (BatchNorm on the batch's own statistics)."""

    def __init__(self, generator):
        super().__init__()
        self.generator = generator

    def forward(self, z, labels=None):
        return self.generator.train()(z)
