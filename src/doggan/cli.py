"""Entry-point helper: user errors become one line on stderr and exit code 2, never a traceback."""

import os
import sys
import time
from pathlib import Path

from doggan.errors import UserError
from doggan.io import write_json


def run(main):
    """Call `main()`; print a UserError as `error: <message>` and exit 2."""
    try:
        main()
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)


def thread_budget():
    """The cores this job may use: DOGGAN_THREADS, else OMP_NUM_THREADS (Snakemake sets it to the
    rule's `threads:` for every job), else all of them. Parallel jobs then don't oversubscribe."""
    for name in ("DOGGAN_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return os.cpu_count() or 1


def set_threads():
    """Give torch the job's thread budget; returns it."""
    import torch

    threads = thread_budget()
    torch.set_num_threads(threads)
    return threads


TIMINGS = Path("reports/timings")


def record_timing(stage, started, **extra):
    """Write the stage's wall time since `started` (time.perf_counter()) to reports/timings/<stage>.json.
    No stage reads these files (`dvc metrics show reports/timings` does): a timing inside an
    artifact another stage depends on would make a rerun that changed nothing look changed."""
    write_json(TIMINGS / f"{stage}.json", {"seconds": round(time.perf_counter() - started, 1), **extra})
