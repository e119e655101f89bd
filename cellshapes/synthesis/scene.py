"""Multi-cell 3D+t scenes from a trained model: many new cells per field of view, with lineage.

:func:`make_scene` draws ``cells`` new cells from the model's default latent sampler
(:func:`cellshapes.inference.generate.sample_codes`; :func:`draw_cells` is the one place
that calls it), gives each a uniformly random rotation, places them without overlap
(touching allowed, or a minimum gap) in a field of view of ``shape`` voxels at an
anisotropic ``spacing`` and lets them drift, each in its own phase of life. Its
result is a :class:`Scene` (arrays and records, no I/O); :func:`write_scene` writes it.

Geometry
--------
A cell's SDF lives in the model's cube [-1, 1]^3; one unit of cube coordinate is
``scale_um`` um and one SDF unit is ``sdf_unit_um`` um (the training data's attributes).
A scene voxel (k, j, i) has its centre at ``u = ((k, j, i) + 0.5) * spacing`` um; the cell
with centre ``c_t`` (um) at frame t is evaluated at ``p = (u - c_t) / scale_um`` and at
its own model time of frame t (Phases), i.e. the continuous SDF is sampled directly at the scene's
voxel centres (no masks are resampled). Points outside the cube are not evaluated (the
model never saw them). Evaluation is coarse-to-fine: every second voxel per axis first,
then every voxel whose nearest coarse value is within ``band_safety`` x its distance of
the surface (masks equal dense evaluation where the SDF is ``band_safety``-Lipschitz in
um per um; ``band=False`` evaluates every voxel).

Phases
------
Every cell runs through its own part of the model's time course: its frames have the
model times ``c_i + time_span * frame_times(frames)``, the window centre ``c_i`` drawn
uniformly from [-(1 - time_span), 1 - time_span] (:func:`cell_phases`). Cells are thus
in different phases of their life, and cells of a dividing model divide at different
frames. ``time_span`` 1 gives every cell the whole course in step.

Placement
---------
Each cell's footprint (the points of a ``footprint_size``^3 grid over the cube whose SDF
is within half a grid diagonal of the surface or inside, per frame) and core (the grid
points inside it) are used to place cells by rejection sampling: a candidate is accepted
when, in every frame, its core stays at least ``gap_um`` + one grid step (half a step
for ``gap_um`` 0) from every placed cell's core, so that surfaces come within about a
grid step of ``gap_um``. A share ``contact_share`` of the visible cells then slides
towards its nearest placed neighbour (bisection) until the cores are that close. The
``cells`` cells have their centre at frame 0 inside the field of view (extended by a
third of their radius) and at least ``min_visible`` of their footprint inside it; they
drift along a random 3D direction at ``drift_um`` um per frame and may leave. The
``entering`` further cells start entirely outside the field of view and drift into it
(at least ``min_visible`` of them inside at the last frame).

Contact and gap
---------------
With ``gap_um`` 0, cells may touch and slightly interpenetrate where placed: a voxel
claimed by two cells goes to the cell with the smaller SDF (counted as
``overlap_voxels``), so touching cells share voxel faces with distinct labels
(``contact_voxel_faces`` counts them). With ``gap_um`` > 0 the gap is made exact on the
voxel grid (:func:`~cellshapes.synthesis.scene_render.enforce_gap`): voxels of a cell
closer than ``gap_um`` (between voxel centres, at the anisotropic spacing) to an earlier
cell are removed (``gap_voxels_removed`` per frame; the placement keeps these few).

Labels and lineage
------------------
Per cell, 26-connected components are tracked over frames on the cell's own, unclipped
masks (:func:`cellshapes.synthesis.ctc.track_components`). For a dividing model
(``cell_type == "dividing"`` in its training data, or ``divides=True``) components of at
least ``island_fraction`` of the frame's largest become daughters: the mother's track
ends and each daughter starts a new label whose parent is the mother. Smaller
components are islands of the synthesis: they are removed from the labels and counted
per cell and frame in the provenance (for other models every component but the largest
is such an island). After clipping to the field of view every label is made one
26-connected component per frame (border fragments removed, counted); a label that is
absent in some frame between its first and last one is split, its later part a new label
with the earlier one as parent (as the Cell Tracking Challenge asks). The provenance
lists per cell its model times, window centre (``time_offset``), division frames and
final labels.

Images
------
:func:`scene_images` simulates 3D+t volumes at the scene's spacing, or, with a texture run
(``SceneConfig.texture``), 2D+t images from the texture GAN, which makes 2D images: its
condition is the scene's z-projection. Their labels are :func:`project_scene`'s
front-most projection, which :func:`write_scene` exports for the Cell Tracking Challenge.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from cellshapes.errors import InputError
from cellshapes.synthesis.scene_cells import (cell_phases, cell_sdf, draw_cells, footprint_pairs,
                                              footprints, place_cells, sampler_record)
from cellshapes.synthesis.scene_config import Scene, SceneConfig
from cellshapes.synthesis.scene_render import (cell_tracks, compose_cells, contact_faces,
                                               enforce_gap, eval_box,
                                               keep_largest_components, render_cell,
                                               scene_tracks)

__all__ = ["SceneConfig", "Scene", "draw_cells", "sampler_record", "cell_phases", "cell_sdf",
           "footprints", "footprint_pairs", "place_cells", "eval_box", "render_cell",
           "make_scene", "scene_tracks", "project_scene", "scene_images", "write_scene",
           "scene_from_run", "resolve_run"]


# ----------------------------------------------------------------------------- pipeline
def make_scene(model: Any, attrs: dict[str, Any], cfg: SceneConfig, progress: bool = False
               ) -> Scene:
    """Synthesize a multi-cell scene (module notes).

    Parameters
    ----------
    model : AutoDecoder
        A trained model (:func:`cellshapes.inference.reconstruct.load_run`).
    attrs : dict
        Training-data attributes: ``scale_um`` and ``sdf_unit_um`` (um), ``cell_type``.
    cfg : SceneConfig
    progress : bool
        A progress bar over cells.

    Returns
    -------
    Scene
    """
    from cellshapes.progress import track

    scale, unit = float(attrs.get("scale_um", 1.0)), float(attrs.get("sdf_unit_um", 1.0))
    divides = (attrs.get("cell_type") == "dividing") if cfg.divides is None else cfg.divides
    entering = cfg.entering if cfg.frames > 1 else 0
    n = cfg.cells + entering
    codes, rots = draw_cells(model.codes.detach().cpu().numpy(), n, cfg.seed)
    times = cell_phases(n, cfg.frames, cfg.time_span, np.random.default_rng([cfg.seed, 36, 1]))
    fns = [cell_sdf(model, codes[i], rots[i], scale, unit) for i in range(n)]
    step = 2.0 * scale / (cfg.footprint_size - 1)
    pairs = [footprint_pairs(f, times[i], scale, cfg.footprint_size) for i, f in enumerate(fns)]
    prints, cores = [p[0] for p in pairs], [p[1] for p in pairs]
    rng = np.random.default_rng([cfg.seed, 36])
    centres = place_cells(prints, cfg, step, rng, cores)
    cells = []
    for i in track(range(n), progress, desc="scene", unit="cell"):
        sdf, lo, shift = render_cell(fns[i], times[i], centres[i], prints[i], cfg, step)
        local, tracks, islands = cell_tracks(sdf <= 0, divides, cfg.island_fraction)
        cells.append({"sdf": sdf, "lo": lo, "shift": shift, "local": local,
                      "tracks": tracks, "islands": islands, "times": times[i]})
    labels, parents, overlap = compose_cells(cells, cfg)
    owner = np.zeros(max(parents, default=0) + 1, int)
    for i, c in enumerate(cells):
        owner[[tr["label"] + c["label_offset"] for tr in c["tracks"]]] = i
    carved = enforce_gap(labels, owner, cfg.spacing, cfg.gap_um)
    fragments = keep_largest_components(labels)
    old = labels
    labels, tracks = scene_tracks(labels, parents)
    for tr in tracks:  # the cell each final label comes from
        b = tr["begin"]
        tr_cell = int(owner[old[b][labels[b] == tr["label"]][0]])
        cells[tr_cell].setdefault("labels", []).append(tr["label"])
    record = _record(cfg, attrs, divides, codes, rots, centres, cells, overlap, fragments,
                     labels, tracks)
    record["gap_voxels_removed"] = carved
    return Scene(labels, tracks, tuple(float(s) for s in cfg.spacing), record)


def _record(cfg: SceneConfig, attrs: dict[str, Any], divides: bool, codes: np.ndarray,
            rots: np.ndarray, centres: list[np.ndarray], cells: list[dict[str, Any]],
            overlap: int, fragments: list[int], labels: np.ndarray,
            tracks: list[dict[str, int]]) -> dict[str, Any]:
    """The provenance of a scene (JSON-ready)."""
    from scipy.spatial.transform import Rotation

    spacing = np.asarray(cfg.spacing, float)
    per_cell = []
    for i, c in enumerate(cells):
        per_cell.append({
            "cell": i, "entering": i >= cfg.cells, "code": codes[i].tolist(),
            "rotation_matrix": rots[i].tolist(),
            "rotation_quaternion_xyzw": Rotation.from_matrix(rots[i]).as_quat().tolist(),
            "centre_um": centres[i].tolist(),
            "centre_voxel": (centres[i] / spacing - 0.5).tolist(),
            "velocity_um_per_frame": (np.diff(centres[i], axis=0)[0].tolist()
                                      if cfg.frames > 1 else [0.0, 0.0, 0.0]),
            "model_times": [float(x) for x in c["times"]],
            "time_offset": float(np.mean(c["times"])),
            "division_frames": sorted({tr["begin"] for tr in c["tracks"] if tr["parent"]}),
            "labels": sorted(c.get("labels", [])),
            "local_tracks": c["tracks"], "label_offset": c.get("label_offset", 0),
            "island_voxels_removed": c["islands"]})
    per_frame = [int(len(np.unique(f)) - 1) for f in labels]
    mothers = {t["parent"] for t in tracks if t["parent"]}
    ended = [t["label"] for t in tracks if t["end"] < cfg.frames - 1 and t["label"] not in mothers]
    return {"format": "cellshapes.scene", "config": asdict(cfg), "sampler": sampler_record(),
            "model_attrs": {k: attrs.get(k) for k in ("scale_um", "sdf_unit_um", "cell_type")},
            "divides": bool(divides), "cells": per_cell, "labels_per_frame": per_frame,
            "overlap_voxels": int(overlap), "border_fragment_voxels_removed": fragments,
            "island_voxels_removed": int(sum(sum(c["islands"]) for c in cells)),
            "contact_voxel_faces": contact_faces(labels),
            "labels_with_parent": int(sum(1 for t in tracks if t["parent"])),
            "entering_cells": int(sum(c["entering"] for c in per_cell)),
            "labels_ending_early": ended,
            "tracks": tracks}


# ----------------------------------------------------------------------------- I/O edge
def resolve_run(run: str | os.PathLike) -> Path:
    """A run directory, or the directory of a shipped model given by name."""
    from cellshapes import pretrained

    path = Path(run)
    if path.is_dir():
        return path
    if str(run) in pretrained.available():
        return pretrained.load(str(run))
    raise InputError(f"{run}: neither a run directory nor a shipped model "
                     f"({', '.join(sorted(pretrained.available()))})")


def scene_from_run(run: str | os.PathLike, cfg: SceneConfig, device: str = "cpu",
                   progress: bool = False) -> Scene:
    """:func:`make_scene` with the model of a run directory or shipped model name."""
    from cellshapes.inference.reconstruct import load_run

    path = resolve_run(run)
    model, config = load_run(path, device)
    attrs = dict((config.get("data", {}).get("attrs") or [{}])[0])
    scene = make_scene(model, attrs, cfg, progress)
    scene.record["run"] = str(run)
    return scene


def project_scene(scene: Scene) -> tuple[np.ndarray, list[dict[str, int]]]:
    """2D+t labels and tracks of a scene: its front-most z-projection.

    Each label keeps its largest 8-connected part per frame; a label hidden in some frame
    is split as in :func:`scene_tracks`, which also renumbers.

    Returns
    -------
    labels : (T, Y, X) int32 ndarray
    tracks : list of dict
        CTC rows ``{"label", "begin", "end", "parent"}`` of the projection.
    """
    from cellshapes.synthesis.ctc import project_labels

    lab2d = project_labels(scene.labels).astype(np.int32)
    keep_largest_components(lab2d)
    return scene_tracks(lab2d, {t["label"]: t["parent"] for t in scene.tracks})


def scene_images(scene: Scene, microscope: Any = None, seed: int = 0,
                 texture: str | os.PathLike | None = None, device: str = "cpu"
                 ) -> np.ndarray:
    """Images of a scene: simulated 3D+t volumes, or 2D+t from a texture run.

    Parameters
    ----------
    scene : Scene
    microscope : MicroscopyConfig, optional
        PSF sigma (z, y, x) in um, background, signal, gain, read noise
        (:mod:`cellshapes.synthesis.microscopy`; estimated from a real image by
        :func:`cellshapes.synthesis.estimate.estimate_microscope`); not used with
        ``texture``.
    seed : int
        Seed of texture, per-label brightness and noise (the texture GAN's noise field).
    texture : path-like, optional
        A trained texture run (:mod:`cellshapes.synthesis.texture`): the GAN textures the
        scene's z-projection. Default: the scene's ``SceneConfig.texture`` (its record);
        where that is None too, the microscopy simulator.
    device : str
        Torch device of the texture GAN.

    Returns
    -------
    (T, Z, Y, X) float32 ndarray
        Camera counts of the simulator; with ``texture``, (T, Y, X) float32 in the
        texture run's training-image units (labels: :func:`project_scene`).

    Raises
    ------
    DatasetFormatError, CheckpointError
        ``texture`` is not a texture run, or its checkpoint does not fit.
    """
    texture = texture if texture is not None else scene.record.get("config", {}).get("texture")
    if texture is not None:
        from cellshapes.synthesis.texture import load_texture_run, noise_field, synthesize_with

        G, config = load_texture_run(texture, device)
        noise = noise_field(scene.labels.shape[2:], seed,
                            float(config["model"]["noise_sigma_px"]))
        return synthesize_with(G, scene.labels, config["data"]["lo"], config["data"]["hi"],
                               noise)
    from cellshapes.synthesis.microscopy import simulate

    vols, _ = simulate(scene.labels, scene.spacing, microscope, seed)
    return vols


def write_scene(scene: Scene, out: str | os.PathLike, overwrite: bool = False,
                images: np.ndarray | None = None, ctc: bool = False) -> Path:
    """Write a scene into the folder ``out``, atomically.

    Files: ``labels.tif`` ((T, Z, Y, X) uint16/uint8, spacing in its ImageJ metadata),
    ``man_track.txt`` (CTC ``L B E P`` rows), ``scene.json`` (provenance); with
    ``images`` also ``images.tif`` (uint16 counts); with ``ctc`` also ``ctc/``: a Cell
    Tracking Challenge data set (``01/t000.tif``, ``01_GT/SEG``, ``01_GT/TRA`` with
    ``man_track.txt``; layout of :mod:`cellshapes.synthesis.ctc`). 2D+t images (a texture
    run's, (T, Y, X)) are stored as (T, 1, Y, X) with their labels in ``labels_2d.tif``
    and ``man_track_2d.txt`` (:func:`project_scene`), which the CTC export then holds.

    Raises
    ------
    InputError
        ``ctc`` without ``images``, or images of neither the labels' shape nor their
        (T, Y, X) projection's.
    """
    from cellshapes.atomic import atomic_dir
    from cellshapes.io import write_tiff
    from cellshapes.synthesis.ctc import to_uint16, track_lines, write_sequence

    if ctc and images is None:
        raise InputError("a CTC export needs images (simulate them with scene_images)")
    shape = scene.labels.shape
    flat = images is not None and np.shape(images) == shape[:1] + shape[2:]
    if images is not None and np.shape(images) != shape and not flat:
        raise InputError(f"images {np.shape(images)} differ from labels {shape} and from "
                         f"their projection {shape[:1] + shape[2:]}")
    with atomic_dir(out, overwrite=overwrite) as tmp:
        write_tiff(tmp / "labels.tif", scene.labels, spacing=scene.spacing)
        (tmp / "man_track.txt").write_text(track_lines(scene.tracks))
        labels, tracks = scene.labels, scene.tracks
        if flat:
            labels, tracks = project_scene(scene)
            write_tiff(tmp / "labels_2d.tif", labels[:, None], spacing=scene.spacing)
            (tmp / "man_track_2d.txt").write_text(track_lines(tracks))
        if images is not None:
            img = np.asarray(images)[:, None] if flat else images
            write_tiff(tmp / "images.tif", to_uint16(img), spacing=scene.spacing)
        if ctc:
            write_sequence(tmp / "ctc", "01", images, labels, tracks)
        rec = {**scene.record, "spacing_um": list(scene.spacing),
               "shape": list(scene.labels.shape), "images": images is not None,
               "image_dims": None if images is None else 2 if flat else 3, "ctc": ctc}
        (tmp / "scene.json").write_text(json.dumps(rec, indent=1) + "\n")
    return Path(out)
