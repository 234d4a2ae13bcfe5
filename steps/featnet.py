"""Stage featnet: train rotnet on the crops; its features judge samples when Inception is absent."""

import argparse
import time

from doggan.cli import record_timing, run
from doggan.config import load_section, read_params
from doggan.data.dataset import load_crops
from doggan.device import torch_setup
from doggan.io import write_json
from doggan.metrics.rotnet import FeatnetConfig, save_featnet, train_featnet


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--crops", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--out", required=True, help="featnet.pt")
    parser.add_argument("--metrics", required=True, help="json with its accuracy at telling the turn")
    args = parser.parse_args()
    started = time.perf_counter()
    params = read_params(args.params)
    cfg = load_section(FeatnetConfig, params, "featnet")
    device = torch_setup(params)
    images, _, _ = load_crops(args.crops, args.table, "train")  # the held-out crops judge, never train
    model, metrics = train_featnet(images, cfg, device=device)
    save_featnet(model, args.out)
    write_json(args.metrics, metrics)
    record_timing("featnet", started)
    print(f"featnet: orientation val accuracy {metrics.get('val_accuracy', float('nan')):.3f}")


if __name__ == "__main__":
    run(main)
