"""Registry of GAN variants: every module here but the shared ones is a variant, with `Config`
and `Model` (see models/base.py). Adding a variant is adding its module and its params.yaml
block `variants.<name>` (tests/test_drivers.py holds the two lists equal)."""

import importlib
import pkgutil

from doggan.errors import ParamError

SHARED = ("base", "layers")  # model code the variants import, not variants
VARIANTS = tuple(sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name not in SHARED))


def variant_module(name):
    if name not in VARIANTS:
        raise ParamError(f"variants.{name}: unknown variant (known: {', '.join(VARIANTS)})")
    return importlib.import_module(f"doggan.models.{name}")
