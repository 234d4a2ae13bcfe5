"""bench/gpu.py (`make gpu-check`): it refuses without a CUDA GPU, and with --allow-cpu runs every check
at a tiny size on the CPU with only torch, numpy and src/doggan importable (as on a bare GPU machine)."""

import importlib.util
import json
import subprocess
import sys

import torch
import yaml

from conftest import ROOT, project_env

SCRIPT = ROOT / "bench" / "gpu.py"
NO_GPU = {"CUDA_VISIBLE_DEVICES": ""}  # torch sees no GPU, also on a machine that has one
# packages of the venv that a GPU machine's own python may lack; the script must do without them
BLOCKED = ("tqdm", "yaml", "pandas", "scipy", "PIL", "dvc", "dvclive", "snakemake", "matplotlib")
WITHOUT_THEM = f"""
import runpy, sys
class Absent:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {BLOCKED!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Absent())
sys.argv = [{str(SCRIPT)!r}, *sys.argv[1:]]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def gpu_module():
    spec = importlib.util.spec_from_file_location("bench_gpu", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_it_refuses_in_one_line_without_a_gpu():
    result = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, cwd=ROOT,
                            env=project_env(NO_GPU))
    assert result.returncode == 2, result.stderr
    assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1
    assert "no CUDA GPU" in result.stderr and "--allow-cpu" in result.stderr


def test_every_check_runs_on_the_cpu_at_a_tiny_size_with_torch_and_numpy_only(tmp_path):
    result = subprocess.run([sys.executable, "-c", WITHOUT_THEM, "--allow-cpu", "--out", str(tmp_path)],
                            capture_output=True, text=True, cwd=ROOT, env=project_env(NO_GPU), timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads((tmp_path / "gpu.json").read_text())
    assert report["measured"] is False and report["device"] == "cpu"
    assert set(report["stand_ins"]) == {"tqdm", "yaml", "pandas", "scipy", "PIL"}
    for variant, checks in report["checks"].items():
        assert checks["resume"]["status"] == "ok", (variant, checks)
        assert checks["fresh_d"]["status"] == ("n/a" if variant == "autoencoder" else "ok"), (variant, checks)
        for mode in ("amp_on", "amp_off"):
            assert report["train"][variant][mode]["ms_per_step"] > 0
    assert report["score"] and report["featnet"]["status"] == "ok"
    text = (tmp_path / "gpu.md").read_text()
    assert "Kaggle on one GPU" in text and "Every check passed." in text


def test_the_fresh_weights_check_catches_a_d_step_inside_the_g_steps_autocast(tmp_path):
    """Bug 1 put back: D's step and the G step's D call in one autocast context, whose cast cache keeps
    D's old weights. The check must fail it (the variant as it is passes: the test above)."""
    gpu = gpu_module()
    from doggan.models import gan
    from doggan.training.losses import bce_d_loss, bce_g_loss

    class Stale(gan.Model):
        def train_step(self, real, labels, progress):
            G, D = self.generator, self.discriminator
            with self.autocast():
                fake = G(torch.randn(real.shape[0], self.cfg.nz, device=real.device))
                loss_d = self.optimize("d", bce_d_loss(D(real), D(fake.detach())))
                loss_g = bce_g_loss(D(fake))
            return {"loss_d": loss_d, "loss_g": self.optimize("g", loss_g)}

    params = gpu.read_params(ROOT / "params.yaml")
    cfg = gpu.variant_config(params, "gan", tiny=True, steps=1, fid_every=0, log_every=1)
    cpu = torch.device("cpu")
    torch.manual_seed(0)
    result = gpu.check_fresh_weights(Stale(cfg, 3), gpu.synthetic_crops(8, cpu), cpu, True, tmp_path)
    assert result["status"] == "FAIL" and result["calls"] == 1 and result["equal"] == 0


def test_its_yaml_stand_in_reads_params_yaml_as_pyyaml_does():
    text = (ROOT / "params.yaml").read_text()
    assert gpu_module()._yaml_safe_load(text) == yaml.safe_load(text)
