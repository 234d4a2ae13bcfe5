"""Sampling from a trained generator, and Kaggle submissions.

    python -m doggan.generate --variant dcgan --breed pug -n 16 -o pug.png
"""

import argparse
import difflib
import io
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from doggan.config import from_mapping, option
from doggan.data.dataset import to_uint8
from doggan.device import pick_device
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


PASS_SIZE = 16  # images per forward pass in the CLI and the server: the fastest pass on 2 cores (README, Serving)


def sample_inputs(payload, labels, truncation=0.0, seed=0):
    """(z, y): the latents and labels that `sample` feeds the generator, a function of the seed alone."""
    rng = torch.Generator().manual_seed(seed)
    z = latents(len(labels), payload["config"]["nz"], truncation, rng)
    return z, torch.as_tensor(np.asarray(labels), dtype=torch.long)


@torch.no_grad()
def forward_pass(generator, z, y, rows=None, device="cpu"):
    """uint8 (N, H, W, 3) images from one forward pass. With `rows`, the pass is padded to exactly that
    many rows: a row's floats depend on the batch size, but not on its neighbours, so passes of one
    fixed shape give every image the same bytes whatever shares its pass (the server packs requests)."""
    n = len(z)
    if rows is not None and rows > n:
        z = torch.cat([z, z.new_zeros(rows - n, z.shape[1])])
        y = torch.cat([y, y.new_zeros(rows - n)])
    return to_uint8(generator(z.to(device), y.to(device)))[:n]


def sample(generator, payload, labels, truncation=0.0, seed=0, batch_size=500, device="cpu", pad=False):
    """uint8 (N, H, W, 3) images for the given breed labels, `batch_size` per forward pass
    (`pad`: the last pass too, as the server runs them)."""
    z, y = sample_inputs(payload, labels, truncation, seed)
    return np.concatenate([
        forward_pass(generator, z[i : i + batch_size], y[i : i + batch_size], batch_size if pad else None, device)
        for i in range(0, len(y), batch_size)
    ])


def png_bytes(image):
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def write_png_zip(file, images, names):
    """PNGs stored in a zip (a path or a binary file) with fixed member dates: same images, same bytes."""
    with zipfile.ZipFile(file, "w", zipfile.ZIP_STORED) as zf:
        for name, image in zip(names, images, strict=True):
            zf.writestr(zipfile.ZipInfo(name, date_time=ZIP_DATE), png_bytes(image))


def write_submission(path, images):
    """A Kaggle submission: one zip of PNGs (64x64 RGB), written atomically."""
    with atomic_path(path, suffix=".zip") as tmp:
        write_png_zip(tmp, images, (f"{i:05d}.png" for i in range(len(images))))


def is_conditional(payload):
    return variant_module(payload["variant"]).Model.conditional


def breeds_in_figure(n_breeds, rows=12):
    """The labels of a per-breed figure: every breed, or `rows` of them spread evenly over the list
    (a figure of Stanford Dogs' 120 rows is one nobody reads)."""
    return np.unique(np.linspace(0, n_breeds - 1, min(n_breeds, rows)).round().astype(int))


class UnknownBreed(ParamError):
    """A breed the generator was not trained on (the server answers 404)."""


def breed_label(payload, breed):
    if not is_conditional(payload):
        raise ParamError(f"breed: {payload['variant']} is unconditional, it cannot be asked for a breed")
    names = payload["breeds"]
    matches = [i for i, name in enumerate(names) if name.lower() == breed.lower()]
    if not matches:
        raise UnknownBreed(f"breed: unknown breed {breed!r} ({known_breeds(names, breed)})")
    return matches[0]


def known_breeds(names, asked):
    """The breeds to name beside an unknown one: all of a few, or of Stanford's 120 those like it."""
    if len(names) <= 12:
        return f"known: {', '.join(names)}"
    lower = {name.lower(): name for name in names}
    like = [name for name in names if asked.lower() in name.lower()]
    like = like or [lower[m] for m in difflib.get_close_matches(asked.lower(), lower, n=5, cutoff=0.6)]
    return f"{len(names)} known" + (f", like it: {', '.join(like)}" if like else f", among them {', '.join(names[:5])}")


def breed_labels(payload, breed, n, seed):
    """n labels: all of `breed` (a name, any case), or with breed None drawn uniformly (seeded)."""
    if breed is None:
        return class_labels(n, payload["class_counts"], "uniform", seed)
    return np.full(n, breed_label(payload, breed))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m doggan.generate", description="Sample dogs from a trained variant.")
    parser.add_argument("--variant", required=True, help="variant name, e.g. dcgan")
    parser.add_argument("--breed", help="breed name (conditional variants); default: all breeds uniformly")
    parser.add_argument("-n", type=int, default=16, help="number of images")
    parser.add_argument("-o", "--output", default="samples.png", help="PNG grid to write")
    parser.add_argument("--models", default="models", help="folder holding <variant>/generator.pt")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--truncation", type=float, default=0.0)
    parser.add_argument("--device", default="auto", help="auto (a free GPU, else the CPU), cpu, cuda or cuda:N")
    args = parser.parse_args(argv)
    device = pick_device(args.device)
    path = Path(args.models) / args.variant / "generator.pt"
    if not path.is_file():
        raise ParamError(f"--variant {args.variant}: no trained generator at {path} (run the pipeline first)")
    generator, payload = load_generator(path, device)
    labels = breed_labels(payload, args.breed or None, args.n, args.seed)
    # passes as the server runs them: `doggan serve` answers the same query with the same bytes
    images = sample(generator, payload, labels, args.truncation, args.seed, PASS_SIZE, device, pad=True)
    save_grid(args.output, images, columns=min(8, args.n))
    print(f"wrote {args.n} samples of {args.breed or 'all breeds'} to {args.output}")


if __name__ == "__main__":
    from doggan.cli import run

    run(main)
