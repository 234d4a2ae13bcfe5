"""A map over jobs in forked worker processes, for the data stages (demo_data, crop)."""

import multiprocessing


def ordered_map(fn, jobs, workers, initializer=None, initargs=()):
    """fn(job) for every job, yielded in the jobs' order: in `workers` forked processes, each set
    up by initializer(*initargs), or in this process when workers <= 1 or there is one job. The
    pool lives while the generator is consumed."""
    if workers <= 1 or len(jobs) <= 1:
        if initializer is not None:
            initializer(*initargs)
        yield from map(fn, jobs)
        return
    with multiprocessing.get_context("fork").Pool(workers, initializer, initargs) as pool:
        yield from pool.imap(fn, jobs, chunksize=max(1, min(64, len(jobs) // (workers * 8))))
