"""Stage featnet: train breednet on the crops; its features score samples when Inception is absent."""

import argparse
import time

from doggan.cli import record_timing, run, set_threads
from doggan.config import load_section, read_params
from doggan.data.dataset import load_crops
from doggan.io import write_json
from doggan.metrics.breednet import FeatnetConfig, save_breednet, train_breednet


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--crops", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--out", required=True, help="featnet.pt")
    parser.add_argument("--metrics", required=True, help="json with its accuracy")
    args = parser.parse_args()
    started = time.perf_counter()
    cfg = load_section(FeatnetConfig, read_params(args.params), "featnet")
    set_threads()
    images, labels, breeds = load_crops(args.crops, args.table)
    model, metrics = train_breednet(images, labels, len(breeds), cfg)
    save_breednet(model, args.out)
    write_json(args.metrics, metrics)
    record_timing("featnet", started)
    print(f"featnet: val accuracy {metrics.get('val_accuracy', float('nan')):.3f} over {len(breeds)} breeds")


if __name__ == "__main__":
    run(main)
