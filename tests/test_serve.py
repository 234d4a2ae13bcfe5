"""doggan serve: the API through FastAPI's test client against references computed here with
doggan.generate, the batching worker, and the page in headless Chromium against the real server."""

import base64
import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
import tomllib
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from doggan import generate
from doggan.generate import load_generator, png_bytes, sample, save_generator
from doggan.io import image_grid
from doggan.serve.app import create_app
from doggan.serve.generators import Batcher, load_variants

from browser import Chromium
from conftest import ROOT, headless_chromium
from test_training import tiny_model

BREEDS = ["Chihuahua", "Kerry_blue_terrier", "pug"]
SCORE = {"fid": 4.8, "kid": 0.0412, "kid_std": 0.0021, "precision": 0.61, "recall": 0.12, "density": 0.43,
         "coverage": 0.2, "mifid": 4.8, "distance": 0.034, "distance_thresholded": 1.0, "cosine_eps": 0.004,
         "network": "rotnet", "n": 10000}
SHOWN = ("fid", "kid", "kid_std", "precision", "recall", "density", "coverage", "mifid", "distance", "network", "n")


def write_models(root, variants=("dcgan", "biggan"), scored=("biggan",), breeds=BREEDS):
    """Tiny untrained generators as train@V saves them (dcgan unconditional, biggan conditional), scores for
    `scored`, each one FID point better than the one before."""
    for variant in variants:
        save_generator(root / "models" / variant / "seed0" / "generator.pt", tiny_model(variant, n_classes=len(breeds)), variant,
                       breeds, [5, 3, 2] if breeds == BREEDS else [1] * len(breeds))
    (root / "metrics").mkdir(exist_ok=True)
    for i, variant in enumerate(scored):
        (root / "metrics" / variant).mkdir(exist_ok=True)
        (root / "metrics" / variant / "seed0.json").write_text(json.dumps({**SCORE, "fid": SCORE["fid"] - i, "seconds": 3.0}))
    return root / "models", root / "metrics"


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return write_models(tmp_path_factory.mktemp("serve"))


@pytest.fixture(scope="module")
def scored_folders(tmp_path_factory):
    """dcgan scored better than biggan, which comes first in the registry; biggan's breeds judged."""
    models, metrics = write_models(tmp_path_factory.mktemp("serve_scored"), scored=("biggan", "dcgan"))
    write_breed_scores(metrics)
    return models, metrics


def write_breed_scores(metrics):
    """biggan's seed 0 per-breed scores, as the breeds stage writes them."""
    (metrics.parent / "breeds" / "biggan").mkdir(parents=True)
    (metrics.parent / "breeds" / "biggan" / "seed0.json").write_text(json.dumps({
        "accuracy": {"top1": 0.5, "top5": 0.9, "per_breed": {
            "pug": {"top1": 0.75, "top5": 1.0, "mistaken_for": "Maltese_dog", "mistaken_share": 0.2}}},
        "kid": {"mean": 0.02, "worst": ["pug"], "per_breed": {"pug": {"kid": 0.02, "kid_std": 0.001}}}}))


@pytest.fixture(scope="module")
def client(folders):
    with TestClient(create_app(load_variants(*folders))) as client:
        yield client


def expected_images(models, variant, labels, seed, truncation=0.0):
    """What doggan.generate draws for these labels and seed, from a generator loaded on its own."""
    generator, payload = load_generator(models / variant / "seed0" / "generator.pt")
    return sample(generator, payload, labels, truncation, seed, batch_size=16, pad=True)


def test_variants_lists_breeds_and_scores(client):
    listed = client.get("/api/variants").json()["variants"]
    assert [v["name"] for v in listed] == ["biggan", "dcgan"]  # the registry's order
    biggan, dcgan = listed
    assert dcgan["available"] and not dcgan["conditional"] and dcgan["score"] is None
    assert "breeds" not in dcgan  # it refuses a breed: listing some would invite one
    assert biggan["conditional"] and biggan["breeds"] == BREEDS
    assert biggan["score"] == {k: SCORE[k] for k in SHOWN}


@pytest.mark.parametrize("variant, breed, n, seed, truncation", [
    ("biggan", "pug", 16, 7, 0.0),
    ("biggan", "kerry_BLUE_terrier", 5, 0, 0.5),  # any case; a pass padded from 5 rows
    ("biggan", None, 40, 3, 0.0),  # breeds drawn uniformly; three passes
    ("dcgan", None, 1, 2**63 - 1, 1.0),
])
def test_png_grid_is_what_generate_draws(client, folders, variant, breed, n, seed, truncation):
    query = {"variant": variant, "n": n, "seed": seed, "truncation": truncation, **({"breed": breed} if breed else {})}
    response = client.get("/api/generate", params=query)
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    if breed:
        labels = np.full(n, [b.lower() for b in BREEDS].index(breed.lower()))
    else:
        labels = np.random.default_rng(seed).choice(len(BREEDS), size=n, p=np.full(3, 1 / 3))
    columns = min(8, n)
    assert response.content == png_bytes(image_grid(expected_images(folders[0], variant, labels, seed, truncation), columns))
    width, height = Image.open(io.BytesIO(response.content)).size
    assert (width, height) == (columns * 66 + 2, -(-n // columns) * 66 + 2)
    assert client.get("/api/generate", params=query).content == response.content  # same query, same bytes
    assert client.get("/api/generate", params={**query, "seed": seed - 1}).content != response.content


def test_zip_holds_one_64px_png_per_image(client, folders):
    response = client.get("/api/generate", params={"variant": "biggan", "breed": "pug", "n": 3, "seed": 5, "format": "zip"})
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"] == 'inline; filename="biggan_pug_seed5.zip"'
    expected = expected_images(folders[0], "biggan", np.full(3, 2), seed=5)
    with zipfile.ZipFile(io.BytesIO(response.content)) as zf:
        assert zf.namelist() == [f"biggan_pug_seed5_{i:02d}.png" for i in range(3)]
        for name, image in zip(zf.namelist(), expected):
            decoded = Image.open(io.BytesIO(zf.read(name)))
            assert decoded.format == "PNG" and decoded.mode == "RGB" and decoded.size == (64, 64)
            assert np.array_equal(np.asarray(decoded), image)
    again = client.get("/api/generate", params={"variant": "biggan", "breed": "pug", "n": 3, "seed": 5, "format": "zip"})
    assert again.content == response.content  # fixed member dates


@pytest.mark.parametrize("device", [  # the client's app runs on the CPU
    pytest.param([], marks=pytest.mark.skipif(torch.cuda.is_available(), reason="the default, auto, takes the GPU")),
    ["--device", "cpu"]])
def test_cli_draws_the_same_bytes_as_the_api(client, folders, tmp_path, device):
    generate.main(["--variant", "biggan", "--breed", "pug", "-n", "12", "--seed", "4", "--models", str(folders[0]),
                   "-o", str(tmp_path / "cli.png"), *device])
    api = client.get("/api/generate", params={"variant": "biggan", "breed": "pug", "n": 12, "seed": 4})
    assert (tmp_path / "cli.png").read_bytes() == api.content


def test_doggan_serve_on_the_cpu_answers_with_the_bytes_of_the_cli(folders, tmp_path, monkeypatch, capsys):
    import uvicorn

    from doggan.serve.app import main

    apps = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: apps.append(app))
    monkeypatch.setattr("doggan.cli.set_threads", lambda: None)  # keep this process's thread count: the bytes depend on it
    main(["--models", str(folders[0]), "--metrics", str(folders[1]), "--device", "cpu"])
    assert capsys.readouterr().out.endswith("(cpu)\n")
    generate.main(["--variant", "biggan", "--breed", "pug", "-n", "5", "--seed", "9", "--models", str(folders[0]),
                   "-o", str(tmp_path / "cli.png"), "--device", "cpu"])
    with TestClient(apps[0]) as client:
        api = client.get("/api/generate", params={"variant": "biggan", "breed": "pug", "n": 5, "seed": 9})
    assert (tmp_path / "cli.png").read_bytes() == api.content


@pytest.mark.skipif(torch.cuda.is_available(), reason="torch sees a CUDA GPU here")
@pytest.mark.parametrize("argv", [["python -m doggan.generate", "--variant", "biggan"], ["doggan", "serve"]])
def test_device_cuda_without_a_gpu_is_refused_in_one_line(folders, argv, monkeypatch, capsys):
    from doggan.__main__ import main as doggan
    from doggan.cli import run

    monkeypatch.setattr(sys, "argv", [*argv, "--models", str(folders[0]), "--device", "cuda"])
    with pytest.raises(SystemExit) as stop:
        if argv[0] == "doggan":
            doggan()
        else:
            run(generate.main)  # as `python -m doggan.generate` runs it
    assert stop.value.code == 2
    assert capsys.readouterr().err == "error: device: cuda asked for, but torch sees no CUDA GPU here (use auto or cpu)\n"


def test_an_unknown_breed_among_stanfords_120_is_answered_with_those_like_it():
    from doggan.data.demo import BREEDS

    payload = {"variant": "biggan", "breeds": sorted(breed for _, breed, _ in BREEDS)}
    assert generate.breed_label(payload, "TOY_poodle") == payload["breeds"].index("toy_poodle")
    assert generate.breed_label(payload, "Toy poodle") == payload["breeds"].index("toy_poodle")  # as the page shows it
    assert generate.breed_label(payload, " german  SHEPHERD") == payload["breeds"].index("German_shepherd")
    with pytest.raises(generate.UnknownBreed, match=r"'german shep' \(120 known, like it: German_shepherd\)$"):
        generate.breed_label(payload, "german shep")  # near names are found as shown, too
    with pytest.raises(generate.UnknownBreed, match=r"'poodle' \(120 known, like it: miniature_poodle, standard_poodle, toy_poodle\)$"):
        generate.breed_label(payload, "poodle")
    with pytest.raises(generate.UnknownBreed, match="like it: beagle"):
        generate.breed_label(payload, "beagel")


@pytest.mark.parametrize("query, status, says", [
    ({"variant": "stylegan"}, 404, "unknown variant 'stylegan' (known: biggan, dcgan)"),
    ({"variant": "biggan", "breed": "poodle"}, 404, "unknown breed 'poodle' (known: Chihuahua, Kerry_blue_terrier, pug)"),
    ({"variant": "dcgan", "breed": "pug"}, 422, "breed: dcgan is unconditional"),
    ({"variant": "biggan", "n": 0}, 422, "n: Input should be greater than or equal to 1"),
    ({"variant": "biggan", "n": 65}, 422, "n: Input should be less than or equal to 64"),
    ({"variant": "biggan", "n": "2.5"}, 422, "n: Input should be a valid integer"),
    ({"variant": "biggan", "seed": -1}, 422, "seed: Input should be greater than or equal to 0"),
    ({"variant": "biggan", "seed": 2**63}, 422, "seed: Input should be less than or equal to"),
    ({"variant": "biggan", "truncation": 0.001}, 422, "truncation: Value error, 0 (off) or 0.05 to 4, got 0.001"),
    ({"variant": "biggan", "truncation": "nan"}, 422, "truncation: Input should be a finite number"),
    ({"variant": "biggan", "format": "gif"}, 422, "format: Input should be 'png' or 'zip'"),
    ({"n": 4}, 422, "variant: Field required"),
])
def test_bad_input_is_one_line_of_json(client, query, status, says):
    response = client.get("/api/generate", params=query)
    assert response.status_code == status
    error = response.json()["error"]
    assert says in error and "\n" not in error and list(response.json()) == ["error"]


@pytest.mark.parametrize("shown", ["Kerry blue terrier", "kerry BLUE terrier", "  Kerry  blue_terrier "])
def test_a_breed_is_taken_as_the_page_shows_it(client, shown):
    query = {"variant": "biggan", "n": 3, "seed": 1}
    folder = client.get("/api/generate", params={**query, "breed": "Kerry_blue_terrier"})
    response = client.get("/api/generate", params={**query, "breed": shown})
    assert response.status_code == 200 and response.content == folder.content
    assert response.headers["content-disposition"] == 'inline; filename="biggan_Kerry_blue_terrier_seed1.png"'


@pytest.mark.parametrize("route", ["/docs", "/redoc"])
def test_api_docs_need_no_network(client, route):
    """FastAPI's Swagger UI and ReDoc pages load their scripts from a CDN: blank offline."""
    response = client.get(route)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "<script" not in response.text and "http" not in response.text
    assert '<a href="openapi.json">/openapi.json</a>' in response.text
    assert "<code>GET /api/generate</code>" in response.text and "<code>truncation</code>: redraw |z|" in response.text


def test_other_routes_answer_json_errors(client):
    assert client.get("/api/nothing").json() == {"error": "Not Found"}
    assert client.post("/api/variants").status_code == 405
    assert "/api/generate" in client.get("/openapi.json").json()["paths"]
    assert 'id="grid"' in client.get("/").text


@pytest.mark.parametrize("name", ["../outside", "..%2Foutside", "/tmp", "dcgan/../biggan", "dcgan/", "models"])
def test_path_characters_never_reach_the_file_system(folders, name, monkeypatch):
    outside = folders[0].parent / "outside"  # a real generator where ../outside would lead
    save_generator(outside / "seed0" / "generator.pt", tiny_model("dcgan"), "dcgan", BREEDS, [5, 3, 2])
    with TestClient(create_app(load_variants(*folders))) as client:
        monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("a request loaded a file"))
        response = client.get("/api/generate", params={"variant": name})
    assert response.status_code == 404 and "known: biggan, dcgan" in response.json()["error"]


def test_generators_load_once_and_stay_cached(tmp_path, monkeypatch):
    import doggan.serve.generators as generators

    models, metrics = write_models(tmp_path)
    loads = []
    monkeypatch.setattr(generators, "load_generator", lambda path, *rest: loads.append(path) or load_generator(path, *rest))
    with TestClient(create_app(load_variants(models, metrics))) as client:
        (models / "biggan" / "seed0" / "generator.pt").unlink()
        for seed in range(3):
            assert client.get("/api/generate", params={"variant": "biggan", "seed": seed}).status_code == 200
    assert sorted(p.parent.parent.name for p in loads) == ["biggan", "dcgan"]


def test_serve_takes_the_first_training_seed_or_the_one_asked_for(tmp_path):
    """Each variant serves its first trained seed, or --training-seed's where it has one; a variant without
    that seed is listed with the seeds it has. The page shows the FID's spread over seeds."""
    models, metrics = write_models(tmp_path)
    save_generator(models / "biggan" / "seed3" / "generator.pt", tiny_model("biggan", n_classes=3), "biggan", BREEDS, [5, 3, 2])
    (metrics.parent / "aggregate.json").write_text(json.dumps(
        {"variants": {"biggan": {"fid": {"mean": 4.5, "std": 0.4, "n": 2}}}}))
    write_breed_scores(metrics)
    first = {v.name: v for v in load_variants(models, metrics).values()}
    assert first["biggan"].seed == 0 and first["biggan"].score["fid"] == SCORE["fid"]
    assert first["biggan"].describe()["spread"] == {"fid_mean": 4.5, "fid_std": 0.4, "seeds": 2}
    assert first["biggan"].describe()["breed_scores"] == {"pug": {"top1": 0.75, "top5": 1.0, "kid": 0.02,
                                                                  "mistaken_for": "Maltese_dog", "mistaken_share": 0.2}}
    assert "breed_scores" not in first["dcgan"].describe()  # unconditional: no breed to score
    third = load_variants(models, metrics, seed=3)
    assert third["biggan"].seed == 3 and third["biggan"].score is None  # seed 3 was never scored
    assert third["dcgan"].reason.startswith(f"{models / 'dcgan'}: no generator of training seed 3 (seeds there: 0)")


class RunsCode:
    """A pickle that runs code when unpickled without weights_only."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (str(self.marker),)


def test_broken_generators_are_listed_with_the_reason_and_the_others_serve(tmp_path):
    models, metrics = write_models(tmp_path, ["dcgan", "biggan"])
    (models / "progan").mkdir()  # a folder, no seed in it
    for variant in ("cdcgan", "gan"):
        (models / variant / "seed0").mkdir(parents=True)
    whole = (models / "biggan" / "seed0" / "generator.pt").read_bytes()
    (models / "biggan" / "seed0" / "generator.pt").write_bytes(whole[: len(whole) // 2])  # a copy cut short
    torch.save({"variant": "cdcgan", "config": RunsCode(tmp_path / "pwned")}, models / "cdcgan" / "seed0" / "generator.pt")
    save_generator(models / "gan" / "seed0" / "generator.pt", tiny_model("dcgan"), "dcgan", BREEDS, [1, 1, 1])  # copied over
    with TestClient(create_app(load_variants(models, metrics))) as client:
        listed = {v["name"]: v for v in client.get("/api/variants").json()["variants"]}
        assert list(listed) == ["biggan", "cdcgan", "dcgan", "gan", "progan"]
        assert listed["dcgan"]["available"]
        reasons = {name: v["reason"] for name, v in listed.items() if not v["available"]}
        assert reasons["biggan"] == (f"cannot load {models / 'biggan' / 'seed0' / 'generator.pt'}: not a readable generator "
                                     "(not a file torch.save wrote, or one cut short)")
        assert "weights_only=True" in reasons["cdcgan"] and not (tmp_path / "pwned").exists()
        assert reasons["progan"].startswith(f"{models / 'progan'}: no trained generator (no seed<N>/generator.pt)")
        assert "holds a dcgan generator" in reasons["gan"]
        response = client.get("/api/generate", params={"variant": "biggan"})
        assert response.status_code == 503 and response.json()["error"].startswith("variant: biggan is unavailable: cannot load")
        assert client.get("/api/generate", params={"variant": "dcgan"}).status_code == 200


@pytest.mark.parametrize("junk", [b"hello world\n", b""])
def test_a_junk_generator_is_listed_as_not_a_readable_generator(tmp_path, junk):
    models, metrics = write_models(tmp_path, ["dcgan"])
    path = models / "biggan" / "seed0" / "generator.pt"
    path.parent.mkdir(parents=True)
    path.write_bytes(junk)  # torch.load says `KeyError: 101`, or an EOFError of no words
    with TestClient(create_app(load_variants(models, metrics))) as client:
        biggan = client.get("/api/variants").json()["variants"][0]
        assert biggan == {"name": "biggan", "available": False,
                          "reason": f"cannot load {path}: not a readable generator (not a file torch.save wrote, or one cut short)"}


@pytest.mark.parametrize("port", ["80000", "0", "-1"])
def test_doggan_serve_refuses_a_port_out_of_range_before_anything(port, monkeypatch, capsys):
    import uvicorn

    import doggan.serve.app as app
    from doggan.__main__ import main

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("started a server"))
    monkeypatch.setattr(app, "load_variants", lambda *a, **k: pytest.fail("loaded the generators"))
    monkeypatch.setattr(sys, "argv", ["doggan", "serve", "--port", port])
    with pytest.raises(SystemExit) as stop:
        main()
    out, err = capsys.readouterr()
    assert stop.value.code == 2 and out == "" and err == f"error: --port: expected 1 to 65535, got {port}\n"


def test_doggan_serve_without_generators_says_so_in_one_line(tmp_path, monkeypatch, capsys):
    from doggan.__main__ import main

    (tmp_path / "models" / "biggan").mkdir(parents=True)
    monkeypatch.setattr(sys, "argv", ["doggan", "serve", "--models", str(tmp_path / "models")])
    with pytest.raises(SystemExit) as stop:
        main()
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.count("\n") == 1
    assert err.startswith(f"error: no trained generator in {tmp_path / 'models'}/ (`make repro` trains models/, `make quality` data/quality/models/); biggan: {tmp_path / 'models' / 'biggan'}: no trained generator")
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["doggan"] == "doggan.__main__:main"


def record_passes(generator):
    """Hold the first forward pass until released; record every pass's input rows."""
    passes, release = [], threading.Event()

    def hook(module, inputs):
        passes.append(inputs[0].clone())
        release.wait(timeout=30)

    generator.register_forward_pre_hook(hook)
    return passes, release


@pytest.mark.parametrize("batching, expected_passes", [(True, 4), (False, 6)])
def test_batcher_packs_waiting_requests_into_full_passes(folders, batching, expected_passes):
    generator, payload = load_generator(folders[0] / "biggan" / "seed0" / "generator.pt")
    passes, release = record_passes(generator)
    requests = [(3, 0), (5, 1), (4, 2), (9, 3), (20, 4)]  # (n, seed); rows 3 | 5 + 4 + 7 of 9 | 2 + 14 | 6
    batcher = Batcher(batch_size=16, batching=batching)
    try:
        futures = [batcher.submit(generator, *generate.sample_inputs(payload, np.arange(n) % 3, 0.0, seed))
                   for n, seed in requests[:1]]
        while not passes:  # the first request is in its pass: the others queue up behind it
            time.sleep(0.01)
        futures += [batcher.submit(generator, *generate.sample_inputs(payload, np.arange(n) % 3, 0.0, seed))
                    for n, seed in requests[1:]]
        release.set()
        images = [future.result(timeout=30) for future in futures]
    finally:
        batcher.close()
    assert len(passes) == expected_passes and all(len(rows) == 16 for rows in passes)
    for (n, seed), got in zip(requests, images):  # whatever shared its passes, the same bytes as alone
        assert np.array_equal(got, sample(generator, payload, np.arange(n) % 3, 0.0, seed, batch_size=16, pad=True))


def test_concurrent_requests_give_the_bytes_of_one_request_alone(client, folders):
    queries = [{"variant": "biggan", "n": n, "seed": seed, "breed": BREEDS[seed % 3]} for seed, n in enumerate([1, 7, 16, 3, 30, 2, 9, 5])]
    with ThreadPoolExecutor(len(queries)) as pool:
        together = list(pool.map(lambda q: client.get("/api/generate", params=q).content, queries))
    alone = [client.get("/api/generate", params=q).content for q in queries]
    assert together == alone


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(models, metrics, log_path):
    """`doggan serve` as a user starts it, on a free loopback port: its address. On the CPU, where
    the references here are drawn (auto would take a GPU where there is one)."""
    port = free_port()
    log = open(log_path, "w+")
    process = subprocess.Popen([sys.executable, "-m", "doggan", "serve", "--port", str(port), "--models", str(models),
                                "--metrics", str(metrics), "--device", "cpu"], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(url + "api/variants", timeout=5)
                break
            except OSError:
                log.seek(0)
                assert process.poll() is None and time.monotonic() < deadline, f"server did not start:\n{log.read()}"
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.fixture
def server(scored_folders, tmp_path):
    with serving(*scored_folders, tmp_path / "server.log") as url:
        yield url


def test_page_generates_a_breed_in_headless_chromium(server, scored_folders, tmp_path):
    browser = Chromium(headless_chromium(), tmp_path / "profile")
    try:
        browser.page("Page.navigate", url=server)
        first = browser.wait_for("document.getElementById('grid').dataset.query")  # the first grid, drawn on load
        assert first.startswith("variant=dcgan&")  # the best FID, though biggan comes first in the registry
        score = browser.evaluate("document.getElementById('score').textContent")
        assert "KID0.0412 ± 0.0021" in score and "precision0.61" in score and "FID3.80" in score
        browser.evaluate("""(() => {
            const set = (id, value) => { const el = document.getElementById(id); el.value = value; el.dispatchEvent(new Event('change')); };
            set('variant', 'biggan'); set('breed', 'pug'); set('n', '5'); set('seed', '11');
            document.getElementById('generate').click(); })()""")
        query = browser.wait_for("document.getElementById('grid').dataset.query?.includes('breed=pug') && document.getElementById('grid').dataset.query")
        assert query == "variant=biggan&breed=pug&n=5&seed=11"
        grid = browser.evaluate("(() => { const g = document.getElementById('grid'); return [g.complete, g.naturalWidth, g.naturalHeight]; })()")
        assert grid == [True, 5 * 66 + 2, 66 + 2]
        assert browser.evaluate("document.getElementById('status').className") != "error"
        assert browser.evaluate("location.search") == "?" + query  # the address is a permalink
        assert browser.evaluate("document.getElementById('breed-score').textContent") == (
            "pug: the breed judge names 75% of biggan's samples right (top 5: 100%), per-breed KID 0.0200; "
            "the breed it names most often instead: Maltese dog (20%).")
        saved = browser.evaluate("""new Promise((resolve) => {  // click the third dog: it is saved as a PNG of its own
            HTMLAnchorElement.prototype.click = function () {
                fetch(this.href).then((r) => r.blob()).then((blob) => {
                    const reader = new FileReader();
                    reader.onload = () => resolve([this.download, reader.result.split(',')[1]]);
                    reader.readAsDataURL(blob); }); };
            const grid = document.getElementById('grid'), box = grid.getBoundingClientRect(), scale = box.width / grid.naturalWidth;
            grid.dispatchEvent(new MouseEvent('click', { bubbles: true, clientX: box.left + (2 + 2 * 66 + 32) * scale,
                                                         clientY: box.top + (2 + 32) * scale })); })""")
        assert saved[0] == "biggan_pug_seed11_02.png"
        tile = np.asarray(Image.open(io.BytesIO(base64.b64decode(saved[1]))).convert("RGB"))
        assert np.array_equal(tile, expected_images(scored_folders[0], "biggan", np.full(5, 2), seed=11)[2])
    finally:
        browser.close()


def test_page_finds_a_breed_among_stanfords_120_by_search(tmp_path):
    from doggan.data.demo import STANFORD_BREEDS

    breeds = sorted(name.split("-", 1)[1] for name in STANFORD_BREEDS)
    folders = write_models(tmp_path, variants=("biggan",), breeds=breeds)
    with serving(*folders, tmp_path / "server.log") as url:
        browser = Chromium(headless_chromium(), tmp_path / "profile")
        try:
            browser.page("Page.navigate", url=url)
            browser.wait_for("document.getElementById('grid').dataset.query")
            assert browser.evaluate("document.getElementById('breed').options.length") == 121  # and "any breed"
            assert browser.evaluate("document.getElementById('breed-search').hidden") is False
            shown = browser.evaluate("""(() => {
                const search = document.getElementById('breed-search');
                search.value = 'Poodle'; search.dispatchEvent(new Event('input'));
                const breed = document.getElementById('breed');
                return [breed.value, [...breed.options].filter((o) => !o.hidden).map((o) => o.value)]; })()""")
            assert shown == ["miniature_poodle", ["", "miniature_poodle", "standard_poodle", "toy_poodle"]]
            browser.evaluate("document.getElementById('generate').click()")
            query = browser.wait_for("document.getElementById('grid').dataset.query?.includes('poodle') && "
                                     "document.getElementById('grid').dataset.query")
            assert query.startswith("variant=biggan&breed=miniature_poodle&")
        finally:
            browser.close()
