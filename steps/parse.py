"""Stage parse: annotation XMLs + photo listing -> one row per box (annotations.csv)."""

import argparse
import time

import pandas as pd

from doggan.cli import record_timing, run
from doggan.config import lookup, read_params
from doggan.data.annotations import COLUMNS, parse_annotations
from doggan.errors import ParamError
from doggan.io import atomic_path, write_json


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--images", required=True, help="photo folder or zip (data.images)")
    parser.add_argument("--annotations", required=True, help="annotation folder or zip (data.annotations)")
    parser.add_argument("--out", required=True, help="annotations.csv")
    parser.add_argument("--quality", required=True, help="json of counts and skipped files")
    args = parser.parse_args()
    started = time.perf_counter()
    strict = lookup(read_params(args.params), "data.strict")
    if not isinstance(strict, bool):
        raise ParamError(f"data.strict: expected true or false, got {strict!r}")
    rows, quality = parse_annotations(args.annotations, args.images, strict=strict)
    with atomic_path(args.out, suffix=".csv") as tmp:
        pd.DataFrame(rows, columns=COLUMNS).to_csv(tmp, index=False)
    write_json(args.quality, quality)
    record_timing("parse", started)
    print(f"parse: {quality['objects']} boxes from {quality['annotation_files']} annotation files, "
          f"{len(quality['skipped'])} skipped")


if __name__ == "__main__":
    run(main)
