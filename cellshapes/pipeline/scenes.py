"""``cellshapes model --synthesize N --scene CELLS``: multi-cell scenes of the trained run
(:mod:`cellshapes.synthesis.scene`) instead of single new cells."""
from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["scene_geometry", "scene_stage"]


def say(msg: str, progress: bool) -> None:
    """A stage line on stderr (as the other stages of ``cellshapes model``)."""
    if progress:
        print(f"cellshapes model: {msg}", file=sys.stderr, flush=True)


def scene_geometry(video: Path, request: Any) -> tuple[int, tuple, tuple]:
    """Frames, (Z, Y, X) shape and spacing (um) of a checked label video.

    ``request`` is the :class:`~cellshapes.pipeline.stages.ModelRequest`; the spacing is
    its, else the file's, else 1 um.
    """
    from cellshapes.io import read_masks

    labels, info = read_masks(video)
    spacing = request.spacing or info.get("spacing_um") or (1.0, 1.0, 1.0)
    return int(labels.shape[0]), tuple(int(v) for v in labels.shape[1:]), \
        tuple(float(v) for v in spacing)


def _row(name: str, frames: int, tracks: list, record: dict[str, Any]) -> dict[str, Any]:
    """The report's row of one scene."""
    return {"scene": name, "frames": frames, "labels": len(tracks),
            "with a parent": record["labels_with_parent"],
            "labels in frame 0": record["labels_per_frame"][0],
            "island voxels removed": record["island_voxels_removed"],
            "border fragment voxels removed": int(sum(record["border_fragment_voxels_removed"]))}


def scene_stage(out: Path, video: Path, request: Any, device: str,
                progress: bool) -> pd.DataFrame:
    """``--synthesize N --scene CELLS``: N scenes in ``out/scenes/`` (and their CTC
    sequences in ``out/ctc/`` with ``--ctc``), in the field of view, spacing and frames of
    ``video``; skipped when ``out/scenes.json`` exists. ``request`` is the
    :class:`~cellshapes.pipeline.stages.ModelRequest` (``synthesize``, ``scene``, ``ctc``,
    ``tracks``: daughters get labels, ``seed``: scene i uses ``seed + i``).

    Returns
    -------
    pandas.DataFrame
        One row per scene: labels, labels with a parent, labels in frame 0, island and
        border-fragment voxels removed.
    """
    from cellshapes.atomic import atomic_dir, atomic_path
    from cellshapes.synthesis.ctc import write_sequence
    from cellshapes.synthesis.scene import (SceneConfig, scene_from_run, scene_images,
                                            write_scene)

    summary_path = out / "scenes.json"
    if not summary_path.exists():
        frames, shape, spacing = scene_geometry(video, request)
        say(f"synthesizing {request.synthesize} scene(s) of {request.scene} cells, "
            f"{frames} x {shape} voxels at {spacing} um -> {out / 'scenes'}", progress)
        rows: list[dict[str, Any]] = []
        export = (atomic_dir(out / "ctc", overwrite=True) if request.ctc
                  else contextlib.nullcontext(None))
        with atomic_dir(out / "scenes", overwrite=True) as tmp, export as ctc:
            for i in range(request.synthesize):
                cfg = SceneConfig(cells=request.scene, frames=frames, shape=shape,
                                  spacing=spacing, seed=request.seed + i,
                                  divides=True if request.tracks else None)
                sc = scene_from_run(out / "run", cfg, device, progress)
                images = scene_images(sc, seed=request.seed + i) if request.ctc else None
                write_scene(sc, tmp / f"scene_{i:02d}", images=images)
                if request.ctc:
                    write_sequence(ctc, f"{i + 1:02d}", images, sc.labels, sc.tracks)
                rows.append(_row(f"scene_{i:02d}", frames, sc.tracks, sc.record))
            if ctc is not None:
                (ctc / "export.json").write_text(json.dumps(
                    {"format": "cellshapes.ctc", "dims": 3, "images": "simulator",
                     "source": "scenes", "sequences": rows}, indent=1) + "\n")
        with atomic_path(summary_path) as tmp:
            tmp.write_text(json.dumps(rows, indent=1))
    return pd.DataFrame(json.loads(summary_path.read_text()))
