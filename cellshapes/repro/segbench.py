"""Does synthetic data help a segmenter? The pieces of notebook 13 (issue 36).

* :func:`phantom_scene`: reference scenes: procedural cells
  (:func:`cellshapes.phantoms.make_sequence`, sampled at the scene's spacing) placed at
  random without overlap in a field of view, optionally slid into contact
  (``touch``); every 26-connected component of a cell's mask in a frame is one instance
  (daughters are two).
* :func:`targets`: per-voxel classes background 0, cell interior 1, cell boundary 2
  (the instance's own voxels next to another label or the background).
* :func:`train_unet`: a small MONAI 3D U-Net (``monai.networks.nets.UNet``) trained with
  class-weighted cross entropy on whole volumes; :func:`unet_instances`: interior
  components as seeds of a watershed on the interior probability inside the foreground.
* :func:`classical_instances`: the baseline: Otsu threshold of the smoothed image and a
  watershed of its distance transform seeded at distance maxima.
* :func:`ctc_scores`: the Cell Tracking Challenge SEG and DET of predicted against true
  instances (py-ctcmetrics), every frame scored as a separate detection task (each label
  its own one-frame track, so tracking plays no part).
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from scipy import ndimage

from cellshapes.errors import InputError

__all__ = ["phantom_scene", "targets", "normalise", "train_unet", "unet_instances",
           "classical_instances", "ctc_scores", "touching_pairs"]


# ----------------------------------------------------------------------------- data
def _phantom_cell(kind: str, frames: int, spacing: Sequence[float], seed: int) -> np.ndarray:
    """(T, z, y, x) bool masks of one procedural cell at about the scene's spacing."""
    from cellshapes.phantoms import FOV_UM, make_sequence

    size = max(16, int(round(FOV_UM[kind] / float(spacing[1]))))
    z = float(spacing[0]) if abs(spacing[0] - FOV_UM[kind] / size) > 1e-6 else None
    masks, _ = make_sequence(kind, max(frames, 2), size, seed, z_spacing_um=z)
    masks = masks[:frames] > 0
    keep = np.argwhere(masks.any(0))  # crop to the cell's bounding box over time
    lo, hi = keep.min(0), keep.max(0) + 1
    return masks[:, lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]


def phantom_scene(kind: str, cells: int, frames: int, shape: Sequence[int],
                  spacing: Sequence[float], seed: int, tries: int = 500,
                  touch: bool = False) -> np.ndarray:
    """A reference scene of procedural cells (module notes).

    Parameters
    ----------
    kind : {"growing", "dividing", "filopodial"}
    cells : int
        Cells placed (each with at least half of its first frame inside the field of view).
    frames : int
    shape : (3,) ints
        Field of view (Z, Y, X) in voxels.
    spacing : (3,) floats
        Voxel size in um; lateral spacing sets the phantom grid, z is sampled at dz.
    seed : int
    tries : int
        Random offsets tried per cell.
    touch : bool
        Slide every cell after the first, one voxel step at a time (diagonal, else along
        one axis), towards the centre of the cells placed so far until no step fits:
        cells in contact.

    Returns
    -------
    (T, Z, Y, X) int32 ndarray
        Instances, one label per 26-connected component of a cell in a frame.

    Raises
    ------
    InputError
        A cell found no place without overlap.
    """
    rng = np.random.default_rng(seed)
    shape = tuple(int(s) for s in shape)
    occupied = np.zeros((frames,) + shape, bool)
    out = np.zeros((frames,) + shape, np.int32)
    for c in range(cells):
        cell = _phantom_cell(kind, frames, spacing, int(rng.integers(1 << 30)))
        for _ in range(tries):
            lo = [int(rng.integers(-(n // 3), s - n + n // 3 + 1))
                  for n, s in zip(cell.shape[1:], shape)]
            if _fits(cell, lo, occupied):
                break
        else:
            raise InputError(f"phantom_scene: no place for cell {c + 1} of {cells} in "
                             f"{shape}; fewer cells or a larger field")
        if touch and c:
            lo = _slide(cell, lo, occupied)
        dst, src = _clip(lo, cell.shape[1:], shape)
        piece = cell[(slice(None),) + src]
        occupied[(slice(None),) + dst] |= piece
        out[(slice(None),) + dst][piece] = c + 1
    return _split_components(out)


def _fits(cell: np.ndarray, lo: Sequence[int], occupied: np.ndarray) -> bool:
    """Half the cell's first frame in view and no overlap with placed cells."""
    dst, src = _clip(lo, cell.shape[1:], occupied.shape[1:])
    piece = cell[(slice(None),) + src]
    return bool(piece[0].sum() > 0.5 * cell[0].sum()
                and not (occupied[(slice(None),) + dst] & piece).any())


def _slide(cell: np.ndarray, lo: list[int], occupied: np.ndarray) -> list[int]:
    """Move ``lo`` voxel by voxel towards the placed cells' centre while it still fits."""
    target = np.argwhere(occupied.any(0)).mean(0) - np.asarray(cell.shape[1:]) / 2.0
    for _ in range(int(sum(occupied.shape[1:]))):
        step = np.sign(np.round(target - np.asarray(lo))).astype(int)
        single = [np.eye(3, dtype=int)[a] * step[a] for a in np.flatnonzero(step)]
        moves = [[int(a + b) for a, b in zip(lo, m)] for m in [step, *single]]
        fitting = [m for m in moves if _fits(cell, m, occupied)] if step.any() else []
        if not fitting:
            break
        lo = fitting[0]  # the diagonal step where it fits, else one axis at a time
    return lo


def _clip(lo: Sequence[int], n: Sequence[int], shape: Sequence[int]
          ) -> tuple[tuple[slice, ...], tuple[slice, ...]]:
    a = [max(0, l) for l in lo]
    b = [max(x, min(l + k, s)) for x, l, k, s in zip(a, lo, n, shape)]
    return (tuple(slice(x, y) for x, y in zip(a, b)),
            tuple(slice(x - l, y - l) for x, y, l in zip(a, b, lo)))


def _split_components(labels: np.ndarray) -> np.ndarray:
    """Every 26-connected component of every label in every frame its own label."""
    out = np.zeros_like(labels)
    box = np.ones((3, 3, 3), bool)
    for t in range(labels.shape[0]):
        nxt = 1
        for lab in np.unique(labels[t])[1:]:
            comp, k = ndimage.label(labels[t] == lab, box)
            out[t][comp > 0] = comp[comp > 0] + nxt - 1
            nxt += k
    return out


def touching_pairs(labels: np.ndarray) -> int:
    """Pairs of different instances that share a face, summed over frames."""
    n = 0
    for f in labels:
        pairs = set()
        for ax in range(3):
            a, b = np.moveaxis(f, ax, 0)[:-1], np.moveaxis(f, ax, 0)[1:]
            m = (a > 0) & (b > 0) & (a != b)
            pairs |= {tuple(sorted(p)) for p in zip(a[m].tolist(), b[m].tolist())}
        n += len(pairs)
    return n


def targets(labels: np.ndarray) -> np.ndarray:
    """Classes of a (..., Z, Y, X) instance volume: 0 background, 1 interior, 2 boundary."""
    from skimage.segmentation import find_boundaries

    lab = np.asarray(labels)
    out = (lab > 0).astype(np.int64)
    flat = lab.reshape((-1,) + lab.shape[-3:])
    edge = np.stack([find_boundaries(f, connectivity=1, mode="inner") for f in flat])
    out[edge.reshape(lab.shape) & (lab > 0)] = 2
    return out


def normalise(image: np.ndarray) -> np.ndarray:
    """Per-volume 1st-99.8th percentile scaling to about [0, 1] (float32)."""
    lo, hi = np.percentile(image, [1.0, 99.8])
    return ((np.asarray(image, np.float32) - lo) / max(hi - lo, 1e-6)).astype(np.float32)


# ----------------------------------------------------------------------------- U-Net
def train_unet(images: Sequence[np.ndarray], labels: Sequence[np.ndarray], steps: int,
               seed: int, channels: Sequence[int] = (8, 16, 32), lr: float = 3e-3,
               batch: int = 2, device: str = "cpu") -> Any:
    """Train a small MONAI 3D U-Net on (image, instance) volume pairs.

    Parameters
    ----------
    images : sequence of (Z, Y, X) float arrays
        Camera counts; each is normalised (:func:`normalise`). Z, Y, X divisible by
        ``2 ** (len(channels) - 1)``.
    labels : sequence of (Z, Y, X) int arrays
        Instances; the classes are :func:`targets`.
    steps : int
        Optimiser steps (Adam), each on ``batch`` random volumes with random flips.
    seed : int
        Initialisation and batch order.
    channels : sequence of int
        Feature channels per level.

    Returns
    -------
    torch.nn.Module
        The network in eval mode (3 output classes).
    """
    import torch
    from monai.networks.nets import UNet

    if not len(images) or len(images) != len(labels):
        raise InputError("train_unet needs as many label volumes as images (>= 1)")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x = torch.tensor(np.stack([normalise(i) for i in images])[:, None])
    y = torch.tensor(np.stack([targets(lab) for lab in labels]))
    counts = torch.bincount(y.reshape(-1), minlength=3).float()
    weight = (counts.sum() / (3 * counts.clamp(min=1))).clamp(max=20.0)
    net = UNet(3, 1, 3, channels=tuple(channels), strides=(2,) * (len(channels) - 1),
               num_res_units=1).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weight.to(device))
    net.train()
    for _ in range(steps):
        idx = rng.integers(0, len(x), min(batch, len(x)))
        xb, yb = x[idx].to(device), y[idx].to(device)
        for ax in (2, 3):  # random flips in y and x
            if rng.random() < 0.5:
                xb, yb = xb.flip(ax + 1), yb.flip(ax)
        opt.zero_grad()
        loss = loss_fn(net(xb), yb)
        loss.backward()
        opt.step()
    return net.eval()


def unet_instances(net: Any, image: np.ndarray, min_voxels: int = 8,
                   device: str = "cpu") -> np.ndarray:
    """Instances of one (Z, Y, X) image: interior components seed a watershed of the
    interior probability inside the predicted foreground (interior or boundary)."""
    import torch
    from skimage.segmentation import watershed

    with torch.no_grad():
        p = torch.softmax(net(torch.tensor(normalise(image))[None, None].to(device)), 1)
    p = p[0].cpu().numpy()
    cls = p.argmax(0)
    seeds, _ = ndimage.label(cls == 1, np.ones((3, 3, 3), bool))
    sizes = np.bincount(seeds.ravel())
    seeds[sizes[seeds] < min_voxels] = 0
    return watershed(-p[1], seeds, mask=cls > 0).astype(np.int32)


def classical_instances(image: np.ndarray, spacing: Sequence[float],
                        smooth_um: float = 0.5, min_distance_um: float = 3.0) -> np.ndarray:
    """Baseline instances: Otsu threshold of the Gaussian-smoothed image, watershed of the
    distance transform (um) seeded at its maxima at least ``min_distance_um`` apart."""
    from skimage.feature import peak_local_max
    from skimage.filters import threshold_otsu
    from skimage.segmentation import watershed

    sp = np.asarray(spacing, float)
    img = ndimage.gaussian_filter(np.asarray(image, np.float32), smooth_um / sp)
    fg = img > threshold_otsu(img)
    dist = ndimage.distance_transform_edt(fg, sampling=sp)
    peaks = peak_local_max(dist, min_distance=max(1, int(round(min_distance_um / sp.max()))),
                           labels=fg.astype(int), exclude_border=False)
    markers = np.zeros(img.shape, np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    return watershed(-dist, markers, mask=fg).astype(np.int32)


# ----------------------------------------------------------------------------- scores
def _write_frames(folder: Path, prefix: str, vols: Sequence[np.ndarray], track_file: str
                  ) -> None:
    """Frames as CTC TIFFs, every label its own one-frame track (unique over frames)."""
    import tifffile

    folder.mkdir(parents=True, exist_ok=True)
    rows, base = [], 0
    for t, v in enumerate(vols):
        v = np.asarray(v)
        ids = np.unique(v)[1:]
        lut = np.zeros(int(v.max()) + 1, np.uint16)
        lut[ids] = np.arange(base + 1, base + 1 + len(ids))
        tifffile.imwrite(folder / f"{prefix}{t:03d}.tif", lut[v])
        rows += [f"{i} {t} {t} 0\n" for i in range(base + 1, base + 1 + len(ids))]
        base += len(ids)
    (folder / track_file).write_text("".join(rows))


def ctc_scores(truth: Sequence[np.ndarray], predicted: Sequence[np.ndarray]
               ) -> dict[str, float]:
    """CTC SEG and DET (py-ctcmetrics) of predicted against true (Z, Y, X) instances.

    Returns
    -------
    dict
        ``SEG`` and ``DET`` in [0, 1] (1: perfect).

    Notes
    -----
    py-ctcmetrics fails on a one-frame sequence; a single frame is scored twice (both
    measures are ratios over all frames, so the value is that of the frame).
    """
    from ctc_metrics.scripts.evaluate import evaluate_sequence

    if len(truth) != len(predicted) or not len(truth):
        raise InputError(f"ctc_scores: {len(truth)} true and {len(predicted)} predicted frames")
    if len(truth) == 1:
        truth, predicted = [truth[0]] * 2, [predicted[0]] * 2

    with tempfile.TemporaryDirectory() as tmp:
        gt, res = Path(tmp) / "01_GT", Path(tmp) / "01_RES"
        _write_frames(gt / "SEG", "man_seg", truth, "unused.txt")
        _write_frames(gt / "TRA", "man_track", truth, "man_track.txt")
        _write_frames(res, "mask", predicted, "res_track.txt")
        s = evaluate_sequence(str(res), str(gt), metrics=["SEG", "DET"], threads=1)
    return {"SEG": float(s["SEG"]), "DET": float(s["DET"])}
