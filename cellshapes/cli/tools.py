"""Handlers of the checkout tools' subcommands (``bench``, ``notebooks``, ``results``):
they need a source checkout (benchmarks/, notebooks/, results/), unlike the library's
commands in :mod:`cellshapes.cli.commands`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cellshapes.errors import InputError


def bench(a: argparse.Namespace) -> int:
    """``cellshapes bench``: the harness in the checkout's ``benchmarks/``."""
    from cellshapes.bench import load_harness

    return load_harness().bench_from_cli(a)


def notebooks(a: argparse.Namespace) -> int:
    """``cellshapes notebooks``: 0 if all ran, 1 if any failed."""
    from cellshapes.repro.notebooks import run_notebooks, sync_notebooks
    from cellshapes.resources import check_device

    if a.sync:
        changed = sync_notebooks()
        print(f"{len(changed)} file(s) written" + (": " if changed else "")
              + ", ".join(p.name for p in changed))
        return 0
    check_device(a.device, where="--device")
    results = run_notebooks(profile=a.profile, out=a.out, only=a.only, device=a.device,
                            publish=a.publish, progress=not a.quiet)
    return 0 if all(r["ok"] for r in results) else 1


def results(a: argparse.Namespace) -> int:
    """``cellshapes results``: print the table; ``--readme`` rewrites the README's table
    and quoted numbers; ``--check`` compares them and the verdicts (exit 1 on any
    difference); ``--rejudge`` applies the current verdict rule to the files first."""
    from cellshapes.repro.report import results_table
    from cellshapes.repro.results import rejudge_results

    folder = Path(a.dir)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such results folder")
    files = sorted(folder.glob("[0-9][0-9]_*.json"))
    if a.rejudge:
        for f in files:
            n = rejudge_results(f)
            print(f"{f}: {n} claim(s) judged anew" if n else f"{f}: verdicts up to date")
    if a.check:
        return _check_results(folder, files, Path(a.readme or "README.md"))
    if a.readme is None:
        print(results_table(files))
        return 0
    readme = Path(a.readme)
    old = _read_text(readme)
    new = _readme_from(old, folder, files)
    if new != old:
        readme.write_text(new, encoding="utf-8")
    print(f"{readme}: results table and quoted numbers "
          f"{'updated' if new != old else 'already up to date'}")
    from cellshapes.repro.report import marked_documents

    for page, text, generated in marked_documents(readme.parent, folder):
        if generated != text:
            page.write_text(generated, encoding="utf-8")
            print(f"{page}: quoted numbers updated")
    return 0


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None


def _readme_from(old: str, folder: Path, files: list[Path]) -> str:
    """The README with its results table and quoted numbers generated from ``files``."""
    from cellshapes.repro.report import readme_with_numbers, readme_with_table, results_table

    return readme_with_numbers(readme_with_table(old, results_table(files)), folder)


def _check_results(folder: Path, files: list[Path], readme: Path) -> int:
    """Exit status of ``results --check``: 1 when the README's table or a quoted number
    differs from the files, or a stored verdict from the current rule."""
    import difflib

    from cellshapes.repro.report import marked_documents, stale_verdicts

    old = _read_text(readme)
    new = _readme_from(old, folder, files)
    pages = [(page, text, generated) for page, text, generated
             in marked_documents(readme.parent, folder) if generated != text]
    stale = stale_verdicts(files)
    for line in stale:
        print(f"stale verdict: {line}", file=sys.stderr)
    if stale:
        print(f"{len(stale)} claim record(s) differ from the current rule: run `cellshapes results "
              f"--rejudge --readme {readme}`", file=sys.stderr)
    if new != old:
        diff = [ln for ln in difflib.unified_diff(old.splitlines(), new.splitlines(),
                                                  "README", "generated", n=0, lineterm="")
                if ln[:1] in "+-" and ln[:3] not in ("+++", "---")]
        for line in diff[:20]:
            print(line[:200], file=sys.stderr)
        print(f"{readme}: the results table or a quoted number differs from "
              f"{folder}/*.json; run `cellshapes results --readme {readme}`", file=sys.stderr)
    for page, text, generated in pages:
        diff = [ln for ln in difflib.unified_diff(text.splitlines(), generated.splitlines(),
                                                  n=0, lineterm="")
                if ln[:1] in "+-" and ln[:3] not in ("+++", "---")]
        for line in diff[:6]:
            print(line[:200], file=sys.stderr)
        print(f"{page}: a quoted number differs from {folder}/*.json; run `cellshapes "
              f"results --readme {readme}`", file=sys.stderr)
    if stale or new != old or pages:
        return 1
    print(f"{readme} and docs/*.md: the results table and every quoted number match "
          f"{folder}/*.json; verdicts follow the current rule")
    return 0
