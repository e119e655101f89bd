"""File edge of image synthesis: mask folders in, image/mask pair folders out.

Layouts
-------
Mask input (``MASKS`` of ``cellshapes simulate``, ``texture`` and ``export-ctc``), one of:

* a single 3D or 3D+t TIFF / ``.npy`` file: one sequence;
* a ``generate`` / ``reconstruct`` output folder: its ``masks/*.tif``, one sequence each;
* a folder of 3D+t TIFFs (e.g. ``cellshapes phantoms`` output): one sequence per file;
* a folder of per-frame 3D TIFFs (``mask_t000.tif`` ...): one sequence.

Pair folder (written by :func:`simulate_folder`, read by :func:`read_pairs`)::

    images/<name>.tif    (T, 1, Y, X) float32 maximum-intensity projections (ImageJ TZYX)
    volumes/<name>.tif   (T, Z, Y, X) float32 simulated 3D stacks (simulate only)
    masks/<name>.tif     (T, Z, Y, X) masks / labels as given
    simulate.json        microscope settings, seeds, spacing

A user's real data use the same layout: ``images/`` may hold 3D+t stacks (projected on
reading) or 2D+t images saved with ImageJ axes ``TYX``.
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cellshapes.errors import InputError, InputFileNotFoundError
from cellshapes.progress import track

if TYPE_CHECKING:
    from cellshapes.synthesis.microscopy import MicroscopyConfig

__all__ = ["find_sequences", "read_image", "read_pairs", "simulate_folder"]

_TIFF = (".tif", ".tiff")


def find_sequences(path: str | os.PathLike) -> list[tuple[str, Path]]:
    """Name and path of each mask sequence under ``path`` (layouts in the module docstring).

    Returns
    -------
    list of (str, Path)
        Each path is readable by :func:`cellshapes.io.read_masks` as one (T, Z, Y, X)
        sequence; names are file stems (the folder name for per-frame folders).

    Raises
    ------
    InputFileNotFoundError
        ``path`` does not exist.
    InputError
        A folder without mask files.
    """
    from cellshapes.io import natural_key, read_masks

    path = Path(path)
    if not path.exists():
        raise InputFileNotFoundError(f"input {path} does not exist")
    if path.is_file():
        return [(path.stem, path)]
    if (path / "masks").is_dir():
        path = path / "masks"
    files = sorted((p for p in path.iterdir() if p.is_file() and p.suffix.lower() in _TIFF
                    and not p.name.startswith(".")), key=lambda p: natural_key(p.name))
    if not files:
        raise InputError(f"folder {path} contains no mask .tif files")
    if (path / "phantoms.json").exists() or len(files) == 1 \
            or read_masks(files[0])[0].shape[0] > 1:
        return [(f.stem, f) for f in files]
    return [(path.name, path)]


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an intensity image as a (T, Y, X) float32 2D+t array.

    3D+t stacks (T, Z, Y, X) with Z > 1 are maximum-projected over z; ImageJ ``TYX``
    images are taken as 2D+t; a plain 3D TIFF without axes is one (Z, Y, X) stack.

    Raises
    ------
    InputFileNotFoundError, DatasetFormatError, InputError
    """
    from cellshapes.io import as_tzyx, read_tiff

    path = Path(path)
    if not path.exists():
        raise InputFileNotFoundError(f"image {path} does not exist")
    arr, _, axes = read_tiff(path)
    if axes.replace("C", "").replace("S", "") in ("TYX", "YX") and arr.ndim == len(axes):
        arr = arr.reshape((-1, 1) + arr.shape[-2:])
    else:
        arr = as_tzyx(arr, axes, path)
    arr = np.asarray(arr, np.float32)
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{path}: image contains NaN or inf values")
    return arr.max(axis=1)


def read_pairs(folder: str | os.PathLike) -> list[dict]:
    """Read a pair folder (``images/`` + ``masks/`` with matching file names).

    Returns
    -------
    list of dict
        Per sequence: ``name``, ``image`` (T, Y, X) float32, ``masks`` (T, Z, Y, X) int.

    Raises
    ------
    InputFileNotFoundError
        ``folder`` or its ``images/`` / ``masks/`` is missing.
    InputError
        No matching pairs, or an image and its masks differ in T, Y or X.
    """
    from cellshapes.io import read_masks

    folder = Path(folder)
    for sub in ("images", "masks"):
        if not (folder / sub).is_dir():
            raise InputFileNotFoundError(f"{folder / sub} does not exist; a pair folder "
                                         "holds images/ and masks/ (see cellshapes simulate)")
    masks = {p.stem: p for p in (folder / "masks").iterdir() if p.suffix.lower() in _TIFF}
    images = sorted(p for p in (folder / "images").iterdir()
                    if p.suffix.lower() in _TIFF and p.stem in masks)
    if not images:
        raise InputError(f"{folder}: no image in images/ has a mask of the same name in masks/")
    pairs = []
    for p in images:
        img = read_image(p)
        m, _ = read_masks(masks[p.stem])
        if img.shape[0] != m.shape[0] or img.shape[1:] != m.shape[2:]:
            raise InputError(f"{p.name}: image (T, Y, X) = {img.shape} does not match masks "
                             f"(T, Z, Y, X) = {m.shape}")
        pairs.append({"name": p.stem, "image": img, "masks": m})
    return pairs


def simulate_folder(masks: str | os.PathLike, out: str | os.PathLike,
                    config: MicroscopyConfig | None = None, seed: int = 0, overwrite: bool = False,
                    progress: bool = True) -> list[str]:
    """``cellshapes simulate``: simulated microscopy for every sequence under ``masks``.

    Parameters
    ----------
    masks : path-like
        Mask input (layouts in the module docstring). Spacing is read from the files
        (1 um when they carry none).
    out : path-like
        Pair folder to write (atomic: nothing is left behind on failure).
    config : MicroscopyConfig, optional
    seed : int
        Base seed; sequence ``i`` uses ``phantoms.sequence_seed(seed, i)``.

    Returns
    -------
    list of str
        Sequence names written.
    """
    from cellshapes.atomic import atomic_dir, check_output
    from cellshapes.io import read_masks, write_tiff
    from cellshapes.phantoms import sequence_seed
    from cellshapes.synthesis.microscopy import MicroscopyConfig, simulate

    config = config or MicroscopyConfig()
    check_output(out, overwrite)
    seqs = find_sequences(masks)
    index = {"format": "cellshapes.pairs", "config": dataclasses.asdict(config),
             "seed": int(seed), "source": str(masks), "sequences": []}
    it = track(seqs, progress, desc="simulate", unit="seq")
    with atomic_dir(out, overwrite) as tmp:
        for i, (name, path) in enumerate(it):
            m, info = read_masks(path)
            spacing = tuple(info["spacing_um"] or (1.0, 1.0, 1.0))
            s = sequence_seed(int(seed), i)
            vols, mip = simulate(m, spacing, config, s)
            write_tiff(tmp / "images" / f"{name}.tif", mip[:, None], spacing)
            write_tiff(tmp / "volumes" / f"{name}.tif", vols, spacing)
            write_tiff(tmp / "masks" / f"{name}.tif", m, spacing)
            index["sequences"].append({"name": name, "seed": s, "spacing_um": list(spacing),
                                       "shape": list(m.shape)})
        (tmp / "simulate.json").write_text(json.dumps(index, indent=1) + "\n")
    return [e["name"] for e in index["sequences"]]

