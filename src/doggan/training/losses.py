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
    """G's labels for a step with the mode-seeking term, given the real batch's: the first half's
    classes once more, then the batch's own, [labels[:half], labels]. G's first 2 * half samples are
    mode_seeking_loss's pairs (sample i and i + half share a class); its last len(labels) samples,
    the fakes D sees, carry exactly the real batch's classes.

    D must not see the pairs as they are: then every class of a fake batch came at least twice,
    where in a real batch of 32 at 120 breeds 78% of the images are their breed's only one, and a
    D that compares a batch's images (cdcgan's breedwise_stddev, progan's minibatch_stddev groups)
    told a perfect G's fakes from real images by that alone (cdcgan 86% of the time after 400 steps).
    The extra half batch G draws costs about a tenth of a step (progan at 64 px, one thread: 0.47 s
    against 0.53 s)."""
    half = len(labels) // 2
    return torch.cat([labels[:half], labels])


def mode_seeking_loss(fake, z, eps=1e-5):
    """MSGAN's mode-seeking term (Mao et al. 2019), to minimise: 1 / (ratio + eps), the ratio being
    the mean absolute difference of the batch's paired samples, first half against second half,
    over that of their latents. A G that ignores z pays 1 / eps; the pairs must share their labels
    (mode_seeking_pairs)."""
    half = len(fake) // 2
    distance = lambda t: (t[:half] - t[half:2 * half]).abs().mean()  # noqa: E731
    with float32(fake, z) as (fake, z):
        return 1.0 / (distance(fake) / distance(z) + eps)
