"""Registry of GAN variants: name -> module with `Config` and `Model` (see models/base.py)."""

import importlib

from doggan.errors import ParamError

VARIANTS = ("gan", "dcgan", "cdcgan", "progan", "autoencoder", "biggan")


def variant_module(name):
    if name not in VARIANTS:
        raise ParamError(f"variants.{name}: unknown variant (known: {', '.join(VARIANTS)})")
    return importlib.import_module(f"doggan.models.{name}")
