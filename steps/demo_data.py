"""Stage demo_data: draw the synthetic dataset in Kaggle's layout (all-dogs/ + Annotation/)."""

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

from doggan.cli import record_timing, run, thread_budget
from doggan.config import load_section, read_params
from doggan.data.demo import DemoConfig, write_demo


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", required=True, help="folder to hold all-dogs/ and Annotation/")
    args = parser.parse_args()
    started = time.perf_counter()
    cfg = load_section(DemoConfig, read_params(args.params), "demo")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".demo.", dir=out))
    try:
        write_demo(cfg, tmp, progress=lambda photos, total: tqdm(photos, total=total, desc="demo photos", unit="photo"),
                   workers=thread_budget())
        for name in ("all-dogs", "Annotation"):  # swap in finished folders only
            shutil.rmtree(out / name, ignore_errors=True)
            os.replace(tmp / name, out / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    record_timing("demo_data", started)
    print(f"demo: {cfg.n_images} photos of {cfg.n_breeds} breeds in {out}")


if __name__ == "__main__":
    run(main)
