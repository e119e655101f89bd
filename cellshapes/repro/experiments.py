"""Scoring helpers for the interpolation and ablation experiments (paper Sec 5.4-5.7).

The notebooks 06-09 compare a run's reconstructions with a reference dataset frame by
frame, sometimes at another grid than the one the run was trained on:

* temporal interpolation (Sec 5.4): every frame of the reference, marked trained or
  held out (``frames_every`` of the run);
* spatial interpolation (Sec 5.5): reconstructions at several grid sizes against one
  high-resolution truth; smaller reconstructions are upsampled to the truth's grid with
  nearest-neighbour interpolation, as the paper does;
* w0 sweep and DeepSDF comparison (Sec 5.6, 5.7): DSC and sphericity at the last frame.

:func:`regrid_dataset` prepares the masks behind a :func:`cellshapes.repro.workflow.phantom_dataset`
again at another grid, so that several training grids and the truth share the same cells,
the same dataset-wide scale and the same centring.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from cellshapes.errors import InputError
from cellshapes.progress import track
from cellshapes.repro.cache import cached, path_identity

__all__ = ["resample_nearest", "regrid_dataset", "frame_scores",
           "score_arms", "epoch_curves", "rebuild", "describe_frames"]

_DESCRIPTORS = ("volume_um3", "surface_um2", "sphericity")


def resample_nearest(volume: Any, size: int) -> np.ndarray:
    """Nearest-neighbour resampling of a corner-aligned cube to ``size``^3.

    Both grids span [-1, 1]^3 with voxel centres on the corners (docs/contracts.md), so
    output voxel ``j`` takes input voxel ``round(j (S - 1) / (size - 1))``.

    Parameters
    ----------
    volume : array_like, shape (..., S, S, S)
        Mask or SDF; leading axes (e.g. time) are kept.
    size : int
        Output edge (>= 2); larger than S upsamples, smaller downsamples.

    Returns
    -------
    ndarray, shape (..., size, size, size), same dtype
    """
    vol = np.asarray(volume)
    if vol.ndim < 3 or len(set(vol.shape[-3:])) != 1:
        raise InputError(f"resample_nearest needs (..., S, S, S) cubes, got {vol.shape}")
    if int(size) < 2:
        raise InputError(f"size must be >= 2, got {size}")
    s = vol.shape[-1]
    idx = np.rint(np.arange(int(size)) * (s - 1) / (int(size) - 1)).astype(np.intp)
    return vol[..., idx[:, None, None], idx[None, :, None], idx[None, None, :]]


def regrid_dataset(dataset: str | os.PathLike, size: int, progress: bool = False,
                   rebuild: bool = False) -> Path:
    """The masks behind a phantom dataset, prepared again at grid ``size`` (cached).

    :func:`cellshapes.repro.workflow.phantom_dataset` keeps the masks it drew next to the
    prepared file (``<name>_masks``). Preparing the same masks at another grid keeps the
    cells, the dataset-wide scale and the centring identical, so models trained on
    different grids are compared on the same shapes (the paper's DS_Filo variants at
    192^3 / 256^3 / 384^3, Sec 5.5).

    Parameters
    ----------
    dataset : path
        A prepared dataset written by ``phantom_dataset``.
    size : int
        New grid edge.
    rebuild : bool
        Rebuild a regridded file made from other masks (default: refuse,
        :class:`~cellshapes.repro.cache.StaleOutputError`).

    Returns
    -------
    Path
        ``<name>_grid<size>.h5`` next to ``dataset`` (reused while the masks and the
        dataset it was made from are unchanged).
    """
    from cellshapes.io import dataset_info
    from cellshapes.prepare import prepare_dataset

    dataset = Path(dataset)
    masks = dataset.with_name(f"{dataset.stem}_masks")
    files = sorted(masks.glob("*.tif"))
    if not files:
        raise InputError(f"no masks next to {dataset} (expected {masks}/*.tif, as written by "
                         "workflow.phantom_dataset)")
    cell_type = str(dataset_info(dataset)[0]["attrs"].get("cell_type", ""))

    def build(out: Path) -> None:
        prepare_dataset(files, out, size=int(size), cell_type=cell_type, overwrite=True,
                        progress=progress)

    key = dict(kind="regrid_dataset", size=int(size), masks=path_identity(masks),
               source=path_identity(dataset))
    return cached(dataset.with_name(f"{dataset.stem}_grid{int(size)}.h5"), key, build,
                  rebuild=rebuild)


def _reference(dataset: str | os.PathLike, names: Sequence[str]) -> list[dict[str, Any]]:
    from cellshapes.io import dataset_info

    info = [i for i in dataset_info(dataset) if i["name"] in names]
    if not info:
        raise InputError(f"no sequence of {dataset} matches the run's sequences "
                         f"{list(names)[:5]}...")
    return info


def _frames(spec: Sequence[int] | None, n: int) -> list[int]:
    if spec is None:
        return list(range(n))
    out = [int(k) + n if int(k) < 0 else int(k) for k in spec]
    bad = [k for k in out if not 0 <= k < n]
    if bad:
        raise InputError(f"frames {bad} outside 0..{n - 1}")
    return out


def _has_surface(sdf: np.ndarray) -> bool:
    """False for an empty or all-inside volume: no surface to measure or compare."""
    return 0.0 < float((sdf <= 0).mean()) < 1.0


def _describe(sdf: np.ndarray, voxel_um: float, prefix: str = "") -> dict[str, float]:
    from cellshapes.measure.metrics import describe_volume

    if not _has_surface(sdf):
        return {prefix + c: float("nan") for c in _DESCRIPTORS}
    d = describe_volume(sdf, (voxel_um,) * 3, is_sdf=True)
    return {prefix + c: float(d[c]) for c in _DESCRIPTORS}


def _surface(truth: np.ndarray, rec: np.ndarray, voxel_um: float) -> dict[str, float]:
    from cellshapes.measure.compare import compare_shapes

    keys = ("hd95_um", "assd_um", "surface_dice", "protrusion_recall", "components",
            "island_fraction", "connected_protrusion_recall")
    if not _has_surface(rec):
        return {k: float("nan") for k in keys}
    out = compare_shapes(truth, rec, (voxel_um,) * 3, is_sdf_truth=True, is_sdf_other=True)
    return {k: float(out[k]) for k in keys}


def _islands(truth: np.ndarray, rec: np.ndarray) -> dict[str, float]:
    from cellshapes.measure.topology import matched_foreground

    shape = rec <= 0
    matched, n = matched_foreground(truth <= 0, shape)
    size = int(shape.sum())
    return {"components": float(n),
            "island_fraction": 0.0 if size == 0 else 1.0 - float(matched.sum()) / size}


def frame_scores(run: str | os.PathLike, reference: str | os.PathLike,
                 frames: Sequence[int] | None = None, sizes: int | Sequence[int] | None = None,
                 sequences: Sequence[str] | None = None, device: str = "auto",
                 describe: bool = True, surface: bool = False, options: Any = None,
                 progress: bool = False, epoch: int | None = None, islands: bool = False
                 ) -> "pd.DataFrame":  # noqa: F821
    """DSC (and descriptors) of a run's reconstructions per sequence, frame and grid size.

    Sequences are matched to ``reference`` by name; frame ``k`` of a reference sequence
    with T frames is rebuilt at time ``frame_times(T)[k]``. A reconstruction at a grid
    other than the reference's is resampled to the reference grid by nearest neighbour
    before the DSC (Sec 5.5); its descriptors are measured at its own grid.

    Parameters
    ----------
    run : path
        A run directory (trained or derived).
    reference : path
        Prepared dataset holding the truth (its grid may differ from the run's).
    frames : sequence of int, optional
        Reference frame indices (negative counts from the end); default all.
    sizes : int or sequence of int, optional
        Reconstruction grid(s); default the reference grid.
    sequences : sequence of str, optional
        Names to score (default: every name the run and the reference share).
    describe : bool
        Also measure volume, surface and sphericity (36 pi V^2 / A^3) of the
        reconstruction and, as ``real_*``, of the reference.
    surface : bool
        Also compare the surfaces on the reference grid
        (:func:`cellshapes.measure.compare.compare_shapes`): ``hd95_um``, ``assd_um``,
        ``surface_dice``, ``protrusion_recall`` (NaN where the truth has no
        protrusion) and the topology of the reconstruction (``components``,
        ``island_fraction``, ``connected_protrusion_recall``,
        :mod:`cellshapes.measure.topology`), tolerance one voxel diagonal of the
        reference grid.
    islands : bool
        Only the topology part of ``surface`` (``components``, ``island_fraction``,
        :mod:`cellshapes.measure.topology`), which costs a labelling, not a surface
        comparison; implied by ``surface``.
    epoch : int, optional
        Score the run's kept checkpoint of this epoch instead of its latest.

    Returns
    -------
    pandas.DataFrame
        One row per (sequence, frame, size): ``sequence``, ``frame``, ``time``,
        ``trained`` (the frame was a training frame; None when the reference's frame
        count differs from the run's), ``size``, ``dsc`` and the descriptors.
    """
    import pandas as pd

    from cellshapes.inference.grid import sequence_sdf
    from cellshapes.inference.reconstruct import load_run
    from cellshapes.io import read_dataset
    from cellshapes.measure.metrics import dice
    from cellshapes.training.sampling import frame_times

    model, config = load_run(run, device, epoch=epoch)
    data = config["data"]
    every = int(config["train"].get("frames_every", 1))
    chosen = [n for n in data["names"] if sequences is None or n in sequences]
    info = _reference(reference, chosen)
    grid_list = [sizes] if isinstance(sizes, (int, np.integer)) else sizes
    rows = []
    it = track(info, progress, desc="score", unit="seq")
    for ref in it:
        i = data["names"].index(ref["name"])
        gt = read_dataset(reference, [ref["name"]])[0].sdf
        n_ref, s_ref = gt.shape[0], gt.shape[-1]
        run_frames = int(data["frames"][i])
        ks = _frames(frames, n_ref)
        times = frame_times(n_ref)[ks]
        real = {k: _describe(gt[k], float(ref["attrs"]["voxel_um"]), "real_") if describe
                else {} for k in ks}
        attrs = data["attrs"][i] if i < len(data["attrs"]) else {}
        scale = float(attrs.get("scale_um", ref["attrs"].get("scale_um", 1.0)))
        for s in [int(g) for g in (grid_list or [s_ref])]:
            sdf, _ = sequence_sdf(model, times, s, seq=i, options=options)
            for j, k in enumerate(ks):
                rec = sdf[j] if s == s_ref else resample_nearest(sdf[j], s_ref)
                row = {"sequence": ref["name"], "frame": k, "time": float(times[j]),
                       "trained": (k % every == 0) if n_ref == run_frames else None,
                       "size": s, "dsc": dice(rec <= 0, gt[k] <= 0)}
                if describe:
                    row.update(_describe(sdf[j], 2.0 * scale / (s - 1)), **real[k])
                if surface:
                    row.update(_surface(gt[k], rec, float(ref["attrs"]["voxel_um"])))
                elif islands:
                    row.update(_islands(gt[k], rec))
                rows.append(row)
    return pd.DataFrame(rows)


def score_arms(runs: Mapping[tuple[Any, int], str | os.PathLike],
               reference: str | os.PathLike, arm: str, device: str = "auto",
               frames: Sequence[int] = (-1,)) -> "pd.DataFrame":  # noqa: F821
    """:func:`frame_scores` with surface metrics of every run of a comparison.

    Parameters
    ----------
    runs : mapping
        ``(arm value, training seed) -> run directory``.
    reference : path-like
        The dataset the runs were trained on.
    arm : str
        Name of the column that holds the arm value (``"omega0"``, ``"model"``).
    frames : sequence of int
        Frames to score (default the last).

    Returns
    -------
    pandas.DataFrame
        The rows of :func:`frame_scores` with ``arm`` and ``train_seed`` columns and
        ``sph_error``, |sphericity - real sphericity|. Reconstructions without a surface
        (sphericity NaN, DSC 0) are counted per arm in a printed warning.
    """
    import pandas as pd

    scores = pd.concat([frame_scores(run, reference, frames=list(frames), device=device,
                                     surface=True).assign(**{arm: a, "train_seed": s})
                        for (a, s), run in runs.items()], ignore_index=True)
    scores["sph_error"] = (scores["sphericity"] - scores["real_sphericity"]).abs()
    empty = scores[scores["sphericity"].isna()].groupby(arm).size()
    if len(empty):
        print("WARNING: reconstructions with no surface (no zero level set) per arm:",
              empty.to_dict())
    return scores


def epoch_curves(runs: Mapping[tuple[Any, int], str | os.PathLike],
                 reference: str | os.PathLike, arm: str, epochs: Sequence[int],
                 device: str = "auto", frames: Sequence[int] = (-1,)
                 ) -> "pd.DataFrame":  # noqa: F821
    """DSC of each run's kept checkpoints and its training loss, per epoch (Fig 12e).

    Parameters
    ----------
    runs : mapping
        ``(arm value, training seed) -> run directory``, trained with a checkpoint at
        every epoch of ``epochs`` kept (``checkpoint_every``, ``keep_checkpoints``).
    reference : path-like
        The dataset the runs were trained on.
    arm : str
        Name of the column that holds the arm value.
    epochs : sequence of int
        Checkpoint epochs to score.
    frames : sequence of int
        Frames to score (default the last).

    Returns
    -------
    pandas.DataFrame
        One row per (arm, seed, epoch): ``arm``, ``train_seed``, ``epoch``, ``dsc`` (mean
        over the sequences and ``frames``) and ``rec_loss`` (the training L1 loss of that
        epoch from ``log.csv``).
    """
    import pandas as pd

    rows = []
    for (a, s), run in runs.items():
        log = pd.read_csv(Path(run) / "log.csv").set_index("epoch")
        for e in epochs:
            dsc = frame_scores(run, reference, frames=list(frames), device=device,
                               describe=False, epoch=int(e))["dsc"].mean()
            rows.append({arm: a, "train_seed": s, "epoch": int(e), "dsc": float(dsc),
                         "rec_loss": float(log.loc[int(e), "rec_loss"])})
    return pd.DataFrame(rows)


def rebuild(run: str | os.PathLike, seq: int | str, times: Sequence[float],
            size: int | None = None, device: str = "cpu") -> tuple[np.ndarray, float]:
    """SDF of one training sequence of a run at the given times and grid (for renders).

    Parameters
    ----------
    seq : int or str
        Sequence index or name in the run.
    times : sequence of float
        Time coordinates in [-1, 1].
    size : int, optional
        Grid edge (default: the training grid).

    Returns
    -------
    sdf : (T, S, S, S) float32 array
    voxel_um : float
        Voxel size of that grid in um.
    """
    from cellshapes.inference.grid import sequence_sdf
    from cellshapes.inference.reconstruct import load_run

    model, config = load_run(run, device)
    data = config["data"]
    i = data["names"].index(seq) if isinstance(seq, str) else int(seq)
    attrs = data["attrs"][i] if i < len(data["attrs"]) else {}
    s = int(size or data["size"])
    sdf, _ = sequence_sdf(model, times, s, seq=i)
    return sdf, 2.0 * float(attrs.get("scale_um", 1.0)) / (s - 1)


def describe_frames(sdf: Any, voxel_um: float) -> "pd.DataFrame":  # noqa: F821
    """Volume, surface and sphericity of every frame of a (T, S, S, S) SDF.

    Unlike :func:`cellshapes.measure.metrics.describe_sequence`, a frame without a surface (empty
    or all inside, e.g. from a barely trained model) gives NaN instead of an error.

    Returns
    -------
    pandas.DataFrame
        ``frame``, ``volume_um3``, ``surface_um2``, ``sphericity``.
    """
    import pandas as pd

    return pd.DataFrame([{"frame": k, **_describe(np.asarray(v), voxel_um)}
                         for k, v in enumerate(sdf)])
