"""Evaluation of a trained run against a dataset: DSC per frame and shape descriptors.

``evaluate_run`` (``cellshapes evaluate``) rebuilds every sequence of a dataset that the
run was trained on (matched by name) on the dataset's grid and compares masks (DSC) and
descriptor distributions (means and KS tests).
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from cellshapes.errors import InputError
from cellshapes.inference.grid import GridOptions, check_grid_args, sequence_sdf
from cellshapes.inference.reconstruct import load_run
from cellshapes.progress import track
from cellshapes.training.data import TrainingData, load_training_data
from cellshapes.training.sampling import frame_times

__all__ = ["evaluate_run"]


def evaluate_run(run: str | os.PathLike, dataset: str | os.PathLike, size: int | None = None,
                 device: str = "auto", progress: bool = True,
                 options: GridOptions | None = None) -> dict[str, Any]:
    """DSC per sequence and frame, plus descriptor summaries, of a run against a dataset.

    Sequences are matched by name. Frames not used in training (``frames_every`` > 1)
    are reported separately as ``dsc_heldout_mean``.

    Returns
    -------
    dict
        ``dsc_mean``, ``dsc_train_frames_mean``, ``dsc_heldout_mean`` (or None),
        ``per_sequence`` {name: [DSC per frame]}, ``empty_reconstructed_frames``
        (``name#frame`` of reconstructions without a surface: DSC 0, no descriptors), ``sources`` {name: the input and label id
        it was prepared from, e.g. ``labels.tif#label=7``}, ``descriptors`` (means of real and
        reconstructed) and ``ks`` (KS p-values real vs reconstructed).
    """
    from cellshapes.measure.metrics import describe_sequence, dice_per_frame, ks_tests

    check_grid_args(size, None)
    model, config = load_run(run, device)
    truth = load_training_data(dataset)
    names = config["data"]["names"]
    every = int(config["train"].get("frames_every", 1))
    matched = [(names.index(n), j) for j, n in enumerate(truth.names) if n in names]
    if not matched:
        raise InputError(f"no sequence of {dataset} matches the run's sequences {names[:5]}...")
    _check_same_scale(config["data"].get("attrs", []), truth, matched, dataset)
    per_seq: dict[str, list[float]] = {}
    train_d, held_d, real_rows, rec_rows = [], [], [], []
    empty: list[tuple[str, int]] = []  # reconstructed frames without a surface
    it = track(matched, progress, desc="evaluate", unit="seq")
    for i, j in it:
        gt = truth.volumes[j]
        s = size or gt.shape[-1]
        if s != gt.shape[-1]:
            raise InputError(f"--size {s} differs from the dataset grid {gt.shape[-1]}")
        attrs = truth.attrs[j]
        sdf, _ = sequence_sdf(model, frame_times(gt.shape[0]), s, seq=i, options=options)
        d = dice_per_frame(sdf <= 0, gt <= 0)
        per_seq[truth.names[j]] = [round(float(v), 5) for v in d]
        for k, v in enumerate(d):
            (train_d if k % every == 0 else held_d).append(float(v))
        voxel = float(attrs.get("voxel_um", 1.0))
        for rows, vol in ((real_rows, gt), (rec_rows, sdf)):
            shaped = [k for k in range(vol.shape[0]) if (vol[k] <= 0).any() and not
                      (vol[k] <= 0).all()]  # an under-trained model may rebuild nothing
            empty.extend((truth.names[j], k) for k in range(vol.shape[0]) if k not in shaped
                         and vol is sdf)
            if shaped:
                df = describe_sequence(vol[shaped], (voxel,) * 3, is_sdf=True)
                df["frame"] = shaped
                df["sequence"] = truth.names[j]
                rows.append(df)
    import pandas as pd

    cols = ["volume_um3", "surface_um2", "sphericity"]
    real = pd.concat(real_rows)
    rec = pd.concat(rec_rows) if rec_rows else pd.DataFrame(columns=["frame", *cols])
    ks = ks_tests(real, rec, columns=cols) if len(rec) else pd.DataFrame(
        [{"descriptor": c, "statistic": float("nan"), "pvalue": float("nan")} for c in cols])
    all_d = train_d + held_d
    return {
        "run": str(run), "dataset": str(dataset),
        "dsc_mean": float(np.mean(all_d)),
        "dsc_std": float(np.std(all_d)),
        "dsc_train_frames_mean": float(np.mean(train_d)),
        "dsc_heldout_mean": float(np.mean(held_d)) if held_d else None,
        "per_sequence": per_seq,
        # which cell each sequence is: "labels.tif#label=7" after prepare --per-label
        "sources": {truth.names[j]: str(truth.attrs[j].get("source", "")) for _, j in matched},
        "empty_reconstructed_frames": [f"{n}#{k}" for n, k in empty],
        "descriptors": {"real": {c: float(real[c].mean()) for c in cols},
                        "reconstructed": {c: float(rec[c].mean()) for c in cols}},
        "ks": {r["descriptor"]: {"statistic": float(r["statistic"]), "pvalue": float(r["pvalue"])}
               for _, r in ks.iterrows()},
    }


def _check_same_scale(run_attrs: list[dict[str, Any]], truth: TrainingData,
                      matched: list[tuple[int, int]], dataset: str | os.PathLike) -> None:
    """InputError if a matched sequence was prepared at another um-per-unit scale than the
    run's training data (its DSC would compare shapes at different sizes)."""
    for i, j in matched:
        a = float(run_attrs[i]["scale_um"]) if i < len(run_attrs) and "scale_um" in \
            run_attrs[i] else None
        b = truth.attrs[j].get("scale_um")
        if a is not None and b is not None and not np.isclose(a, float(b), rtol=1e-4):
            raise InputError(f"{dataset}: sequence {truth.names[j]} has scale_um {float(b):.6g} "
                             f"but the run was trained with {a:.6g} (mismatched spacing); "
                             "prepare both with the same inputs and spacing")
