"""Benchmarks: `python bench/run.py [crop|train|metrics|judge|compare|drivers|serve|scale|layouts ...]` prints one table per section.

Every ratio compares two ways of doing the same work, measured side by side in this one run on
the same inputs; absolute times drift with the machine, ratios much less.

Each section lives in a module of its own, runnable alone with the options it reads (`python
bench/metrics.py`, `python bench/data.py crop --photos 200`): data.py (crop, layouts), training.py
(train), metrics.py, judge.py, compare.py, drivers.py (drivers, scale), serve.py; common.py holds what
they share. This file runs them all, in this order, for `make bench`.
"""

import compare
import data
import drivers
import judge
import metrics
import serve
import training
from common import main

SECTIONS = {"crop": data.bench_crop, "train": training.bench_train, "metrics": metrics.bench_metrics,
            "judge": judge.bench_judge, "compare": compare.bench_compare, "drivers": drivers.bench_drivers,
            "serve": serve.bench_serve, "scale": drivers.bench_scale, "layouts": data.bench_layouts}

if __name__ == "__main__":
    main(__doc__, SECTIONS, *(module.add_options for module in (data, training, metrics, judge, compare, drivers, serve)))
