"""DiffAugment (Zhao et al. 2020): differentiable colour, translation and cutout applied to both
real and generated images before D, so D cannot memorise a small dataset and G still gets
gradients through the augmentation. Random draws come from torch's global RNG (seeded by the
loop, restored on resume)."""

import torch
import torch.nn.functional as F

from doggan.errors import ParamError


def color(x):
    n = x.shape[0]
    x = x + (torch.rand(n, 1, 1, 1, device=x.device) - 0.5)  # brightness
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (torch.rand(n, 1, 1, 1, device=x.device) * 2) + mean  # saturation
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (torch.rand(n, 1, 1, 1, device=x.device) + 0.5) + mean  # contrast


def translation(x, ratio=0.125):
    """Shift by up to ratio of the side, filling with zeros."""
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sh, sh + 1, (n, 1, 1), device=x.device)
    dx = torch.randint(-sw, sw + 1, (n, 1, 1), device=x.device)
    rows = (torch.arange(h, device=x.device)[None, :, None] + dy).clamp(-1, h)  # -1 and h index the zero border
    cols = (torch.arange(w, device=x.device)[None, None, :] + dx).clamp(-1, w)
    padded = F.pad(x, (1, 1, 1, 1))
    batch = torch.arange(n, device=x.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows + 1, cols + 1].permute(0, 3, 1, 2)


def cutout(x, ratio=0.5):
    """Zero a square of ratio x side centred at a random pixel of each image (cut at the border)."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    y0 = torch.randint(0, h, (n, 1, 1), device=x.device) - ch // 2
    x0 = torch.randint(0, w, (n, 1, 1), device=x.device) - cw // 2
    rows = torch.arange(h, device=x.device)[None, :, None]
    cols = torch.arange(w, device=x.device)[None, None, :]
    inside = (rows >= y0) & (rows < y0 + ch) & (cols >= x0) & (cols < x0 + cw)
    return x * (~inside)[:, None].to(x.dtype)


POLICIES = {"color": color, "translation": translation, "cutout": cutout}


def check_policy(policy):
    """ParamError naming the policies of `policy` (comma-separated) that are not POLICIES."""
    unknown = set(filter(None, policy.split(","))) - set(POLICIES)
    if unknown:
        raise ParamError(f"augment: unknown policy {', '.join(sorted(unknown))} (known: {', '.join(POLICIES)})")


def diff_augment(x, policy):
    """Apply the comma-separated policy, e.g. 'color,translation,cutout' ('' does nothing)."""
    for name in filter(None, policy.split(",")):
        x = POLICIES[name](x)
    return x
