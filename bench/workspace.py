"""A copy of the pipeline in a folder of its own, for runs that must not touch the project's
data, models or reports (the drivers bench, the quality run)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = ["dvc.yaml", "Snakefile", "params.yaml", "steps", "src", "profiles", ".dvc/config", ".dvcignore", ".gitignore"]


def merged(base, update):
    """`base` with `update` merged in, nested mappings key by key."""
    out = dict(base)
    for key, value in update.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def copy_pipeline(dest, params=None):
    """The pipeline's files at `dest` (an existing copy is brought up to date, its outputs kept),
    params.yaml with `params` merged in, committed to a git repository of its own (DVC needs one)."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for name in PIPELINE:
        src, dst = ROOT / name, dest / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            dst.write_bytes(src.read_bytes())
    settings = merged(yaml.safe_load((ROOT / "params.yaml").read_text()), params or {})
    (dest / "params.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", "-C", str(dest)]
    if not (dest / ".git").is_dir():
        subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A", *PIPELINE], check=True)
    subprocess.run([*git, "commit", "-qm", "pipeline", "--allow-empty"], check=True)
    return dest


def tool(name):
    """A command of this venv (dvc, snakemake), whatever PATH says; the stages it runs call `python`,
    so this venv goes first on PATH too (as `make` puts it)."""
    venv = str(Path(sys.executable).parent)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != venv:
        os.environ["PATH"] = venv + os.pathsep + os.environ.get("PATH", "")
    return str(Path(venv) / name)
