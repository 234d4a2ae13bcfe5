"""Where a step computes, and what makes its numbers repeatable there.

Same seed, same bytes holds per (device type, device model, torch version, torch threads): torch's
CPU kernels sum in another order at another thread count, and so does the BLAS under numpy and
scipy (the Fréchet distance of the cheap FID logged while training); a GPU model has kernels of its
own. So the thread count is a param (`threads`), set for torch and BLAS alike, not whatever the
machine or the driver's `--cores` (OMP_NUM_THREADS) gives, and `describe` names the rest for the training checkpoint's fingerprint: a checkpoint is never
resumed on another device, or under another thread count, to finish a generator of two halves.
"""

import fcntl
import os
import platform
import tempfile
from pathlib import Path

import numpy  # noqa: F401  (loads the BLAS that torch_setup limits)
import scipy.linalg  # noqa: F401  (scipy's own BLAS, likewise)
import torch
from threadpoolctl import threadpool_limits

from doggan.config import lookup
from doggan.errors import ParamError


def pick_device(name="auto"):
    """torch.device for `name`: auto (a free CUDA GPU when there is one, else the CPU), cpu, cuda
    or cuda:N; set up for repeatable numbers there (make_deterministic)."""
    check_device_name(name)
    if name == "auto":
        name = free_gpu() if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ParamError("device: cuda asked for, but torch sees no CUDA GPU here (use auto or cpu)")
        if (device.index or 0) >= torch.cuda.device_count():
            raise ParamError(f"device: {name} asked for, but torch sees {torch.cuda.device_count()} GPU(s)")
    make_deterministic(device)
    return device


def check_device_name(name):
    """The `device` param's form; whether this machine has that device is pick_device's to say."""
    try:
        ok = name == "auto" or torch.device(name).type in ("cpu", "cuda")
    except (RuntimeError, TypeError):
        ok = False
    if not ok:
        raise ParamError(f"device: expected auto, cpu, cuda or cuda:N, got {name!r}")


_held_gpus = []  # the lock files this process holds: its GPU stays taken until it ends


def free_gpu():
    """cuda:N for the first GPU that no other doggan process on this machine holds (an advisory lock
    per GPU, by its UUID, released when the process ends), so that `snakemake --resources gpu=N` puts
    N jobs on N GPUs; where every GPU is held, the first one, shared. Under SLURM a job sees only the
    GPUs it was given (CUDA_VISIBLE_DEVICES)."""
    for index in range(torch.cuda.device_count()):
        uuid = torch.cuda.get_device_properties(index).uuid
        handle = open(Path(tempfile.gettempdir()) / f"doggan-gpu-{uuid}.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        _held_gpus.append(handle)
        return f"cuda:{index}"
    return "cuda:0"


def make_deterministic(device):
    """Same seed, same bytes on CUDA: deterministic kernels (cuBLAS needs its workspace setting before
    it starts), no cuDNN autotuning (it may pick another algorithm per run), no TF32 (fp32 matmuls and
    convolutions stay fp32, as the metrics' statistics need; bf16 autocast is the fast path). An op
    with no deterministic CUDA kernel warns rather than stops the run (torch's list changes between
    releases: reflection padding's backward gained one, adaptive pooling's has none); `make gpu-check`
    trains every variant twice and says which give the same bytes."""
    if device.type != "cuda":
        return
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


def describe(device):
    """What, beside the seed and the code, decides a run's bytes on `device`."""
    device = torch.device(device)
    model = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.machine()
    return {"type": device.type, "model": model, "torch": torch.__version__, "threads": torch.get_num_threads()}


def check_threads(threads):
    """The `threads` param: a positive integer (it is torch's intra-op thread count, not a share of cores)."""
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ParamError(f"threads: expected a positive integer, got {threads!r}")
    return threads


def torch_setup(params):
    """A torch step's device and threads, from params `device` and `threads` (validated): torch's
    intra-op threads and the BLAS threads of numpy and scipy."""
    threads = check_threads(lookup(params, "threads"))
    torch.set_num_threads(threads)
    threadpool_limits(threads, user_api="blas")
    return pick_device(lookup(params, "device"))
