"""breednet: a small breed classifier trained on the crops; its penultimate layer is the
feature space for FID/MiFID on machines without the Inception weights."""

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from doggan.config import option
from doggan.data.dataset import epoch_order, to_float
from doggan.io import save_torch


@dataclass(frozen=True)
class FeatnetConfig:
    width: int        = option("channels of the first block (doubles per block)", low=4)
    features: int     = option("feature dimension (the penultimate layer)", low=8)
    epochs: int       = option("training epochs", low=1)
    batch_size: int   = option("images per step", low=1)
    lr: float         = option("Adam learning rate", low=0.0, low_open=True)
    val_fraction: float = option("held-out share of crops for validation accuracy", low=0.0, high=0.9)
    seed: int         = option("seed", low=0)


class BreedNet(nn.Module):
    def __init__(self, n_classes, width=32, features=256):
        super().__init__()

        def block(cin, cout):
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True),
                    nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True), nn.MaxPool2d(2)]

        w = width
        self.body = nn.Sequential(*block(3, w), *block(w, 2 * w), *block(2 * w, 4 * w), *block(4 * w, 8 * w))
        # features are taken before the ReLU: signed, so cosine distances spread out
        self.embed = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8 * w, features))
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(features, n_classes))
        self.hparams = {"n_classes": n_classes, "width": width, "features": features}

    def features(self, x):
        """Penultimate features of images in [-1, 1], any size (resized to 64)."""
        if x.shape[-1] != 64:
            x = nn.functional.interpolate(x, size=(64, 64), mode="bilinear", align_corners=False, antialias=True)
        return self.embed(self.body(x))

    def forward(self, x):
        return self.head(self.features(x))


def split(n, val_fraction, seed):
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).numpy()
    n_val = int(round(n * val_fraction))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def train_breednet(images, labels, n_classes, cfg, device="cpu"):
    """Train on uint8 (N, 3, 64, 64) images; returns (model in eval mode, metrics dict)."""
    torch.manual_seed(cfg.seed)
    model = BreedNet(n_classes, cfg.width, cfg.features).to(device)
    train_idx, val_idx = split(len(images), cfg.val_fraction, cfg.seed)
    opt = torch.optim.Adam(model.parameters(), cfg.lr)
    steps_per_epoch = max(1, len(train_idx) // cfg.batch_size)
    bar = tqdm(total=cfg.epochs * steps_per_epoch, desc="featnet", unit="step")
    for epoch in range(cfg.epochs):
        model.train()
        order = train_idx[epoch_order(len(train_idx), cfg.seed, epoch).numpy()]
        for s in range(steps_per_epoch):
            idx = order[s * cfg.batch_size : (s + 1) * cfg.batch_size]
            x = to_float(images[idx]).to(device)
            x = torch.where(torch.rand(len(x), 1, 1, 1, device=device) < 0.5, x.flip(3), x)
            loss = nn.functional.cross_entropy(model(x), labels[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            bar.update()
            bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    model.eval()
    metrics = {"train_accuracy": accuracy(model, images[train_idx], labels[train_idx], device)}
    if len(val_idx):
        metrics["val_accuracy"] = accuracy(model, images[val_idx], labels[val_idx], device)
    metrics.update(n_train=len(train_idx), n_val=len(val_idx), n_classes=n_classes)
    return model, metrics


@torch.no_grad()
def accuracy(model, images, labels, device="cpu", batch_size=256):
    correct = 0
    for i in range(0, len(images), batch_size):
        logits = model(to_float(images[i : i + batch_size]).to(device))
        correct += (logits.argmax(1).cpu() == labels[i : i + batch_size]).sum().item()
    return correct / max(1, len(images))


def save_breednet(model, path):
    save_torch({"hparams": model.hparams, "state_dict": model.state_dict()}, path)


def load_breednet(path, device="cpu"):
    payload = torch.load(path, map_location=device, weights_only=True)
    model = BreedNet(**payload["hparams"])
    model.load_state_dict(payload["state_dict"])
    return model.to(device).eval()
