"""Shared fixtures: tiny configs and a throwaway copy of the project for end-to-end runs."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PROJECT_FILES = ["dvc.yaml", "Snakefile", "params.yaml", "steps", "src", ".dvc/config", ".dvcignore", ".gitignore"]


def tiny_params(params):
    """A few dozen images and a few steps: the whole pipeline in seconds."""
    params["demo"].update(n_images=36, n_breeds=3)
    params["crop"]["workers"] = 1
    params["featnet"].update(epochs=1, width=8, features=32)
    params["model"].update(steps=4, batch_size=8, checkpoint_every=2, log_every=1, fid_every=2, fid_samples=16)
    # two variants exercise the drivers (one inherits model.lr, one sets its own); tests/test_training.py
    # runs every variant through the loop
    params["variants"] = {v: params["variants"][v] for v in ("dcgan", "biggan")}
    tiny = {"ngf": 8, "ndf": 8, "channels": 16, "width": 8, "nz": 64, "g_ch": 4, "d_ch": 4, "resolution_steps": [1] * 5}
    for name, variant in params["variants"].items():
        variant.update({k: v for k, v in tiny.items() if k in variant})
        variant.pop("steps", None)
    params["variants"]["biggan"]["nz"] = 20
    params["variants"]["dcgan"].pop("lr")  # one variant inherits model.lr, one sets its own (biggan)
    params["generate"].update(n_images=40, batch_size=20)
    params["metric"]["batch_size"] = 50
    return params


def headless_chromium():
    """Debian's chromium for the browser tests; skipped where it is missing, but a failure under
    CI=true (.ci/run installs it), so CI cannot pass by skipping them."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        message = "headless Chromium (Debian package chromium) is not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true)")
        pytest.skip(message)
    return path


def run(cmd, cwd, check=True):
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1", "PYTHONWARNINGS": "ignore"}
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, shell=isinstance(cmd, str))
    if check and result.returncode != 0:
        raise AssertionError(f"{cmd} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def make_project(root):
    """A git repo at `root` holding the pipeline with tiny params."""
    for name in PROJECT_FILES:
        src, dst = ROOT / name, root / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, dst)
    params = tiny_params(yaml.safe_load((ROOT / "params.yaml").read_text()))
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run("git init -q -b main && git add -A && git -c user.name=t -c user.email=t@t commit -qm init", root)
    return root


@pytest.fixture
def tiny_project(tmp_path):
    return make_project(tmp_path)
