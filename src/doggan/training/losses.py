"""GAN losses on discriminator logits, each computed in fp32 (under bf16 autocast too)."""

import torch
import torch.nn.functional as F

from doggan.training.precision import float32


def bce_d_loss(real_logits, fake_logits, real_target=1.0, fake_target=0.0):
    """Discriminator BCE with (smoothed) targets, e.g. real 0.9 (one-sided label smoothing)."""
    with float32(real_logits, fake_logits) as (real_logits, fake_logits):
        real = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, real_target))
        fake = F.binary_cross_entropy_with_logits(fake_logits, torch.full_like(fake_logits, fake_target))
        return real + fake


def bce_g_loss(fake_logits):
    """Non-saturating generator loss."""
    with float32(fake_logits) as (fake_logits,):
        return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def hinge_d_loss(real_logits, fake_logits):
    with float32(real_logits, fake_logits) as (real_logits, fake_logits):
        return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def hinge_g_loss(fake_logits):
    with float32(fake_logits) as (fake_logits,):
        return -fake_logits.mean()


def reconstruction_loss(output, target, kind):
    """The autoencoder's mean absolute ("l1") or squared ("mse") error."""
    with float32(output, target) as (output, target):
        return F.l1_loss(output, target) if kind == "l1" else F.mse_loss(output, target)


def drift_penalty(real_logits):
    """ProGAN's drift term: the mean of D(real)^2, which keeps D's outputs near 0."""
    with float32(real_logits) as (logits,):
        return logits.pow(2).mean()


def r1_penalty(real_logits, real):
    """R1 (Mescheder et al. 2018): the mean squared norm of D's gradient at the real images; keeps D
    smooth where the data is. `real` must have requires_grad set before D saw it."""
    with float32(real_logits) as (logits,):
        (grad,) = torch.autograd.grad(logits.sum(), real, create_graph=True)
        return grad.float().pow(2).flatten(1).sum(1).mean()


def mode_seeking_pairs(labels):
    """Labels for a fake batch whose second half draws the first half's classes, as
    mode_seeking_loss needs; an odd batch's last label stays."""
    half = len(labels) // 2
    return torch.cat([labels[:half], labels[:half], labels[2 * half:]])


def mode_seeking_loss(fake, z, eps=1e-5):
    """MSGAN's mode-seeking term (Mao et al. 2019), to minimise: 1 / (ratio + eps), the ratio being
    the mean absolute difference of the batch's paired samples, first half against second half,
    over that of their latents. A G that ignores z pays 1 / eps; the pairs must share their labels
    (mode_seeking_pairs)."""
    half = len(fake) // 2
    distance = lambda t: (t[:half] - t[half:2 * half]).abs().mean()  # noqa: E731
    with float32(fake, z) as (fake, z):
        return 1.0 / (distance(fake) / distance(z) + eps)
