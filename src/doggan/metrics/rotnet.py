"""rotnet: the feature network the pipeline trains on its own crops, to judge generated dogs on
machines without the Inception weights.

It learns which way is up (Gidaris et al. 2018, "Unsupervised representation learning by
predicting image rotations"): every crop is shown turned by 0, 90, 180 or 270 degrees and the net
names the turn. To answer it has to find where legs, back, head, ground and sky are, so what it
sees follows the layout of a dog, not only its colours. No labels are needed: the same net works
on the demo crops and on real photos.

Its features, the judge's space: the mean activation of each of its four blocks (colour and edges
at 32 px, up to parts at 4 px), and the penultimate layer of its orientation head (the layout),
each scaled to unit total variance on the training crops so that no part outweighs another.
Measured on the demo crops (bench/run.py judge): a breed classifier's penultimate layer alone
scored 16-px tiles shuffled as nearly real and colour fields above dog silhouettes; this space
ranks real < blurred a little or recoloured < heavily blurred, shuffled or flat < noise.

`train_featnet(..., labels=...)` trains the same net as a breed classifier instead (the judge
this project used before, kept for that comparison).
"""

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from doggan.config import option
from doggan.data.dataset import epoch_order, to_float
from doggan.io import save_torch

TURNS = 4  # 0, 90, 180, 270 degrees


@dataclass(frozen=True)
class FeatnetConfig:
    width: int          = option("channels of the first block (doubles per block)", low=4)
    features: int       = option("width of the orientation head's penultimate layer", low=8)
    epochs: int         = option("training epochs", low=1)
    max_steps: int      = option("at most this many steps, whatever the epochs: its cost stops growing with the data", low=1)
    batch_size: int     = option("images per step", low=1)
    lr: float           = option("Adam learning rate", low=0.0, low_open=True)
    val_fraction: float = option("held-out share of crops for validation accuracy", low=0.0, high=0.9)
    seed: int           = option("seed", low=0)


def _block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True),
                         nn.MaxPool2d(2))


class RotNet(nn.Module):
    def __init__(self, width=16, features=128, n_classes=TURNS):
        super().__init__()
        w = width
        self.blocks = nn.ModuleList([_block(3, w), _block(w, 2 * w), _block(2 * w, 4 * w), _block(4 * w, 8 * w)])
        # the penultimate layer is taken before the ReLU: signed, so cosine distances spread out
        self.embed = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8 * w, features))
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(features, n_classes))
        self.register_buffer("part_scales", torch.ones(len(self.blocks) + 1))  # set by fit_part_scales
        self.hparams = {"width": width, "features": features, "n_classes": n_classes}

    def parts(self, x):
        """[mean of each block's output, ..., penultimate layer] of images in [-1, 1] (any size: resized to 64)."""
        if x.shape[-1] != 64:
            x = nn.functional.interpolate(x, size=(64, 64), mode="bilinear", align_corners=False, antialias=True)
        means = []
        for block in self.blocks:
            x = block(x)
            means.append(x.mean(dim=(2, 3)))
        return [*means, self.embed(x)]

    def features(self, x):
        """The judge's features: every part, scaled to unit total variance on the training crops."""
        return torch.cat([part * scale for part, scale in zip(self.parts(x), self.part_scales)], dim=1)

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return self.head(self.embed(x))


def turned(x, turns):
    """Each image of x (N, C, H, W) rotated by its own number of quarter turns (counter-clockwise)."""
    out = torch.empty_like(x)
    for k in range(TURNS):
        mask = turns == k
        out[mask] = torch.rot90(x[mask], k, dims=(2, 3))
    return out


def split(n, val_fraction, seed):
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).numpy()
    n_val = int(round(n * val_fraction))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def batch_task(x, labels, generator):
    """(inputs, targets) of one step: turned crops and their turns, or with breed labels the crops
    as they are and their breeds."""
    if labels is not None:
        return x, labels
    turns = torch.randint(0, TURNS, (len(x),), generator=generator)
    return turned(x, turns), turns


def train_featnet(images, cfg, labels=None, n_classes=None, device="cpu"):
    """Train rotnet on uint8 (N, 3, 64, 64) crops (with `labels` and `n_classes`: a breed classifier);
    returns (model in eval mode with its part scales fitted, metrics dict)."""
    torch.manual_seed(cfg.seed)
    model = RotNet(cfg.width, cfg.features, TURNS if labels is None else n_classes).to(device)
    train_idx, val_idx = split(len(images), cfg.val_fraction, cfg.seed)
    opt = torch.optim.Adam(model.parameters(), cfg.lr)
    rng = torch.Generator().manual_seed(cfg.seed)
    steps_per_epoch = max(1, len(train_idx) // cfg.batch_size)
    steps = min(cfg.epochs * steps_per_epoch, cfg.max_steps)
    bar = tqdm(total=steps, desc="featnet", unit="step")
    model.train()
    for step in range(steps):
        epoch, s = divmod(step, steps_per_epoch)
        if s == 0:
            order = train_idx[epoch_order(len(train_idx), cfg.seed, epoch).numpy()]
        idx = order[s * cfg.batch_size : (s + 1) * cfg.batch_size]
        x = to_float(images[idx])
        x = torch.where(torch.rand(len(x), 1, 1, 1, generator=rng) < 0.5, x.flip(3), x)
        inputs, targets = batch_task(x, None if labels is None else labels[idx], rng)
        loss = nn.functional.cross_entropy(model(inputs.to(device)), targets.to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        bar.update()
        bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    model.eval()
    fit_part_scales(model, images[train_idx], device)

    def score(idx):
        return accuracy(model, images[idx], None if labels is None else labels[idx], device)

    metrics = {"task": "orientation" if labels is None else "breed", "train_accuracy": score(train_idx),
               "n_train": len(train_idx), "n_val": len(val_idx), "steps": steps}
    if len(val_idx):
        metrics["val_accuracy"] = score(val_idx)
    return model, metrics


@torch.no_grad()
def fit_part_scales(model, images, device="cpu", batch_size=256):
    """Set each part's scale to 1 / sqrt(its total variance) over `images`."""
    model.part_scales.fill_(1.0)
    parts = [torch.cat(chunk) for chunk in zip(*(
        [p.double().cpu() for p in model.parts(to_float(images[i : i + batch_size]).to(device))]
        for i in range(0, len(images), batch_size)))]
    total_variance = torch.stack([p.var(dim=0).sum() for p in parts])
    model.part_scales.copy_((1.0 / total_variance.clamp_min(1e-12).sqrt()).float())


@torch.no_grad()
def accuracy(model, images, labels=None, device="cpu", batch_size=256):
    """Share of right answers: breeds with labels, else turns (every crop shown at all four)."""
    correct = total = 0
    for i in range(0, len(images), batch_size):
        x = to_float(images[i : i + batch_size]).to(device)
        if labels is not None:
            correct += (model(x).argmax(1).cpu() == labels[i : i + batch_size]).sum().item()
            total += len(x)
            continue
        for k in range(TURNS):
            correct += (model(torch.rot90(x, k, dims=(2, 3))).argmax(1).cpu() == k).sum().item()
            total += len(x)
    return correct / max(1, total)


def save_featnet(model, path):
    save_torch({"hparams": model.hparams, "state_dict": model.state_dict()}, path)


def load_featnet(path, device="cpu"):
    payload = torch.load(path, map_location=device, weights_only=True)
    model = RotNet(**payload["hparams"])
    model.load_state_dict(payload["state_dict"])
    return model.to(device).eval()
