"""Sampling from a trained generator, and Kaggle submissions.

    python -m doggan.generate --variant biggan --breed "Maltese dog" -n 16 -o maltese.png
"""

import argparse
import difflib
import io
import pickle
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from doggan.config import from_mapping, option
from doggan.data.dataset import to_uint8
from doggan.device import pick_device
from doggan.errors import ParamError, UserError
from doggan.io import atomic_path, image_grid, save_torch
from doggan.models import VARIANTS, variant_module
from doggan.runs import pick_seed, run_path

ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed member dates: the same images give the same zip bytes
PAYLOAD_KEYS = ("variant", "config", "breeds", "class_counts", "state_dict")  # of a generator.pt, as save_generator writes it
MAX_SEED = 2**63 - 1  # the CLI and the server take the same seeds, so the same query draws the same dogs in both
MIN_TRUNCATION, MAX_TRUNCATION = 0.05, 4.0  # below 0.05 redrawing |z| > t takes thousands of rounds
IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}  # the CLI's output suffix -> the format written


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


class UnreadableGenerator(UserError):
    """A generator.pt this code cannot rebuild a generator from: junk, cut short, another variant's,
    or weights that do not fit their config. The message names the file."""


def read_payload(path):
    """The payload dict of a generator.pt, loaded weights_only: nothing in the file is run."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # torch's own message suggests weights_only=False: wrong advice here
        raise UnreadableGenerator(f"cannot load {path}: not a readable generator, torch.load(weights_only=True) refuses "
                                  "it (junk, or code beside the weights; nothing in it was run)") from None
    except OSError as exc:
        raise UnreadableGenerator(f"cannot load {path}: {exc.strerror or exc}") from None
    except Exception:  # torch's messages for junk (`KeyError: 174812789`, an empty EOFError) name nothing useful
        raise UnreadableGenerator(f"cannot load {path}: not a readable generator (not a file torch.save wrote, "
                                  "or one cut short)") from None
    missing = [key for key in PAYLOAD_KEYS if key not in payload] if isinstance(payload, dict) else PAYLOAD_KEYS
    if missing:
        raise UnreadableGenerator(f"cannot load {path}: not a generator, it lacks {', '.join(missing)}")
    return payload


def first_lines(exc):
    """An exception's message on one line: load_state_dict heads its details with a line of its own."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return " ".join(lines[:2]) or type(exc).__name__


def load_generator(path, device="cpu", variant=None):
    """(generator module in eval mode, payload dict) from a generator.pt, or UnreadableGenerator naming
    the file. With `variant`, the file must hold that variant: one copied into another variant's
    folder would otherwise be drawn, and labelled, as the folder's."""
    payload = read_payload(path)
    name = payload["variant"]
    if name not in VARIANTS:
        raise UnreadableGenerator(f"cannot load {path}: it holds an unknown variant {name!r} (known: {', '.join(VARIANTS)})")
    if variant is not None and name != variant:
        raise UnreadableGenerator(f"cannot load {path}: it holds a {name} generator, not {variant}")
    module = variant_module(name)
    try:
        cfg = from_mapping(module.Config, payload["config"], "config")
        generator = module.build_generator(cfg, len(payload["breeds"]))
        generator.load_state_dict(payload["state_dict"])
    except (ParamError, RuntimeError, TypeError, ValueError) as exc:  # a file of other code's, or edited by hand
        raise UnreadableGenerator(f"cannot load {path}: its {name} generator does not fit this code ({first_lines(exc)})") from None
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
    if truncation > 0 and not variant_module(payload["variant"]).Model.truncation_acts:
        raise ParamError(f"truncation: {payload['variant']} normalises z, so truncating it changes nothing (use 0)")
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


def draw_submission(generator, payload, cfg, seed=None, device="cpu", progress=iter):
    """cfg.n_images uint8 images as a submission draws them: breeds by cfg.class_sampling and latents
    from `seed` (cfg.seed when None), cfg.batch_size per forward pass (`progress` wraps the passes)."""
    seed = cfg.seed if seed is None else seed
    labels = class_labels(cfg.n_images, payload["class_counts"], cfg.class_sampling, seed)
    starts = range(0, cfg.n_images, cfg.batch_size)
    return np.concatenate([sample(generator, payload, labels[start : start + cfg.batch_size], cfg.truncation,
                                  seed + start, cfg.batch_size, device) for start in progress(starts)])


def image_bytes(image, format="PNG"):
    """An image file's bytes; JPEG at quality 95, as the default 75 smears the fur of 64-pixel dogs."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=format, **({"quality": 95} if format == "JPEG" else {}))
    return buffer.getvalue()


def png_bytes(image):
    return image_bytes(image, "PNG")


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


def breed_key(name):
    """A breed name as compared: any case, `_` or spaces alike, since the report and the page show
    the folder name `Maltese_dog` as `Maltese dog`."""
    return " ".join(name.replace("_", " ").split()).casefold()


def breed_label(payload, breed):
    if not is_conditional(payload):
        raise ParamError(f"breed: {payload['variant']} is unconditional, it cannot be asked for a breed")
    names = payload["breeds"]
    matches = [i for i, name in enumerate(names) if breed_key(name) == breed_key(breed)]
    if not matches:
        raise UnknownBreed(f"breed: unknown breed {breed!r} ({known_breeds(names, breed)})")
    return matches[0]


def known_breeds(names, asked):
    """The breeds to name beside an unknown one: all of a few, or of Stanford's 120 those like it."""
    if len(names) <= 12:
        return f"known: {', '.join(names)}"
    keys = {breed_key(name): name for name in names}
    like = [name for key, name in keys.items() if breed_key(asked) and breed_key(asked) in key]
    like = like or [keys[m] for m in difflib.get_close_matches(breed_key(asked), keys, n=5, cutoff=0.6)]
    return f"{len(names)} known" + (f", like it: {', '.join(like)}" if like else f", among them {', '.join(names[:5])}")


def breed_labels(payload, breed, n, seed):
    """n labels: all of `breed` (a name as shown, see breed_key), or with breed None (or blank) drawn
    uniformly (seeded)."""
    if breed is None or not breed.strip():
        return class_labels(n, payload["class_counts"], "uniform", seed)
    return np.full(n, breed_label(payload, breed))


def check_truncation(value):
    """`value` if it is 0 (off) or in MIN_TRUNCATION..MAX_TRUNCATION (NaN is neither), else ValueError."""
    if not (value == 0 or MIN_TRUNCATION <= value <= MAX_TRUNCATION):
        raise ValueError(f"0 (off) or {MIN_TRUNCATION} to {MAX_TRUNCATION:g}, got {value:g}")
    return value


def output_format(path):
    """The image format `-o` asks for by its suffix; a grid under a name that says another format is refused."""
    format = IMAGE_FORMATS.get(Path(path).suffix.lower())
    if format is None:
        raise ParamError(f"-o {path}: name a .png, .jpg or .jpeg file (the suffix sets the format)")
    return format


def check_options(args):
    """One line naming the option, before anything is loaded."""
    if args.n < 1:
        raise ParamError(f"-n: expected at least 1 image, got {args.n}")
    if not 0 <= args.seed <= MAX_SEED:
        raise ParamError(f"--seed: expected 0 to 2^63 - 1, got {args.seed}")
    try:
        check_truncation(args.truncation)
    except ValueError as exc:
        raise ParamError(f"--truncation: expected {exc}") from None
    if args.variant not in VARIANTS:
        raise ParamError(f"--variant {args.variant}: not a variant (known: {', '.join(VARIANTS)})")
    output_format(args.output)


def write_image(path, image):
    """`image` to `path` atomically, in the format its suffix names."""
    data = image_bytes(image, output_format(path))
    try:
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
    except OSError as exc:
        raise UserError(f"-o {path}: cannot write it ({exc.strerror or exc})") from None


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m doggan.generate", description="Sample dogs from a trained variant.")
    parser.add_argument("--variant", required=True, help=f"a trained variant (models/<variant>/): {', '.join(VARIANTS)}")
    parser.add_argument("--training-seed", type=int, help="which of the variant's trained generators (default: its first seed)")
    parser.add_argument("--breed", help='breed name as the report or the page shows it, e.g. "Maltese dog" (any case, '
                                        "spaces or _; conditional variants); default: all breeds uniformly")
    parser.add_argument("-n", type=int, default=16, help="number of images, at least 1")
    parser.add_argument("-o", "--output", default="samples.png",
                        help="the grid to write: PNG for .png, JPEG for .jpg or .jpeg (others are refused); default samples.png")
    parser.add_argument("--models", default="models", help="folder holding <variant>/seed<N>/generator.pt")
    parser.add_argument("--seed", type=int, default=0, help="seed of the latents (and breeds), 0 to 2^63 - 1")
    parser.add_argument("--truncation", type=float, default=0.0,
                        help=f"0 (off, default) or {MIN_TRUNCATION} to {MAX_TRUNCATION:g}: latent entries above it are redrawn")
    parser.add_argument("--device", default="auto", help="auto (a free GPU, else the CPU), cpu, cuda or cuda:N")
    args = parser.parse_args(argv)
    check_options(args)
    device = pick_device(args.device)
    if not Path(args.models, args.variant).is_dir():
        raise ParamError(f"--variant {args.variant}: no trained generator in {Path(args.models, args.variant)} "
                         "(run the pipeline first)")
    path = Path(args.models) / run_path(args.variant, pick_seed(args.models, args.variant, args.training_seed)) / "generator.pt"
    generator, payload = load_generator(path, device, args.variant)
    labels = breed_labels(payload, args.breed, args.n, args.seed)
    # passes as the server runs them: `doggan serve` answers the same query with the same bytes
    images = sample(generator, payload, labels, args.truncation, args.seed, PASS_SIZE, device, pad=True)
    write_image(args.output, image_grid(images, columns=min(8, args.n)))
    breed = payload["breeds"][labels[0]].replace("_", " ") if args.breed and args.breed.strip() else "all breeds"
    print(f"wrote {args.n} samples of {breed} to {args.output}")


if __name__ == "__main__":
    from doggan.cli import run

    run(main)
