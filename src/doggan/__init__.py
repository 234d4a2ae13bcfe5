"""doggan: a reproducible pipeline for training and judging generative models of dog images."""

__version__ = "0.1.0"
