"""Params validation: a bad value stops with one line naming the key."""

import subprocess
import sys

import pytest
import yaml

from conftest import ROOT
from doggan.config import load_merged, load_section, read_params
from doggan.data.crops import CropConfig
from doggan.errors import ParamError
from doggan.models import variant_module


def params():
    return read_params(ROOT / "params.yaml")


def test_shipped_params_are_valid():
    p = params()
    load_section(CropConfig, p, "crop")
    for name in p["variants"]:
        load_merged(variant_module(name).Config, p, "model", f"variants.{name}")


@pytest.mark.parametrize("edit, message", [
    (lambda p: (p["variants"]["dcgan"].pop("lr"), p["model"].update(lr=-1.0)), "model.lr: expected a value > 0.0"),
    (lambda p: p["variants"]["dcgan"].update(lr=0), "variants.dcgan.lr: expected a value > 0.0"),
    (lambda p: p["model"].pop("batch_size"), None),  # has a default: fine
    (lambda p: p["model"].update(steps="many"), "model.steps: expected an integer"),
    (lambda p: p["variants"]["dcgan"].update(colour=1), "variants.dcgan.colour: unknown key"),
])
def test_bad_model_values_name_the_key(edit, message):
    p = params()
    edit(p)
    if message is None:
        load_merged(variant_module("dcgan").Config, p, "model", "variants.dcgan")
        return
    with pytest.raises(ParamError, match=message.replace(".", r"\.")):
        load_merged(variant_module("dcgan").Config, p, "model", "variants.dcgan")


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
