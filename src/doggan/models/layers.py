"""Building blocks shared by variants. A variant module imports these, never another variant's module,
so editing one variant reruns only its own stages (tests/test_deps.py)."""

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm

from doggan.training.precision import float32

# How progan's and biggan's generators pad their 3x3 convolutions. Zero padding marks every block's
# border, which their few hundred demo steps never unlearnt: samples wore a light frame. Repeating
# the edge removed the frame but drew streaks from it across the image; mirroring it removes both.
# 2 seeds, 1000-sample FID: biggan zeros 81.6 / 90.6, replicate 79.4 / 84.3, reflect 74.8 / 82.8;
# progan replicate 80.9 / 52.5, reflect 72.7 / 52.9 (zeros: 145 against replicate's 112, one seed).
GENERATOR_PADDING = "reflect"


def truncated_normal_init(module, std=0.02):
    """Weights ~ N(0, std) truncated at 2 std (the original's initializer), biases 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.trunc_normal_(module.weight, 0.0, std, -2 * std, 2 * std)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, std)
        nn.init.zeros_(module.bias)


class DCGANGenerator(nn.Module):
    """pytorch/examples' DCGAN generator (dcgan, and cdcgan's body): z (N, nz) -> image (N, 3, 64, 64) in [-1, 1]; labels are accepted and ignored."""

    def __init__(self, nz, ngf, dropout):
        super().__init__()

        def up(cin, cout, drop):
            layers = [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]
            return layers + ([nn.Dropout(drop)] if drop else [])

        self.net = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),  # 4x4
            *([nn.Dropout(dropout)] if dropout else []),
            *up(ngf * 8, ngf * 4, dropout),  # 8x8
            *up(ngf * 4, ngf * 2, 0),  # 16x16
            *up(ngf * 2, ngf, 0),  # 32x32
            nn.ConvTranspose2d(ngf, 3, 4, 2, 1), nn.Tanh(),  # 64x64
        )

    def forward(self, z, labels=None):
        return self.net(z[:, :, None, None])


class ProjectionHead(nn.Module):
    """Projection discriminator output (Miyato & Koyama 2018): psi(h) + <embed(y), h>.

    The class enters as an inner product with D's pooled features instead of an input channel,
    which is what made conditional GANs work on ImageNet (and on 120 breeds).
    """

    def __init__(self, features, n_classes, sn=True):
        super().__init__()
        wrap = spectral_norm if sn else (lambda m: m)
        self.linear = wrap(nn.Linear(features, 1))
        self.embed = wrap(nn.Embedding(n_classes, features))

    def forward(self, h, labels):
        return self.linear(h).flatten() + (self.embed(labels) * h).sum(1)


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm whose gain and bias are linear functions of a condition vector (BigGAN's G)."""

    def __init__(self, channels, cond_dim):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gain = spectral_norm(nn.Linear(cond_dim, channels, bias=False))
        self.bias = spectral_norm(nn.Linear(cond_dim, channels, bias=False))

    def forward(self, x, cond):
        return self.bn(x) * (1 + self.gain(cond))[:, :, None, None] + self.bias(cond)[:, :, None, None]


class SelfAttention(nn.Module):
    """SAGAN self-attention; starts as the identity (gamma = 0) and learns how much to attend."""

    def __init__(self, channels):
        super().__init__()
        key, value = max(1, channels // 8), max(1, channels // 2)
        self.theta = spectral_norm(nn.Conv2d(channels, key, 1, bias=False))
        self.phi = spectral_norm(nn.Conv2d(channels, key, 1, bias=False))
        self.g = spectral_norm(nn.Conv2d(channels, value, 1, bias=False))
        self.out = spectral_norm(nn.Conv2d(value, channels, 1, bias=False))
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        n, c, h, w = x.shape
        query = self.theta(x).flatten(2)  # (n, c/8, hw)
        key = F.max_pool2d(self.phi(x), 2).flatten(2)  # (n, c/8, hw/4)
        value = F.max_pool2d(self.g(x), 2).flatten(2)  # (n, c/2, hw/4)
        # softmax(query^T key) value^T, unscaled as in SAGAN, by the fused kernel, which needs one
        # width for all three: query and key get zero channels (their products stay the same).
        # 3-4x faster than by hand on CPU, where biggan spent half its step in attention.
        width = value.shape[1]

        def heads(t):  # (n, c, hw) -> (n, 1, hw, width), zero channels appended
            return F.pad(t, (0, 0, 0, width - t.shape[1])).transpose(1, 2).contiguous()[:, None]

        o = F.scaled_dot_product_attention(heads(query), heads(key), heads(value), scale=1.0)
        return x + self.gamma * self.out(o[:, 0].transpose(1, 2).reshape(n, -1, h, w))


def minibatch_stddev(x, group=4):
    """Append the mean over features of the std over a group of samples: lets D see diversity."""
    n, c, h, w = x.shape
    g = min(group, n)
    while n % g:
        g -= 1
    if g == 1:  # no group size up to `group` divides a prime batch (31): one group, or D would read a constant
        g = n
    with float32(x) as (y,):  # a bf16 variance keeps 8 bits: the diversity D reads would be noise
        std = (y.view(g, -1, c, h, w).var(0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # (n / g,)
    return torch.cat([x, std.to(x.dtype).repeat(g)[:, None, None, None].expand(n, 1, h, w)], 1)


def breedwise_stddev(x, labels, n_classes):
    """minibatch_stddev within each breed: append, per sample, the mean over features of the std
    over the batch's samples of its own breed (0 for a breed seen once). A conditional G that
    ignores z gives 0 where real images of a breed differ; across breeds, as minibatch_stddev's
    random groups mix them, its samples still differ and the collapse goes unseen."""
    n, c, h, w = x.shape
    with float32(x) as (flat,):  # as minibatch_stddev
        # one-hot products, not indexing: the backward of indexing scatters with atomic adds on CPU,
        # so runs were not repeatable
        onehot = F.one_hot(labels, n_classes).to(flat.dtype)  # (n, breeds)
        counts = onehot.sum(0).clamp(min=1)[:, None]
        flat = flat.flatten(1)
        mean = (onehot.T @ flat) / counts  # (breeds, c*h*w)
        var = (onehot.T @ (flat - onehot @ mean).pow(2)) / counts
        std = onehot @ (var + 1e-8).sqrt().mean(1)  # (n,)
    return torch.cat([x, std.to(x.dtype)[:, None, None, None].expand(n, 1, h, w)], 1)


def upsample2x(x):
    """Nearest-neighbour 2x upsampling, the same values as F.interpolate(x, scale_factor=2). On CPU
    its forward is faster (20% off a biggan generation pass), its backward slower (18.8 against
    14.2 ms at (32, 32, 32, 32)). biggan's demo gains on balance: about 5 s more over its 200
    training steps, 7 s less to generate 10,000 images."""
    n, c, h, w = x.shape
    return x[:, :, :, None, :, None].expand(n, c, h, 2, w, 2).reshape(n, c, 2 * h, 2 * w)
