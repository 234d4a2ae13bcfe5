"""What the bench's sections share. bench/gpu.py imports it too, on a machine with only torch, numpy and
src/doggan: nothing else at the top level."""

from pathlib import Path

import yaml

from doggan.config import read_params

QUALITY = Path(__file__).with_name("quality.yaml")  # the quality run's params, merged into params.yaml


def read_bench_params(path):
    """params.yaml at `path`, with the variant blocks it lacks taken from the quality run's
    bench/quality.yaml: plain_dcgan, the yardstick the benches train beside the demo's variants."""
    params = read_params(path)
    quality = yaml.safe_load(QUALITY.read_text()) if QUALITY.is_file() else {}
    missing = {name: block for name, block in (quality.get("variants") or {}).items() if name not in params["variants"]}
    return {**params, "variants": {**params["variants"], **missing}}
