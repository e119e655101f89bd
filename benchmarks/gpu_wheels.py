"""Wheels the lent GPU machine lacks for the package and papermill, fetched where pip works.

``bash benchmarks/gpu_wheels.sh [--dir .whl] [--list]`` resolves the dependency tree of
:data:`WANTED` for the GPU machine (CPython 3.12, manylinux x86-64, binary wheels only)
with ``pip download``, drops every wheel of a package that machine already holds
(``benchmarks/gpu_box_packages.txt``), checks that what is left plus what is there covers
every requirement, and prints the folder to name in the device tool's ``carry``. The
machine cannot reach a package index; ``benchmarks/gpu_check.sh`` installs the folder with
``pip install --no-index --no-deps --target``. ``--list`` (alias ``--dry-run``) prints the
packages and the pip command and downloads nothing.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import zipfile
from email.parser import HeaderParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: What the notebooks need beyond the GPU machine's packages: papermill and a Jupyter
#: kernel (its client, notebook format and executor named too, for the reader), and the
#: package's one dependency the machine lacks (meshio).
WANTED = ["papermill", "ipykernel", "nbclient", "nbformat", "jupyter_client", "meshio"]
#: manylinux tags pip may take for the GPU machine (pip matches each tag exactly).
PLATFORMS = ["manylinux_2_39_x86_64", "manylinux_2_35_x86_64", "manylinux_2_34_x86_64",
             "manylinux_2_31_x86_64", "manylinux_2_28_x86_64", "manylinux_2_27_x86_64",
             "manylinux_2_26_x86_64", "manylinux_2_24_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64", "manylinux_2_5_x86_64", "manylinux1_x86_64"]
#: The device tool carries at most 64 MiB: the working tree and the wheels together.
LIMIT = 64 * 2**20
#: Marker environment of the GPU machine (CPython 3.12 on Linux x86-64).
MARKERS = {"python_version": "3.12", "python_full_version": "3.12.3", "sys_platform": "linux",
           "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
           "implementation_name": "cpython", "platform_python_implementation": "CPython",
           "extra": ""}


def normalise(name: str) -> str:
    """PEP 503 name: lower case, runs of ``-_.`` as one ``-``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def box_packages(path: Path = ROOT / "benchmarks" / "gpu_box_packages.txt") -> set[str]:
    """Normalised names of the packages the GPU machine holds (comments skipped)."""
    words = " ".join(line.split("#")[0] for line in path.read_text().splitlines()).split()
    return {normalise(w) for w in words}


def wheel_name(path: Path) -> str:
    """Normalised project name of a wheel file (``name-version-...whl``)."""
    return normalise(path.name.split("-")[0])


def download_command(folder: Path) -> list[str]:
    """``pip download`` of :data:`WANTED` with dependencies, for the GPU machine."""
    cmd = [sys.executable, "-m", "pip", "download", "--only-binary=:all:",
           "--python-version", "3.12", "--implementation", "cp", "--abi", "cp312",
           "--abi", "abi3", "--abi", "none", "-d", str(folder), "--quiet"]
    for tag in PLATFORMS:
        cmd += ["--platform", tag]
    return cmd + WANTED


def prune(folder: Path, box: set[str]) -> list[str]:
    """Delete the wheels of packages the GPU machine holds; the names deleted."""
    gone = []
    for whl in sorted(folder.glob("*.whl")):
        if wheel_name(whl) in box:
            whl.unlink()
            gone.append(wheel_name(whl))
    return gone


def requirements(whl: Path) -> list[str]:
    """Normalised names a wheel requires on the GPU machine (markers evaluated, no extras)."""
    try:
        from packaging.requirements import Requirement
    except ImportError:  # pip's own copy
        from pip._vendor.packaging.requirements import Requirement
    with zipfile.ZipFile(whl) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        headers = HeaderParser().parsestr(z.read(meta).decode("utf-8"))
    names = []
    for line in headers.get_all("Requires-Dist") or []:
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate(MARKERS):
            names.append(normalise(req.name))
    return names


def unmet(folder: Path, box: set[str]) -> dict[str, list[str]]:
    """Per wheel of ``folder``: requirements neither in ``folder`` nor on the machine."""
    have = {wheel_name(w) for w in folder.glob("*.whl")} | box
    out = {}
    for whl in sorted(folder.glob("*.whl")):
        missing = sorted(set(requirements(whl)) - have)
        if missing:
            out[whl.name] = missing
    return out


def duplicates(folder: Path) -> list[str]:
    """Names with more than one wheel (two versions stop the whole install)."""
    names = [wheel_name(w) for w in folder.glob("*.whl")]
    return sorted({n for n in names if names.count(n) > 1})


def folder_bytes(folder: Path) -> int:
    """Bytes of the wheels in ``folder``."""
    return sum(w.stat().st_size for w in folder.glob("*.whl"))


def tree_bytes() -> int | None:
    """Bytes of the files git would send (tracked and untracked-not-ignored); None without git."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                                 "--exclude-standard"], cwd=ROOT, capture_output=True,
                                check=True).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):
        return None
    return sum((ROOT / f).stat().st_size for f in filter(None, listed) if (ROOT / f).is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gpu_wheels", description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path(".whl"),
                        help="folder for the wheels, relative to the repository root "
                             "(default .whl, git-ignored)")
    parser.add_argument("--list", "--dry-run", dest="list", action="store_true",
                        help="print what would be fetched and exit; no network")
    a = parser.parse_args(argv)
    folder = a.dir if a.dir.is_absolute() else ROOT / a.dir
    box = box_packages()
    print(f"gpu_wheels: wanted {' '.join(WANTED)} with their dependencies, less the "
          f"{len(box)} packages the GPU machine holds (benchmarks/gpu_box_packages.txt)")
    if a.list:
        print("gpu_wheels: would run: " + " ".join(download_command(folder)))
        return 0
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.whl"):  # one version of each: start clean
        old.unlink()
    subprocess.run(download_command(folder), check=True)
    gone = prune(folder, box)
    print(f"gpu_wheels: dropped {len(gone)} wheels the machine has: {' '.join(gone)}")
    kept = sorted(w.name for w in folder.glob("*.whl"))
    size = folder_bytes(folder)
    print(f"gpu_wheels: {len(kept)} wheels, {size / 2**20:.1f} MiB in {folder}:")
    print("  " + "\n  ".join(kept))
    problems = [f"unmet requirements {unmet(folder, box)}"] if unmet(folder, box) else []
    problems += [f"several versions of {duplicates(folder)}"] if duplicates(folder) else []
    tree = tree_bytes() or 0
    if tree:
        print(f"gpu_wheels: working tree {tree / 2**20:.1f} MiB + wheels {size / 2**20:.1f} MiB "
              f"= {(tree + size) / 2**20:.1f} MiB of the 64 MiB a device call carries")
    if tree + size >= LIMIT:
        problems.append(f"{(tree + size) / 2**20:.1f} MiB is over the 64 MiB carry limit")
    for p in problems:
        print(f"gpu_wheels: error: {p}", file=sys.stderr)
    rel = folder.relative_to(ROOT) if folder.is_relative_to(ROOT) else folder
    print(f"gpu_wheels: carry {rel} (device tool: carry=[\"{rel}\"]; with the working tree "
          "it must stay under 64 MiB)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
