"""Metrics: feature networks, FID and MiFID (DESIGN.md §6)."""

from doggan.metrics.fid import frechet_distance, statistics
from doggan.metrics.mifid import memorization_distance, mifid_from_features, threshold_distance

__all__ = ["frechet_distance", "memorization_distance", "mifid_from_features", "statistics", "threshold_distance"]
