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


def usable_cpus():
    """The CPUs this process may run on (its affinity mask: a container's or a SLURM job's share)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def thread_budget():
    """The threads this job may use: DOGGAN_THREADS, else OMP_NUM_THREADS (Snakemake sets it to the
    rule's `threads:` for every job), else all usable CPUs; never more than the usable CPUs, since
    torch threads beyond them only wait on each other."""
    for name in ("DOGGAN_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return min(int(value), usable_cpus())
    return usable_cpus()


def set_threads():
    """Give torch the job's thread budget; returns it."""
    import torch

    threads = thread_budget()
    torch.set_num_threads(threads)
    return threads


TIMINGS = Path("reports/timings")


def peak_memory_mb():
    """The largest resident set this process, or any child it waited for (crop's workers), has had."""
    import resource

    return round(max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024)


def record_timing(stage, started, **extra):
    """Write the stage's wall time since `started` (time.perf_counter()) and its peak memory to
    reports/timings/<stage>.json. No stage reads these files (`dvc metrics show reports/timings`
    does): a timing inside an artifact another stage depends on would make a rerun that changed
    nothing look changed."""
    write_json(TIMINGS / f"{stage}.json",
               {"seconds": round(time.perf_counter() - started, 1), "peak_memory_mb": peak_memory_mb(), **extra})
