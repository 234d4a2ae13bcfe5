"""`doggan serve`: a page and an HTTP API over the trained generators in models/.

    GET /                  the page: variant, breed, number, seed, truncation -> a grid of dogs
    GET /api/variants      every variant with a folder in models/: score and breeds (conditional ones), or why it cannot serve
    GET /api/generate?variant=V&breed=B&n=N&seed=S[&truncation=T][&format=zip]
                           a PNG grid, or a zip of single PNGs; the same query gives the same bytes
    GET /docs              the routes and their parameters, and a link to /openapi.json (works offline)

Errors are one line of JSON, {"error": "..."}: 404 for an unknown variant or breed (listing the
known ones), 422 for a bad field (naming it), 503 for a variant whose generator cannot load.
"""

import argparse
import asyncio
import html
import io
import re
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Literal

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import AfterValidator
from starlette.exceptions import HTTPException as StarletteHTTPException

from doggan.device import pick_device
from doggan.errors import ParamError, UserError
from doggan.generate import (MAX_SEED, MAX_TRUNCATION, MIN_TRUNCATION, PASS_SIZE, UnknownBreed, breed_labels,
                             check_truncation, png_bytes, sample_inputs, write_png_zip)
from doggan.io import image_grid
from doggan.serve.generators import TRAIN_HINT, Batcher, load_variants

PAGE = (Path(__file__).parent / "page.html").read_text()
MAX_IMAGES = 64


Truncation = Annotated[float, Query(ge=0, le=MAX_TRUNCATION, allow_inf_nan=False, description="redraw |z| above this; 0: off"),
                       AfterValidator(check_truncation)]


def one_line(errors):
    """FastAPI's list of validation errors as `field: message; ...`."""
    return "; ".join(f"{error['loc'][-1]}: {error['msg']}" for error in errors)


def file_stem(*parts):
    """A download name from validated parts; breed names come from annotation folders, so keep it tame."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", "_".join(str(p) for p in parts))


def encode(images, format, stem):
    """(body, media type, filename) of a response: a PNG grid, or a zip of one PNG per image."""
    if format == "zip":
        buffer = io.BytesIO()
        write_png_zip(buffer, images, (f"{stem}_{i:02d}.png" for i in range(len(images))))
        return buffer.getvalue(), "application/zip", f"{stem}.zip"
    return png_bytes(image_grid(images, columns=min(8, len(images)))), "image/png", f"{stem}.png"


def docs_page(openapi):
    """/docs without the network: FastAPI's Swagger UI and ReDoc load their scripts from a CDN (blank
    offline) and no installed package ships them, so the routes and parameters from the OpenAPI schema."""
    items = []
    for path, operations in openapi["paths"].items():
        for method, op in operations.items():
            params = "".join(f"<li><code>{html.escape(p['name'])}</code>: {html.escape(p.get('description', ''))}</li>"
                             for p in op.get("parameters", []))
            items.append(f"<li><code>{method.upper()} {html.escape(path)}</code>: {html.escape(op.get('description', ''))}"
                         + (f"<ul>{params}</ul>" if params else "") + "</li>")
    return (f"<!doctype html><title>{html.escape(openapi['info']['title'])} API</title><h1>The API</h1>"
            f'<p>The full OpenAPI description: <a href="openapi.json">/openapi.json</a>.</p><ul>{"".join(items)}</ul>')


def create_app(variants, batch_size=PASS_SIZE, batching=True, device="cpu"):
    """The app over `variants` ({name: Variant}, from load_variants)."""
    batcher = Batcher(batch_size, batching, device)

    @asynccontextmanager
    async def lifespan(app):
        yield
        batcher.close()

    app = FastAPI(title="doggan", summary="Dogs from the trained GAN variants, per breed", lifespan=lifespan,
                  docs_url=None, redoc_url=None)  # their pages need a CDN; /docs below does not

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        return JSONResponse({"error": one_line(exc.errors())}, status_code=422)

    def servable(name):
        variant = variants.get(name)
        if variant is None:
            raise HTTPException(404, f"variant: unknown variant {name!r} (known: {', '.join(variants)})")
        if variant.generator is None:
            raise HTTPException(503, f"variant: {name} is unavailable: {variant.reason}")
        return variant

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page():
        return PAGE

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    @app.get("/redoc", response_class=HTMLResponse, include_in_schema=False)
    async def docs():
        return docs_page(app.openapi())

    @app.get("/api/variants")
    async def list_variants():
        """Every variant with a folder in models/: its score and, if conditional, its breeds; or why it cannot serve."""
        return {"variants": [v.describe() for v in variants.values()],
                "limits": {"n": [1, MAX_IMAGES], "seed": [0, MAX_SEED], "truncation": [MIN_TRUNCATION, MAX_TRUNCATION]}}

    @app.get("/api/generate", response_class=Response,
             responses={200: {"content": {"image/png": {}, "application/zip": {}}}})
    async def generate(
        variant: Annotated[str, Query(description="a variant, as /api/variants lists them")],
        breed: Annotated[str | None, Query(description="a breed name as listed or shown (any case, spaces or _); "
                                                       "left out: breeds drawn uniformly")] = None,
        n: Annotated[int, Query(ge=1, le=MAX_IMAGES, description="number of images")] = 16,
        seed: Annotated[int, Query(ge=0, le=MAX_SEED, description="seed of the latents (and breeds)")] = 0,
        truncation: Truncation = 0.0,
        format: Annotated[Literal["png", "zip"], Query(description="png: one grid; zip: one PNG per image")] = "png",
    ):
        """n images of one variant (and breed): the same query gives the same bytes."""
        entry = servable(variant)
        try:
            labels = breed_labels(entry.payload, breed or None, n, seed)
        except UnknownBreed as exc:
            raise HTTPException(404, str(exc)) from None
        except ParamError as exc:
            raise HTTPException(422, str(exc)) from None
        z, y = await asyncio.to_thread(sample_inputs, entry.payload, labels, truncation, seed)  # redraws: up to 40 ms
        images = await asyncio.wrap_future(batcher.submit(entry.generator, z, y))
        breed_name = entry.payload["breeds"][labels[0]] if breed else "any"
        stem = file_stem(variant, breed_name, f"seed{seed}", *([f"t{truncation:g}"] if truncation else []))
        body, media_type, filename = await asyncio.to_thread(encode, images, format, stem)
        return Response(body, media_type=media_type, headers={"Content-Disposition": f'inline; filename="{filename}"'})

    return app


def main(argv=None):
    import uvicorn

    from doggan.cli import set_threads

    parser = argparse.ArgumentParser(prog="doggan serve", description="A web page and an HTTP API over the trained generators.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on, 1 to 65535")
    parser.add_argument("--models", default="models", help="folder holding <variant>/seed<N>/generator.pt")
    parser.add_argument("--metrics", default="reports/metrics", help="folder holding <variant>/seed<N>.json scores")
    parser.add_argument("--training-seed", type=int, help="serve the generators of this training seed (default: each "
                                                            "variant's first)")
    parser.add_argument("--batch-size", type=int, default=PASS_SIZE,
                        help="images per forward pass, always (padded): 16 is fastest on a CPU, raise it on a GPU")
    parser.add_argument("--one-at-a-time", action="store_true",
                        help="never pack two requests into one pass (to measure what batching gains)")
    parser.add_argument("--device", default="auto", help="auto (a free GPU, else the CPU), cpu, cuda or cuda:N")
    args = parser.parse_args(argv)
    if not 1 <= args.port <= 65535:  # uvicorn would fail only after start-up, with a traceback
        raise UserError(f"--port: expected 1 to 65535, got {args.port}")
    if args.batch_size < 1:
        raise UserError(f"--batch-size: expected an integer >= 1, got {args.batch_size}")
    device = pick_device(args.device)  # on CUDA with deterministic kernels: the same query, the same bytes
    set_threads()
    variants = load_variants(Path(args.models), Path(args.metrics), device, args.training_seed)
    serving = [name for name, v in variants.items() if v.generator is not None]
    if not serving:
        found = "".join(f"; {name}: {v.reason}" for name, v in variants.items())
        raise UserError(f"no trained generator in {args.models}/ ({TRAIN_HINT}){found}")
    for name, v in variants.items():
        if v.generator is None:
            print(f"warning: {name} is unavailable: {v.reason}")
    print(f"serving {', '.join(serving)} on http://{args.host}:{args.port}/ ({device})", flush=True)
    uvicorn.run(create_app(variants, args.batch_size, not args.one_at_a_time, device), host=args.host, port=args.port)
