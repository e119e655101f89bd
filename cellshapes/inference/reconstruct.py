"""Reconstruction: rebuild a trained run's sequences as masks and SDF volumes.

``load_run`` rebuilds the model of a run directory; ``reconstruct_run`` (``cellshapes
reconstruct``) evaluates its learned sequences at any grid size and frame count with
``grid.sequence_sdf`` and writes them in the prepared dataset layout.
"""
from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np
import torch

from cellshapes.config import ModelConfig, from_dict
from cellshapes.errors import CheckpointError, DatasetFormatError, InputError
from cellshapes.inference.grid import (GridOptions, check_grid_args, check_grid_memory, grid_attrs,
                                       sequence_sdf)
from cellshapes.model import AutoDecoder
from cellshapes.progress import track
from cellshapes.resources import resolve_device
from cellshapes.training.checkpoint import load_checkpoint, read_config, run_path
from cellshapes.training.sampling import frame_times

__all__ = ["load_run", "reconstruct_run"]


def load_run(run: str | os.PathLike, device: str | torch.device = "cpu",
             epoch: int | None = None) -> tuple[AutoDecoder, dict[str, Any]]:
    """Rebuild the model of a run directory from ``config.json`` and its latest checkpoint
    (or the kept checkpoint of ``epoch``, :func:`~cellshapes.training.checkpoint.
    load_checkpoint`).

    Returns
    -------
    model : AutoDecoder
        In eval mode on ``device``; ``model.data_attrs`` holds the per-sequence attributes
        of its training data (their units give :func:`cellshapes.inference.grid.sequence_sdf` its
        default narrow-band bound).
    config : dict
        The run's ``config.json``.
    """
    dev = resolve_device(device)
    config = read_config(run)
    try:
        mcfg = from_dict(ModelConfig, config["model"])
    except (TypeError, ValueError) as exc:  # a hand-edited or foreign config.json
        raise DatasetFormatError(f"{run}/config.json: invalid 'model' section ({exc})"
                                 ) from None
    state = load_checkpoint(run, map_location=dev, epoch=epoch)
    codes = state["model"].get("codes")
    if not isinstance(codes, torch.Tensor) or codes.ndim != 2:
        raise CheckpointError(f"{run}: checkpoint has no (n_sequences, latent_dim) 'codes'")
    model = AutoDecoder(mcfg, codes.shape[0]).to(dev)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise CheckpointError(f"{run}: checkpoint does not match config.json ({first})"
                              ) from None
    model.eval()
    model.data_attrs = [dict(a) for a in config.get("data", {}).get("attrs", [])]
    return model, config


def _parse_sequences(spec: str | Sequence[int] | None, n: int) -> list[int]:
    if spec is None:
        return list(range(n))
    if isinstance(spec, str):
        try:
            spec = [int(s) for s in spec.split(",") if s.strip()]
        except ValueError:
            raise InputError(f"--sequences must be comma-separated integers, got {spec!r}") \
                from None
    bad = [i for i in spec if not 0 <= i < n]
    if bad:
        raise InputError(f"sequence indices {bad} out of range 0..{n - 1}")
    return list(spec)


def reconstruct_run(run: str | os.PathLike, out: str | os.PathLike, size: int | None = None,
                    frames: int | None = None, sequences: str | Sequence[int] | None = None,
                    device: str = "auto", overwrite: bool = False, progress: bool = True,
                    options: GridOptions | None = None) -> list[str]:
    """Rebuild sequences of a run as masks (TIFF) and SDFs (HDF5).

    Writes ``out/masks/<name>.tif`` (T, Z, Y, X) uint8 and ``out/sdf.h5`` (the prepared
    dataset layout, so ``describe``/``evaluate`` read it). ``size`` and ``frames`` default
    to the training grid and frame count; other values interpolate in space and time.
    Each sequence's attributes record how it was evaluated: ``evaluated_fraction``,
    ``narrow_band_slope`` (the largest slope of its margin), ``lipschitz_measured`` and
    the number of frames whose slope was ``lipschitz_raised`` by the measured gradient or
    that fell back to ``dense_frames`` (see :func:`cellshapes.inference.grid.sdf_grid`).

    Parameters
    ----------
    options : GridOptions, optional
        Narrow band and memory settings (default: ``GridOptions()``; every field is an
        option of ``cellshapes reconstruct``). ``GridOptions(narrow_band=False)``
        (``reconstruct --dense``) evaluates every voxel.

    Returns
    -------
    list of str
        Names of the written sequences.
    """
    from cellshapes.atomic import atomic_dir
    from cellshapes.io import SDFSequence, write_dataset, write_tiff

    check_grid_args(size, frames)
    model, config = load_run(run, device)
    data = config["data"]
    names = data["names"]
    chosen = _parse_sequences(sequences, model.n_sequences)
    s_all = size or int(data["size"])
    known = [int(t) for t in data["frames"]]
    t_of = {i: frames or (known[i] if i < len(known) else max(known, default=1)) for i in chosen}
    check_grid_memory(sum(t_of.values()), s_all, "reconstruct")
    written = []
    with atomic_dir(out, overwrite=overwrite) as tmp:
        seqs = []
        it = track(chosen, progress, desc="reconstruct", unit="seq")
        for i in it:
            attrs = dict(data["attrs"][i]) if i < len(data["attrs"]) else {}
            s = size or int(data["size"])
            t = t_of[i]
            sdf, stats = sequence_sdf(model, frame_times(t), s, seq=i, options=options)
            attrs.update(grid_attrs(attrs, s), source=f"reconstruction of {run}",
                         evaluated_fraction=stats["fraction"], narrow_band_slope=stats["slope"],
                         lipschitz_measured=stats["lipschitz_measured"],
                         lipschitz_raised=int(stats["raised"]),
                         dense_frames=int(stats["dense_fallback"]))
            name = names[i] if i < len(names) else f"seq_{i:04d}"
            write_tiff(run_path(tmp / "masks", f"{name}.tif"), (sdf <= 0).astype(np.uint8),
                       spacing=(attrs["voxel_um"],) * 3)
            seqs.append(SDFSequence(name, sdf, attrs))
            written.append(name)
        write_dataset(tmp / "sdf.h5", seqs)
    return written
