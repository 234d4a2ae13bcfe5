"""The metric's costs: `python bench/metrics.py` (section metrics).

metrics  feature extraction rates, FID (ours against pytorch-fid's), the memorization distance, KID and
         precision/recall/density/coverage at Kaggle's scale, with their peak memory
"""

import tracemalloc

import numpy as np

from doggan.metrics import frechet_distance, memorization_distance
from doggan.metrics.features import InceptionFeatures, RotNetFeatures, extract_features, fid_inception
from doggan.metrics.rotnet import RotNet

from common import main, table, timed


def bench_metrics(args):
    """Feature extraction, FID and the memorization distance at Kaggle's scale."""
    from pytorch_fid.fid_score import calculate_frechet_distance

    images = np.random.default_rng(0).integers(0, 256, (256, 64, 64, 3), dtype=np.uint8)
    rows = []
    for name, net, n in (("rotnet (demo width)", RotNetFeatures(RotNet(16, 128)).eval(), 256),
                         ("inception (random weights)", InceptionFeatures(fid_inception()), 32)):
        extract_features(net, images[:8], batch_size=8)
        seconds, _ = timed(lambda: extract_features(net, images[:n], batch_size=32))
        rows.append((f"features/s, {name}", f"{n / seconds:.0f} images/s", ""))

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3000, 2048)), rng.normal(size=(3000, 2048)) @ rng.normal(size=(2048, 2048)) / 45
    mu1, s1, mu2, s2 = a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)
    ours, fid = timed(lambda: frechet_distance(mu1, s1, mu2, s2), 3)
    theirs, ref = timed(lambda: calculate_frechet_distance(mu1, s1, mu2, s2), 3)
    rows.append(("frechet_distance at 2048-d, ours (eigh)", f"{ours:.2f} s", f"{theirs / ours:.1f}x faster"))
    rows.append(("calculate_frechet_distance, pytorch-fid (sqrtm)", f"{theirs:.2f} s", f"relative difference {abs(fid - ref) / ref:.1e}"))

    gen = rng.standard_normal((10_000, 2048), dtype=np.float32)
    real = rng.standard_normal((22_125, 2048), dtype=np.float32)
    tracemalloc.start()
    seconds, distance = timed(lambda: memorization_distance(gen, real))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rows.append(("memorization distance, 10,000 x 22,125 x 2048 float32", f"{seconds:.1f} s",
                 f"peak extra memory {peak / 2**20:.0f} MiB (inputs {(gen.nbytes + real.nbytes) / 2**20:.0f} MiB)"))
    from doggan.metrics.kid import kernel_inception_distance
    from doggan.metrics.prdc import prdc_equal_sizes

    for dims in (368, 2048):  # rotnet's features, Inception's
        seconds, _ = timed(lambda: kernel_inception_distance(gen[:, :dims], real[:, :dims]))
        rows.append((f"KID, 10,000 x 22,125 x {dims}: 100 subsets of 1,000", f"{seconds:.1f} s", ""))
    tracemalloc.start()
    seconds, _ = timed(lambda: prdc_equal_sizes(real[:, :368], gen[:, :368]))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rows.append(("precision/recall/density/coverage, 10,000 x 10,000 x 368", f"{seconds:.1f} s",
                 f"peak extra memory {peak / 2**20:.0f} MiB"))
    table("metrics", ["what", "time or rate", "note"], rows)


SECTIONS = {"metrics": bench_metrics}


def add_options(parser):
    pass  # none of its own


if __name__ == "__main__":
    main(__doc__, SECTIONS, add_options)
