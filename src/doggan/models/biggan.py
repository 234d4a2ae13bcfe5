"""BigGAN at 64x64 (what 4 of the top 5 teams used), plus DiffAugment, which came after.

G: a shared breed embedding and hierarchical z (one chunk of z per block) feed conditional
BatchNorm in residual up-blocks 4 -> 64, with self-attention at 32x32. D: residual down-blocks
with self-attention at 32x32 and a projection head. Spectral norm in both, hinge loss, D's
learning rate above G's (TTUR), an EMA of G for sampling, truncation at generation
(generate.truncation). DiffAugment (colour, translation, cutout) is applied to real and
generated images alike before D, the biggest single gain on a few thousand training images.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm

from doggan.config import option
from doggan.errors import ParamError
from doggan.models.base import GANModel, TrainConfig
from doggan.models.layers import GENERATOR_PADDING, ConditionalBatchNorm2d, ProjectionHead, SelfAttention, upsample2x
from doggan.training.augment import check_policy, diff_augment
from doggan.training.losses import hinge_d_loss, hinge_g_loss

G_MULTIPLIERS = (16, 16, 8, 4, 2)  # channels = ch x these at 4, 8, 16, 32, 64 px (BigGAN-PyTorch's arch[64])
D_MULTIPLIERS = (1, 2, 4, 8, 16)   # after each D block: at 32, 16, 8, 4 and 4 px (the last keeps 4x4)


@dataclass(frozen=True)
class Config(TrainConfig):
    g_ch: int       = option("G width multiplier", low=4)
    d_ch: int       = option("D width multiplier", low=4)
    shared_dim: int = option("size of the shared breed embedding", low=1)
    d_lr: float     = option("D's learning rate (G uses model.lr)", low=0.0, low_open=True)
    augment: str    = option("DiffAugment policy, comma-separated ('' for none)")

    def __post_init__(self):
        check_policy(self.augment)
        if self.nz % len(G_MULTIPLIERS):
            raise ParamError(f"nz: BigGAN splits z into {len(G_MULTIPLIERS)} chunks, so nz must be a multiple of "
                             f"{len(G_MULTIPLIERS)}, got {self.nz}")


def sn_conv(cin, cout, kernel=3, padding=1, padding_mode="zeros"):
    return spectral_norm(nn.Conv2d(cin, cout, kernel, 1, padding, padding_mode=padding_mode))


def g_conv(cin, cout):
    """G's 3x3 convolution, padded by mirroring (layers.GENERATOR_PADDING: zeros drew a frame)."""
    return sn_conv(cin, cout, padding_mode=GENERATOR_PADDING)


class GBlock(nn.Module):
    """Residual up-block: cBN-ReLU-up-conv-cBN-ReLU-conv, plus an upsampled 1x1 shortcut."""

    def __init__(self, cin, cout, cond_dim):
        super().__init__()
        self.bn1, self.bn2 = ConditionalBatchNorm2d(cin, cond_dim), ConditionalBatchNorm2d(cout, cond_dim)
        self.conv1, self.conv2 = g_conv(cin, cout), g_conv(cout, cout)
        self.shortcut = sn_conv(cin, cout, 1, 0)

    def forward(self, x, cond):
        h = upsample2x(F.relu(self.bn1(x, cond)))
        h = self.conv2(F.relu(self.bn2(self.conv1(h), cond)))
        return h + self.shortcut(upsample2x(x))


class Generator(nn.Module):
    """(z, breed) -> 64x64 image. z is split into 5 chunks: one for the 4x4 input, one per block."""

    def __init__(self, nz, ch, shared_dim, n_classes):
        super().__init__()
        self.chunk = nz // len(G_MULTIPLIERS)
        widths = [ch * m for m in G_MULTIPLIERS]
        self.shared = nn.Embedding(n_classes, shared_dim)
        self.input = spectral_norm(nn.Linear(self.chunk, widths[0] * 16))
        self.blocks = nn.ModuleList([GBlock(widths[i], widths[i + 1], shared_dim + self.chunk) for i in range(4)])
        self.attention_after = 2  # block 2 outputs 32x32
        self.attention = SelfAttention(widths[3])
        self.out = nn.Sequential(nn.BatchNorm2d(widths[-1]), nn.ReLU(), g_conv(widths[-1], 3), nn.Tanh())

    def forward(self, z, labels):
        chunks = z.split(self.chunk, dim=1)
        shared = self.shared(labels)
        x = self.input(chunks[0]).view(len(z), -1, 4, 4)
        for i, block in enumerate(self.blocks):
            x = block(x, torch.cat([shared, chunks[i + 1]], 1))
            if i == self.attention_after:
                x = self.attention(x)
        return self.out(x)


class DBlock(nn.Module):
    """Residual down-block: (ReLU)-conv-ReLU-conv-avgpool, plus a 1x1 avgpooled shortcut."""

    def __init__(self, cin, cout, preactivation=True, downsample=True):
        super().__init__()
        self.conv1, self.conv2 = sn_conv(cin, cout), sn_conv(cout, cout)
        self.shortcut = sn_conv(cin, cout, 1, 0)
        self.preactivation = preactivation
        self.pool = (lambda x: F.avg_pool2d(x, 2)) if downsample else (lambda x: x)

    def forward(self, x):
        h = F.relu(x) if self.preactivation else x
        return self.pool(self.conv2(F.relu(self.conv1(h)))) + self.pool(self.shortcut(x))


class Discriminator(nn.Module):
    def __init__(self, ch, n_classes):
        super().__init__()
        widths = [ch * m for m in D_MULTIPLIERS]
        self.blocks = nn.ModuleList([DBlock(3, widths[0], preactivation=False)]
                                    + [DBlock(widths[i], widths[i + 1], downsample=i < 3) for i in range(4)])
        self.attention = SelfAttention(widths[0])  # after block 0: 32x32
        self.head = ProjectionHead(widths[-1], n_classes)

    def forward(self, x, labels):
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i == 0:
                x = self.attention(x)
        return self.head(F.relu(x).sum(dim=(2, 3)), labels)  # sum pooling, as BigGAN


def build_generator(cfg, n_classes):
    return Generator(cfg.nz, cfg.g_ch, cfg.shared_dim, n_classes)


def orthogonal_init(module):
    if isinstance(module, (nn.Conv2d, nn.Linear, nn.Embedding)):
        nn.init.orthogonal_(module.weight)
        if getattr(module, "bias", None) is not None:
            nn.init.zeros_(module.bias)


class Model(GANModel):
    conditional = True

    def __init__(self, cfg, n_classes):
        super().__init__(cfg, n_classes)
        self.generator = build_generator(cfg, n_classes)
        self.discriminator = Discriminator(cfg.d_ch, n_classes)
        self.apply(orthogonal_init)
        self.setup_ema()
        self.optimizers = self.adam_for_g_and_d(d_lr=cfg.d_lr)

    def augment(self, x):
        return diff_augment(x, self.cfg.augment)

    def fake_batch(self, labels, grad):
        """Fresh z for every D and G step, with the real batch's breeds: BigGAN-PyTorch draws them
        uniformly, but where the breeds are not (Stanford Dogs: 148 to 252 photos a breed) the
        projection head learns which breeds are real more often, a gap no G can close. No graph
        through G for D's step (its `train_G=False`)."""
        with torch.set_grad_enabled(grad):
            return self.generator(torch.randn(len(labels), self.cfg.nz, device=labels.device), labels)

    def train_step(self, real, labels, progress):
        D, n = self.discriminator, real.shape[0]
        with self.autocast():
            fake = self.fake_batch(labels, grad=False)
            # real and fake through D in one pass, as BigGAN-PyTorch's G_D (D has no batch statistics)
            logits = D(self.augment(torch.cat([real, fake])), torch.cat([labels, labels]))
            loss_d = hinge_d_loss(logits[:n], logits[n:])
        loss_d = self.optimize("d", loss_d)
        with self.autocast():
            loss_g = hinge_g_loss(D(self.augment(self.fake_batch(labels, grad=True)), labels))
        return {"loss_d": loss_d, "loss_g": self.optimize("g", loss_g)}
