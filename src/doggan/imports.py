"""The project's own modules a file imports, directly or not: the source code a stage depends on.

The Snakefile derives its rules' inputs from this, and tests/test_deps.py holds dvc.yaml's deps
to it, so editing a module reruns exactly the stages whose steps import it. Imports are read
with ast (nothing is executed), inside functions too; importing `doggan.a.b` also runs
`doggan/__init__.py` and `doggan/a/__init__.py`, so those count.
"""

import ast
from pathlib import Path

PACKAGE = "doggan"


def module_file(name, src):
    """src/doggan/a/b.py or src/doggan/a/b/__init__.py for `doggan.a.b`, else None (a name, not a module)."""
    base = Path(src, *name.split("."))
    return next((p for p in (base.with_suffix(".py"), base / "__init__.py") if p.is_file()), None)


def direct_imports(path, src):
    """The package's module files that `path` imports itself."""
    names = []
    for node in ast.walk(ast.parse(Path(path).read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                raise ValueError(f"{path}: relative import of {node.module!r}; import {PACKAGE}... absolutely")
            # `from doggan.a import b`: b may be a module (doggan/a/b.py) or a name in doggan/a
            names += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    found = set()
    for name in names:
        parts = name.split(".")
        if parts[0] == PACKAGE:
            found |= {f for i in range(1, len(parts) + 1) if (f := module_file(".".join(parts[:i]), src))}
    return found


def closure(*files, src="src"):
    """Sorted paths of every package module `files` import, directly or not."""
    seen, todo = set(), [Path(f) for f in files]
    while todo:
        for module in direct_imports(todo.pop(), src) - seen:
            seen.add(module)
            todo.append(module)
    return sorted(map(str, seen))


def variant_file(variant, src="src"):
    return str(Path(src, PACKAGE, "models", f"{variant}.py"))


def model_code(variants, src="src"):
    """What variant modules import besides each other: the model code every train and generate
    stage depends on (beside its own variant's module). A variant importing another variant's
    module would make that one's edits rerun it; tests/test_deps.py forbids it."""
    own = {variant_file(v, src) for v in variants}
    return sorted(set().union(*(closure(variant_file(v, src), src=src) for v in variants)) - own)
