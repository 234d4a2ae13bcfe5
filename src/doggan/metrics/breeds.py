"""Does a generator draw the breed it is asked for? Per-breed judging (DESIGN section 11).

The breed judge is rotnet's net trained to name breeds (`train_featnet(..., labels=...)`) on the
train crops and tested on the held-out crops, which no network trains on: its held-out accuracy is
the ceiling every generator is read against. Per run:

- breed accuracy (GAN-test): the share of a conditional variant's samples of breed b that the judge
  calls b, top-1 and top-5;
- per-breed KID on the pooled score's features (featnet's): the samples of b against the train
  crops of b, unbiased at the hundred-odd crops a breed has;
- classification accuracy score (CAS, GAN-train): the judge's net trained on generated images alone
  (labels: the breeds asked for), tested on the held-out crops, beside the judge itself, the same
  net trained on as many real crops for as many steps;
- breed coverage (every variant): the judge labels each sample; the share of breeds drawn at least
  half as often as the data holds them, and KL(samples || data) of the two breed histograms;
- memorisation: MiFID's memorisation distance of each breed's samples, and the nearest train crops
  of a few samples in featnet's features (a figure).

Every function takes uint8 images (N, 3, H, W) as tensors, as the crop cache holds them.
"""

from dataclasses import dataclass

import numpy as np
import torch

from doggan.config import option
from doggan.data.dataset import to_float
from doggan.metrics.kid import kernel_inception_distance
from doggan.metrics.mifid import memorization_distance
from doggan.metrics.rotnet import FeatnetConfig, train_featnet

TOP_K = 5
DRAWN = 0.5  # a breed counts as drawn when the judge finds at least this share of what the data's frequency predicts
KID_SUBSETS = 100


@dataclass(frozen=True)
class JudgeConfig:
    width: int             = option("channels of the first block (doubles per block)", low=4)
    features: int          = option("width of the penultimate layer", low=8)
    epochs: int            = option("training epochs over the train crops", low=1)
    max_steps: int         = option("at most this many steps, whatever the epochs", low=1)
    batch_size: int        = option("images per step", low=1)
    lr: float              = option("Adam learning rate", low=0.0, low_open=True)
    seed: int              = option("seed", low=0)
    samples_per_breed: int = option("images a conditional variant draws of each breed to be judged", low=4)


def train_judge(images, labels, n_breeds, cfg, device="cpu"):
    """rotnet's net trained to name the breed of uint8 `images` (N, 3, H, W) with int `labels`; in eval mode."""
    net_cfg = FeatnetConfig(width=cfg.width, features=cfg.features, epochs=cfg.epochs, max_steps=cfg.max_steps,
                            batch_size=cfg.batch_size, lr=cfg.lr, val_fraction=0.0, seed=cfg.seed)
    model, _ = train_featnet(images, net_cfg, labels=labels, n_classes=n_breeds, device=device)
    return model


@torch.no_grad()
def judge_logits(model, images, device="cpu", batch_size=256):
    """The judge's logits (N, breeds) of uint8 images, on the CPU."""
    return torch.cat([model(to_float(images[i : i + batch_size]).to(device)).float().cpu()
                      for i in range(0, len(images), batch_size)]) if len(images) else torch.empty(0, model.head[-1].out_features)


def accuracy(logits, labels, k=1):
    """Share of rows whose label is among the k highest logits."""
    k = min(k, logits.shape[1])
    return float((logits.topk(k, dim=1).indices == torch.as_tensor(labels)[:, None]).any(1).float().mean())


def breed_accuracy(logits, labels, breeds):
    """Top-1 and top-5 overall and per breed (of the breeds asked for), for samples asked as `labels`;
    per breed also the breed the judge names most often instead (`mistaken_for`, None when it never
    errs) and the share of the breed's samples it names so (`mistaken_share`)."""
    labels = torch.as_tensor(labels)
    per_breed = {}
    for b in labels.unique().tolist():
        asked = labels == b
        named = logits[asked].argmax(1)
        wrong = torch.bincount(named[named != b], minlength=len(breeds))
        per_breed[breeds[b]] = {"top1": accuracy(logits[asked], labels[asked]),
                                "top5": accuracy(logits[asked], labels[asked], TOP_K),
                                "mistaken_for": breeds[int(wrong.argmax())] if wrong.sum() else None,
                                "mistaken_share": float(wrong.max() / asked.sum())}
    return {"top1": accuracy(logits, labels), "top5": accuracy(logits, labels, TOP_K), "per_breed": per_breed}


def coverage(predicted, data_counts):
    """How the judge's labels of samples spread over the breeds, against the data's breed counts:
    `drawn`, the share of breeds labelled at least DRAWN times as often as the data's frequency
    predicts, and `kl`, KL(samples || data) in nats (0: the data's mix; log 4: a quarter of the breeds)."""
    data = np.asarray(data_counts, np.float64)
    data = data / data.sum()
    counts = np.bincount(np.asarray(predicted), minlength=len(data)).astype(np.float64)
    samples = counts / counts.sum()
    nonzero = samples > 0
    return {"drawn": float(np.mean(counts >= DRAWN * data * counts.sum())),
            "kl": float(np.sum(samples[nonzero] * np.log(samples[nonzero] / data[nonzero])))}


def per_breed_kid(gen, gen_labels, real, real_labels, breeds, seed=0):
    """KID of each breed's generated features against its real ones (subsets of half the smaller
    set, KID_SUBSETS of them), the mean over breeds and the three worst breeds."""
    gen_labels, real_labels = np.asarray(gen_labels), np.asarray(real_labels)
    per_breed = {}
    for b in np.unique(gen_labels):
        g, r = gen[gen_labels == b], real[real_labels == b]
        size = min(len(g), len(r)) // 2
        if size >= 2:
            per_breed[breeds[b]] = kernel_inception_distance(g, r, KID_SUBSETS, size, seed)
    kids = {name: value["kid"] for name, value in per_breed.items()}
    return {"mean": float(np.mean(list(kids.values()))) if kids else None,
            "worst": sorted(kids, key=kids.get, reverse=True)[:3], "per_breed": per_breed}


def memorisation_per_breed(gen, gen_labels, real, breeds):
    """MiFID's memorisation distance (mean over samples of 1 - the largest |cos| to any real crop) of each breed's samples."""
    gen_labels = np.asarray(gen_labels)
    return {breeds[b]: memorization_distance(gen[gen_labels == b], real) for b in np.unique(gen_labels)}


def classification_accuracy_score(images, labels, heldout, heldout_labels, n_breeds, cfg, device="cpu"):
    """CAS: the judge's net trained on `images` (generated, with the breeds they were asked for) and
    tested on the held-out crops: top-1 and top-5."""
    model = train_judge(images, torch.as_tensor(labels), n_breeds, cfg, device)
    logits = judge_logits(model, heldout, device)
    return {"top1": accuracy(logits, heldout_labels), "top5": accuracy(logits, heldout_labels, TOP_K)}


def nearest(gen, real, k=3):
    """Indices (len(gen), k) of the k real rows closest to each generated row by |cosine|, as MiFID measures."""
    def unit(x):
        x = np.asarray(x, np.float64)
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return np.argsort(-np.abs(unit(gen) @ unit(real).T), axis=1, kind="stable")[:, :k]


def judge_samples(judge, features_of, pooled, real_features, real_labels, data_counts, breeds, asked=None,
                  asked_labels=None, device="cpu"):
    """Every per-breed score of one set of samples: the judge's breed coverage of `pooled` (what a
    variant submits), and for samples drawn as breeds (`asked`, uint8, with `asked_labels`) their
    breed accuracy, per-breed KID and memorisation distance against the real (train) features.
    `features_of(uint8 images)` gives the pooled score's features. The yardsticks run through here too."""
    scores = {"coverage": coverage(judge_logits(judge, pooled, device).argmax(1), data_counts)}
    if asked is not None:
        features = features_of(asked)
        scores["accuracy"] = breed_accuracy(judge_logits(judge, asked, device), asked_labels, breeds)
        scores["kid"] = per_breed_kid(features, asked_labels, real_features, real_labels, breeds)
        scores["memorisation"] = memorisation_per_breed(features, asked_labels, real_features, breeds)
    return scores


def summary(scores):
    """The few numbers `dvc metrics show` and the aggregate carry: breed accuracy, per-breed KID, CAS, coverage."""
    out = {"breeds_drawn": scores["coverage"]["drawn"], "breed_kl": scores["coverage"]["kl"]}
    if "accuracy" in scores:
        out |= {"breed_top1": scores["accuracy"]["top1"], "breed_top5": scores["accuracy"]["top5"],
                "breed_kid": scores["kid"]["mean"]}
    if "cas" in scores:
        out["cas_top1"] = scores["cas"]["top1"]
    return {key: float(f"{value:.4g}") for key, value in out.items() if value is not None}


def yardsticks(judge, features_of, heldout, heldout_labels, real_features, real_labels, data_counts, breeds,
               seed=0, device="cpu"):
    """The per-breed scores of sets with a known answer, held-out crops all: with their breeds (the
    ceiling), with their breeds shuffled (a generator that ignores the breed asked: accuracy at
    chance, per-breed KID high, coverage full), and of a quarter of the breeds only (coverage caught)."""
    heldout_labels = np.asarray(heldout_labels)
    shuffled = np.random.default_rng(seed).permutation(heldout_labels)
    quarter = np.isin(heldout_labels, np.unique(heldout_labels)[: max(1, -(-len(breeds) // 4))])
    quarter_images = heldout[torch.from_numpy(quarter)]
    sets = {"real": ("held-out crops, their breeds", heldout, heldout_labels),
            "shuffled": ("held-out crops, breeds shuffled", heldout, shuffled),
            "quarter": ("held-out crops of a quarter of the breeds", quarter_images, heldout_labels[quarter])}
    return {name: {"label": label, **judge_samples(judge, features_of, images, real_features, real_labels, data_counts,
                                                  breeds, images, labels, device)}
            for name, (label, images, labels) in sets.items()}
