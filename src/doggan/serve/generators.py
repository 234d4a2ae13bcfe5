"""The server's generators: loaded once at start-up, and run by one worker thread that packs the
rows of concurrent requests into forward passes.

Passes always have exactly `batch_size` rows (padded): a row's floats change with the size of
its batch but not with its neighbours, so an image has the same bytes whether its request ran
alone or shared a pass, and the same as `python -m doggan.generate` draws.
"""

import json
import threading
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np
import torch

from doggan.generate import UnreadableGenerator, forward_pass, is_conditional, load_generator
from doggan.errors import UserError
from doggan.models import VARIANTS
from doggan.runs import pick_seed, run_path

TRAIN_HINT = "`make repro` trains models/, `make quality` data/quality/models/"
SCORE_KEYS = ("fid", "kid", "kid_std", "precision", "recall", "density", "coverage", "mifid", "distance", "network",
              "n")  # of reports/metrics/<V>/seed<N>.json, as the page shows them


@dataclass
class Variant:
    """One variant's generator (None with the reason when it cannot serve), the training seed it was
    trained with, its score, and the spread of its FID over every training seed."""

    name: str
    generator: object = None
    payload: dict = None
    reason: str = None
    seed: int = None
    score: dict = None
    spread: dict = None
    breed_scores: dict = None

    def describe(self):
        """What GET /api/variants says of this variant: breeds only where a request may name one."""
        if self.generator is None:
            return {"name": self.name, "available": False, "reason": self.reason}
        conditional = is_conditional(self.payload)
        return {"name": self.name, "available": True, "conditional": conditional, "training_seed": self.seed,
                **({"breeds": self.payload["breeds"], "breed_scores": self.breed_scores} if conditional else {}),
                "score": self.score, "spread": self.spread}


def read_score(path):
    """The score the pipeline wrote for a variant, or None where it has not run (or wrote garbage)."""
    try:
        metrics = json.loads(path.read_text())
        return {key: metrics[key] for key in SCORE_KEYS if key in metrics} or None
    except (OSError, ValueError, TypeError):
        return None


def read_spread(path, name):
    """FID's mean, std and seed count of variant `name` in the aggregate stage's json, or None."""
    try:
        fid = json.loads(path.read_text())["variants"][name]["fid"]
        return {"fid_mean": fid["mean"], "fid_std": fid["std"], "seeds": fid["n"]}
    except (OSError, ValueError, TypeError, KeyError):
        return None


def read_breed_scores(path):
    """{breed: {top1, top5, kid}} of a run, from its breeds stage's json, or None where it has not run."""
    try:
        scores = json.loads(path.read_text())
        kid = scores["kid"]["per_breed"]
        return {breed: {**accuracy, "kid": kid.get(breed, {}).get("kid")}
                for breed, accuracy in scores["accuracy"]["per_breed"].items()}
    except (OSError, ValueError, TypeError, KeyError):
        return None


def load_variant(name, models, metrics, device="cpu", seed=None):
    """Variant `name` from models/<name>/seed<N>/generator.pt (weights_only; N: `seed`, else the first
    trained), its score from metrics/<name>/seed<N>.json, its spread from metrics/../aggregate.json, its
    per-breed scores from metrics/../breeds/<name>/seed<N>.json."""
    try:
        seed = pick_seed(models, name, seed)
    except UserError as exc:
        return Variant(name, reason=f"{exc} ({TRAIN_HINT})")
    path = models / run_path(name, seed) / "generator.pt"
    try:
        generator, payload = load_generator(path, device, name)
    except UnreadableGenerator as exc:  # says why, naming the file
        return Variant(name, reason=str(exc))
    except Exception as exc:  # any other failure (out of GPU memory) means this one cannot serve; the others still do
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return Variant(name, reason=f"cannot load {path}: {first_line}")
    run = run_path(name, seed)
    return Variant(name, generator, payload, seed=seed, score=read_score(metrics / f"{run}.json"),
                   spread=read_spread(metrics.parent / "aggregate.json", name),
                   breed_scores=read_breed_scores(metrics.parent / "breeds" / f"{run}.json"))


def load_variants(models, metrics, device="cpu", seed=None):
    """{name: Variant} for every registered variant with a folder in models/, each with training seed
    `seed` (else its first). Names come from the registry, never from a request, so nothing a client
    sends reaches the file system."""
    return {name: load_variant(name, models, metrics, device, seed) for name in VARIANTS if (models / name).is_dir()}


@dataclass(eq=False)
class Job:
    """One request's rows: latents z, labels y; images fill in as passes complete."""

    generator: object
    z: object
    y: object
    future: Future = field(default_factory=Future)
    taken: int = 0  # rows handed to a pass so far
    images: list = field(default_factory=list)
    done: int = 0  # rows whose images are back


class Batcher:
    """Runs every forward pass on one thread, off the event loop. A pass takes the oldest job's
    generator and fills up with rows of the jobs waiting for that generator, oldest first
    (`batching=False`: with the oldest job's rows only, one request at a time)."""

    def __init__(self, batch_size, batching=True, device="cpu"):
        self.batch_size, self.batching, self.device = batch_size, batching, device
        self.waiting = deque()  # jobs with rows not yet in a pass
        self.wakeup = threading.Condition()
        self.closed = False
        self.thread = threading.Thread(target=self._work, name="doggan-generate", daemon=True)
        self.thread.start()

    def submit(self, generator, z, y):
        """A Future of the uint8 (N, H, W, 3) images of z, y."""
        job = Job(generator, z, y)
        with self.wakeup:
            if self.closed:
                raise RuntimeError("the batcher is closed")
            self.waiting.append(job)
            self.wakeup.notify()
        return job.future

    def close(self):
        with self.wakeup:
            self.closed = True
            self.wakeup.notify()
        self.thread.join()

    def _next_pass(self):
        """[(job, start, stop)] of up to batch_size rows, all for one generator."""
        generator, rows, free = self.waiting[0].generator, [], self.batch_size
        for job in list(self.waiting):
            if free == 0 or (rows and not self.batching):
                break
            if job.generator is not generator:
                continue
            if job.taken == 0 and not job.future.set_running_or_notify_cancel():
                self.waiting.remove(job)  # its client went away before it started
                continue
            stop = min(len(job.z), job.taken + free)
            rows.append((job, job.taken, stop))
            free -= stop - job.taken
            job.taken = stop
            if stop == len(job.z):
                self.waiting.remove(job)
        return rows

    def _work(self):
        while True:
            with self.wakeup:
                while not self.waiting and not self.closed:
                    self.wakeup.wait()
                if self.closed:
                    return
                rows = self._next_pass()
            if rows:
                self._run(rows)

    def _run(self, rows):
        z = torch.cat([job.z[start:stop] for job, start, stop in rows])
        y = torch.cat([job.y[start:stop] for job, start, stop in rows])
        try:
            images = forward_pass(rows[0][0].generator, z, y, self.batch_size, self.device)
        except Exception as exc:  # a bug, not bad input: the requests in this pass fail, the server goes on
            for job, _, _ in rows:
                self._fail(job, exc)
            return
        at = 0
        for job, start, stop in rows:
            job.images.append(images[at : at + stop - start])
            at += stop - start
            job.done += stop - start
            if job.done == len(job.z) and not job.future.done():
                job.future.set_result(np.concatenate(job.images))

    def _fail(self, job, exc):
        with self.wakeup:
            if job in self.waiting:
                self.waiting.remove(job)
        if not job.future.done():
            job.future.set_exception(exc)
