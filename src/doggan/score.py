"""Score a submission as Kaggle did: check the zip, extract features, compute MiFID.

    python -m doggan.score submissions/dcgan/images.zip [--reference data/interim/reference_rotnet.npz]

prints one JSON object: fid, distance, distance_thresholded, mifid (as Kaggle), cosine_eps,
kid, kid_std, precision, recall, density, coverage, network, n.
"""

import argparse
import dataclasses
import io
import json
import zipfile
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image
from tqdm import tqdm

from doggan.config import load_section, read_params
from doggan.device import pick_device
from doggan.errors import SubmissionError, UserError
from doggan.metrics.features import MetricConfig, extract_features, feature_network, inception_weights_path
from doggan.metrics.judge import score_features

KAGGLE_COUNT, KAGGLE_SIZE = 10000, (64, 64)
MEMBER_MAX_BYTES = 1 << 20  # a 64x64 PNG is ~10 KB


def read_submission(path, expected=KAGGLE_COUNT):
    """uint8 (N, 64, 64, 3) images of a submission zip, or SubmissionError saying what is wrong."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise SubmissionError(f"{path}: not a readable zip ({exc})") from None
    with zf:
        members = [m for m in zf.infolist() if not m.is_dir()]
        if len(members) != expected:
            raise SubmissionError(f"{path}: {len(members)} files, expected exactly {expected}")
        images = np.empty((len(members), *KAGGLE_SIZE, 3), np.uint8)
        for i, member in enumerate(members):
            name = member.filename
            if PurePosixPath(name).is_absolute() or ".." in PurePosixPath(name).parts:
                raise SubmissionError(f"{path}: member {name!r} escapes the archive")
            if not name.lower().endswith(".png"):
                raise SubmissionError(f"{path}: {name} is not a .png file")
            if member.file_size > MEMBER_MAX_BYTES:
                raise SubmissionError(f"{path}: {name} is larger than {MEMBER_MAX_BYTES} bytes")
            try:
                image = Image.open(io.BytesIO(zf.read(member)))
                image.load()
            except (OSError, ValueError, SyntaxError) as exc:
                raise SubmissionError(f"{path}: {name} is not a readable image ({exc})") from None
            if image.format != "PNG":
                raise SubmissionError(f"{path}: {name} is {image.format}, not PNG")
            if image.size != KAGGLE_SIZE:
                raise SubmissionError(f"{path}: {name} is {image.size[0]}x{image.size[1]}, expected 64x64")
            if image.mode != "RGB":
                raise SubmissionError(f"{path}: {name} has mode {image.mode}, expected RGB")
            images[i] = np.asarray(image)
    return images


def load_reference(path):
    try:
        with np.load(path) as ref:
            return ({k: ref[k] for k in ("mu", "sigma", "features")}
                    | {"network": str(ref["network"]), "cosine_eps": float(ref["cosine_eps"])})
    except (OSError, KeyError, ValueError) as exc:
        raise UserError(f"{path}: not a reference statistics file ({exc})") from None


def load_network(cfg, featnet, device="cpu"):
    """The feature network, or one line naming the weights file that would not load."""
    path = featnet if cfg.network == "rotnet" else inception_weights_path(cfg.inception_weights)
    try:
        return feature_network(cfg, featnet, device)
    except UserError:
        raise
    except Exception:  # torch's messages for junk (`KeyError: 174812789`, `'hparams'`) name no file and no cause
        what = "--featnet" if cfg.network == "rotnet" else "metric.inception_weights"
        raise UserError(f"{what}: {path} is not readable {cfg.network} weights (junk, a copy cut short, "
                        "or another network's)") from None


def feature_progress(batches):
    """A bar on stderr while features are extracted (10,000 images: ~50 s on 2 cores), as the pipeline's
    stages show; stdout stays one line of JSON."""
    return tqdm(batches, desc="features", unit="batch")


def score_images(images, reference, net, cfg, eps=None, device="cpu", progress=None):
    """Every score of uint8 images against a reference (dict with mu, sigma, features, network,
    cosine_eps); `eps` overrides the reference's MiFID threshold; `progress` wraps the batches (tqdm)."""
    features = extract_features(net, images, cfg.batch_size, device, progress)
    result = score_features(features, reference["features"], eps or reference["cosine_eps"],
                            (reference["mu"], reference["sigma"]))
    return {**result, "network": reference["network"], "n": int(len(images))}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m doggan.score", description="Score a submission zip with MiFID.")
    parser.add_argument("images_zip")
    parser.add_argument("--reference", default="data/interim/reference_rotnet.npz", help="reference statistics (.npz)")
    parser.add_argument("--featnet", default="models/featnet.pt", help="rotnet weights (network rotnet)")
    parser.add_argument("--inception-weights", default=None, help="FID Inception weights (network inception)")
    parser.add_argument("--expected", type=int, default=KAGGLE_COUNT, help="number of images required")
    parser.add_argument("--eps", type=float, help="memorization threshold (else the reference's)")
    parser.add_argument("--params", default="params.yaml", help="the metric settings (params.yaml `metric:`)")
    parser.add_argument("--device", default="auto", help="auto (a free GPU, else the CPU), cpu, cuda or cuda:N")
    args = parser.parse_args(argv)
    device = pick_device(args.device)  # first: a bad --device stops before 10,000 images are read
    images = read_submission(args.images_zip, args.expected)
    reference = load_reference(args.reference)
    cfg = load_section(MetricConfig, read_params(args.params), "metric")
    cfg = dataclasses.replace(cfg, network=reference["network"], inception_weights=args.inception_weights or cfg.inception_weights)
    if cfg.network == "rotnet" and not Path(args.featnet).is_file():
        raise UserError(f"--featnet: {args.featnet} not found (the featnet stage writes it)")
    net = load_network(cfg, args.featnet, device)
    print(json.dumps(score_images(images, reference, net, cfg, args.eps, device, feature_progress)))


if __name__ == "__main__":
    from doggan.cli import run

    run(main)
