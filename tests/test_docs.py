"""The docs hold: README.md stays short, every generated block matches its source (results from
reports/, benchmark tables from reports/bench/, options from the code) and names by md5 the outputs
its scores were computed from, every link and picture resolves, every command shown parses
against the tool's own --help, and every experiment shown changes something."""

import functools
import hashlib
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, project_env
from doggan.report import docs

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def test_readme_is_a_page_a_newcomer_reads():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 150


def test_every_generated_block_matches_its_source():
    stale = [str(p.relative_to(ROOT)) for p in PAGES if docs.refresh(p.read_text(), ROOT) != p.read_text()]
    assert not stale, f"stale generated blocks in {stale}: run `make docs`"


def test_a_stale_block_is_found_and_rewritten(tmp_path):
    (tmp_path / "table.md").write_text("| a |\n|---|\n| 2 |\n")
    page = tmp_path / "page.md"
    page.write_text("text\n<!-- include table.md -->\n| a |\n|---|\n| 1 |\n<!-- end include -->\nmore\n")
    assert docs.main(["--check", "--root", str(tmp_path), str(page)]) == 1
    assert docs.main(["--root", str(tmp_path), str(page)]) == 0
    assert page.read_text() == "text\n<!-- include table.md -->\n| a |\n|---|\n| 2 |\n<!-- end include -->\nmore\n"
    assert docs.main(["--check", "--root", str(tmp_path), str(page)]) == 0


LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_and_picture_resolves(page):
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+://|mailto:|#", target):
            continue
        path = (page.parent / target.split("#")[0]).resolve()
        assert path.exists(), f"{page.relative_to(ROOT)}: {target} does not exist"


def shown_commands():
    """(page, command line) for every line of the shell blocks (```, ```sh, ```console) of README.md
    and docs/; other blocks (```yaml, ```text) are not commands."""
    found = []
    for page in PAGES:
        language = None  # None: outside a block
        for line in page.read_text().splitlines():
            if line.startswith("```"):
                language = line[3:].strip() if language is None else None
                continue
            command = line.split("  #")[0].split(" # ")[0].strip()
            if language in ("", "sh", "console") and command and not command.startswith("#"):
                found.append((str(page.relative_to(ROOT)), command))
    return found


@functools.cache
def help_text(*program):
    result = subprocess.run([*program, "--help"], capture_output=True, text=True, cwd=ROOT, env=project_env())
    assert result.returncode == 0, f"{' '.join(program)} --help failed: {result.stderr[-500:]}"
    return result.stdout


def program_of(words):
    """The words naming the program and subcommand whose --help lists the command's options."""
    bin_ = str(Path(sys.executable).parent)
    if words[0] in ("dvc",) and len(words) > 1:
        nested = words[1] in ("exp", "remote", "plots", "metrics", "params")
        return (f"{bin_}/dvc", *words[1:3]) if nested else (f"{bin_}/dvc", words[1])
    if words[0] == "snakemake":
        return (f"{bin_}/snakemake",)
    if words[0] == "doggan":
        return (f"{bin_}/doggan", *words[1:2])
    if words[:2] == ["python", "-m"]:
        return (sys.executable, "-m", words[2])
    if words[0] == "python" and words[1].endswith(".py"):
        return (sys.executable, words[1])
    return None


def test_every_shown_command_parses():
    makefile = (ROOT / "Makefile").read_text()
    checked = 0
    for page, command in shown_commands():
        tokens = shlex.split(command)  # a | inside quotes (a regex) is not a pipe
        parts = [[]]
        for token in tokens:
            if token in ("&&", "|"):
                parts.append([])
            else:
                parts[-1].append(token)
        for words in parts:
            if not words or words[0] in ("cd", "git", "curl", "pip", "dot", ".", "source"):
                continue
            if words[0] == "make":
                for target in words[1:]:
                    assert re.search(rf"^{target}:", makefile, re.M), f"{page}: `{command}`: no make target {target}"
                checked += 1
                continue
            program = program_of(words)
            assert program, f"{page}: `{command}`: a command the docs test does not know"
            text = help_text(*program)
            for flag in (w.split("=")[0] for w in words if w.startswith("-")):
                assert re.search(rf"(^|[\s,\[]){re.escape(flag)}\b", text), f"{page}: `{command}`: {flag} is not in its --help"
            checked += 1
    assert checked > 20


def params_value(params, key):
    node = params
    for part in key.split("."):
        assert isinstance(node, dict) and part in node, f"{key}: not a key of params.yaml"
        node = node[part]
    return node


def documented_experiments():
    """(page, key, value) for every `-S key=value` of a `dvc exp run` and every `--config 'section={...}'`
    of a snakemake line, anywhere in README.md and docs/ (code blocks, tables and prose alike)."""
    found = []
    for page in PAGES:
        name = str(page.relative_to(ROOT))
        for line in page.read_text().splitlines():
            for run in re.finditer(r"dvc exp run((?: +-S +[^ `]+)+)", line):
                for key, value in re.findall(r"-S +([\w.]+)=([^ `]+)", run.group(1)):
                    if value != "...":  # prose: "-S model.lr=..." names a key, sets nothing
                        found.append((name, key, yaml.safe_load(value)))
            for section, mapping in re.findall(r"--config '(\w+)=(\{[^']*\})'", line):
                def leaves(prefix, node):
                    if isinstance(node, dict):
                        for k, v in node.items():
                            yield from leaves(f"{prefix}.{k}", v)
                    else:
                        yield prefix, node
                found += [(name, key, value) for key, value in leaves(section, yaml.safe_load(mapping))]
    return found


def test_every_documented_experiment_changes_a_value():
    """`dvc exp run -S model.lr=2.0e-4` with params.yaml's lr at 2.0e-4 reruns nothing: a newcomer's
    first experiment must change something."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    experiments = documented_experiments()
    assert len(experiments) >= 5 and any(page == "README.md" for page, _, _ in experiments)
    for page, key, value in experiments:
        current = params_value(params, key)
        same = (value == current if not isinstance(current, (int, float)) or isinstance(current, bool)
                else isinstance(value, (int, float)) and float(value) == float(current))
        assert not same, f"{page}: sets {key}={value!r}, params.yaml's value already: the experiment changes nothing"


# provenance of the generated blocks (doggan.report.docs): checked here from dvc.lock and the files
# themselves, not through the code that wrote them

INCLUDE = re.compile(r"<!-- include (\S+)(?: from ([^>]+?))? -->\n(.*?)<!-- end include -->", re.S)
STAMP_LINE = re.compile(r"\n\nComputed from \(md5\) (.*): (as .* now|an earlier run's: .* others now for .*)\.\n\Z", re.S)


def includes():
    return [(str(page.relative_to(ROOT)), m.group(1), (m.group(2) or "").split(), m.group(3))
            for page in PAGES for m in INCLUDE.finditer(page.read_text())]


def lock_md5s():
    stages = yaml.safe_load((ROOT / "dvc.lock").read_text())["stages"]
    return {e["path"]: e["md5"] for stage in stages.values() for kind in ("deps", "outs") for e in stage.get(kind, [])
            if "md5" in e}


def holds_scores(path):
    return re.search(r"(?<![\w-])fid(?![\w-])", (ROOT / path).read_text(), re.I) is not None


def test_every_block_of_scores_names_the_outputs_it_was_computed_from():
    """A table of scores included in the docs says what it was computed from: a bench's table of the
    pipeline's submissions once sat beside the run's scores as "the same submissions" after three of
    them had been retrained."""
    blocks = [(page, path, sources) for page, path, sources, _ in includes() if holds_scores(path)]
    assert {"reports/results.md", "reports/bench/judge_submissions.md", "docs/quality/table.md"} <= {b[1] for b in blocks}
    for page, path, sources in blocks:
        assert sources, f"{page}: <!-- include {path} --> holds scores: name what they were computed from (from ...)"


def test_every_blocks_md5s_are_what_dvc_lock_and_the_files_say():
    """The md5s closing a block are dvc.lock's (or, for files it does not track, the files') where the
    block says so, and differ from them where it says an earlier run's; an included output of the
    pipeline is the file dvc.lock records."""
    lock = lock_md5s()
    stamped = [b for b in includes() if b[2]]
    assert len(stamped) >= 5
    for page, path, patterns, body in stamped:
        where = f"{page}: {path}"
        match = STAMP_LINE.search(body)
        assert match, f"{where}: no provenance line closes the block: run `make docs`"
        assert body[:match.start()] + "\n" == (ROOT / path).read_text(), f"{where}: differs from its source"
        if path in lock:
            assert hashlib.md5((ROOT / path).read_bytes()).hexdigest() == lock[path], \
                f"{where}: not the file dvc.lock records: the committed reports and dvc.lock are of different runs"
        stamp = {}
        for group in match.group(1).split("; "):
            pattern, items = re.fullmatch(r"`([^`]+)` (.+)", group).groups()
            assert pattern.replace("<V>", "*") in patterns, f"{where}: {pattern} is not one the marker names"
            for item in items.split(", "):
                label, digest = item.rsplit(" ", 1) if " " in item else (None, item)
                stamp[pattern.replace("<V>", label) if label else pattern] = digest
        now = {}
        for pattern in patterns:
            regex = re.compile(re.escape(pattern).replace(r"\*", "[^/]+") + r"\Z")
            now |= {p: h for p, h in lock.items() if regex.match(p)}
            now |= {f.relative_to(ROOT).as_posix(): hashlib.md5(f.read_bytes()).hexdigest() for f in ROOT.glob(pattern)
                    if f.relative_to(ROOT).as_posix() not in lock}
        assert now and all(any(re.match(re.escape(q).replace(r"\*", "[^/]+") + r"\Z", p) for p in stamp) for q in patterns)
        same = stamp.keys() == now.keys() and all(now[p].startswith(h) for p, h in stamp.items())
        if path in lock:
            assert same, f"{where}: its md5s are not the ones dvc.lock records for {patterns}: run `make docs`"
        if same:
            assert match.group(2).startswith("as "), f"{where}: called an earlier run's, yet its md5s are the ones here now"
        else:
            assert match.group(2).startswith("an earlier run's"), \
                f"{where}: said to be computed from what is here now, but dvc.lock or the files hold other md5s"


def write_lock(root, hashes):
    stages = {f"score@{Path(p).parent.name}": {"cmd": "x", "deps": [{"path": p, "hash": "md5", "md5": h, "size": 1}]}
              for p, h in hashes.items()}
    stages["report"] = {"cmd": "x", "outs": [{"path": "results.md", "hash": "md5",
                                              "md5": hashlib.md5((root / "results.md").read_bytes()).hexdigest()}]}
    (root / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": stages}))


def test_a_bench_table_keeps_the_md5s_it_was_computed_from_until_it_is_written_again(tmp_path):
    (tmp_path / "results.md").write_text("| FID |\n|---|\n| 1.0 |\n")
    (tmp_path / "bench.md").write_text("| variant | FID |\n|---|---|\n| a | 2.0 |\n")
    for variant in "ab":
        (tmp_path / "subs" / variant).mkdir(parents=True)
        (tmp_path / "subs" / variant / "images.zip").write_bytes(b"run 1 " + variant.encode())
    md5 = {f"subs/{v}/images.zip": hashlib.md5((tmp_path / f"subs/{v}/images.zip").read_bytes()).hexdigest() for v in "ab"}
    write_lock(tmp_path, md5)
    (tmp_path / "dvc.lock").rename(tmp_path / "run1.lock")
    write_lock(tmp_path, md5)
    page = tmp_path / "page.md"
    page.write_text("<!-- include results.md from subs/*/images.zip -->\n<!-- end include -->\n\n"
                    "<!-- include bench.md from subs/*/images.zip -->\n<!-- end include -->\n")
    assert docs.main(["--root", str(tmp_path), str(page)]) == 0
    first = page.read_text()
    line = f"Computed from (md5) `subs/<V>/images.zip` a {md5['subs/a/images.zip'][:8]}, b {md5['subs/b/images.zip'][:8]}"
    assert first.count(line + ": as dvc.lock records them now.\n") == 2, first
    # a new run retrains b: the pipeline's table follows dvc.lock, the bench's keeps the run it read
    (tmp_path / "subs/b/images.zip").write_bytes(b"run 2 b")
    (tmp_path / "results.md").write_text("| FID |\n|---|\n| 0.5 |\n")
    md5["subs/b/images.zip"] = hashlib.md5(b"run 2 b").hexdigest()
    write_lock(tmp_path, md5)
    assert docs.main(["--check", "--root", str(tmp_path), str(page)]) == 1
    assert docs.main(["--root", str(tmp_path), str(page)]) == 0
    second = page.read_text()
    assert line + ": an earlier run's: dvc.lock records others now for b.\n" in second
    assert f"b {md5['subs/b/images.zip'][:8]}: as dvc.lock records them now.\n" in second
    # the bench runs again: its table is stamped with the submissions here, or with those of the
    # run whose dvc.lock --lock names
    (tmp_path / "bench.md").write_text("| variant | FID |\n|---|---|\n| a | 2.5 |\n")
    assert docs.main(["--root", str(tmp_path), str(page)]) == 0
    assert page.read_text().count(f"b {md5['subs/b/images.zip'][:8]}: as dvc.lock records them now.\n") == 2
    (tmp_path / "bench.md").write_text("| variant | FID |\n|---|---|\n| a | 3.0 |\n")
    assert docs.main(["--lock", str(tmp_path / "run1.lock"), "--root", str(tmp_path), str(page)]) == 0
    assert line + ": an earlier run's: dvc.lock records others now for b.\n" in page.read_text()
    # reports that are not the run dvc.lock records stop `make docs`
    (tmp_path / "results.md").write_text("| FID |\n|---|\n| 0.25 |\n")
    with pytest.raises(SystemExit, match="results.md is not the file dvc.lock records"):
        docs.main(["--root", str(tmp_path), str(page)])


# what the docs say of the run's numbers, against the files that hold them

def test_kid_subset_size_stated_for_the_demo_is_what_kid_uses():
    from doggan.metrics.kid import default_subset_size

    crops = json.loads((ROOT / "reports/data_quality.json").read_text())["crops"]
    n_images = yaml.safe_load((ROOT / "params.yaml").read_text())["generate"]["n_images"]
    stated = re.findall(r"\(([\d,]+) against the demo's ([\d,]+)-crop reference\)", (ROOT / "docs/metrics.md").read_text())
    assert stated, "docs/metrics.md no longer states KID's subset size on the demo"
    for size, reference in stated:
        assert int(reference.replace(",", "")) == crops
        assert int(size.replace(",", "")) == default_subset_size(n_images, crops)


def test_readme_peak_memory_is_the_scale_benchmarks():
    """"Peak memory: X GB in reference, Y GB in featnet, at most Z GB elsewhere" against the largest
    size of reports/bench/scale.md (MB, 1 GB = 1,000 MB)."""
    rows = [line.strip("|").split("|") for line in (ROOT / "reports/bench/scale.md").read_text().splitlines()
            if line.startswith("| ") and not line.startswith(("| stage", "| all stages"))]
    peak = {cells[0].strip(): int(cells[-1].strip().replace(",", "")) for cells in rows}
    text = " ".join((ROOT / "README.md").read_text().split())
    sentence = re.search(r"Peak memory: (.*?) elsewhere", text)
    assert sentence, "README.md no longer states the peak memory"
    named = dict((stage, float(gb)) for gb, stage in re.findall(r"([\d.]+) GB in (\w+)", sentence.group(1)))
    bound = float(re.search(r"at most ([\d.]+) GB$", sentence.group(1)).group(1))
    for stage, gb in named.items():
        assert round(peak[stage] / 1000, 1) == gb, f"README: {gb} GB in {stage}; scale.md: {peak[stage]:,} MB"
    others = {stage: mb for stage, mb in peak.items() if stage not in named}
    stage, mb = max(others.items(), key=lambda item: item[1])
    assert mb <= bound * 1000, f"README: at most {bound} GB elsewhere; scale.md: {stage} {mb:,} MB"


def test_commands_on_the_quality_runs_outputs_say_they_come_from_make_quality():
    """`make repro` writes models/; data/quality/ is written by `make quality` alone."""
    lines = [(page, line) for page in PAGES for line in page.read_text().splitlines()
             if re.match(r"\s*doggan serve .*data/quality/", line)]
    assert lines
    for page, line in lines:
        assert "make quality" in line, \
            f"{page.relative_to(ROOT)}: `{line.strip()}` does not say its models come from make quality"


def test_the_picture_of_the_serve_page_says_which_run_it_serves():
    for page in PAGES:
        text = page.read_text()
        for match in re.finditer(r"!\[[^\]]*\]\([^)]*serve\.png\)", text):
            before = text[:match.start()].rstrip().rsplit("\n\n", 1)[-1]
            assert re.search(r"`make (quality|repro)`", before + match.group(0)), \
                f"{page.relative_to(ROOT)}: the picture of the serve page does not say whose generators it shows"
