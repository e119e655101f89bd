"""README.md and docs/ stand alone: every CLI command listed, no links out of the repository."""

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


def _markdown_files():
    return [README, ROOT / "data" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_links_stay_in_the_repository(path):
    text = path.read_text(encoding="utf-8")
    assert "shared/paper" not in text
    for target in LINK.findall(text):
        if re.match(r"[a-z]+://", target) or target.startswith("#"):
            continue
        local = target.split("#", 1)[0]
        resolved = (path.parent / local).resolve()
        assert resolved.is_relative_to(ROOT), f"{path.name}: {target} leaves the repository"
        assert resolved.exists(), f"{path.name}: {target} does not exist"


def test_readme_and_docs_have_no_parent_links():
    for path in [README, *sorted((ROOT / "docs").glob("*.md"))]:
        assert "](../" not in path.read_text(encoding="utf-8"), path.name


def test_data_readme_and_sample_exist():
    assert (ROOT / "data" / "README.md").is_file()
    assert (ROOT / "data" / "samples" / "dividing.h5").is_file()
