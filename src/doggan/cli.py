"""Entry-point helper: user errors become one line on stderr and exit code 2, never a traceback."""

import os
import sys

from doggan.errors import UserError


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


def set_threads(threads=None):
    """Use the cores the orchestrator gave this job (Snakemake `threads:`), so parallel jobs don't oversubscribe."""
    import torch

    threads = threads or int(os.environ.get("DOGGAN_THREADS", 0)) or os.cpu_count() or 1
    torch.set_num_threads(threads)
    return threads
