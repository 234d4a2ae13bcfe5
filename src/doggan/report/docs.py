"""The parts of README.md and docs/ written from the project's own files, so that they never drift:

    <!-- include reports/results.md -->        the file's text (a table the report stage wrote,
    <!-- end include -->                        a benchmark's output)
    <!-- options -->                            every training option: value in params.yaml and
    <!-- end options -->                        the help text of its Config class
    <!-- stages -->                             every stage of dvc.yaml: what its step's docstring
    <!-- end stages -->                         says it does (its --help), and what it writes

    python -m doggan.report.docs README.md docs/*.md            # rewrite every block
    python -m doggan.report.docs --check README.md docs/*.md    # exit 1 naming stale blocks

tests/test_docs.py runs the check, so a table that differs from its source fails the suite.
"""

import argparse
import dataclasses
import re
import sys
from pathlib import Path

import yaml

BLOCK = re.compile(r"(<!-- (include [^ ]+|options|stages) -->\n)(.*?)(<!-- end (?:include|options|stages) -->)", re.S)


def options_tables(params_path="params.yaml"):
    """Markdown: the shared `model:` options, then each variant's own and what it sets otherwise."""
    from doggan.models import VARIANTS, variant_module
    from doggan.models.base import TrainConfig

    params = yaml.safe_load(Path(params_path).read_text())

    def table(fields, values):
        rows = [f"| `{f.name}` | `{values[f.name]}` | {f.metadata['help']} |" for f in fields if f.name in values]
        return "| option | value | meaning |\n|---|---|---|\n" + "\n".join(rows)

    shared = dataclasses.fields(TrainConfig)
    parts = [f"### model (every variant)\n\n{table(shared, params['model'])}"]
    for name in (v for v in params["variants"] if v in VARIANTS):
        own = params["variants"][name] or {}
        fields = [*(f for f in dataclasses.fields(variant_module(name).Config) if f.name not in {s.name for s in shared}),
                  *(f for f in shared if f.name in own)]
        parts.append(f"### {name}\n\n{table(fields, own)}")
    return "\n\n".join(parts) + "\n"


def stages_table(root="."):
    """Markdown: one row per stage of dvc.yaml, in its order, `<V>` for a variant's."""
    import ast

    stages = yaml.safe_load((Path(root) / "dvc.yaml").read_text())["stages"]
    rows = []
    for name, stage in stages.items():
        body = stage.get("do", stage)
        step = re.search(r"steps/(\w+)\.py", body["cmd"]).group(1)
        doc = ast.get_docstring(ast.parse((Path(root) / "steps" / f"{step}.py").read_text()))
        does = " ".join(doc.split()).split(": ", 1)[1]
        outs = [next(iter(o)) if isinstance(o, dict) else o
                for key in ("outs", "metrics", "plots") for o in body.get(key, [])]
        writes = ", ".join(f"`{o}`" for o in outs).replace("${key}", "<V>").replace("${metric.network}", "<network>")
        rows.append(f"| {name}{'@<V>' if 'foreach' in stage else ''} | {does} | {writes} |")
    return "| stage | does | writes |\n|---|---|---|\n" + "\n".join(rows) + "\n"


def render_block(kind, root):
    if kind == "options":
        return options_tables(Path(root) / "params.yaml")
    if kind == "stages":
        return stages_table(root)
    path = Path(root) / kind.split(" ", 1)[1]
    if not path.is_file():
        raise SystemExit(f"error: {path}: included file not found")
    text = path.read_text()
    return text if text.endswith("\n") else text + "\n"


def refresh(text, root="."):
    """`text` with every block rewritten from its source."""
    return BLOCK.sub(lambda m: m.group(1) + render_block(m.group(2), root) + m.group(4), text)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m doggan.report.docs", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a block is stale")
    parser.add_argument("--root", default=".", help="the project root the blocks' paths are relative to")
    args = parser.parse_args(argv)
    stale = []
    for path in args.files:
        text = path.read_text()
        new = refresh(text, args.root)
        if new != text:
            stale.append(str(path))
            if not args.check:
                path.write_text(new)
    if stale:
        print(("stale: " if args.check else "rewrote: ") + ", ".join(stale), file=sys.stderr)
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
