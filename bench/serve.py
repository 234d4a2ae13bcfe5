"""`doggan serve` under load: `python bench/serve.py` (section serve).

serve  requests/s and p50/p99 latency at 1, 4 and 16 clients on loopback, batched and one request at a
       time, and whether both give the same bytes
"""

import asyncio
import hashlib
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import httpx2
import numpy as np

from doggan.cli import thread_budget
from doggan.generate import save_generator
from doggan.runs import run_path

from common import demo_model, main, read_bench_params, shared, table


def load_test(url, query, clients, seconds):
    """(requests/s, latencies in s) of `clients` clients sending `query` back to back for `seconds`,
    every request with a new seed."""

    async def run():
        seeds, latencies = iter(range(10**9)), []
        async with httpx2.AsyncClient(base_url=url, timeout=60, limits=httpx2.Limits(max_connections=clients)) as http:
            started = time.perf_counter()
            deadline = started + seconds

            async def client():
                while time.perf_counter() < deadline:
                    sent = time.perf_counter()
                    (await http.get("/api/generate", params={**query, "seed": next(seeds)})).raise_for_status()
                    latencies.append(time.perf_counter() - sent)

            await asyncio.gather(*(client() for _ in range(clients)))
            return len(latencies) / (time.perf_counter() - started), np.array(latencies)

    return asyncio.run(run())


def bodies_sent_at_once(url, queries):
    """The response bodies of `queries`, all sent at the same time."""

    async def run():
        async with httpx2.AsyncClient(base_url=url, timeout=60) as http:
            return [r.content for r in await asyncio.gather(*(http.get("/api/generate", params=q) for q in queries))]

    return asyncio.run(run())


def started_server(models, *options):
    """(process, URL) of `doggan serve` on a free loopback port, in a process of its own: the load
    generator must not share the server's interpreter."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "doggan", "serve", "--models", str(models), "--metrics", str(models),
                               "--port", str(port), *options], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            urllib.request.urlopen(f"{url}/api/variants", timeout=5)
            return server, url
        except OSError:
            if server.poll() is not None:
                raise RuntimeError(f"doggan serve exited with {server.returncode}") from None
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("doggan serve did not start in 60 s")


def bench_serve(args):
    """`doggan serve` under a bounded load on loopback: requests/s and p50/p99 latency at 1, 4 and 16
    concurrent clients, batched (requests packed into the server's passes of 16 images) and one request
    at a time. The generators are built at the demo params, untrained: a pass costs what a trained one's does."""
    params = read_bench_params(args.params)
    loads = [(16, 1), (16, 4), (16, 16), (2, 16)]  # (images per request, clients); n=2 shows where packing pays
    modes = {"batched": (), "one at a time": ("--one-at-a-time",)}
    results, digests = {}, {}
    with tempfile.TemporaryDirectory() as models:
        for variant in args.serve_variants:
            save_generator(Path(models) / run_path(variant, 0) / "generator.pt", demo_model(variant, params), variant,
                           [f"breed{i}" for i in range(8)], [1] * 8)
        servers = {}
        try:
            for mode, options in modes.items():
                servers[mode] = started_server(models, *options)
            for variant in args.serve_variants:
                for _, url in servers.values():
                    load_test(url, {"variant": variant, "n": 16}, 1, 1.0)  # warm-up
                for n, clients in loads:
                    for mode, (_, url) in servers.items():  # side by side, so that drift on a shared machine hits both
                        results[mode, variant, n, clients] = load_test(url, {"variant": variant, "n": n}, clients,
                                                                       args.serve_seconds)
                queries = [{"variant": variant, "n": 5, "seed": seed} for seed in range(8)]
                for mode, (_, url) in servers.items():
                    digests[mode, variant] = hashlib.sha256(b"".join(bodies_sent_at_once(url, queries))).hexdigest()
        finally:
            for server, _ in servers.values():
                server.terminate()
                server.wait()
    rows = []
    for variant in args.serve_variants:
        for n, clients in loads:
            cells = []
            for mode in modes:
                rate, latencies = results[mode, variant, n, clients]
                cells += [f"{rate:.1f}", *(f"{np.percentile(latencies, q) * 1000:.0f}" for q in (50, 99))]
            ratio = results["batched", variant, n, clients][0] / results["one at a time", variant, n, clients][0]
            rows.append((variant, n, clients, *cells, f"{ratio:.2f}x"))
    same = all(len(set(digests[mode, v] for mode in modes)) == 1 for v in args.serve_variants)
    table(f"serve: doggan serve on loopback, {args.serve_seconds:g} s per row, {thread_budget()} torch threads; "
          f"8 requests sent at once give the same bytes batched and one at a time: {'yes' if same else 'NO'}",
          ["variant", "images per request", "clients", "batched req/s", "p50 ms", "p99 ms",
           "one at a time req/s", "p50 ms", "p99 ms", "batched vs one at a time"], rows)


SECTIONS = {"serve": bench_serve}


def add_options(parser):
    shared(parser, "--params")
    parser.add_argument("--serve-variants", nargs="*", default=["dcgan", "biggan"], help="serve: the variants to load-test")
    parser.add_argument("--serve-seconds", type=float, default=5.0, help="serve: seconds of load per row")


if __name__ == "__main__":
    main(__doc__, SECTIONS, add_options)
