"""The commands a newcomer types first: `python -m doggan.generate`, `python -m doggan.score` and
bare `doggan`. Bad input is one line naming the option or the file, exit 2, never a traceback or a
silently wrong picture; files written get the mode a plain open() gives."""

import json
import os
import stat
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from doggan import generate, score
from doggan.cli import run
from doggan.generate import save_generator, write_submission
from doggan.io import write_text

from conftest import ROOT
from test_training import tiny_model

BREEDS = ["Chihuahua", "Maltese_dog", "pug"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Tiny untrained generators: biggan conditional, dcgan not."""
    root = tmp_path_factory.mktemp("models")
    for variant in ("biggan", "dcgan"):
        save_generator(root / variant / "seed0" / "generator.pt", tiny_model(variant), variant, BREEDS, [5, 3, 2])
    return root


def call(monkeypatch, main, *argv):
    """`main` as its console entry runs it (doggan.cli.run): the exit code, or None where it returned."""
    monkeypatch.setattr(sys, "argv", ["prog", *map(str, argv)])
    try:
        run(main)
    except SystemExit as stop:
        return stop.code
    return None


def refused(monkeypatch, capsys, main, *argv):
    """The one line `main` refuses argv with (exit 2)."""
    code = call(monkeypatch, main, *argv)
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    return err


def draw(monkeypatch, models, *argv):
    assert call(monkeypatch, generate.main, "--models", models, "--device", "cpu", *argv) is None


@pytest.mark.parametrize("argv, says", [
    (["-n", "0"], "error: -n: expected at least 1 image, got 0"),
    (["-n", "-3"], "error: -n: expected at least 1 image, got -3"),
    (["--seed", "-1"], "error: --seed: expected 0 to 2^63 - 1, got -1"),
    (["--seed", "-1", "--breed", "pug"], "error: --seed: expected 0 to 2^63 - 1, got -1"),  # was drawn silently
    (["--seed", str(2**63)], "error: --seed: expected 0 to 2^63 - 1"),
    (["--truncation", "-2"], "error: --truncation: expected 0 (off) or 0.05 to 4, got -2"),
    (["--truncation", "nan"], "error: --truncation: expected 0 (off) or 0.05 to 4, got nan"),
    (["--truncation", "0.001"], "error: --truncation: expected 0 (off) or 0.05 to 4"),  # would redraw for ever
    (["-o", "dogs.gif"], "error: -o dogs.gif: name a .png, .jpg or .jpeg file"),
    (["-o", "dogs"], "error: -o dogs: name a .png, .jpg or .jpeg file"),
    (["--variant", "foo"], "error: --variant foo: not a variant (known: autoencoder, biggan, cdcgan, dcgan, gan, plain_dcgan, progan)"),
    (["--variant", "progan"], "error: --variant progan: no trained generator in"),
    (["--variant", "biggan", "--training-seed", "2"], "error: {models}/biggan: no generator of training seed 2 (seeds there: 0)"),
    (["--variant", "dcgan", "--breed", "pug"], "error: breed: dcgan is unconditional"),
    (["--breed", "Maltese"], "error: breed: unknown breed 'Maltese' (known: Chihuahua, Maltese_dog, pug)"),
])
def test_generate_refuses_bad_options_in_one_line(models, tmp_path, monkeypatch, capsys, argv, says):
    monkeypatch.chdir(tmp_path)
    err = refused(monkeypatch, capsys, generate.main, "--variant", "biggan", "--models", models, "--device", "cpu", *argv)
    assert err.startswith(says.format(models=models))
    assert not list(tmp_path.iterdir())  # nothing written


def junk_text(path):
    path.write_bytes(b"hello world\n")  # torch.load says `KeyError: 101`, as the junk said `KeyError: 174812789`


def cut_short(path):
    save_generator(path, tiny_model("biggan"), "biggan", BREEDS, [5, 3, 2])
    path.write_bytes(path.read_bytes()[:3000])


def without_weights(path):
    torch.save({"variant": "biggan", "breeds": BREEDS}, path)


def other_variant(path):  # a dcgan copied into models/biggan/: drawn and labelled as biggan before
    save_generator(path, tiny_model("dcgan"), "dcgan", BREEDS, [5, 3, 2])


def other_shapes(path):  # weights of 2 breeds under a list of 3
    model = tiny_model("biggan", n_classes=2)
    save_generator(path, model, "biggan", BREEDS, [5, 3, 2])


@pytest.mark.parametrize("corrupt, says", [
    (lambda p: p.write_bytes(bytes(range(256)) * 4), "not a readable generator, torch.load(weights_only=True) refuses it"),
    (junk_text, "not a readable generator (not a file torch.save wrote, or one cut short)"),
    (lambda p: p.write_bytes(b""), "not a readable generator (not a file torch.save wrote, or one cut short)"),
    (cut_short, "not a readable generator (not a file torch.save wrote, or one cut short)"),
    (without_weights, "not a generator, it lacks config, class_counts, state_dict"),
    (other_variant, "it holds a dcgan generator, not biggan"),
    (other_shapes, "its biggan generator does not fit this code (Error(s) in loading state_dict"),
])
def test_generate_names_an_unreadable_generator_file(tmp_path, monkeypatch, capsys, corrupt, says):
    path = tmp_path / "models" / "biggan" / "seed0" / "generator.pt"
    path.parent.mkdir(parents=True)
    corrupt(path)
    err = refused(monkeypatch, capsys, generate.main, "--variant", "biggan", "--models", tmp_path / "models",
                  "--device", "cpu", "-o", tmp_path / "out.png")
    assert err.startswith(f"error: cannot load {path}: {says}")
    assert not (tmp_path / "out.png").exists()


def test_generate_writes_the_format_its_suffix_names(models, tmp_path, monkeypatch, capsys):
    for name in ("dogs.png", "dogs.jpg", "DOGS.JPEG"):
        draw(monkeypatch, models, "--variant", "biggan", "-n", "3", "-o", tmp_path / name)
    formats = {name: Image.open(tmp_path / name).format for name in ("dogs.png", "dogs.jpg", "DOGS.JPEG")}
    assert formats == {"dogs.png": "PNG", "dogs.jpg": "JPEG", "DOGS.JPEG": "JPEG"}
    grid = np.asarray(Image.open(tmp_path / "dogs.png"))
    assert (tmp_path / "dogs.jpg").read_bytes() == generate.image_bytes(grid, "JPEG")  # the same grid
    assert "PNG for .png, JPEG for .jpg or .jpeg (others are refused)" in generate_help(monkeypatch, capsys)


def generate_help(monkeypatch, capsys):
    assert call(monkeypatch, generate.main, "--help") == 0
    return " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("shown", ["Maltese dog", "maltese DOG", " Maltese  dog ", "MALTESE_DOG"])
def test_generate_takes_a_breed_as_the_report_shows_it(models, tmp_path, monkeypatch, capsys, shown):
    draw(monkeypatch, models, "--variant", "biggan", "--breed", "Maltese_dog", "-n", "4", "-o", tmp_path / "folder.png")
    draw(monkeypatch, models, "--variant", "biggan", "--breed", shown, "-n", "4", "-o", tmp_path / "shown.png")
    assert (tmp_path / "shown.png").read_bytes() == (tmp_path / "folder.png").read_bytes()
    assert capsys.readouterr().out.endswith(f"wrote 4 samples of Maltese dog to {tmp_path / 'shown.png'}\n")


def test_bare_doggan_lists_the_commands(monkeypatch, capsys):
    from doggan.__main__ import dispatch

    assert call(monkeypatch, dispatch) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("usage: doggan COMMAND [OPTIONS]")
    assert err[1].split() == ["doggan", "serve", "[--host", "127.0.0.1]", "[--port", "8000]", "[--models", "models]",
                              "[--device", "auto]", "a", "web", "page", "and", "an", "HTTP", "API", "over", "the",
                              "trained", "generators"]
    assert call(monkeypatch, dispatch, "--help") is None
    assert capsys.readouterr().out.splitlines()[:2] == err[:2]
    assert refused(monkeypatch, capsys, dispatch, "sreve") == \
        "error: 'sreve' is not a command (commands: serve; `doggan --help` says what they do)\n"


@pytest.fixture
def umask():
    """Set the process umask for one test, then put it back."""
    masks = []
    yield lambda mask: masks.append(os.umask(mask))
    if masks:
        os.umask(masks[0])


@pytest.mark.parametrize("mask", [0o022, 0o027], ids=["umask022", "umask027"])
def test_written_files_get_the_mode_open_gives(models, tmp_path, monkeypatch, umask, mask):
    umask(mask)
    write_text(tmp_path / "plain.txt", "x")
    draw(monkeypatch, models, "--variant", "dcgan", "-n", "2", "-o", tmp_path / "dogs.png")
    with open(tmp_path / "opened.txt", "w"):
        pass
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in tmp_path.iterdir()}
    assert modes == {"plain.txt": 0o666 & ~mask, "dogs.png": 0o666 & ~mask, "opened.txt": 0o666 & ~mask}


@pytest.fixture
def scoring(tmp_path):
    """A 60-image submission, a reference of 60 features from a tiny featnet, and the featnet."""
    from doggan.metrics.features import RotNetFeatures, extract_features
    from doggan.metrics.rotnet import RotNet, save_featnet

    torch.manual_seed(0)
    net = RotNet(width=4, features=8).eval()
    save_featnet(net, tmp_path / "featnet.pt")
    rng = np.random.default_rng(0)
    write_submission(tmp_path / "s.zip", rng.integers(0, 256, (60, 64, 64, 3), dtype=np.uint8))
    real = extract_features(RotNetFeatures(net), rng.integers(0, 256, (60, 64, 64, 3), dtype=np.uint8)).astype(np.float64)
    np.savez(tmp_path / "reference.npz", mu=real.mean(0), sigma=np.cov(real, rowvar=False), features=real.astype(np.float32),
             network="rotnet", cosine_eps=0.1)
    return ["score", tmp_path / "s.zip", "--expected", "60", "--reference", tmp_path / "reference.npz",
            "--params", ROOT / "params.yaml", "--device", "cpu"]


@pytest.mark.parametrize("corrupt", [lambda p: p.write_bytes(b"not a featnet\n" * 8),
                                     lambda p: p.write_bytes(bytes(range(256)) * 4),
                                     lambda p: torch.save({"state_dict": {}}, p)])
def test_score_names_an_unreadable_featnet(scoring, tmp_path, monkeypatch, capsys, corrupt):
    corrupt(tmp_path / "bad.pt")
    err = refused(monkeypatch, capsys, score.main, *scoring[1:], "--featnet", tmp_path / "bad.pt")
    assert err == f"error: --featnet: {tmp_path / 'bad.pt'} is not readable rotnet weights (junk, a copy cut short, " \
                  "or another network's)\n"


def test_score_shows_progress_on_stderr_and_one_line_of_json_on_stdout(scoring, tmp_path, monkeypatch, capsys):
    assert call(monkeypatch, score.main, *scoring[1:], "--featnet", tmp_path / "featnet.pt") is None
    out, err = capsys.readouterr()
    assert json.loads(out)["n"] == 60 and out.count("\n") == 1
    assert "features: 100%" in err and "2/2" in err  # 60 images at metric.batch_size 50
