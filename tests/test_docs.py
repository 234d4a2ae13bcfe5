"""The docs hold: README.md stays short, every generated block matches its source (results from
reports/, benchmark tables from reports/bench/, options from the code), every link and picture
resolves, and every command shown parses against the tool's own --help."""

import functools
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

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
        return (f"{bin_}/dvc", *words[1:3]) if words[1] in ("exp", "remote", "plots") else (f"{bin_}/dvc", words[1])
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
        for part in re.split(r"&&|\|", command):
            words = shlex.split(part.strip())
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
