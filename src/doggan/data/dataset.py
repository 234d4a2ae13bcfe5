"""The crop cache as tensors: crops.npy (N, 64, 64, 3) uint8 + crops.csv labels."""

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from doggan.errors import DataError


SPLITS = ("train", "heldout")  # crops.csv `split`: what networks learn from, and what only judges them


def load_crops(crops_npy, crops_csv, split=None):
    """(images uint8 tensor (N, 3, H, W), labels int64 tensor (N,), breed names by label) of every crop,
    or of one split of crops.csv (SPLITS; a table without the column is all train). Labels and breed
    names are the whole table's either way."""
    try:
        crops = np.load(crops_npy, mmap_mode="r")
        table = pd.read_csv(crops_csv)
    except (OSError, ValueError) as exc:
        raise DataError(f"{Path(crops_npy).name}: cannot read the crop cache ({exc})") from None
    if len(crops) != len(table) or crops.ndim != 4 or crops.shape[-1] != 3:
        raise DataError(f"{crops_npy}: {crops.shape} does not match {len(table)} rows of {crops_csv}")
    if len(table) == 0:
        raise DataError(f"{crops_npy}: no crops")
    names = table.drop_duplicates("label").set_index("label")["breed"].to_dict()
    breeds = [names.get(i, f"class_{i}") for i in range(int(table["label"].max()) + 1)]
    keep = np.ones(len(table), bool) if split is None else (
        (table["split"] == split).to_numpy() if "split" in table else np.full(len(table), split == "train"))
    if not keep.any():
        raise DataError(f"{crops_csv}: no {split} crops")
    images = torch.from_numpy(np.array(crops[keep] if not keep.all() else crops)).permute(0, 3, 1, 2).contiguous()
    labels = torch.from_numpy(np.array(table["label"][keep], dtype=np.int64))
    return images, labels, breeds


def to_float(images):
    """uint8 (N, 3, H, W) -> float in [-1, 1]."""
    return images.float().div_(127.5).sub_(1.0)


def to_uint8(images):
    """float in [-1, 1] (N, 3, H, W) -> uint8 (N, H, W, 3) numpy, rounded like torchvision's save_image."""
    return images.detach().float().clamp(-1, 1).add(1).mul(127.5).add(0.5).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def epoch_order(n, seed, epoch):
    """The data order of one epoch: a function of (seed, epoch) only, so a resumed run sees the same batches."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
