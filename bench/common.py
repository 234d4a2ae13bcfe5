"""What the bench's modules share: the table every section prints and writes, timing, the params
they read, and the command line that runs sections (bench/run.py all of them, each module its own).
bench/gpu.py imports it too, on a machine with only torch, numpy and src/doggan: nothing else at the
top level."""

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import yaml

from doggan.cli import thread_budget
from doggan.config import load_merged, read_params
from doggan.models import variant_module

QUALITY = Path(__file__).with_name("quality.yaml")  # the quality run's params, merged into params.yaml
REAL_PHOTOS = 20_579  # Kaggle's all-dogs
OUT = Path("reports/bench")
TABLES = {}  # file name -> the running section's tables in it, as markdown; main() writes them under OUT


def table(title, header, rows, file=None):
    """Print a markdown table; it goes to reports/bench/<section>.md, or to `file` there."""
    text = (f"### {title}\n\n| " + " | ".join(header) + " |\n|" + "|".join("---" for _ in header) + "|\n"
            + "".join("| " + " | ".join(str(c) for c in row) + " |\n" for row in rows))
    print("\n" + text, flush=True)
    TABLES.setdefault(file, []).append(text)


def timed(fn, repeat=1):
    """Best wall time of `repeat` calls, and the last result."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result



def read_bench_params(path):
    """params.yaml at `path`, with the variant blocks it lacks taken from the quality run's
    bench/quality.yaml: plain_dcgan, the yardstick the benches train beside the demo's variants."""
    params = read_params(path)
    quality = yaml.safe_load(QUALITY.read_text()) if QUALITY.is_file() else {}
    missing = {name: block for name, block in (quality.get("variants") or {}).items() if name not in params["variants"]}
    return {**params, "variants": {**params["variants"], **missing}}


def demo_model(variant, params, **overrides):
    module = variant_module(variant)
    cfg = load_merged(module.Config, params, "model", f"variants.{variant}")
    return module.Model(dataclasses.replace(cfg, **overrides), n_classes=8)


# options that more than one module reads; each adds those it reads with shared()
SHARED = {
    "--params": dict(default="params.yaml", help="the demo params the sections read (plain_dcgan's block: bench/quality.yaml)"),
    "--seeds": dict(type=int, nargs="*", default=[0, 1], help="compare and judge: seeds"),
    "--scale-breeds": dict(type=int, default=120, help="scale and layouts: breeds of every demo set"),
}


def shared(parser, *names):
    for name in names:
        parser.add_argument(name, **SHARED[name])


def main(description, sections, *add_options):
    """Run `sections` ({name: function of the parsed options}), those named on the command line or all,
    with the options each of `add_options` adds; each section's tables go to reports/bench/<section>.md."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     conflict_handler="resolve")  # a shared option added by several modules: once
    parser.add_argument("sections", nargs="*", help=f"some of {', '.join(sections)} (default: all)")
    for add in add_options:
        add(parser)
    args = parser.parse_args()
    unknown = set(args.sections) - set(sections)
    if unknown:
        parser.error(f"unknown section {', '.join(sorted(unknown))}; choose from {', '.join(sections)}")
    OUT.mkdir(parents=True, exist_ok=True)
    for section in args.sections or sections:
        TABLES.clear()
        sections[section](args)
        command = " ".join([f"python bench/{Path(sys.argv[0]).name}", *sys.argv[1:]])
        for file, tables in TABLES.items():  # a section that skipped (no crops yet) keeps its last files
            (OUT / (file or f"{section}.md")).write_text(
                f"Written by `{command}` ({thread_budget()} usable CPUs).\n\n" + "\n".join(tables))
