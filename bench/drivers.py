"""The whole pipeline, each run in a copy of the project: `python bench/drivers.py [drivers|scale]`.

drivers  `dvc repro` against `snakemake --cores 4 report`, at model.budget --drivers-budget
scale    each stage's wall time and peak memory on demo sets of --scale-photos photos
"""

import shutil
import subprocess
from pathlib import Path

import numpy as np

from doggan.cli import thread_budget
from doggan.io import save_figure

from common import OUT, REAL_PHOTOS, main, shared, table, timed


def bench_drivers(args):
    """The whole pipeline under each driver, one after the other, each in a fresh copy of the project
    (data/bench/drivers/) at model.budget --drivers-budget: `dvc repro` against the design's
    `snakemake --cores 4 report`, which asks for more cores than a small machine has."""
    from workspace import copy_pipeline, tool

    rows = []
    for name, cmd in (("dvc repro", [tool("dvc"), "repro"]),
                      ("snakemake --cores 4 report", [tool("snakemake"), "--cores", "4", "report"])):
        root = Path("data/bench/drivers") / name.split()[0]
        shutil.rmtree(root, ignore_errors=True)
        copy_pipeline(root, {"model": {"budget": args.drivers_budget}})
        seconds, result = timed(lambda: subprocess.run(cmd, cwd=root, capture_output=True, text=True))
        if result.returncode != 0:
            raise SystemExit(f"drivers: {name} failed:\n{result.stderr[-2000:]}")
        rows.append((name, f"{seconds:.0f}"))
        print(f"drivers: {name}: {seconds:.0f} s", flush=True)
    rows = [(*row, f"{float(row[1]) / float(rows[0][1]):.2f}") for row in rows]
    table(f"drivers: the whole demo pipeline at model.budget {args.drivers_budget:g}, {thread_budget()} usable CPUs",
          ["driver", "seconds", "vs dvc repro"], rows)


def bench_scale(args):
    """Each stage's wall time and peak memory as the data grows: the whole pipeline (`dvc repro` at the
    demo's training budgets) on demo sets of --scale-photos photos of --scale-breeds breeds, each in a
    copy of the project (data/bench/scale-<photos>/; a rerun keeps what is done). A stage's growth is
    the exponent k in time ~ photos^k between the smallest and the largest set: 1 is linear, 0 flat."""
    import json

    import matplotlib
    from workspace import copy_pipeline, tool

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    timings = {}
    for photos in args.scale_photos:
        root = copy_pipeline(Path("data/bench") / f"scale-{photos}",
                             {"demo": {"n_images": photos, "n_breeds": args.scale_breeds}})
        print(f"scale: dvc repro at {photos:,} photos", flush=True)
        subprocess.run([tool("dvc"), "repro"], cwd=root, check=True)
        timings[photos] = {path.stem: json.loads(path.read_text()) for path in (root / "reports/timings").glob("*.json")}
    sizes = sorted(timings)
    small, large = sizes[0], sizes[-1]
    stages = sorted(timings[large], key=lambda s: (s.split("@")[0] not in ("demo_data", "parse", "crop", "featnet", "reference"), s))

    def growth(key, stage):
        a, b = timings[small][stage][key], timings[large][stage][key]
        return f"{np.log(b / a) / np.log(large / small):.2f}" if a > 0 and b > 0 and large > small else "–"

    rows = [(stage, *(f"{timings[n][stage]['seconds']:.1f}" for n in sizes), growth("seconds", stage),
             *(f"{timings[n][stage]['peak_memory_mb']:,.0f}" for n in sizes))
            for stage in stages if all(stage in timings[n] for n in sizes)]
    totals = [sum(t["seconds"] for t in timings[n].values()) for n in sizes]
    rows.append(("all stages", *(f"{t:.0f}" for t in totals), "", *("" for _ in sizes)))
    table(f"scale: seconds and peak memory (MB, max RSS of the stage and its workers) per stage, {args.scale_breeds} breeds; "
          f"growth k: time ~ photos^k from {small:,} to {large:,} photos",
          ["stage", *(f"s at {n:,}" for n in sizes), "growth k", *(f"MB at {n:,}" for n in sizes)], rows)

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for k, stage in enumerate(s for s in stages if all(s in timings[n] for n in sizes)):
        style = dict(marker="o", color=f"C{k % 10}", ls="-" if k < 10 else "--", label=stage)
        axes[0].plot(sizes, [timings[n][stage]["seconds"] for n in sizes], **style)
        axes[1].plot(sizes, [timings[n][stage]["peak_memory_mb"] / 1024 for n in sizes], **style)
    axes[0].set(xscale="log", yscale="log", xlabel="photos", ylabel="seconds", title="wall time per stage")
    axes[1].set(xscale="log", xlabel="photos", ylabel="GB", title="peak memory per stage")
    axes[1].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    save_figure(fig, OUT / "scale.png")
    plt.close(fig)


SECTIONS = {"drivers": bench_drivers, "scale": bench_scale}


def add_options(parser):
    shared(parser, "--scale-breeds")
    parser.add_argument("--drivers-budget", type=float, default=0.25, help="drivers: model.budget of both runs")
    parser.add_argument("--scale-photos", type=int, nargs="*", default=[600, 5000, REAL_PHOTOS], help="scale: demo sizes")


if __name__ == "__main__":
    main(__doc__, SECTIONS, add_options)
