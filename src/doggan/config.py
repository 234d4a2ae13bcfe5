"""Typed, validated params: every value is cast and range-checked when a step starts.

A section of params.yaml maps onto a dataclass whose fields carry their type, bounds and help:

    @dataclass
    class CropConfig:
        size: int = option("output side in pixels", low=8)

`load_section(CropConfig, params, "crop")` returns an instance or raises ParamError naming the
exact key (`crop.size: expected an integer >= 8, got -3`). Values live in params.yaml only: the
classes hold no defaults, so what params.yaml shows is what ran.
"""

import dataclasses
import difflib
import math
from pathlib import Path

import yaml

from doggan.errors import ParamError

SECTIONS = ("seeds", "threads", "device", "data", "demo", "crop", "featnet", "model", "variants", "generate", "metric", "judge", "aggregate")


def option(help, *, low=None, high=None, low_open=False, choices=None):
    """A dataclass field with a help text and validation bounds (`low_open`: exclude `low`); its
    value comes from params.yaml."""
    return dataclasses.field(metadata={"help": help, "low": low, "high": high, "low_open": low_open, "choices": choices})


def unknown_key(key, known):
    """The one-line error for a key that is not an option, with the closest known one."""
    close = difflib.get_close_matches(key.rsplit(".", 1)[-1], known, n=1)
    hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(sorted(known))}"
    return ParamError(f"{key}: unknown key ({hint})")


def read_params(path="params.yaml"):
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ParamError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise ParamError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ParamError(f"{path}: expected a mapping at the top level")
    return check_sections(data)


def check_sections(params):
    for key in params:
        if key not in SECTIONS:
            raise unknown_key(str(key), SECTIONS)
    return params


def lookup(params, key):
    """params['a']['b'] for key 'a.b', or ParamError naming the missing key."""
    node = params
    for i, part in enumerate(key.split(".")):
        if not isinstance(node, dict) or part not in node:
            raise ParamError(f"{key}: missing key in params.yaml")
        node = node[part]
    return node


def _typed(value):
    """A value as YAML would type it: `snakemake --config 'model={steps: 4}'` hands nested values
    over as the strings '4', 'true', '0.5' (and DVC writes small floats as '1e-05')."""
    if isinstance(value, str):
        try:
            return yaml.safe_load(value)
        except yaml.YAMLError:
            return value
    return [_typed(v) for v in value] if isinstance(value, list) else value


def _cast(value, kind, key):
    if kind is not str and kind != (str | None):
        value = _typed(value)
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise ParamError(f"{key}: expected true or false, got {value!r}")
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamError(f"{key}: expected an integer, got {value!r}")
        return value
    if kind is float:  # YAML 1.1 reads '1e-05' as a string: float() takes it
        if isinstance(value, bool):
            raise ParamError(f"{key}: expected a number, got {value!r}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ParamError(f"{key}: expected a number, got {value!r}") from None
        if not math.isfinite(number):
            raise ParamError(f"{key}: expected a finite number, got {value!r}")
        return number
    if kind is str:
        if not isinstance(value, str):
            raise ParamError(f"{key}: expected a string, got {value!r}")
        return value
    if kind == (str | None):
        if value is not None and not isinstance(value, str):
            raise ParamError(f"{key}: expected a string or null, got {value!r}")
        return value
    if kind == list[int]:
        if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise ParamError(f"{key}: expected a list of integers, got {value!r}")
        return list(value)
    raise TypeError(f"unsupported option type {kind!r} for {key}")


def _check_bounds(value, meta, key):
    low, high, choices = meta.get("low"), meta.get("high"), meta.get("choices")
    values = value if isinstance(value, list) else [value]
    for v in values:
        if choices is not None and v not in choices:
            raise ParamError(f"{key}: expected one of {', '.join(map(str, choices))}, got {v!r}")
        if low is not None and (v < low or (meta.get("low_open") and v == low)):
            raise ParamError(f"{key}: expected a value {'>' if meta.get('low_open') else '>='} {low}, got {v!r}")
        if high is not None and v > high:
            raise ParamError(f"{key}: expected a value <= {high}, got {v!r}")


def from_mapping(cls, mapping, where):
    """Build dataclass `cls` from `mapping`; `where` maps each key to the section it came from."""
    if not isinstance(mapping, dict):
        raise ParamError(f"{where}: expected a mapping, got {mapping!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in mapping:
        if key not in fields:
            raise unknown_key(_origin(where, key), fields)
    values = {}
    for name, f in fields.items():
        key = _origin(where, name)
        if name not in mapping:
            raise ParamError(f"{key}: missing key in params.yaml")
        value = _cast(mapping[name], f.type, key)
        _check_bounds(value, f.metadata, key)
        values[name] = value
    return cls(**values)


def _origin(where, key):
    if isinstance(where, dict):
        return f"{where.get(key, where.get('', '?'))}.{key}"
    return f"{where}.{key}"


def load_section(cls, params, section):
    return from_mapping(cls, lookup(params, section), section)


def load_merged(cls, params, base, override):
    """A dataclass from section `base` with section `override` on top (e.g. model + variants.dcgan)."""
    base_map, over_map = lookup(params, base), lookup(params, override)
    for name, m in ((base, base_map), (override, over_map)):
        if not isinstance(m, dict):
            raise ParamError(f"{name}: expected a mapping, got {m!r}")
    if dataclasses.is_dataclass(cls.__base__):  # the base section is valid on its own, even where
        from_mapping(cls.__base__, base_map, base)  # the variant overrides a value (model.lr: abc)
    # a missing key is reported where it belongs: the base section for the fields the variant
    # inherits (TrainConfig's), the override section for its own
    inherited = {f.name for f in dataclasses.fields(cls.__base__)} if dataclasses.is_dataclass(cls.__base__) else set()
    where = {f.name: base if f.name in inherited else override for f in dataclasses.fields(cls)}
    where.update({"": base, **{k: base for k in base_map}, **{k: override for k in over_map}})
    return from_mapping(cls, {**base_map, **over_map}, where)

