"""A training checkpoint is resumed only by the run that wrote it: the fingerprint of steps/train.py
covers everything that shapes the run's bytes, so an edit of a label or of a module the run imports,
made after a kill, starts the run over instead of finishing a generator of two versions."""

import importlib.util
import shutil
from pathlib import Path

import pytest
import torch

import doggan
from conftest import ROOT, variant_config
from doggan.imports import closure, variant_file


def train_step_module():
    spec = importlib.util.spec_from_file_location("train_step", ROOT / "steps/train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def copy_of_the_code(tmp_path, monkeypatch):
    """A copy of src/ that the fingerprint reads as the running doggan's source."""
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src", src, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(doggan, "__file__", str(src / "doggan/__init__.py"))
    return src


def test_the_fingerprint_covers_labels_code_device_and_threads(tmp_path, copy_of_the_code, monkeypatch):
    step = train_step_module()
    fingerprint = step.fingerprint
    crops, table = tmp_path / "crops.npy", tmp_path / "crops.csv"
    crops.write_bytes(b"pixels")
    table.write_text("row,image_id,breed,label\n0,n1,pug,0\n")
    cfg = variant_config("dcgan")

    def current():
        return fingerprint("dcgan", cfg, 0, [crops, table], torch.device("cpu"))

    start = current()
    assert current() == start  # a pure function of what it reads

    def changes(edit, undo):
        edit()
        try:
            return current() != start
        finally:
            undo()
            assert current() == start

    text = table.read_text()
    assert changes(lambda: table.write_text(text.replace(",0\n", ",1\n")), lambda: table.write_text(text))  # a label
    run_modules = closure(ROOT / "steps/train.py", variant_file("dcgan", copy_of_the_code), src=copy_of_the_code)
    for module in ["doggan/models/layers.py", "doggan/training/loop.py", "doggan/models/dcgan.py"]:
        path = copy_of_the_code / module
        assert str(path) in run_modules or module.endswith("dcgan.py")
        original = path.read_text()
        assert changes(lambda: path.write_text(original + "# an edit\n"), lambda: path.write_text(original)), module
    other = copy_of_the_code / "doggan/models/biggan.py"  # another variant's module: not this run's code
    original = other.read_text()
    assert not changes(lambda: other.write_text(original + "# an edit\n"), lambda: other.write_text(original))
    threads = torch.get_num_threads()
    assert changes(lambda: torch.set_num_threads(threads + 1), lambda: torch.set_num_threads(threads))
    describe = step.describe
    monkeypatch.setattr(step, "describe", lambda device: {**describe(device), "type": "cuda", "model": "NVIDIA H200"})
    assert current() != start  # another device


def test_a_checkpoint_of_another_fingerprint_starts_the_run_over(tmp_path):
    """What the fingerprint is for: train() resumes only a checkpoint with its own."""
    from test_training import data, generator_bytes, tiny_model

    from doggan.training.loop import train

    images, labels = data()
    train(tiny_model(), images, labels, seed=0, checkpoint_path=tmp_path / "c.pt", fingerprint="old code",
          stop_after=3)
    fresh = tiny_model()
    train(fresh, images, labels, seed=0, checkpoint_path=tmp_path / "c.pt", fingerprint="new code")
    whole = tiny_model()
    train(whole, images, labels, seed=0, checkpoint_path=tmp_path / "w.pt", fingerprint="new code")
    assert generator_bytes(fresh) == generator_bytes(whole)
    assert Path(tmp_path / "c.pt").is_file()


@pytest.mark.parametrize("omp", ["1", "3"])
def test_the_threads_param_sets_blas_threads_whatever_the_driver_exports(omp):
    """The fingerprint names `threads`, so every library that sums in parallel must follow it: the
    BLAS under numpy and scipy (the cheap FID's Fréchet distance) as well as torch, not the
    OMP_NUM_THREADS that Snakemake exports to a job granted fewer cores."""
    import json
    import os
    import subprocess
    import sys

    script = ("import json; from threadpoolctl import threadpool_info; from doggan.device import torch_setup;"
              "import torch; torch_setup({'threads': 2, 'device': 'cpu'});"
              "print(json.dumps([torch.get_num_threads()] + [p['num_threads'] for p in threadpool_info()"
              " if p['user_api'] == 'blas']))")
    env = dict(os.environ, OMP_NUM_THREADS=omp)
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    threads = json.loads(out.stdout)
    assert len(threads) >= 2 and set(threads) == {2}  # torch and at least one BLAS (numpy's, scipy's)
