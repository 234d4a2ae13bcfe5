"""The one training loop every variant runs.

Resumable and exact: the data order of an epoch is a function of (seed, epoch), and a
checkpoint holds the networks, optimisers, EMA, step and the torch RNG state, so a run killed
at any point and started again ends with the same generator bytes as an uninterrupted run
(on CPU). A checkpoint is only resumed when its fingerprint (variant, params, seed, data) matches.

Training length is counted in steps (images shown = steps x batch size), never in epochs, so a
budget means the same on 900 demo crops and on 22,000 real ones. With `keep: best` the run ends
with the sampler (the EMA generator where there is one) of its best cheap FID, as the
conditional-DCGAN solution kept its best epoch; that choice is part of the checkpoint too.
"""

import contextlib
import copy
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from doggan.data.dataset import epoch_order, to_float
from doggan.io import save_torch


def lr_factor(schedule, progress):
    """Multiplier of the base LR at `progress` in [0, 1]."""
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    return 1.0


def steps_per_epoch(n_images, batch_size):
    return max(1, n_images // batch_size)


@dataclass
class Best:
    """The best cheap FID seen so far, its step and the sampler's weights then."""

    fid: float = math.inf
    step: int = 0
    state: dict | None = None

    def offer(self, step, fid, sampler):
        if fid < self.fid:  # a NaN FID never wins
            self.fid, self.step, self.state = fid, step, copy.deepcopy(sampler.state_dict())


@dataclass
class Clock:
    """Seconds spent in evaluations so far, and the training seconds (evaluations left out) at each one."""

    evaluating: float = 0.0
    curve: list = field(default_factory=list)


@dataclass
class Result:
    seconds: float       # training time, including that of earlier interrupted runs
    best_step: int       # the step whose sampler was kept (the last step with keep: last)
    best_fid: float      # its cheap FID (nan when none was computed)
    curve: list          # [step, seconds of training before it, evaluations not counted] per cheap FID


def save_checkpoint(path, model, step, fingerprint, train_seconds, best, clock):
    payload = {
        "fingerprint": fingerprint,
        "step": step,
        "train_seconds": train_seconds,
        "clock": {"evaluating": clock.evaluating, "curve": clock.curve},
        "model": model.state_dict(),
        "optimizers": {name: opt.state_dict() for name, opt in model.optimizers.items()},
        "best": {"fid": best.fid, "step": best.step, "state": best.state},
        "rng_cpu": torch.get_rng_state(),
        "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    save_torch(payload, path)


def read_checkpoint(path, fingerprint):
    """The checkpoint's payload if it was written by this exact run, else None."""
    path = Path(path)
    if not path.is_file():
        return None
    payload = torch.load(path, map_location="cpu", weights_only=True)
    return payload if payload.get("fingerprint") == fingerprint else None  # params or data changed: start over


def checkpoint_step(path, fingerprint):
    """The step a valid checkpoint of this run holds (0 if none or from another run)."""
    payload = read_checkpoint(path, fingerprint)
    return payload["step"] if payload else 0


def load_checkpoint(path, model, fingerprint):
    """Restore `model`, already on its device, from `path` if it was written by this exact run;
    returns (step, seconds, best, clock). The model moves first: an optimiser's load_state_dict puts
    each state tensor on its parameter's device, so Adam's moments follow the weights onto the GPU."""
    payload = read_checkpoint(path, fingerprint)
    if payload is None:
        return 0, 0.0, Best(), Clock()
    model.load_state_dict(payload["model"])
    for name, opt in model.optimizers.items():
        opt.load_state_dict(payload["optimizers"][name])
    torch.set_rng_state(payload["rng_cpu"])
    if payload["rng_cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(payload["rng_cuda"])
    return payload["step"], payload["train_seconds"], Best(**payload["best"]), Clock(**payload["clock"])


def train(model, images, labels, *, seed, checkpoint_path, fingerprint, device="cpu", amp=None, on_log=None,
          evaluate=None, stop_after=None):
    """Train `model` (a GANModel) on uint8 images (N, 3, H, W) with int labels for cfg.steps steps.

    amp: bf16 autocast of forward passes and losses; None: cfg.amp, on CUDA only (on a CPU without
        bf16 matrix units it is slower than fp32; True there is how the tests run the AMP path).
    on_log(step, metrics): called every cfg.log_every steps with losses and lr.
    evaluate(step) -> float: the cheap FID of model.sampler() (lower is better), called every
        cfg.fid_every steps and at the end; with cfg.keep "best" the best one's sampler is kept.
    stop_after: stop (with a checkpoint) after this many steps in total; for tests of resume.
    """
    cfg = model.cfg
    n = len(images)
    per_epoch, total = steps_per_epoch(n, cfg.batch_size), cfg.steps
    torch.manual_seed(seed)  # anything the variant draws at build time was drawn before this call
    device = torch.device(device)
    layout = torch.channels_last if cfg.channels_last else torch.contiguous_format
    model.to(device, memory_format=layout).train()
    if cfg.compile:  # in place, on the device and in the layout the steps run in (the first steps compile)
        model.compile_networks()
    start, seconds, best, clock = load_checkpoint(checkpoint_path, model, fingerprint)
    if amp is None:
        amp = cfg.amp and device.type == "cuda"
    model.amp_device = device.type if amp else None
    # the crops stay on the device as uint8 (270 MB at Kaggle's 22,125): a batch is indexed and
    # converted there, with no copy from the host per step
    images, labels = images.to(device), labels.to(device)
    bar = tqdm(total=total, initial=start, desc=type(model).__module__.rsplit(".", 1)[-1], unit="step")
    order, began = None, time.perf_counter()
    end = total if stop_after is None else min(total, stop_after)

    def elapsed():
        return seconds + time.perf_counter() - began

    def checkpoint(step):
        save_checkpoint(checkpoint_path, model, step, fingerprint, elapsed(), best, clock)

    def sample_and_score(step):
        started = elapsed()
        clock.curve.append([step, round(started - clock.evaluating, 3)])
        # eager: a compiled G or encoder would compile again for eval mode, no_grad and another batch
        # size, seconds each, for a few passes per cheap FID
        with torch.compiler.set_stance("force_eager") if cfg.compile else contextlib.nullcontext():
            model.prepare_sampler(images, device)
            if evaluate:
                fid = evaluate(step)
                if model.sampler_is_final():
                    best.offer(step, fid, model.sampler())
        clock.evaluating += elapsed() - started

    for step in range(start, end):
        epoch, i = divmod(step, per_epoch)
        if order is None or i == 0:
            order = epoch_order(n, seed, epoch).to(device)
        idx = order[i * cfg.batch_size : (i + 1) * cfg.batch_size]
        real = to_float(images[idx]).contiguous(memory_format=layout)
        if cfg.flip:
            real = torch.where(torch.rand(len(real), 1, 1, 1, device=device) < 0.5, real.flip(3), real)
        progress = step / total
        factor = lr_factor(cfg.lr_schedule, progress)
        for opt in model.optimizers.values():
            for group in opt.param_groups:  # base_lr is saved with the optimiser, so resume keeps it
                group["lr"] = group.setdefault("base_lr", group["lr"]) * factor
        losses = model.train_step(real, labels[idx], progress)
        model.update_ema(step)
        bar.update()
        done = step + 1
        if on_log and (done % cfg.log_every == 0 or done == total):
            losses = {name: float(value) for name, value in losses.items()}  # the one host sync, on log steps
            on_log(done, {**losses, "lr": cfg.lr * factor})
            bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items()})
        if (cfg.fid_every and done % cfg.fid_every == 0) or done == total:
            sample_and_score(done)
        if done % cfg.checkpoint_every == 0 or done == end:
            checkpoint(done)
    bar.close()
    if end < total:
        return Result(elapsed(), end, math.nan, clock.curve)
    if cfg.keep == "best" and best.state is not None:
        model.sampler().load_state_dict(best.state)
        return Result(elapsed(), best.step, best.fid, clock.curve)
    return Result(elapsed(), total, best.fid if best.step == total else math.nan, clock.curve)
