"""Typed, validated params: every value is cast and range-checked when a step starts.

A section of params.yaml maps onto a dataclass whose fields carry their bounds:

    @dataclass
    class CropConfig:
        size: int = option(64, "output side in pixels", low=8)

`load_section(CropConfig, params, "crop")` returns an instance or raises ParamError naming the
exact key (`crop.size: expected an integer >= 8, got -3`).
"""

import dataclasses
import math
from pathlib import Path

import yaml

from doggan.errors import ParamError

_MISSING = object()


def option(default=_MISSING, help="", *, low=None, high=None, low_open=False, choices=None):
    """A dataclass field with a help text and validation bounds (`low_open`: exclude `low`)."""
    meta = {"help": help, "low": low, "high": high, "low_open": low_open, "choices": choices}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    if default is _MISSING:
        return dataclasses.field(metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


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
    return data


def lookup(params, key):
    """params['a']['b'] for key 'a.b', or ParamError naming the missing key."""
    node = params
    for i, part in enumerate(key.split(".")):
        if not isinstance(node, dict) or part not in node:
            raise ParamError(f"{key}: missing key in params.yaml")
        node = node[part]
    return node


def _cast(value, kind, key):
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise ParamError(f"{key}: expected true or false, got {value!r}")
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamError(f"{key}: expected an integer, got {value!r}")
        return value
    if kind is float:
        # DVC writes small floats as '1e-05', which YAML reads as a string: accept numeric strings.
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
            raise ParamError(f"{_origin(where, key)}: unknown key (known: {', '.join(sorted(fields))})")
    values = {}
    for name, f in fields.items():
        key = _origin(where, name)
        if name not in mapping:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ParamError(f"{key}: missing key in params.yaml")
            continue
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
    where = {"": base, **{k: base for k in base_map}, **{k: override for k in over_map}}
    return from_mapping(cls, {**base_map, **over_map}, where)


def as_dict(config):
    return dataclasses.asdict(config)
