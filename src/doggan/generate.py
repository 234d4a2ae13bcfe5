"""Sampling from a trained generator, and Kaggle submissions.

    python -m doggan.generate --variant dcgan --breed pug -n 16 -o pug.png
"""

import argparse
import io
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from doggan.config import from_mapping, option
from doggan.data.dataset import to_uint8
from doggan.errors import ParamError
from doggan.io import atomic_path, save_grid, save_torch
from doggan.models import variant_module

ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed member dates: the same images give the same zip bytes


@dataclass(frozen=True)
class GenerateConfig:
    n_images: int = option("images in the submission (Kaggle: 10,000)", low=1)
    class_sampling: str = option("breeds for conditional variants: uniform, or empirical (training frequencies)",
                                 choices=("uniform", "empirical"))
    truncation: float = option("resample |z| above this (0: plain normal)", low=0.0)
    batch_size: int = option("images per forward pass", low=1)
    seed: int = option("seed of the latent draws", low=0)


def save_generator(path, model, variant, breeds, class_counts):
    """The sampling network (EMA when used) and what is needed to rebuild it, loadable weights_only."""
    payload = {
        "variant": variant,
        "config": asdict(model.cfg),
        "breeds": list(breeds),
        "class_counts": [int(c) for c in class_counts],
        "state_dict": model.sampler().state_dict(),
    }
    save_torch(payload, path)


def load_generator(path, device="cpu"):
    """(generator module in eval mode, payload dict) from a generator.pt."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    module = variant_module(payload["variant"])
    cfg = from_mapping(module.Config, payload["config"], f"{path}:config")
    generator = module.build_generator(cfg, len(payload["breeds"]))
    generator.load_state_dict(payload["state_dict"])
    return generator.to(device).eval(), payload


def class_labels(n, class_counts, sampling, seed):
    """n breed labels: uniform over breeds, or in proportion to the training crops."""
    counts = np.asarray(class_counts, np.float64)
    p = np.full(len(counts), 1 / len(counts)) if sampling == "uniform" else counts / counts.sum()
    return np.random.default_rng(seed).choice(len(counts), size=n, p=p)


def latents(n, nz, truncation, generator):
    """Standard normal latents; with truncation t > 0, entries with |z| > t are redrawn."""
    z = torch.randn(n, nz, generator=generator)
    while truncation > 0 and (mask := z.abs() > truncation).any():
        z[mask] = torch.randn(int(mask.sum()), generator=generator)
    return z


@torch.no_grad()
def sample(generator, payload, labels, truncation=0.0, seed=0, batch_size=500, device="cpu"):
    """uint8 (N, H, W, 3) images for the given breed labels."""
    rng = torch.Generator().manual_seed(seed)
    z = latents(len(labels), payload["config"]["nz"], truncation, rng)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    out = [
        to_uint8(generator(z[i : i + batch_size].to(device), y[i : i + batch_size].to(device)))
        for i in range(0, len(y), batch_size)
    ]
    return np.concatenate(out)


def png_bytes(image):
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def write_submission(path, images):
    """A Kaggle submission: one zip of PNGs (64x64 RGB), written atomically with fixed metadata."""
    with atomic_path(path, suffix=".zip") as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf:
        for i, image in enumerate(images):
            zf.writestr(zipfile.ZipInfo(f"{i:05d}.png", date_time=ZIP_DATE), png_bytes(image))


def is_conditional(payload):
    return variant_module(payload["variant"]).Model.conditional


def breed_label(payload, breed):
    if not is_conditional(payload):
        raise ParamError(f"--breed: {payload['variant']} is unconditional, it cannot be asked for a breed")
    names = payload["breeds"]
    matches = [i for i, name in enumerate(names) if name.lower() == breed.lower()]
    if not matches:
        raise ParamError(f"--breed: unknown breed {breed!r} (known: {', '.join(names)})")
    return matches[0]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m doggan.generate", description="Sample dogs from a trained variant.")
    parser.add_argument("--variant", required=True, help="variant name, e.g. dcgan")
    parser.add_argument("--breed", help="breed name (conditional variants); default: all breeds uniformly")
    parser.add_argument("-n", type=int, default=16, help="number of images")
    parser.add_argument("-o", "--output", default="samples.png", help="PNG grid to write")
    parser.add_argument("--models", default="models", help="folder holding <variant>/generator.pt")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--truncation", type=float, default=0.0)
    args = parser.parse_args(argv)
    path = Path(args.models) / args.variant / "generator.pt"
    if not path.is_file():
        raise ParamError(f"--variant {args.variant}: no trained generator at {path} (run the pipeline first)")
    generator, payload = load_generator(path)
    if args.breed:
        labels = np.full(args.n, breed_label(payload, args.breed))
    else:
        labels = class_labels(args.n, payload["class_counts"], "uniform", args.seed)
    images = sample(generator, payload, labels, args.truncation, args.seed)
    save_grid(args.output, images, columns=min(8, args.n))
    print(f"wrote {args.n} samples of {args.breed or 'all breeds'} to {args.output}")


if __name__ == "__main__":
    from doggan.cli import run

    run(main)
