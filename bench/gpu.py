"""`make gpu-check`: is training correct and fast on this machine's CUDA GPU? One script, a few minutes.

Runs with the machine's own python and torch: it imports torch, numpy and the project's src/doggan
only (no venv, dvc or snakemake needed). Where a doggan module imports a package that is missing here
(tqdm, yaml, pandas, scipy, PIL), a small stand-in takes its place: a silent tqdm, a reader for
params.yaml's subset of YAML, and for the rest a module that fails only if it is used.

    python bench/gpu.py                          # on a machine with a CUDA GPU: reports/bench/gpu.md and .json
    python bench/gpu.py --allow-cpu --out /tmp/g # no GPU: the same checks at a tiny size on the CPU

Checks, every variant, with the pipeline's CUDA setup (doggan.device.pick_device: deterministic
algorithms, no cuDNN benchmark, no TF32), on synthetic uint8 crops resident on the device:
  speed        ms/step over a few hundred steps of doggan.training.loop.train, AMP (bf16) on and off,
               beside the CPU figure of `make bench` (reports/bench/*.md); images/s of generation
               (doggan.generate.sample) and of scoring (extract_features on an untrained RotNet)
  fresh D      bug 1: D's output in the G step equals D recomputed from a snapshot of its weights
               after its own step, under a fresh autocast context (and differs from its weights before)
  resume       bug 2: a run stopped mid-way and resumed by a fresh model ends with the generator bytes of
               an uninterrupted run; every optimiser state tensor lies on its parameter's device
  same seed    two runs, same bytes
  featnet      a few featnet (RotNet) training steps under the same deterministic mode
Exit status: 0 every check passed, 1 a check failed or raised, 2 no CUDA GPU (without --allow-cpu).
"""

import argparse
import contextlib
import copy
import dataclasses
import datetime
import importlib.machinery
import io
import json
import os
import re
import shutil
import sys
import tempfile
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.append(str(ROOT / "bench"))  # common.py, also where this file is loaded as a module (the tests)
os.environ.setdefault("TQDM_DISABLE", "1")  # the training loop's progress bars: this script prints its own lines

try:
    import numpy as np
    import torch
except ImportError as exc:
    print(f"gpu-check: {exc.name} is not installed for {sys.executable}: it needs torch and numpy", file=sys.stderr)
    sys.exit(2)


# ---------------------------------------------------------------------------------------------------------------
# stand-ins for packages doggan imports that this machine may lack


class _SilentBar:
    """tqdm's interface, printing nothing."""

    def __init__(self, iterable=None, *args, **kwargs):
        self.iterable = iterable

    def __iter__(self):
        return iter(self.iterable)

    def update(self, n=1):
        pass

    def set_postfix(self, *args, **kwargs):
        pass

    def close(self):
        pass


class _YAMLError(Exception):
    pass


def _yaml_scalar(text):
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        inner = text[1:-1].strip()
        return [_yaml_scalar(item) for item in inner.split(",")] if inner else []
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    if text.lower() in ("", "null", "~"):
        return None
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _yaml_safe_load(text):
    """params.yaml's YAML: nested block mappings of scalars and [flow, lists], # comments."""
    if "\n" not in text.strip() and not re.match(r"^[^:#]+:(\s|$)", text.strip()):
        return _yaml_scalar(text)
    root = {}
    stack = [(-1, root)]
    for raw in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        key, colon, value = line.strip().partition(":")
        if not colon:
            raise _YAMLError(f"expected 'key: value', got {raw.strip()!r}")
        while indent <= stack[-1][0]:
            stack.pop()
        parent = stack[-1][1]
        if value.strip():
            parent[key.strip()] = _yaml_scalar(value)
        else:
            parent[key.strip()] = {}
            stack.append((indent, parent[key.strip()]))
    return root


class _Absent(types.ModuleType):
    """A package that is not installed here: importable, but any use of it raises."""

    def __getattr__(self, attribute):
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        name = f"{self.__name__}.{attribute}"

        def absent(*args, **kwargs):
            raise RuntimeError(f"{name}: not installed here (bench/gpu.py's stand-in)")

        return absent


def install_stand_ins():
    """Put a stand-in in sys.modules for each package doggan imports that is missing; returns their names."""
    stood_in = []
    for name in ("tqdm", "yaml", "pandas", "scipy", "PIL"):
        try:
            __import__(name)
            continue
        except ImportError:
            pass
        module = _Absent(name)
        if name == "tqdm":
            module = types.ModuleType(name)
            module.tqdm = _SilentBar
        elif name == "yaml":
            module = types.ModuleType(name)
            module.safe_load, module.YAMLError = _yaml_safe_load, _YAMLError
        module.__spec__ = importlib.machinery.ModuleSpec(name, None)  # no origin: torch._dynamo looks for one
        sys.modules[name] = module
        if name in ("scipy", "PIL"):  # `from scipy import linalg`, `from PIL import Image`
            for sub in {"scipy": ("linalg", "ndimage"), "PIL": ("Image", "ImageDraw", "ImageFilter")}[name]:
                sys.modules[f"{name}.{sub}"] = _Absent(f"{name}.{sub}")
                sys.modules[f"{name}.{sub}"].__spec__ = importlib.machinery.ModuleSpec(f"{name}.{sub}", None)
                setattr(module, sub, sys.modules[f"{name}.{sub}"])
        stood_in.append(name)
    return stood_in


STOOD_IN = install_stand_ins()

from doggan.config import load_merged, load_section, read_params  # noqa: E402, F401 (read_params: tests/test_gpu_check.py)
from doggan.device import pick_device  # noqa: E402
from doggan.generate import sample  # noqa: E402
from doggan.metrics.features import RotNetFeatures, extract_features  # noqa: E402
from doggan.metrics.rotnet import FeatnetConfig, RotNet, train_featnet  # noqa: E402
from doggan.models import VARIANTS, variant_module  # noqa: E402
from doggan.training.loop import train  # noqa: E402

from common import read_bench_params  # noqa: E402

# ---------------------------------------------------------------------------------------------------------------
# sizes

N_CLASSES = 120  # Kaggle's breeds
GPU_SIZE = dict(crops=22_125, warmup=50, timed=300, check_steps=40, check_every=10, stop_after=25, fresh_steps=5,
                images=10_000, featnet_steps=50, matmul=4096)
# --allow-cpu: every check on the CPU at widths as small as tests/test_training.py's, a few steps each
CPU_SIZE = dict(crops=16, warmup=1, timed=2, check_steps=5, check_every=2, stop_after=3, fresh_steps=2,
                images=24, featnet_steps=2, matmul=256)
TINY = {  # tests/test_training.py's widths, batch 4
    "dcgan": dict(ngf=8, ndf=8, nz=16),
    "cdcgan": dict(ngf=8, ndf=8, nz=16, embed=4),
    "gan": dict(width=8, nz=16),
    "progan": dict(channels=16, nz=16, embed=4, ema=0.9),
    "autoencoder": dict(width=8, nz=64),
    "biggan": dict(g_ch=4, d_ch=4, nz=20, shared_dim=8, ema=0.9),
    "plain_dcgan": dict(ngf=8, ndf=8, nz=16),
}

KAGGLE_HOURS = 9           # a Kaggle notebook's limit
KAGGLE_OTHER_MINUTES = 30  # crop, featnet, reference, generate and score beside the trainings
KAGGLE_BUDGET = 700        # docs/real-data.md's model.budget for a real run on one GPU
P100_FP32_TFLOPS = 9.3     # Kaggle's one-GPU choice (the other is two T4s, 8.1 each)

# ---------------------------------------------------------------------------------------------------------------
# helpers


def variant_config(params, variant, tiny, at_64=False, **overrides):
    """The variant's Config from params.yaml (model: with variants.<V> on top), as tests/conftest.py
    builds it; tiny widths on the CPU. `steps` sets progan's resolution_steps too: in the shipped
    proportions, or with `at_64` all at 64 px but one step at each smaller resolution."""
    cfg = load_merged(variant_module(variant).Config, params, "model", f"variants.{variant}")
    if tiny:
        overrides = {"batch_size": 4, **TINY[variant], **overrides}
    if variant == "progan" and "steps" in overrides:
        steps, shipped = overrides.pop("steps"), cfg.resolution_steps
        overrides["resolution_steps"] = ([1, 1, 1, 1, max(1, steps - 4)] if at_64 else
                                         [max(1, round(s * steps / sum(shipped))) for s in shipped])
    return dataclasses.replace(cfg, **overrides)


def build(variant, cfg):
    torch.manual_seed(0)
    return variant_module(variant).Model(cfg, N_CLASSES)


def synthetic_crops(n, device):
    """uint8 crops (n, 3, 64, 64) and labels, drawn on the CPU (the same on every device), then moved."""
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, 64, 64), dtype=torch.uint8, generator=g)
    return images.to(device), torch.randint(0, N_CLASSES, (n,), generator=g).to(device)


def generator_bytes(model):
    buffer = io.BytesIO()
    torch.save({k: v.cpu() for k, v in model.sampler().state_dict().items()}, buffer)
    return buffer.getvalue()


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def error_text(exc):
    return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ''}"


def attempt(fn, *args, **kwargs):
    """fn's result, or {"error": ...} where it raised: one failing check does not stop the others."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - reported, and the run exits 1
        return {"error": error_text(exc)}


# ---------------------------------------------------------------------------------------------------------------
# checks


def check_speed(variant, params, size, tiny, data, device, amp, workdir):
    """ms/step of the training loop between the warm-up's end and the last step (both read after a host
    sync, as the loop's logging does), and the peak device memory."""
    warmup, timed = size["warmup"], size["timed"]
    cfg = variant_config(params, variant, tiny, at_64=True, steps=warmup + timed, log_every=warmup, fid_every=0,
                         checkpoint_every=warmup + timed)
    model = build(variant, cfg)
    stamps = {}

    def on_log(step, metrics):
        sync(device)
        stamps[step] = time.perf_counter()

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    train(model, *data, seed=0, checkpoint_path=workdir / f"speed-{variant}-{amp}.pt", fingerprint="speed",
          device=device, amp=amp, on_log=on_log)
    ms = (stamps[cfg.steps] - stamps[warmup]) / (cfg.steps - warmup) * 1000
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    return {"ms_per_step": ms, "images_per_s": cfg.batch_size / ms * 1000, "batch_size": cfg.batch_size,
            "steps_timed": cfg.steps - warmup, "peak_mb": peak, "model": model}


def images_per_second(fn, n, device):
    fn(min(n, 64))  # warm up
    sync(device)
    started = time.perf_counter()
    fn(n)
    sync(device)
    return n / (time.perf_counter() - started)


def check_generation(model, cfg, n, batch_sizes, device):
    """images/s of doggan.generate.sample from the trained model's sampler, per batch size."""
    generator = model.sampler().eval()
    payload = {"config": {"nz": cfg.nz}}
    labels = np.arange(n) % N_CLASSES
    return {str(b): images_per_second(lambda k: sample(generator, payload, labels[:k], seed=0, batch_size=b, device=device),
                                      n, device) for b in batch_sizes}


def check_scoring(params, n, batch_sizes, device):
    """images/s of extract_features with an untrained RotNet of the params' width, per batch size,
    from uint8 (N, 64, 64, 3) images in host memory as the score stage holds them."""
    featnet_cfg = params["featnet"]
    net = RotNetFeatures(RotNet(featnet_cfg["width"], featnet_cfg["features"]).to(device)).eval()
    images = np.random.default_rng(0).integers(0, 256, (n, 64, 64, 3), dtype=np.uint8)
    return {str(b): images_per_second(lambda k: extract_features(net, images[:k], b, device), n, device)
            for b in batch_sizes}


def check_fresh_weights(model, data, device, amp, workdir):
    """Bug 1: in the G step, D computes with the weights its own step just wrote. Every D call after D's
    optimiser step within a train_step is recorded (inputs, RNG state, output) beside a snapshot of D's
    state; after the step a twin of D loaded with that snapshot recomputes it under a fresh autocast
    context (same layout, same RNG). Equal bytes: D saw its updated weights. The twin loaded with D's
    weights from before its step must give other bytes, or the comparison could not tell."""
    D = getattr(model, "discriminator", None)
    if D is None or "d" not in model.optimizers:
        return {"status": "n/a", "why": "no discriminator"}
    twin = copy.deepcopy(D)  # built before any forward: spectral norm's computed weights do not deepcopy
    layout = torch.channels_last if model.cfg.channels_last else torch.contiguous_format
    state = {"after_d_step": False, "before": None}
    records = []

    def snapshot():
        return {k: v.detach().clone() for k, v in D.state_dict().items()}

    def before_d_step(opt, args, kwargs):
        state["before"] = snapshot()

    def after_d_step(opt, args, kwargs):
        state["after_d_step"] = True

    def before_forward(module, args, kwargs):
        if state["after_d_step"]:
            records.append({"fresh": snapshot(), "stale": state["before"], "args": _inputs(args),
                            "kwargs": {k: _inputs([v])[0] for k, v in kwargs.items()}, "rng": _rng_state(device)})

    def after_forward(module, args, kwargs, output):
        if state["after_d_step"]:
            records[-1]["output"] = output.detach().clone()

    hooks = [model.optimizers["d"].register_step_pre_hook(before_d_step),
             model.optimizers["d"].register_step_post_hook(after_d_step),
             D.register_forward_pre_hook(before_forward, with_kwargs=True),
             D.register_forward_hook(after_forward, with_kwargs=True)]
    original_step = model.train_step
    results = []

    def train_step(real, labels, progress):
        state["after_d_step"] = False
        losses = original_step(real, labels, progress)
        state["after_d_step"] = False
        twin.to(device, memory_format=layout).train(D.training)
        for record in records:
            fresh = _recompute(twin, record, record["fresh"], device, amp)
            stale = _recompute(twin, record, record["stale"], device, amp)
            results.append((torch.equal(fresh, record["output"]), not torch.equal(stale, record["output"]),
                            torch.equal(stale, record["output"])))
        records.clear()
        return losses

    model.train_step = train_step
    try:
        train(model, *data, seed=0, checkpoint_path=workdir / f"fresh-{type(model).__module__}.pt", fingerprint="fresh", device=device, amp=amp)
    finally:
        del model.train_step
        for hook in hooks:
            hook.remove()
    if not results:
        return {"status": "FAIL", "why": "D was not called after its optimiser step"}
    equal = sum(r[0] for r in results)
    differs = sum(r[1] for r in results)
    stale_equal = sum(r[2] for r in results)
    ok = equal == len(results) and differs == len(results)
    why = f"{equal}/{len(results)} G-step calls of D equal to D recomputed from its updated weights"
    if differs < len(results):
        why += f"; only {differs}/{len(results)} differ from D's weights before its step"
    if stale_equal:
        why += f"; {stale_equal}/{len(results)} equal to D's weights before its step (a stale autocast cast)"
    return {"status": "ok" if ok else "FAIL", "why": why, "calls": len(results), "equal": equal,
            "differ_from_old": differs, "equal_to_old": stale_equal, "steps": model.cfg.steps, "amp": amp}


def _inputs(values):
    """Copies of a call's arguments (tensors detached, with their requires_grad)."""
    return [v.detach().clone().requires_grad_(v.requires_grad) if torch.is_tensor(v) else v for v in values]


def _rng_state(device):
    return (torch.get_rng_state(), torch.cuda.get_rng_state(device) if device.type == "cuda" else None)


@contextlib.contextmanager
def _rng(state, device):
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.set_rng_state(state[0])
        if state[1] is not None:
            torch.cuda.set_rng_state(state[1], device)
        yield


def _recompute(twin, record, weights, device, amp):
    twin.load_state_dict(weights)
    with _rng(record["rng"], device), torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
        return twin(*record["args"], **record["kwargs"]).detach()


def optimizer_devices(model):
    """{(optimiser, parameter index, state key): (state tensor's device, parameter's device)}."""
    found = {}
    for name, opt in model.optimizers.items():
        params = [p for group in opt.param_groups for p in group["params"]]
        for i, p in enumerate(params):
            for key, value in opt.state.get(p, {}).items():
                if torch.is_tensor(value):
                    found[(name, i, key)] = (str(value.device), str(p.device))
    return found


def check_resume_and_seed(variant, params, size, tiny, data, device, workdir):
    """Bug 2 and same seed, same bytes: two uninterrupted runs, and a run stopped after stop_after steps
    (checkpoints every check_every) that a fresh model resumes from its checkpoint and finishes."""
    cfg = variant_config(params, variant, tiny, steps=size["check_steps"], checkpoint_every=size["check_every"],
                         fid_every=0, log_every=size["check_every"])

    def run(name, stop_after=None):
        model = build(variant, cfg)
        train(model, *data, seed=0, checkpoint_path=workdir / f"{variant}-{name}.pt", fingerprint="check",
              device=device, stop_after=stop_after)
        return model

    whole, again = run("whole"), run("again")
    run("cut", stop_after=size["stop_after"])
    resumed = run("cut")  # a fresh model, as a new process after a kill
    placed = optimizer_devices(resumed)
    misplaced = [f"{opt}[{i}].{key} on {where}, parameter on {param}" for (opt, i, key), (where, param) in placed.items()
                 if key != "step" and where != param]
    steps_on = sorted({where for (_, _, key), (where, _) in placed.items() if key == "step"})
    same_layout = placed == optimizer_devices(whole)
    same_seed = generator_bytes(whole) == generator_bytes(again)
    resume_same = generator_bytes(resumed) == generator_bytes(whole)
    return {
        "steps": cfg.steps, "stopped_after": size["stop_after"], "amp": cfg.amp and device.type == "cuda",
        "same_seed_same_bytes": same_seed,
        "resumed_same_bytes": resume_same,
        "optimizer_state_tensors": len(placed),
        "optimizer_state_misplaced": misplaced,
        "optimizer_step_counters_on": steps_on,  # Adam's scalar step: on the CPU, as torch keeps it
        "optimizer_devices_as_uninterrupted": same_layout,
        "status": "ok" if same_seed and resume_same and not misplaced and same_layout else "FAIL",
    }


def check_featnet(params, size, images, device):
    """A few RotNet training steps (the featnet stage) under the same deterministic mode, and their speed."""
    cfg = dataclasses.replace(load_section(FeatnetConfig, params, "featnet"), epochs=10**6,
                              max_steps=size["featnet_steps"], val_fraction=0.0)
    n = min(len(images), cfg.batch_size * size["featnet_steps"] + 1)
    started = time.perf_counter()
    _, metrics = train_featnet(images[:n].cpu(), cfg, device=device)
    sync(device)
    seconds = time.perf_counter() - started
    return {"status": "ok", "steps": metrics["steps"], "seconds_with_part_scales_and_accuracy": seconds}


def matmul_tflops(device, n, dtype):
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    sync(device)
    reps, started = 10, time.perf_counter()
    for _ in range(reps):
        a @ b
    sync(device)
    return 2 * n**3 * reps / (time.perf_counter() - started) / 1e12


# ---------------------------------------------------------------------------------------------------------------
# the CPU figures of `make bench`, and the Kaggle estimate


def cpu_figures(folder=ROOT / "reports" / "bench"):
    """{variant: CPU ms/step} from `make bench`'s tables (reports/bench/*.md, header `| variant | ms/step`;
    progan's 64-px row), and the caption above that table; ({}, None) where there is none."""
    for path in sorted(Path(folder).glob("*.md")):
        if path.name == "gpu.md":
            continue
        lines, figures, caption = path.read_text().splitlines(), {}, None
        for i, line in enumerate(lines):
            if not line.startswith("| variant | ms/step"):
                continue
            caption = next((lines[j].lstrip("# ") for j in range(i - 1, -1, -1) if lines[j].startswith("#")), None)
            for row in lines[i + 2:]:
                if not row.startswith("|"):
                    break
                cells = [c.strip() for c in row.strip("|").split("|")]
                if cells[0] not in figures and (cells[0] != "progan" or "64 px" in cells[-1]):
                    with contextlib.suppress(ValueError):
                        figures[cells[0]] = float(cells[1])
            return figures, f"{path.relative_to(ROOT)}: {caption}"
    return {}, None


def kaggle_plan(params, ms_per_step, budget=KAGGLE_BUDGET):
    """Minutes per variant of a real run at model.budget `budget` from ms/step, the total with the other
    stages, and the largest budget whose trainings (every variant's) and other stages fit KAGGLE_HOURS."""
    rows, unit = {}, 0.0
    for variant, ms in ms_per_step.items():
        if ms is None:
            continue
        cfg = variant_config(params, variant, tiny=False)
        steps = dataclasses.replace(cfg, budget=budget).with_budget().steps
        rows[variant] = {"steps": steps, "ms_per_step": ms, "minutes": steps * ms / 60_000}
        unit += cfg.steps * ms / 60_000  # minutes at budget 1
    total = sum(r["minutes"] for r in rows.values()) + KAGGLE_OTHER_MINUTES
    fits = int((KAGGLE_HOURS * 60 - KAGGLE_OTHER_MINUTES) / unit) if unit else None
    return {"budget": budget, "variants": rows, "other_minutes": KAGGLE_OTHER_MINUTES, "total_minutes": total,
            "within_limit": total <= KAGGLE_HOURS * 60, "largest_budget_within_limit": fits,
            "complete": len(rows) == len(VARIANTS)}


# ---------------------------------------------------------------------------------------------------------------
# report


def fmt(value, digits=1):
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def cell(result, key, digits=1):
    if "error" in result:
        return "error"
    return fmt(result.get(key), digits)


def markdown(report):
    env, lines = report["environment"], []
    where = env["device_name"] if report["device"].startswith("cuda") else "the CPU (--allow-cpu, tiny sizes: proves the script, measures nothing)"
    lines.append(f"Written by `python bench/gpu.py` on {report['date']}: {where}; torch {env['torch']}, "
                 f"CUDA {env['cuda'] or 'n/a'}, cuDNN {env['cudnn'] or 'n/a'}; {report['seconds']:.0f} s in all.")
    if report["stand_ins"]:
        lines.append(f"\nStand-ins for packages missing here: {', '.join(report['stand_ins'])}.")
    size, cpu_source = report["size"], report["cpu_source"]
    configs = "params.yaml's configs" if report["measured"] else "params.yaml's configs at tiny widths, batch 4"
    lines.append(f"\n### train: ms/step of the training loop, {configs}, {size['timed']} steps after "
                 f"{size['warmup']} of warm-up, synthetic uint8 crops ({size['crops']:,}) resident on the device\n")
    rows = []
    for variant in VARIANTS:
        on, off = report["train"][variant]["amp_on"], report["train"][variant]["amp_off"]
        cpu = report["cpu_ms_per_step"].get(variant)
        on_ms, off_ms = on.get("ms_per_step"), off.get("ms_per_step")
        rows.append((variant, cell(on, "ms_per_step"), cell(off, "ms_per_step"),
                     f"{off_ms / on_ms:.2f}x" if on_ms and off_ms else "n/a", fmt(cpu, 0),
                     f"{cpu / on_ms:.0f}x" if cpu and on_ms else "n/a", cell(on, "images_per_s", 0),
                     cell(on, "peak_mb", 0)))
    lines.append(table(["variant", "ms/step, AMP (bf16) on", "AMP off", "AMP speed-up", "CPU ms/step (make bench)",
                        "vs CPU", "images/s, AMP on", "peak device MB, crops included"], rows))
    lines.append(f"\nCPU figures: {cpu_source or 'n/a (no reports/bench/*.md with a `| variant | ms/step` table)'}; "
                 "progan runs at 64 px (all its steps but 4). `make bench` times train_step alone, this the loop "
                 "around it (batch indexing, flips, EMA).")
    errors = [(v, mode, r["error"]) for v in VARIANTS for mode, r in report["train"][v].items() if "error" in r]
    for variant, mode, error in errors:
        lines.append(f"\n- {variant}, {mode}: `{error}`")
    lines.append(f"\n### generate and score: images/s, {size['images']:,} images\n")
    def rates(result):
        return ["error" if "error" in result else fmt(result.get(str(b)), 0) for b in report["batch_sizes"]]

    rows = [(f"generate: {v}", *rates(report["generate"][v])) for v in VARIANTS]
    rows.append(("score: extract_features, untrained RotNet", *rates(report["score"])))
    lines.append(table(["what", *(f"batch {b}" for b in report["batch_sizes"])], rows))
    lines.append("\n### correctness on this device\n")
    rows = []
    for variant in VARIANTS:
        fresh, resume = report["checks"][variant]["fresh_d"], report["checks"][variant]["resume"]
        if "error" in resume:
            rows.append((variant, fresh.get("status", "error"), "error", "error", "error"))
            continue
        placed = not resume["optimizer_state_misplaced"] and resume["optimizer_devices_as_uninterrupted"]
        rows.append((variant, fresh.get("status", "error"), "ok" if resume["resumed_same_bytes"] else "FAIL",
                     "ok" if placed else "FAIL", "ok" if resume["same_seed_same_bytes"] else "FAIL"))
    lines.append(table(["variant", "bug 1: D in the G step sees its updated weights (AMP on)",
                        "bug 2: killed and resumed = uninterrupted (bytes)", "optimiser state on the parameter's device",
                        "same seed, same bytes"], rows))
    lines.append(f"\nfresh D: every G-step call of D over {size['fresh_steps']} steps, recomputed from a snapshot of D "
                 "under a fresh autocast context (and from D before its step, which must differ). Resume: "
                 f"{size['check_steps']} steps, checkpoints every {size['check_every']}, stopped after "
                 f"{size['stop_after']} and finished by a fresh model; AMP as params.yaml (`model.amp`) sets it on "
                 "this device. Adam's step counters stay on the CPU, as torch keeps them.")
    for variant in VARIANTS:
        for name, result in report["checks"][variant].items():
            detail = result.get("error") or (result.get("why") if result.get("status") == "FAIL" else None)
            if detail:
                lines.append(f"\n- {variant}, {name}: `{detail}`")
            for misplaced in result.get("optimizer_state_misplaced", [])[:3]:
                lines.append(f"\n- {variant}, {name}: {misplaced}")
    featnet = report["featnet"]
    lines.append(f"\nfeatnet: {featnet['steps']} RotNet training steps under the deterministic mode: ok, "
                 f"{featnet['seconds_with_part_scales_and_accuracy']:.1f} s with its part scales and accuracy"
                 if "error" not in featnet else f"\nfeatnet: RotNet training under the deterministic mode: `{featnet['error']}`")
    mm = report["matmul_tflops"]
    lines.append(f"\nmatmul {size['matmul']}x{size['matmul']}: {mm['fp32']:.2f} TFLOP/s fp32 (no TF32), "
                 f"{mm['bf16']:.2f} TFLOP/s bf16.")
    lines.append(kaggle_markdown(report))
    lines.append(f"\n{report['verdict']}")
    return "\n".join(lines) + "\n"


def kaggle_markdown(report):
    plans, scale = report["kaggle"], report["kaggle_p100_scale"]
    lines = [f"\n### Kaggle on one GPU: a real run (22,125 crops of 20,579 photos) at model.budget {KAGGLE_BUDGET}, "
             f"within {KAGGLE_HOURS} hours in all\n"]
    if not report["device"].startswith("cuda"):
        lines.append("From the tiny CPU run's ms/step: the numbers below mean nothing, they exercise the script.\n")
    rows = []
    for variant in VARIANTS:
        on, off = plans["amp_on"]["variants"].get(variant), plans["amp_off"]["variants"].get(variant)
        any_ = on or off
        rows.append((variant, f"{any_['steps']:,}" if any_ else "n/a", fmt(on and on["minutes"], 0),
                     fmt(off and off["minutes"], 0), fmt(off and off["minutes"] * scale, 0)))
    totals = [plans[m]["total_minutes"] if plans[m]["complete"] else None for m in ("amp_on", "amp_off")]
    p100 = plans["amp_off"]["total_minutes"] - KAGGLE_OTHER_MINUTES
    rows.append((f"all, with {KAGGLE_OTHER_MINUTES} min for the other stages", "", fmt(totals[0], 0), fmt(totals[1], 0),
                 fmt(p100 * scale + KAGGLE_OTHER_MINUTES if plans["amp_off"]["complete"] else None, 0)))
    lines.append(table(["variant", "steps", "minutes here, AMP on", "minutes here, AMP off",
                        f"minutes on a P100, AMP off (x{scale:.1f})"], rows))
    fits = plans["amp_off"]["largest_budget_within_limit"]
    lines.append(f"\nThe largest model.budget whose trainings and other stages fit {KAGGLE_HOURS} h on this GPU: "
                 f"{fits if fits is not None else 'n/a'} (AMP off), "
                 f"{plans['amp_on']['largest_budget_within_limit'] or 'n/a'} (AMP on). A P100 (Kaggle's one-GPU "
                 f"choice, {P100_FP32_TFLOPS} TFLOP/s fp32, no bf16 units: train with `model.amp: false`) is "
                 f"reckoned as this GPU's AMP-off time times the ratio of fp32 matmul rates (x{scale:.1f}): "
                 "pessimistic, since steps this small are partly bound by kernel launches. progan is timed at "
                 "64 px throughout, an upper bound for its smaller resolutions.")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------


def environment(device):
    """What, beside the code, decides this run's numbers."""
    cuda = device.type == "cuda"
    return {"device_name": torch.cuda.get_device_name(device) if cuda else "cpu",
            "capability": ".".join(map(str, torch.cuda.get_device_capability(device))) if cuda else None,
            "memory_gb": round(torch.cuda.get_device_properties(device).total_memory / 2**30, 1) if cuda else None,
            "torch": torch.__version__, "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version() if cuda else None, "python": sys.version.split()[0],
            "deterministic": torch.are_deterministic_algorithms_enabled(),
            "cudnn_benchmark": torch.backends.cudnn.benchmark,
            "tf32": torch.backends.cuda.matmul.allow_tf32 if cuda else None,
            "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG")}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="cuda or cuda:N (default cuda)")
    parser.add_argument("--allow-cpu", action="store_true",
                        help="where torch sees no CUDA GPU, run the same checks on the CPU at a tiny size")
    parser.add_argument("--out", help="folder for gpu.md and gpu.json (default reports/bench on a GPU; "
                                      "with --allow-cpu on the CPU, a new temporary folder)")
    parser.add_argument("--params", default=str(ROOT / "params.yaml"))
    args = parser.parse_args(argv)
    if not args.device.startswith("cuda"):
        parser.error(f"--device: expected cuda or cuda:N, got {args.device!r} (--allow-cpu is the CPU's way)")

    if not torch.cuda.is_available() and not args.allow_cpu:
        print(f"gpu-check: torch {torch.__version__} sees no CUDA GPU here; run it on a machine with one "
              "(--allow-cpu runs the same checks on the CPU at a tiny size)", file=sys.stderr)
        return 2
    on_gpu = torch.cuda.is_available()
    device = pick_device(args.device if on_gpu else "cpu")  # the pipeline's deterministic CUDA setup
    out = Path(args.out) if args.out else (ROOT / "reports" / "bench" if on_gpu else Path(tempfile.mkdtemp(prefix="gpu-check-")))
    params = read_bench_params(args.params)  # with plain_dcgan's block, from bench/quality.yaml
    size, tiny = (GPU_SIZE, False) if on_gpu else (CPU_SIZE, True)
    torch.set_num_threads(params["threads"] if on_gpu else 1)  # tiny CPU nets: a second thread only waits
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="gpu-check-work-"))  # the checks' checkpoints, removed at the end
    log = lambda text: print(f"[{time.perf_counter() - started:6.1f} s] {text}", flush=True)  # noqa: E731

    images, labels = synthetic_crops(size["crops"], device)
    data = (images, labels)
    batch_sizes = [params["generate"]["batch_size"], 500] if on_gpu else [8]  # the pipeline's, and a GPU's
    report = {"measured": on_gpu, "date": datetime.date.today().isoformat(), "device": str(device),
              "environment": environment(device), "stand_ins": STOOD_IN, "size": size, "batch_sizes": batch_sizes,
              "train": {}, "generate": {}, "checks": {}}
    report["cpu_ms_per_step"], report["cpu_source"] = cpu_figures()
    report["matmul_tflops"] = {name: matmul_tflops(device, size["matmul"], dtype)
                               for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16))}

    for variant in VARIANTS:
        report["train"][variant] = {}
        for amp in (True, False):
            log(f"{variant}: speed, AMP {'on' if amp else 'off'}")
            result = attempt(check_speed, variant, params, size, tiny, data, device, amp, workdir)
            model = result.pop("model", None)
            report["train"][variant]["amp_on" if amp else "amp_off"] = result
            if amp:
                log(f"{variant}: generation")
                report["generate"][variant] = (attempt(check_generation, model, model.cfg, size["images"],
                                                       batch_sizes, device)
                                               if model is not None else {"error": "training failed"})
        log(f"{variant}: bug 1, D in the G step")
        cfg = variant_config(params, variant, tiny, steps=size["fresh_steps"], fid_every=0, log_every=1)
        report["checks"][variant] = {
            "fresh_d": attempt(lambda: check_fresh_weights(build(variant, cfg), data, device, True, workdir)),
        }
        log(f"{variant}: bug 2, kill and resume; same seed, same bytes")
        report["checks"][variant]["resume"] = attempt(check_resume_and_seed, variant, params, size, tiny, data,
                                                      device, workdir)
    log("scoring")
    report["score"] = attempt(check_scoring, params, size["images"], batch_sizes, device)
    log("featnet")
    report["featnet"] = attempt(check_featnet, params, size, images, device)

    ms = {mode: {v: report["train"][v][mode].get("ms_per_step") for v in VARIANTS} for mode in ("amp_on", "amp_off")}
    report["kaggle"] = {mode: kaggle_plan(params, ms[mode]) for mode in ms}
    report["kaggle_p100_scale"] = max(1.0, report["matmul_tflops"]["fp32"] / P100_FP32_TFLOPS)
    shutil.rmtree(workdir, ignore_errors=True)
    failed = failures(report)
    report["seconds"] = time.perf_counter() - started
    report["verdict"] = ("Every check passed." if not failed else "FAILED: " + "; ".join(failed) + ".")
    out.mkdir(parents=True, exist_ok=True)
    text = markdown(report)
    (out / "gpu.md").write_text(text)
    (out / "gpu.json").write_text(json.dumps(report, indent=1, default=str) + "\n")
    print("\n" + text)
    print(f"wrote {out / 'gpu.md'} and {out / 'gpu.json'}")
    return 1 if failed else 0


def failures(report):
    found = []
    for variant in VARIANTS:
        for mode, result in report["train"][variant].items():
            if "error" in result:
                found.append(f"{variant} training ({mode}) raised")
        if "error" in report["generate"].get(variant, {}):
            found.append(f"{variant} generation raised")
        for name, result in report["checks"][variant].items():
            if "error" in result or result.get("status") == "FAIL":
                found.append(f"{variant} {name}")
    for name in ("score", "featnet"):
        if "error" in report[name]:
            found.append(f"{name} raised")
    return found


if __name__ == "__main__":
    sys.exit(main())
