"""A change reruns exactly the stages it touches: every stage depends, in dvc.yaml and in the
Snakefile, on the modules its step imports (directly or not, read from the code), and on no
other module of the project, so that an edit elsewhere reruns nothing it cannot affect."""

import pytest
import yaml

from conftest import ROOT, dvc_dag, snakemake_dag
from doggan.imports import closure, model_code, variant_file
from doggan.models import VARIANTS


def required_and_allowed(stage):
    """(modules stage must depend on, modules it may depend on) for a stage name like train@dcgan-0."""
    step, _, variant = stage.partition("@")
    variant = variant.rsplit("-", 1)[0] if step in ("train", "generate", "score", "breeds") else variant  # matrix: <V>-<seed>
    needed = {f"steps/{step}.py", *closure(ROOT / f"steps/{step}.py", src=ROOT / "src")}
    allowed = set(needed)
    if step in ("train", "generate", "resample", "breeds"):  # they load the variant's module by name (variant_module)
        own = variant_file(variant, src=ROOT / "src")
        needed |= {own, *closure(own, src=ROOT / "src")}
        allowed |= needed | set(model_code(VARIANTS, src=ROOT / "src"))
    if step == "check_params":  # it loads every variant's module by name: the models folder, and what they import
        models = {str(p) for p in (ROOT / "src/doggan/models").glob("*.py")}
        needed |= models | set(model_code(VARIANTS, src=ROOT / "src"))
        allowed |= needed
    if step == "report":  # its templates are read, not imported
        allowed |= {str(p) for p in (ROOT / "src/doggan/report").rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    relative = lambda paths: {str(p).removeprefix(f"{ROOT}/") for p in paths}  # noqa: E731
    return relative(needed), relative(allowed)


@pytest.mark.parametrize("driver", ["dvc.yaml", "Snakefile"])
def test_every_stage_depends_on_exactly_the_modules_its_step_imports(driver):
    dag = dvc_dag(ROOT) if driver == "dvc.yaml" else snakemake_dag(ROOT)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert {name for name in dag if name.startswith("train@")} == {f"train@{v}-{s}" for v in params["variants"] for s in params["seeds"]}
    for stage, (_, deps, _, _) in sorted(dag.items()):
        needed, allowed = required_and_allowed(stage)
        code = {d for d in deps if d.startswith(("src/", "steps/"))}
        assert not needed - code, f"{driver}: stage {stage} misses the modules its step imports: {sorted(needed - code)}"
        assert not code - allowed, (f"{driver}: stage {stage} depends on modules its step never imports, so an edit "
                                    f"there reruns it for nothing: {sorted(code - allowed)}")


def test_a_variant_module_imports_no_other_variant():
    """Else editing one variant would have to rerun the other's stages, which dvc.yaml's foreach
    cannot say: what two variants share belongs in models/layers.py."""
    files = {variant_file(v, src=ROOT / "src"): v for v in VARIANTS}
    for path, variant in files.items():
        others = {files[f] for f in closure(path, src=ROOT / "src") if f in files} - {variant}
        assert not others, f"models/{variant}.py imports the variant modules of {others}"


def test_closure_follows_imports_the_way_python_runs_them(tmp_path):
    """On a package written here: submodules named in `from ... import`, imports inside functions,
    package __init__ files, cycles; names that are not modules and other packages are not files."""
    package = tmp_path / "src" / "doggan"
    files = {
        "__init__.py": "",
        "a.py": "import os\nfrom doggan.sub import c, helper\n",
        "sub/__init__.py": "def helper(): pass\n",
        "sub/c.py": "def f():\n    import doggan.d\n",
        "d.py": "from doggan import a  # a cycle\n",
        "unused.py": "",
    }
    for name, text in files.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text)
    step = tmp_path / "step.py"
    step.write_text("import numpy\nfrom doggan.a import something\n")
    found = closure(step, src=tmp_path / "src")
    assert found == sorted(str(package / f) for f in ["__init__.py", "a.py", "d.py", "sub/__init__.py", "sub/c.py"])
    (package / "e.py").write_text("from .a import x\n")
    with pytest.raises(ValueError, match="relative import"):
        closure(package / "e.py", src=tmp_path / "src")
