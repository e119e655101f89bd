"""README.md and docs/ stand alone: the README is short and lists every CLI command, no
links out of the repository, and links to the pages the docs build generates name files
it generates them from."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _subcommands(help_text: str) -> list[str]:
    """Subcommand names from argparse's ``{a,b,c}`` choices line of ``cellshapes --help``."""
    m = re.search(r"\{([a-z0-9,-]+)\}", help_text)
    if m:
        return m.group(1).split(",")
    # argparse with metavar="COMMAND": names are the indented first words under it
    block = help_text.split("COMMAND\n", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"^    ([a-z][a-z0-9-]*)", block, flags=re.M)


def test_subcommand_parser_reads_argparse_listing():
    text = ("positional arguments:\n  COMMAND\n    train       train it\n"
            "    export-reference\n                    long help\n    fit  x\n\noptions:\n")
    assert _subcommands(text) == ["train", "export-reference", "fit"]


def test_readme_lists_every_cli_command():
    out = subprocess.run([sys.executable, "-m", "cellshapes.cli", "--help"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    commands = _subcommands(out)
    assert len(commands) >= 17, commands
    readme = README.read_text(encoding="utf-8")
    missing = [c for c in commands if not re.search(rf"`cellshapes {re.escape(c)}[ `]", readme)]
    assert missing == []


def test_readme_is_short_and_names_the_docs_build():
    size = len(README.read_bytes())
    assert size < 15_000, f"README.md is {size} bytes; move detail to docs/"
    readme = README.read_text(encoding="utf-8")
    assert "python -m sphinx -b html docs docs/_build/html" in readme
    assert "](figures/" in readme  # one figure


def _markdown_files():
    return [README, ROOT / "CHANGELOG.md", ROOT / "data" / "README.md",
            *sorted((ROOT / "docs").glob("*.md"))]


def _generated_source(local: str) -> Path | None:
    """The committed file a ``docs/_generated/...`` page is made from by docs/conf.py
    (None: not a page the build makes)."""
    parts = local.split("/")
    if local in ("_generated/api.rst", "_generated/cli.md", "_generated/notebooks/index.md"):
        return ROOT / "docs" / "conf.py"
    if parts[:2] == ["_generated", "figures"] and len(parts) == 3:
        return ROOT / "figures" / parts[2]
    if parts[:2] == ["_generated", "notebooks"] and len(parts) == 3:
        return ROOT / "notebooks" / parts[2].replace(".md", ".py")
    return None


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_links_stay_in_the_repository(path):
    text = path.read_text(encoding="utf-8")
    assert "shared/paper" not in text
    for target in LINK.findall(text):
        if re.match(r"[a-z]+://", target) or target.startswith("#"):
            continue
        local = target.split("#", 1)[0]
        if path.parent.name == "docs" and local.startswith("_generated/"):
            source = _generated_source(local)  # made by the docs build, not committed
            assert source is not None and source.exists(), f"{path.name}: {target}"
            continue
        resolved = (path.parent / local).resolve()
        assert resolved.is_relative_to(ROOT), f"{path.name}: {target} leaves the repository"
        assert resolved.exists(), f"{path.name}: {target} does not exist"


def test_generated_targets_are_recognised():
    assert _generated_source("_generated/notebooks/08_omega_sweep.md") == (
        ROOT / "notebooks" / "08_omega_sweep.py")
    assert _generated_source("_generated/elsewhere.md") is None


def test_readme_and_docs_have_no_parent_links():
    for path in [README, *sorted((ROOT / "docs").glob("*.md"))]:
        assert "](../" not in path.read_text(encoding="utf-8"), path.name


def test_data_readme_and_sample_exist():
    assert (ROOT / "data" / "README.md").is_file()
    assert (ROOT / "data" / "samples" / "dividing.h5").is_file()
