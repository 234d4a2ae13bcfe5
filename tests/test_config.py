"""Params validation: a bad value stops with one line naming the key."""

import dataclasses
import importlib
import pkgutil
import re
import subprocess
import sys

import pytest
import yaml

import doggan
from conftest import ROOT
from doggan.config import check_sections, load_merged, load_section, read_params
from doggan.data.crops import CropConfig
from doggan.data.demo import DemoConfig
from doggan.generate import GenerateConfig
from doggan.metrics.rotnet import FeatnetConfig
from doggan.metrics.features import MetricConfig
from doggan.errors import ParamError
from doggan.models import variant_module


def params():
    return read_params(ROOT / "params.yaml")


def config_classes():
    """Every params dataclass in doggan (those built with config.option), found by walking the package."""
    found = {}
    for info in pkgutil.walk_packages(doggan.__path__, "doggan."):
        module = importlib.import_module(info.name)
        for obj in vars(module).values():
            if dataclasses.is_dataclass(obj) and any("help" in f.metadata for f in dataclasses.fields(obj)):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return found


def test_params_yaml_is_the_one_home_of_every_default():
    """No config class holds a default: a value the code would use without params.yaml showing it."""
    classes = config_classes()
    assert len(classes) >= 12  # the sections' classes and one per variant
    for name, cls in classes.items():
        for f in dataclasses.fields(cls):
            assert f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING, \
                f"{name}.{f.name} has a default in code; put the value in params.yaml"


def test_shipped_params_are_valid_and_complete():
    p = params()  # any missing key would stop these with its name
    for cls, section in [(DemoConfig, "demo"), (CropConfig, "crop"), (FeatnetConfig, "featnet"), (MetricConfig, "metric"),
                         (GenerateConfig, "generate")]:
        load_section(cls, p, section)
    for name in p["variants"]:
        load_merged(variant_module(name).Config, p, "model", f"variants.{name}")


@pytest.mark.parametrize("edit, message", [
    (lambda p: p["variants"]["biggan"].update(d_lr="fast"), "variants.biggan.d_lr: expected a number"),
    (lambda p: p["crop"].update(size=-3), "crop.size: expected a value >= 8"),
    (lambda p: p.update(threads=0), "threads: expected a positive integer, got 0"),
    (lambda p: p.update(device="tpu"), "device: expected auto, cpu, cuda or cuda:N, got 'tpu'"),
    (lambda p: p["variants"].update(stylegan={}), "variants.stylegan: not a variant"),
    (lambda p: p["generate"].update(n_images=0), "generate.n_images: expected a value >= 1"),
])
def test_check_params_refuses_a_bad_value_anywhere_naming_it(edit, message):
    from doggan.validate import check_params

    p = params()
    check_params(p)  # the shipped params pass
    edit(p)
    with pytest.raises(ParamError, match=re.escape(message)):
        check_params(p)


def test_unknown_section_names_the_closest():
    with pytest.raises(ParamError, match=r"^modle: unknown key \(did you mean model\?\)$"):
        p = params()
        p["modle"] = p.pop("model")
        check_sections(p)


@pytest.mark.parametrize("edit, message", [
    (lambda p: (p["variants"]["dcgan"].pop("lr"), p["model"].update(lr=-1.0)), "model.lr: expected a value > 0.0"),
    (lambda p: p["variants"]["dcgan"].update(lr=0), "variants.dcgan.lr: expected a value > 0.0"),
    (lambda p: p["model"].pop("batch_size"), "model.batch_size: missing key in params.yaml"),
    (lambda p: p["variants"]["dcgan"].pop("label_smoothing"), "variants.dcgan.label_smoothing: missing key"),
    (lambda p: p["variants"]["dcgan"].update(lable_smoothing=0.1),
     "variants.dcgan.lable_smoothing: unknown key (did you mean label_smoothing?)"),
    (lambda p: p["model"].update(steps="many"), "model.steps: expected an integer"),
    (lambda p: p["variants"]["dcgan"].update(colour=1), "variants.dcgan.colour: unknown key"),
    (lambda p: p["model"].update(lr="abc"), "model.lr: expected a number, got 'abc'"),  # dcgan sets its own lr
])
def test_bad_model_values_name_the_key(edit, message):
    p = params()
    edit(p)
    with pytest.raises(ParamError, match=re.escape(message)):
        load_merged(variant_module("dcgan").Config, p, "model", "variants.dcgan")


def test_values_snakemake_config_passes_as_strings_are_typed_as_yaml_would():
    p = params()  # snakemake --config 'model={steps: 4, flip: false}' 'variants={progan: {resolution_steps: [1, 2]}}'
    p["model"].update(steps="4", flip="false")
    p["variants"]["progan"]["lr"] = "1e-05"
    p["variants"]["progan"]["resolution_steps"] = ["1", "2", "3", "4", "5"]
    cfg = load_merged(variant_module("progan").Config, p, "model", "variants.progan")
    assert (cfg.flip, cfg.lr, cfg.resolution_steps, cfg.steps) == (False, 1e-05, [1, 2, 3, 4, 5], 15)
    p["variants"]["gan"]["steps"] = "four"
    with pytest.raises(ParamError, match="variants.gan.steps: expected an integer, got .four."):
        load_merged(variant_module("gan").Config, p, "model", "variants.gan")


def test_dvc_style_float_strings_are_accepted():
    p = params()
    p["model"]["lr"] = "1e-05"
    assert load_merged(variant_module("gan").Config, p, "model", "variants.gan").lr == 1e-05


def test_unknown_variant_and_missing_section():
    with pytest.raises(ParamError, match="variants.biggest: unknown variant"):
        variant_module("biggest")
    p = params()
    del p["crop"]
    with pytest.raises(ParamError, match="crop: missing key"):
        load_section(CropConfig, p, "crop")


def test_a_step_with_a_bad_param_prints_one_line(tmp_path):
    p = params()
    p["crop"]["mode"] = "zoom"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(p))
    result = subprocess.run([sys.executable, str(ROOT / "steps/crop.py"), "--params", str(tmp_path / "params.yaml"),
                             "--images", "x", "--boxes", "x", "--parse-quality", "x", "--crops", "x", "--table", "x",
                             "--quality", "x", "--figure", "x"], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["error: crop.mode: expected one of square_pad, center, stretch, got 'zoom'"]
