"""The parts of README.md and docs/ written from the project's own files, so that they never drift:

    <!-- include reports/results.md -->        the file's text (a table the report stage wrote,
    <!-- end include -->                        a benchmark's output)
    <!-- include FILE from PATTERN... -->       the same, closed by a line naming the outputs FILE
    <!-- end include -->                        was computed from by their md5 (provenance below)
    <!-- options -->                            every training option: value in params.yaml and
    <!-- end options -->                        the help text of its Config class
    <!-- stages -->                             every stage of dvc.yaml: what its step's docstring
    <!-- end stages -->                         says it does (its --help), and what it writes

    python -m doggan.report.docs README.md docs/*.md            # rewrite every block
    python -m doggan.report.docs --check README.md docs/*.md    # exit 1 naming stale blocks

tests/test_docs.py runs the check, so a table that differs from its source fails the suite.

Provenance. `from submissions/*/seed0/images.zip data/interim/crops.npy` (one `*` each, standing for a
variant) names the outputs FILE's numbers were computed from, and the block ends with their md5
(8 hex digits) and whether they are still the ones here:
- FILE is an output dvc.lock records (reports/results.md): the md5s are the ones dvc.lock records,
  and FILE must be the file dvc.lock records (else the run stops: the lock and the file disagree).
- FILE is not (a bench's table): nothing but the page knows what it was computed from, so the page
  keeps the md5s it was stamped with for as long as FILE's text stays the same. Where FILE's text
  changed (the bench ran again) they are stamped afresh: from the files here (the bench read them),
  or from `--lock` (the dvc.lock of the run the bench read, where that was not this one). A bench
  that wrote the same text again keeps its line: delete the line to stamp it afresh.
The line then says whether they are what dvc.lock records now (or, for files dvc.lock does not
track, what the files hold now), or an earlier run's and which differ.
"""

import argparse
import dataclasses
import functools
import hashlib
import re
import sys
from pathlib import Path

import yaml

BLOCK = re.compile(r"(<!-- (include [^ ]+(?: from [^>]+?)?|options|stages) -->\n)(.*?)"
                   r"(<!-- end (?:include|options|stages) -->)", re.S)
STAMP = re.compile(r"^Computed from \(md5\) (?P<groups>.*): (?P<verdict>as |an earlier run's)[^\n]*\n\Z", re.S)
GROUP = re.compile(r"`(?P<pattern>[^`]+)` (?P<items>(?:(?:[\w.@-]+ )?[0-9a-f]{8}(?:, )?)+)")
DIGITS = 8  # md5 prefix shown


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
    """Markdown: one row per stage of dvc.yaml, in its order, `<V>` for a variant, `<N>` for a training seed."""
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
        writes = ", ".join(f"`{o}`" for o in outs)
        for var, shown in (("${key}", "<V>"), ("${item.variant}", "<V>"), ("${item.seed}", "<N>"),
                           ("${metric.network}", "<network>")):
            writes = writes.replace(var, shown)
        suffix = "@<V>-<N>" if "matrix" in stage else "@<V>" if "foreach" in stage else ""
        rows.append(f"| {name}{suffix} | {does} | {writes} |")
    return "| stage | does | writes |\n|---|---|---|\n" + "\n".join(rows) + "\n"


def _lock_hashes(lock_path):
    """{path: md5} of every dep and out a dvc.lock records ({} where there is none)."""
    lock_path = Path(lock_path)
    return _parse_lock(lock_path.read_text()) if lock_path.is_file() else {}


@functools.lru_cache(maxsize=4)
def _parse_lock(text):
    stages = (yaml.safe_load(text) or {}).get("stages", {})
    return {entry["path"]: entry["md5"] for stage in stages.values() for kind in ("deps", "outs")
            for entry in stage.get(kind, []) if "md5" in entry}


def _md5(path):
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _pattern_re(pattern):
    return re.compile("".join("([^/]+)" if part == "*" else re.escape(part) for part in re.split(r"(\*)", pattern)) + r"\Z")


def _matching(pattern, root, lock):
    """{path: md5} of the outputs `pattern` names now: dvc.lock's record where it has one, else the file's own."""
    regex = _pattern_re(pattern)
    found = {p: h for p, h in lock.items() if regex.match(p)}
    for file in sorted(Path(root).glob(pattern)):
        relative = file.relative_to(root).as_posix()
        if file.is_file() and relative not in found:
            found[relative] = _md5(file)
    return found


def _label(pattern, path):
    match = _pattern_re(pattern).match(path)
    return match.group(1) if match and match.groups() else None


def _display(pattern):
    return pattern.replace("*", "<V>")


def parse_stamp(line, patterns):
    """{path: md5 prefix} from a provenance line, None where it is not one for these patterns."""
    match = STAMP.match(line)
    if not match:
        return None
    shown = {_display(p): p for p in patterns}
    hashes = {}
    for group in GROUP.finditer(match.group("groups")):
        pattern = shown.get(group.group("pattern"))
        if pattern is None:
            return None
        for item in group.group("items").split(", "):
            *label, digest = item.split(" ")
            hashes[pattern.replace("*", label[0]) if label else pattern] = digest
    if {p for p in patterns if not any(_pattern_re(p).match(path) for path in hashes)}:
        return None  # a pattern the line does not cover: stamped for another marker
    return hashes


def stamp_line(patterns, hashes, now, tracked):
    """The provenance line: each pattern's outputs by md5, then whether they are still the ones here.
    `now`: {path: md5} of the same patterns now; `tracked`: the paths dvc.lock records."""
    groups = []
    for pattern in patterns:
        items = [(_label(pattern, p), h[:DIGITS]) for p, h in sorted(hashes.items()) if _pattern_re(pattern).match(p)]
        groups.append(f"`{_display(pattern)}` " + ", ".join(f"{label} {h}" if label else h for label, h in items))
    paths = set(hashes) | set(now)
    differ = sorted(p for p in paths if p not in hashes or p not in now or not now[p].startswith(hashes[p][:DIGITS]))
    holder = ("dvc.lock records" if all(p in tracked for p in paths) else
              "the files here hold" if not any(p in tracked for p in paths) else "dvc.lock and the files here hold")
    if not differ:
        verdict = f"as {holder} them now."
    else:
        names = [next((_label(q, p) for q in patterns if _label(q, p)), p) for p in differ]
        names = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
        verdict = f"an earlier run's: {holder} others now for {names}."
    return f"Computed from (md5) {'; '.join(groups)}: {verdict}\n"


def render_include(spec, root, old=None, stamp_lock=None):
    """The included file's text; with `from PATTERN...`, a blank line and the provenance line after it."""
    name, _, sources = spec.partition(" from ")
    path = Path(root) / name
    if not path.is_file():
        raise SystemExit(f"error: {path}: included file not found")
    text = path.read_text()
    text = text if text.endswith("\n") else text + "\n"
    if not sources:
        return text
    patterns = sources.split()
    lock = _lock_hashes(Path(root).resolve() / "dvc.lock")
    now, missing = {}, []
    for pattern in patterns:
        found = _matching(pattern, root, lock)
        missing += [] if found else [pattern]
        now.update(found)
    if missing and (name in lock or not old):
        raise SystemExit(f"error: {name}: no output here matches {missing[0]} (dvc.lock or the files)")
    if name in lock:  # an output of the pipeline: dvc.lock records what it was computed from
        if _md5(path) != lock[name]:
            raise SystemExit(f"error: {name} is not the file dvc.lock records (md5 {_md5(path)[:DIGITS]}, dvc.lock "
                             f"{lock[name][:DIGITS]}): run `dvc repro` (or `dvc commit`) before `make docs`")
        hashes = now
    else:
        kept = parse_stamp(old[len(text) + 1:], patterns) if old and old.startswith(text + "\n") else None
        if kept is not None:  # the same text as when it was stamped: computed from the same outputs (which
            hashes = kept     # may no longer be here: then the line says so)
        elif missing:
            raise SystemExit(f"error: {name}: no output here matches {missing[0]} (dvc.lock or the files)")
        else:  # computed afresh: from what is here, or from the run `stamp_lock` records
            source = _lock_hashes(Path(stamp_lock).resolve()) if stamp_lock else {}
            hashes = {}
            for pattern in patterns:
                found = {p: h for p, h in source.items() if _pattern_re(pattern).match(p)} if stamp_lock else {}
                if not found:
                    found = {p: _md5(Path(root) / p) for p in now if _pattern_re(pattern).match(p)
                             and (Path(root) / p).is_file()}
                if not found:
                    raise SystemExit(f"error: {name}: cannot tell which {pattern} it was computed from: none is here "
                                     "(`dvc pull`, or --lock the dvc.lock of the run it read)")
                hashes.update(found)
    return text + "\n" + stamp_line(patterns, hashes, now, set(lock))


def render_block(kind, root, old=None, stamp_lock=None):
    if kind == "options":
        return options_tables(Path(root) / "params.yaml")
    if kind == "stages":
        return stages_table(root)
    return render_include(kind.split(" ", 1)[1], root, old, stamp_lock)


def refresh(text, root=".", stamp_lock=None):
    """`text` with every block rewritten from its source."""
    return BLOCK.sub(lambda m: m.group(1) + render_block(m.group(2), root, m.group(3), stamp_lock) + m.group(4), text)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m doggan.report.docs", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a block is stale")
    parser.add_argument("--root", default=".", help="the project root the blocks' paths are relative to")
    parser.add_argument("--lock", help="where an included file changed and dvc.lock does not record it: the dvc.lock "
                                       "of the run it was computed from (`git show REV:dvc.lock > old.lock`), for its "
                                       "provenance line; by default the files here")
    args = parser.parse_args(argv)
    stale = []
    for path in args.files:
        text = path.read_text()
        new = refresh(text, args.root, args.lock)
        if new != text:
            stale.append(str(path))
            if not args.check:
                path.write_text(new)
    if stale:
        print(("stale: " if args.check else "rewrote: ") + ", ".join(stale), file=sys.stderr)
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
