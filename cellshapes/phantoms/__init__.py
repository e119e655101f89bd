"""Seeded procedural 3D+t cell masks: small stand-ins for the paper's three data sets.

Three kinds, each a binary mask sequence (T, Z, Y, X):

``growing`` (:mod:`.growing`)
    Like the *Platynereis dumerilii* embryo cells (DS_Plat): a lobed, anisotropic body with
    flattened contact faces that grows about tenfold in volume (480-650 um^3 at the first
    frame, 8.5-11x by the last; DS_Plat spans 586-5720 um^3).
``dividing`` (:mod:`.dividing`)
    Like the first *C. elegans* division (DS_Cele): the mother grows, elongates and pinches;
    from ``division_frame = frames // 2`` on, two daughters drift apart and round up (one
    26-connected component before, exactly two from then on). Optionally each daughter is
    aligned separately into its principal axes, as the paper prepared DS_Cele.
``filopodial`` (:mod:`.filopodial`)
    Like the synthetic A549 cells (DS_Filo): a blebbing body whose filopodia grow and
    branch through the whole sequence (count and length never decrease), at least 3 voxels
    thick at 64^3, so the sphericity falls over time. One 26-connected component per frame.

A fourth kind, ``oriented`` (:mod:`.oriented`), is not one of the paper's: a growing cell
with a lobe and a knob attached in two directions 60-100 degrees apart, so that it has a
single orientation (for the rotation experiment of notebook 04).

Shapes are implicit functions evaluated on the whole voxel grid at once; geometry is
drawn in micrometres, so the same seed gives the same cell at every grid size. Only the
voxel-level safety margins (filopodium radius, cleavage neck, daughter gap, distance to
the border) depend on the grid, so that connectivity holds at every size >= :data:`MIN_SIZE`.
Masks are isotropic unless a z spacing is asked for (anisotropic acquisition, as the
paper's DS_Plat with 2.03 um z steps).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from cellshapes.atomic import atomic_dir
from cellshapes.errors import InputError
from cellshapes.phantoms.dividing import draw_dividing
from cellshapes.phantoms.filopodial import draw_filopodial
from cellshapes.phantoms.geometry import Grid
from cellshapes.phantoms.growing import draw_growing
from cellshapes.phantoms.oriented import draw_oriented
from cellshapes.progress import track
from cellshapes.resources import check_memory

__all__ = ["KINDS", "ALL_KINDS", "STANDS_IN_FOR", "FOV_UM", "MIN_SIZE", "MIN_Z_SLICES",
           "GENERATOR_VERSION", "make_sequence",
           "write_phantoms", "sequence_seed"]

#: Kinds of phantom cells, in the order of the paper's data sets.
KINDS: tuple[str, ...] = ("growing", "dividing", "filopodial")
#: Every kind :func:`make_sequence` draws: the paper's three plus ``oriented`` (growing
#: cells with two off-centre lobes, for the rotation experiment;
#: :mod:`cellshapes.phantoms.oriented`).
ALL_KINDS: tuple[str, ...] = KINDS + ("oriented",)
#: Edge of the field of view per kind, in um (lateral spacing = FOV / size).
#: The paper's data set each kind stands in for (Sec 4.1).
STANDS_IN_FOR: dict[str, str] = {"growing": "DS_Plat", "dividing": "DS_Cele",
                                 "filopodial": "DS_Filo"}
FOV_UM: dict[str, float] = {"growing": 40.0, "dividing": 40.0, "filopodial": 40.0,
                            "oriented": 48.0}
#: Smallest grid edge (voxels) that still holds a recognisable cell.
MIN_SIZE = 16
#: Version of the shapes drawn for a seed; bumped whenever a seed draws a different cell.
#: 1: the first phantoms; 2: tenfold growth (growing, FOV 30 -> 40 um), filopodia that
#: grow and branch to the end and are >= 3 voxels thick at 64^3, optional z spacing and
#: daughter alignment (the default dividing cells are unchanged).
GENERATOR_VERSION = 2
#: Fewest z slices an anisotropic phantom may have.
MIN_Z_SLICES = 8

_FORMAT = "cellshapes.phantoms"
_FORMAT_VERSION = 1


# ----------------------------------------------------------------------------- public API
def make_sequence(kind: str, frames: int, size: int, seed: int | np.random.Generator,
                  z_spacing_um: float | None = None,
                  align_daughters: bool = False) -> tuple[np.ndarray, dict]:
    """Make one seeded phantom sequence of binary cell masks.

    Parameters
    ----------
    kind : {"growing", "dividing", "filopodial", "oriented"}
        Which data set to imitate (see the module docstring); ``oriented``: growing
        cells with two off-centre lobes (:mod:`cellshapes.phantoms.oriented`).
    frames : int
        Number of time points T >= 1 (>= 2 for ``"dividing"``). Frame k of T is at
        normalised time tau = k / (T - 1) in [0, 1] (tau = 0 when T == 1).
    size : int
        Grid edge S >= :data:`MIN_SIZE` in voxels along y and x (and z unless
        ``z_spacing_um``). The field of view is ``FOV_UM[kind]`` um, so the lateral
        spacing is ``FOV_UM[kind] / S`` um.
    seed : int or numpy.random.Generator
        Non-negative integer seed, or a generator (which is advanced).
    z_spacing_um : float, optional
        Sample z every ``z_spacing_um`` um instead (anisotropic acquisition):
        Z = round(FOV / z_spacing_um) slices (>= :data:`MIN_Z_SLICES`). The cell is the
        same; only its sampling changes (and, on coarse z, the connectivity margins).
    align_daughters : bool
        ``"dividing"`` only: rotate each daughter about its own centroid into its
        principal axes after the division (paper Sec 4.4).

    Returns
    -------
    masks : (T, Z, Y, X) uint8 ndarray
        Values 0/1, axes (t, z, y, x); Z = Y = X = S unless ``z_spacing_um``.
    meta : dict
        JSON-serialisable: ``kind``, ``frames``, ``size``, ``fov_um``, ``spacing_um``
        ([dz, dy, dx] in um), ``shape`` ([Z, Y, X]), ``generator_version``,
        ``volume_um3`` (per frame). For ``"dividing"`` also ``lineage``: ``{"mother": 1,
        "daughters": [2, 3], "division_frame": k, "aligned_daughters": bool,
        "tracks": [{"label", "frame", "centroid_um" [z, y, x], "volume_um3"}, ...]}``;
        label 2 is the larger daughter. Centroids are in um from the centre of voxel
        (0, 0, 0), i.e. ``index * spacing``. For ``"filopodial"`` also ``filopodia``
        (per frame: ``count``, ``branches``, ``total_length_um``) and
        ``filopodium_radius_um`` ([min, max]).

    Raises
    ------
    InputError
        Unknown kind, ``frames < 1`` (``< 2`` for dividing), ``size < MIN_SIZE``, a
        negative seed, a bad ``z_spacing_um`` or ``align_daughters`` for another kind.
    """
    _check_args(kind, frames, size, z_spacing_um, align_daughters)
    rng = _as_rng(seed)
    grid = _grid(kind, size, z_spacing_um)
    taus = np.linspace(0.0, 1.0, frames) if frames > 1 else np.zeros(1)
    extra: dict = {}
    if kind == "growing":
        masks = draw_growing(rng, taus, grid)
    elif kind == "oriented":
        masks = draw_oriented(rng, taus, grid)
    elif kind == "filopodial":
        masks, extra = draw_filopodial(rng, taus, grid)
    else:
        masks, lineage = draw_dividing(rng, frames, grid, align_daughters)
        extra["lineage"] = lineage
    vox = float(np.prod(grid.spacings))
    meta = {
        "kind": kind,
        "frames": frames,
        "size": size,
        "fov_um": FOV_UM[kind],
        "spacing_um": [float(s) for s in grid.spacings],
        "shape": list(grid.shape),
        "generator_version": GENERATOR_VERSION,
        "volume_um3": [round(float(m.sum()) * vox, 4) for m in masks],
        **extra,
    }
    return masks, meta


def sequence_seed(seed: int, index: int) -> int:
    """Integer seed of sequence ``index`` in a set made with ``seed``.

    Derived with :class:`numpy.random.SeedSequence` (spawn key ``(index,)``), so it does
    not depend on how many sequences the set has, and
    ``make_sequence(kind, frames, size, sequence_seed(seed, i))`` rebuilds file ``i``.
    """
    child = np.random.SeedSequence(seed, spawn_key=(index,))
    return int(child.generate_state(1, np.uint64)[0] >> np.uint64(1))  # fits int64/JSON


def write_phantoms(kind: str, out: str | os.PathLike, sequences: int = 4, frames: int = 10,
                   size: int = 64, seed: int = 0, overwrite: bool = False,
                   progress: bool = True, z_spacing_um: float | None = None,
                   align_daughters: bool = False) -> list[Path]:
    """Write a seeded set of phantom sequences as TIFFs plus ``phantoms.json``.

    Parameters
    ----------
    kind : {"growing", "dividing", "filopodial"}
        Phantom kind, see :func:`make_sequence`.
    out : path-like
        Output folder; it must not exist unless ``overwrite``. Built in a temporary
        sibling and renamed into place, so an interrupted run leaves nothing behind.
    sequences : int
        Number of sequences (>= 1); file ``seq_000.tif`` uses
        ``sequence_seed(seed, 0)`` and so on.
    frames, size : int
        Time points per sequence and grid edge in voxels, see :func:`make_sequence`.
    seed : int
        Non-negative base seed; the same seed gives byte-identical files.
    overwrite : bool
        Replace an existing ``out``.
    progress : bool
        Show a tqdm progress bar over sequences (on stderr).
    z_spacing_um : float, optional
        Anisotropic acquisition: z spacing in um (e.g. 2.0), see :func:`make_sequence`.
        The spacing is stored in each TIFF and in ``phantoms.json``, so
        :func:`cellshapes.prepare.prepare_dataset` resamples the masks to isotropic.
    align_daughters : bool
        ``"dividing"`` only: align each daughter separately, see :func:`make_sequence`.

    Returns
    -------
    list of Path
        The TIFF files, in sequence order. Each holds a (T, Z, Y, X) uint8 array
        (tifffile "shaped" TIFF, axes ``TZYX``, so ``tifffile.imread`` returns exactly
        that shape, also for T == 1), zlib-compressed, with ``spacing_um`` [dz, dy, dx]
        in its JSON description and the x/y resolution in pixels per um.
        ``phantoms.json`` records ``format`` ("cellshapes.phantoms"), ``format_version``,
        ``generator_version``, the arguments, ``spacing_um``, ``shape`` and per sequence
        ``file``, ``seed``, ``volume_um3`` plus ``lineage`` (dividing) or ``filopodia``
        (filopodial).

    Raises
    ------
    InputError
        Invalid kind, counts, size, seed or options (checked before anything is written).
    OutputExistsError
        ``out`` exists and ``overwrite`` is False.
    """
    _check_args(kind, frames, size, z_spacing_um, align_daughters)
    if isinstance(sequences, bool) or not isinstance(sequences, (int, np.integer)) \
            or sequences < 1:
        raise InputError(f"sequences must be an integer >= 1, got {sequences!r}")
    _check_seed(seed)
    grid = _grid(kind, size, z_spacing_um)
    n_vox = int(np.prod(grid.shape))
    # one sequence of uint8 masks plus a few float64 fields of the frame being drawn
    check_memory(int(frames) * n_vox + 4 * 8 * n_vox,
                 f"phantoms: {frames} frame(s) x {'x'.join(map(str, grid.shape))}",
                 "reduce --size or --frames")
    out = Path(out)
    width = max(3, len(str(sequences - 1)))
    names = [f"seq_{i:0{width}d}.tif" for i in range(sequences)]
    spacing = [float(s) for s in grid.spacings]
    index = {
        "format": _FORMAT,
        "format_version": _FORMAT_VERSION,
        "generator_version": GENERATOR_VERSION,
        "kind": kind,
        "seed": int(seed),
        "size": int(size),
        "frames": int(frames),
        "fov_um": FOV_UM[kind],
        "spacing_um": spacing,
        "shape": list(grid.shape),
        "z_spacing_um": None if z_spacing_um is None else float(z_spacing_um),
        "align_daughters": bool(align_daughters),
        "axes": "TZYX",
        "dtype": "uint8",
        "sequences": [],
    }
    with atomic_dir(out, overwrite) as tmp:
        for i in track(range(sequences), progress, desc=f"phantoms {kind}", unit="seq"):
            s = sequence_seed(int(seed), i)
            masks, meta = make_sequence(kind, frames, size, s, z_spacing_um=z_spacing_um,
                                        align_daughters=align_daughters)
            _write_tiff(tmp / names[i], masks, spacing)
            entry = {"file": names[i], "seed": s, "volume_um3": meta["volume_um3"]}
            for key in ("lineage", "filopodia", "filopodium_radius_um"):
                if key in meta:
                    entry[key] = meta[key]
            index["sequences"].append(entry)
        (tmp / "phantoms.json").write_text(json.dumps(index, indent=1) + "\n")
    return [out / n for n in names]


# ----------------------------------------------------------------------------- I/O edge
def _write_tiff(path: Path, masks: np.ndarray, spacing: list[float]) -> None:
    """Write (T, Z, Y, X) uint8 masks as a shaped TIFF that reads back with that shape."""
    import tifffile

    dy, dx = spacing[1], spacing[2]
    tifffile.imwrite(
        path, np.ascontiguousarray(masks, dtype=np.uint8),
        metadata={"axes": "TZYX", "spacing_um": list(spacing), "unit": "um"},
        resolution=(1.0 / dy, 1.0 / dx), resolutionunit="MICROMETER",
        compression="zlib", photometric="minisblack",
    )


# ----------------------------------------------------------------------------- validation
def _grid(kind: str, size: int, z_spacing_um: float | None) -> Grid:
    spacing = FOV_UM[kind] / size
    if z_spacing_um is None:
        return Grid(int(size), spacing)
    nz = int(round(FOV_UM[kind] / float(z_spacing_um)))
    return Grid(int(size), spacing, float(z_spacing_um), nz)


def _check_args(kind: str, frames: int, size: int, z_spacing_um: float | None = None,
                align_daughters: bool = False) -> None:
    if kind not in ALL_KINDS:
        raise InputError(f"unknown phantom kind {kind!r}; choose one of {', '.join(ALL_KINDS)}")
    for name, value in (("frames", frames), ("size", size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise InputError(f"{name} must be an integer, got {value!r}")
    if frames < 1:
        raise InputError(f"frames must be >= 1, got {frames}")
    if kind == "dividing" and frames < 2:
        raise InputError(f"dividing phantoms need frames >= 2 (before and after the "
                         f"division), got {frames}")
    if size < MIN_SIZE:
        raise InputError(f"size {size} is too small to hold a cell; use size >= {MIN_SIZE}")
    if z_spacing_um is not None:
        try:
            dz = float(z_spacing_um)
        except (TypeError, ValueError):
            raise InputError(f"z_spacing_um must be a number, got {z_spacing_um!r}") from None
        if not (np.isfinite(dz) and dz > 0) or round(FOV_UM[kind] / dz) < MIN_Z_SLICES:
            raise InputError(f"z_spacing_um must be positive and leave at least "
                             f"{MIN_Z_SLICES} slices in the {FOV_UM[kind]:g} um field of "
                             f"view (<= {FOV_UM[kind] / (MIN_Z_SLICES - 0.5):.3g} um), "
                             f"got {z_spacing_um!r}")
    if align_daughters and kind != "dividing":
        raise InputError(f"align_daughters applies to dividing phantoms only, not {kind!r}")


def _check_seed(seed: object) -> None:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")


def _as_rng(seed: int | np.random.Generator) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    _check_seed(seed)
    return np.random.default_rng(int(seed))
