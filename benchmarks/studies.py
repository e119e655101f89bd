"""Shared pieces of the small study scripts (``convergence``, ``finetune``, ``fragmentation``).

Each script trains a few runs on phantoms in a temporary folder and writes one JSON; this
module holds the command line, the temporary phantom data set, the continued run that
is scored after each of several epoch counts, and the last-frame topology scores.
"""
from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import torch

from cellshapes.repro import workflow
from cellshapes.training.loop import train


def out_argument(doc: str, default: str) -> Path:
    """``--out`` of a study script (2 torch threads, as every number in RESULTS.md)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(default))
    torch.set_num_threads(2)
    return parser.parse_args().out


@contextlib.contextmanager
def phantom_data(kind: str, profile: str, seed: int, **sizes: Any) -> Iterator[tuple[Path, Path]]:
    """(prepared phantom data set, work folder), both deleted afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        yield workflow.phantom_dataset(kind, work / "data", profile, seed, **sizes), work


def continued_run(ds: Path, run: Path, mcfg: Any, first: Any, epochs: Sequence[int],
                  profile: str, score: Callable[[int], dict]) -> tuple[list[dict], float]:
    """Train ``run`` to each of ``epochs`` in turn (exact resume) and ``score`` it there.

    ``first`` is the TrainConfig of the first segment (its ``epochs`` is replaced).
    Returns the scored rows and the training seconds in all.
    """
    from dataclasses import replace

    rows, seconds = [], 0.0
    for k, n in enumerate(epochs):
        t0 = time.perf_counter()
        if k == 0:
            train(ds, run, mcfg, replace(first, epochs=n), device="cpu", progress=False,
                  profile=profile)
        else:
            train(ds, run, device="cpu", resume=True, epochs=n, progress=False)
        seconds += time.perf_counter() - t0
        rows.append({"epochs": n, "train_s": seconds, **score(n)})
    return rows, seconds


def last_frame_scores(ds: Path, run: Path, rec: Path) -> dict[str, float]:
    """Reconstruct ``run`` into ``rec`` and score the last frame of every sequence.

    Returns
    -------
    dict
        Means over the sequences of ``dsc_last``, ``island_fraction_last`` and
        ``connected_protrusion_recall_last`` (:func:`cellshapes.measure.compare.compare_path`).

    Raises
    ------
    InputError
        A cell is rebuilt as nothing at the last frame (no surface to compare).
    """
    import json

    from cellshapes.inference.reconstruct import reconstruct_run
    from cellshapes.measure.compare import compare_path

    reconstruct_run(run, rec, device="cpu", progress=False, overwrite=True)
    cfg = json.loads((run / "config.json").read_text())
    scores = compare_path(ds, rec / "sdf.h5", frame=int(cfg["data"]["frames"][0]) - 1)
    return {"dsc_last": float(scores["dsc"].mean()),
            "island_fraction_last": float(scores["island_fraction"].mean()),
            "connected_protrusion_recall_last":
                float(scores["connected_protrusion_recall"].mean())}
