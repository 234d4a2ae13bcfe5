"""The cost of a training step: `python bench/training.py` (section train).

train  ms/step and images/s of every variant at the demo params, dcgan's FLOP/s against this CPU's
       matmul peak; then each lever (channels-last, torch.compile, bf16 autocast, 1 thread, batch 64,
       flush denormals) against the plain step, per variant
"""

import contextlib

import torch
from torch.utils.flop_counter import FlopCounterMode

from doggan.models import VARIANTS
from doggan.models.progan import RESOLUTIONS, schedule

from common import demo_model, main, read_bench_params, shared, table, timed


def matmul_flops(n=4096, repeat=3):
    """This machine's fp32 matmul FLOP/s (the roofline a conv net can hope for)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    seconds, _ = timed(lambda: a @ b, repeat)
    return 2 * n**3 / seconds


def bench_train(args):
    """Training images/s per variant at the demo params (batch 32, random images), on this CPU."""
    params = read_bench_params(args.params)
    real, labels = torch.rand(32, 3, 64, 64) * 2 - 1, torch.randint(0, 8, (32,))
    peak = matmul_flops()
    rows = []
    for variant in VARIANTS:
        torch.manual_seed(0)
        model = demo_model(variant, params, batch_size=32)
        progresses = [0.99] if variant != "progan" else [0.99, 0.5, 0.1]  # progan: 64, 16 and 4-8 px stages
        for progress in progresses:
            model.train_step(real, labels, progress)  # warm up
            seconds, _ = timed(lambda: model.train_step(real, labels, progress), args.repeat)
            note = ""
            if variant == "dcgan":
                with FlopCounterMode(display=False) as counter:
                    model.train_step(real, labels, progress)
                flops = counter.get_total_flops()
                note = f"{flops / 1e9:.1f} GFLOP/step = {flops / seconds / 1e9:.1f} GFLOP/s, {flops / seconds / peak:.0%} of matmul peak"
            if variant == "progan":
                note = f"at {RESOLUTIONS[schedule(model.cfg, progress)[0]]} px"
            rows.append((variant, f"{seconds * 1000:.0f}", f"{32 / seconds:.0f}", note))
    table(f"train: one step at the demo params, batch 32, {torch.get_num_threads()} threads, best of {args.repeat} "
          f"(fp32 matmul peak here: {peak / 1e9:.0f} GFLOP/s)", ["variant", "ms/step", "images/s", "note"], rows)
    bench_levers(args, params)


LEVERS = ("channels-last", "torch.compile", "bf16 autocast", "1 thread", "batch 64", "flush denormals")


def lever_step(variant, params, lever, repeat):
    """(seconds per image of one training step with `lever`, compile seconds): best of `repeat`
    after two warm-up steps (torch.compile compiles in them)."""
    batch = 64 if lever == "batch 64" else 32
    torch.manual_seed(0)
    model = demo_model(variant, params, batch_size=batch)
    real, labels = torch.rand(batch, 3, 64, 64) * 2 - 1, torch.randint(0, 8, (batch,))
    threads, context = torch.get_num_threads(), contextlib.nullcontext()
    if lever == "channels-last":
        model = model.to(memory_format=torch.channels_last)
        real = real.contiguous(memory_format=torch.channels_last)
    elif lever == "torch.compile":
        model.generator, model.discriminator = torch.compile(model.generator), torch.compile(model.discriminator)
    elif lever == "bf16 autocast":
        context = torch.autocast("cpu", dtype=torch.bfloat16)
    elif lever == "1 thread":
        torch.set_num_threads(1)
    elif lever == "flush denormals":
        torch.set_flush_denormal(True)
    progress = 0.99  # progan: at 64 px
    try:
        with context:
            compile_seconds, _ = timed(lambda: [model.train_step(real, labels, progress) for _ in range(2)])
            seconds, _ = timed(lambda: model.train_step(real, labels, progress), repeat)
    finally:
        torch.set_num_threads(threads)
        torch.set_flush_denormal(False)
    return seconds / batch, compile_seconds


def bench_levers(args, params):
    """Each lever against the plain step, side by side, per variant: images per second relative to
    plain fp32 at batch 32 (above 1: faster); torch.compile's compile time apart."""
    rows = []
    for variant in VARIANTS:
        base, _ = lever_step(variant, params, None, args.repeat)
        cells, compiled = [], ""
        for lever in LEVERS:
            try:
                seconds, warmup = lever_step(variant, params, lever, args.repeat)
            except Exception as exc:  # a lever this variant's code cannot take: say why, measure the rest
                cells.append(f"fails ({type(exc).__name__})")
                continue
            cells.append(f"{base / seconds:.2f}x")
            if lever == "torch.compile":
                compiled = f"{warmup:.0f} s"
        rows.append((variant, f"{1 / base:.0f}", *cells, compiled))
        print(f"train levers: {variant} done", flush=True)
    table(f"train levers: images/s of a training step against plain fp32 at batch 32 ({torch.get_num_threads()} threads), "
          f"best of {args.repeat}; progan at 64 px", ["variant", "plain images/s", *LEVERS, "compile time"], rows)


SECTIONS = {"train": bench_train}


def add_options(parser):
    shared(parser, "--params")
    parser.add_argument("--repeat", type=int, default=3, help="timed repeats per train step")


if __name__ == "__main__":
    main(__doc__, SECTIONS, add_options)
