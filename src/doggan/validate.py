"""Every section of params.yaml against the class that reads it, in one pass (steps/check_params.py).

Each step checks what it reads as it starts; this checks it all before any step starts, so that a
bad value never gets as far as a stage whose outputs DVC removes before running it.
"""

from doggan.config import load_merged, load_section, lookup
from doggan.data.crops import CropConfig
from doggan.data.demo import DemoConfig
from doggan.device import check_device_name, check_threads
from doggan.errors import ParamError
from doggan.generate import GenerateConfig
from doggan.metrics.breeds import JudgeConfig
from doggan.metrics.features import MetricConfig
from doggan.metrics.rotnet import FeatnetConfig
from doggan.metrics.spread import AggregateConfig
from doggan.models import VARIANTS, variant_module
from doggan.models.base import TrainConfig
from doggan.runs import check_seeds

SECTIONS = {"demo": DemoConfig, "crop": CropConfig, "featnet": FeatnetConfig, "model": TrainConfig,
            "generate": GenerateConfig, "metric": MetricConfig,
            "judge": JudgeConfig, "aggregate": AggregateConfig}


def check_params(params):
    """Raise ParamError naming the first bad key of `params` (read_params' dict); return None."""
    for name in ("seeds", "threads", "device", "data.images", "data.annotations", "data.strict"):
        lookup(params, name)  # present
    check_seeds(params["seeds"])
    check_threads(params["threads"])
    check_device_name(params["device"])
    for key in ("images", "annotations"):
        if not isinstance(params["data"][key], str) or not params["data"][key]:
            raise ParamError(f"data.{key}: expected a path, got {params['data'][key]!r}")
    if not isinstance(params["data"]["strict"], bool):
        raise ParamError(f"data.strict: expected true or false, got {params['data']['strict']!r}")
    for section, cls in SECTIONS.items():
        load_section(cls, params, section)
    variants = lookup(params, "variants")
    if not isinstance(variants, dict) or not variants:
        raise ParamError(f"variants: expected a mapping of variant names to their options, got {variants!r}")
    for name in variants:
        if name not in VARIANTS:
            raise ParamError(f"variants.{name}: not a variant (known: {', '.join(VARIANTS)})")
        load_merged(variant_module(name).Config, params, "model", f"variants.{name}").with_budget()

