"""Export mask sequences as Cell Tracking Challenge (CTC) style annotated datasets.

Layout written by :func:`export_ctc` (one numbered sequence per input sequence, as the
CTC's own data sets)::

    OUT/01/t000.tif                 image of frame 0 (uint16; 2D (Y, X) or 3D (Z, Y, X))
    OUT/01_GT/SEG/man_seg000.tif    instance segmentation of frame 0 (uint16 labels)
    OUT/01_GT/TRA/man_track000.tif  tracking labels: one id per cell for its whole life
    OUT/01_GT/TRA/man_track.txt     lineage "L B E P" per line (label, begin frame,
                                    end frame, parent label or 0)
    OUT/01_GT/TRA/res_track.txt     the same lineage under the result-file name
    OUT/02/...                      next sequence
    OUT/export.json                 sources, image source, tracks per sequence

Frame numbers have 3 digits (4 when a sequence has more than 999 frames). SEG and TRA
hold the same labels (complete masks, not markers). ``man_track.txt`` is the name CTC
evaluation software reads for ground truth; ``res_track.txt`` is the same table for
readers of the result format.

Tracking: cells are 26-connected components of each 3D frame (specks below
``min_fraction`` of the frame's largest component are dropped), linked to the previous
frame by voxel overlap. A component that continues one cell keeps its label; a cell
whose overlap goes to two or more components divides: its track ends and each daughter
starts a new track (larger daughter first) with the mother as parent, beginning one
frame after the mother's end. For ``cellshapes phantoms dividing`` this reproduces the
phantom lineage exactly: mother 1 up to the division frame, daughters 2 (larger) and 3.

2D export (the paper's Fig. 14): images are maximum-intensity projections and labels
are projected front-most (the label of the first cell voxel along z). A cell entirely
hidden behind another in some frame cannot be annotated in 2D; that is an
:class:`~cellshapes.errors.InputError` that suggests ``dims=3``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from cellshapes.errors import InputError
from cellshapes.progress import track

__all__ = ["track_components", "project_labels", "track_lines", "frame_names",
           "frame_components", "to_uint16", "write_sequence",
           "export_ctc"]


# ----------------------------------------------------------------------------- pure part
def frame_components(fg: np.ndarray, min_fraction: float) -> np.ndarray:
    """26-connected components of one (Z, Y, X) frame, small specks removed (int32)."""
    from skimage.measure import label

    comp = label(fg, connectivity=fg.ndim).astype(np.int32)
    sizes = np.bincount(comp.ravel())
    sizes[0] = 0
    if len(sizes) > 1 and sizes.max() > 0:
        small = sizes < min_fraction * sizes.max()
        small[0] = True
        comp[small[comp]] = 0
    return comp


def _predecessors(prev: np.ndarray, comp: np.ndarray) -> dict[int, int]:
    """For each component id of ``comp``, the track id in ``prev`` it overlaps most."""
    both = (prev > 0) & (comp > 0)
    if not both.any():
        return {}
    pairs, counts = np.unique(np.stack([comp[both], prev[both]]), axis=1, return_counts=True)
    best: dict[int, tuple[int, int]] = {}
    for (c, p), n in zip(pairs.T, counts):
        if n > best.get(int(c), (0, 0))[1]:
            best[int(c)] = (int(p), int(n))
    return {c: p for c, (p, _) in best.items()}


def track_components(masks: np.ndarray, min_fraction: float = 0.02
                     ) -> tuple[np.ndarray, list[dict[str, int]]]:
    """Label and track the cells of a 3D+t mask sequence, with divisions.

    Parameters
    ----------
    masks : (T, Z, Y, X) integer/bool ndarray
        Foreground is ``masks > 0`` (label ids of the input are not used).
    min_fraction : float
        Components smaller than this fraction of the frame's largest are dropped.

    Returns
    -------
    labels : (T, Z, Y, X) int32 ndarray
        Track id per voxel (0 = background).
    tracks : list of dict
        ``{"label", "begin", "end", "parent"}`` per track (frames inclusive, parent 0
        for none), ordered by label.
    """
    masks = np.asarray(masks)
    if masks.ndim != 4:
        raise InputError(f"masks must be (T, Z, Y, X), got shape {masks.shape}")
    labels = np.zeros(masks.shape, np.int32)
    tracks: dict[int, dict[str, int]] = {}
    for t in range(masks.shape[0]):
        comp = frame_components(masks[t] > 0, min_fraction)
        ids = [int(i) for i in np.unique(comp) if i > 0]
        sizes = {i: int((comp == i).sum()) for i in ids}
        pred = _predecessors(labels[t - 1], comp) if t > 0 else {}
        children: dict[int, list[int]] = {}
        for c in ids:
            children.setdefault(pred.get(c, 0), []).append(c)
        for parent in sorted(children):
            group = sorted(children[parent], key=lambda c: (-sizes[c], c))
            for c in group:
                if parent and len(group) == 1:
                    lab = parent
                    tracks[lab]["end"] = t
                else:
                    lab = len(tracks) + 1
                    tracks[lab] = {"label": lab, "begin": t, "end": t, "parent": parent}
                labels[t][comp == c] = lab
    return labels, [tracks[k] for k in sorted(tracks)]


def project_labels(labels: np.ndarray) -> np.ndarray:
    """Front-most projection over z: (T, Z, Y, X) -> (T, Y, X), first nonzero along z."""
    labels = np.asarray(labels)
    first = np.argmax(labels > 0, axis=-3)
    return np.take_along_axis(labels, first[..., None, :, :], axis=-3)[..., 0, :, :]


def _check_visible(labels2d: np.ndarray, tracks: Sequence[dict[str, int]]) -> None:
    for tr in tracks:
        for t in range(tr["begin"], tr["end"] + 1):
            if not (labels2d[t] == tr["label"]).any():
                raise InputError(f"cell {tr['label']} is hidden behind another cell in frame "
                                 f"{t} of the z-projection; export in 3D (dims=3, --3d)")


def track_lines(tracks: Sequence[dict[str, int]]) -> str:
    """The CTC lineage table: one ``L B E P`` line per track."""
    return "".join(f"{t['label']} {t['begin']} {t['end']} {t['parent']}\n" for t in tracks)


def frame_names(frames: int) -> list[str]:
    """Zero-padded frame numbers: 3 digits, 4 when a sequence has more than 999 frames."""
    width = 3 if frames <= 999 else 4
    return [f"{t:0{width}d}" for t in range(frames)]


def to_uint16(img: np.ndarray) -> np.ndarray:
    """Camera counts rounded and clipped to uint16."""
    return np.clip(np.round(img), 0, 65535).astype(np.uint16)


# ----------------------------------------------------------------------------- I/O edge
def _write_plain(path: Path, arr: np.ndarray) -> None:
    """Uncompressed single-page/multi-page TIFF, as CTC tools expect."""
    import tifffile

    path.parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(path, arr, photometric="minisblack")


def _images(masks: np.ndarray, spacing: Sequence[float], dims: int, seed: int,
            texture: Any, microscope: Any) -> np.ndarray:
    """(T, Y, X) or (T, Z, Y, X) images of one sequence, from the simulator or a GAN."""
    from cellshapes.synthesis.microscopy import simulate

    if texture is not None:
        from cellshapes.synthesis.texture import noise_field, synthesize_with

        G, config = texture
        noise = noise_field(masks.shape[2:], seed, float(config["model"]["noise_sigma_px"]))
        return synthesize_with(G, masks, config["data"]["lo"], config["data"]["hi"], noise)
    vols, mip = simulate(masks, spacing, microscope, seed)
    return mip if dims == 2 else vols


def write_sequence(root: Path, seq: str, images: np.ndarray, labels: np.ndarray,
                   tracks: list[dict[str, int]]) -> None:
    """One CTC sequence ``root/seq`` and ``root/seq_GT`` (layout in the module notes)."""
    names = frame_names(labels.shape[0])
    for t, n in enumerate(names):
        _write_plain(root / seq / f"t{n}.tif", to_uint16(images[t]))
        lab = labels[t].astype(np.uint16)
        _write_plain(root / f"{seq}_GT" / "SEG" / f"man_seg{n}.tif", lab)
        _write_plain(root / f"{seq}_GT" / "TRA" / f"man_track{n}.tif", lab)
    text = track_lines(tracks)
    (root / f"{seq}_GT" / "TRA" / "man_track.txt").write_text(text)
    (root / f"{seq}_GT" / "TRA" / "res_track.txt").write_text(text)


def export_ctc(input: str | os.PathLike, out: str | os.PathLike, texture: str | os.PathLike
               | None = None, dims: int = 2, seed: int = 0, microscope: Any = None,
               min_fraction: float = 0.02, device: str = "auto", overwrite: bool = False,
               progress: bool = True) -> dict[str, Any]:
    """``cellshapes export-ctc``: write a CTC-style annotated dataset from masks.

    Parameters
    ----------
    input : path-like
        Mask sequences: a 3D+t TIFF, a ``phantoms`` folder, a ``generate`` /
        ``reconstruct`` output (``masks/*.tif``) or a folder of per-frame TIFFs (see
        :func:`cellshapes.synthesis.imaging.find_sequences`). Each becomes one CTC sequence.
    out : path-like
        Output folder (layout in the module docstring); built atomically.
    texture : path-like, optional
        A texture-GAN run (:mod:`cellshapes.synthesis.texture`); default: the microscopy simulator.
    dims : {2, 3}
        2: maximum-intensity projections and projected labels (paper Fig. 14); 3: stacks.
    seed : int
        Base seed of the images; sequence ``i`` uses ``phantoms.sequence_seed(seed, i)``.
    microscope : MicroscopyConfig, optional
        Simulator settings.
    min_fraction : float
        Speck threshold of :func:`track_components`.

    Returns
    -------
    dict
        Summary (also written to ``out/export.json``): per sequence its source, frames,
        and tracks.

    Raises
    ------
    InputError
        ``dims`` not 2 or 3, a texture run with ``dims=3`` (the GAN makes 2D images), a
        sequence without cells, or a cell hidden in the 2D projection.
    OutputExistsError
        ``out`` exists and ``overwrite`` is False.
    """
    from cellshapes.atomic import atomic_dir, check_output
    from cellshapes.io import read_masks
    from cellshapes.phantoms import sequence_seed
    from cellshapes.synthesis.imaging import find_sequences

    if dims not in (2, 3):
        raise InputError(f"dims must be 2 or 3, got {dims}")
    if texture is not None and dims != 2:
        raise InputError("a texture run makes 2D images; use dims=2 (no --3d) with --texture")
    check_output(out, overwrite)
    seqs = find_sequences(input)
    gan = None
    if texture is not None:
        from cellshapes.synthesis.texture import load_texture_run

        gan = load_texture_run(texture, device)
    width = max(2, len(str(len(seqs))))
    summary: dict[str, Any] = {"format": "cellshapes.ctc", "dims": dims,
                               "images": str(texture) if texture else "simulator",
                               "seed": seed, "sequences": []}
    it = track(list(enumerate(seqs)), progress, desc="export-ctc", unit="seq")
    with atomic_dir(out, overwrite) as tmp:
        for i, (name, path) in it:
            masks, info = read_masks(path)
            labels, tracks = track_components(masks, min_fraction)
            if not tracks:
                raise InputError(f"{path}: no cell in any frame")
            if dims == 2:
                labels = project_labels(labels)
                _check_visible(labels, tracks)
            images = _images(masks, info["spacing_um"] or (1.0, 1.0, 1.0), dims,
                             sequence_seed(seed, i), gan, microscope)
            seq = f"{i + 1:0{width}d}"
            write_sequence(tmp, seq, images, labels, tracks)
            summary["sequences"].append({"sequence": seq, "source": str(path), "name": name,
                                         "frames": int(masks.shape[0]), "tracks": tracks})
        (tmp / "export.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary
