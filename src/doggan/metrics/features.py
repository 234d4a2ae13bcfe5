"""Feature networks for FID/MiFID, behind one call: `feature_network(...)` -> f(images in [-1, 1]).

- inception: pytorch-fid's FID Inception-v3 (its port of the TF graph Kaggle scored with),
  2048-d pool features; 64x64 images are upsampled bilinearly to 299 inside the network.
  Weights come from a local file; nothing is downloaded.
- rotnet: the network the featnet stage trains on the crops (rotnet.py): multi-scale block
  means and its orientation head's penultimate layer.
"""

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import numpy as np
import torch

from doggan.config import option
from doggan.data.dataset import to_float
from doggan.errors import ParamError
from doggan.metrics.mifid import calibrated_eps

INCEPTION_FILE = "pt_inception-2015-12-05-6726825d.pth"


@dataclass(frozen=True)
class MetricConfig:
    network: str = option("feature network: rotnet (trained here) or inception (needs weights)",
                           choices=("rotnet", "inception"))
    inception_weights: str | None = option(f"path to {INCEPTION_FILE} (else the torch hub cache)")
    cosine_eps: float = option("MiFID's memorization threshold on inception (Kaggle public: 0.1); "
                               "rotnet derives its own from the crops", low=0.0, low_open=True)
    batch_size: int = option("images per feature batch", low=1)


def inception_weights_path(configured=None):
    """The FID Inception weights file, or ParamError saying where to put it."""
    hub = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch")) / "hub" / "checkpoints" / INCEPTION_FILE
    path = Path(configured) if configured else hub
    if not path.is_file():
        where = f"metric.inception_weights: {configured}" if configured else f"the torch hub cache ({hub})"
        raise ParamError(
            f"metric.network: inception needs the pytorch-fid weights {INCEPTION_FILE}; not found at {where}. "
            f"Put the file there or set metric.inception_weights, or use metric.network: rotnet"
        )
    return path


def fid_inception(state_dict=None):
    """pytorch-fid's InceptionV3 (FID variant, pool3 output) with the given weights, no download.
    state_dict=None keeps random weights (tests, benchmarks)."""
    import torchvision
    from pytorch_fid import inception as pfi

    patches = [mock.patch.object(pfi, "load_state_dict_from_url", lambda *a, **k: state_dict)]
    if state_dict is None:
        patches.append(mock.patch.object(torchvision.models.inception.Inception3, "load_state_dict", lambda *a, **k: None))
    with contextlib.ExitStack() as stack:
        for patch in patches:
            stack.enter_context(patch)
        model = pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[2048]], resize_input=True, normalize_input=True,
                                use_fid_inception=True)
    return model.eval()


class InceptionFeatures(torch.nn.Module):
    """images in [-1, 1] -> (N, 2048) pool features; pytorch-fid wants [0, 1] and maps it back."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model((x + 1) / 2)[0].flatten(1)


class RotNetFeatures(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model.features(x)


def feature_network(cfg, featnet_path=None, device="cpu"):
    """The configured feature network (a module mapping images in [-1, 1] to features)."""
    if cfg.network == "inception":
        state = torch.load(inception_weights_path(cfg.inception_weights), map_location="cpu", weights_only=True)
        return InceptionFeatures(fid_inception(state)).to(device).eval()
    from doggan.metrics.rotnet import load_featnet

    return RotNetFeatures(load_featnet(featnet_path, device)).eval()


def memorization_eps(cfg, real_features):
    """MiFID's threshold on the configured network: Kaggle's eps for Inception, where it was set;
    on any other network one calibrated on the real features (mifid.calibrated_eps)."""
    return cfg.cosine_eps if cfg.network == "inception" else calibrated_eps(real_features)


@torch.no_grad()
def extract_features(net, images, batch_size=200, device="cpu", progress=None):
    """Features (N, D) float32 of uint8 images, (N, 3, H, W) tensor or (N, H, W, 3) array."""
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)
    starts = range(0, len(images), batch_size)
    # channels-last convolutions: 30% faster on CPU for the featnet at 50 images a batch, same floats (bench, metrics)
    if isinstance(net, torch.nn.Module):  # (a plain function of a batch works too)
        net = net.to(memory_format=torch.channels_last)
    out = [net(to_float(images[i : i + batch_size]).to(device).contiguous(memory_format=torch.channels_last)).float().cpu()
           for i in (progress(starts) if progress else starts)]
    return torch.cat(out).numpy().astype(np.float32)
