"""``cellshapes model``: from a label video to a trained model, a report and new cells.

Stages, each writing into its own place under ``out`` and skipped when that place is
complete, so rerunning the same command continues where it stopped:

1. ``labels/``: the inputs read (``axes``/``channel`` override the files' metadata) and
   checked (:mod:`cellshapes.pipeline.labels`); with a CTC ``man_track.txt`` the
   daughters take their mother's id first, else (``link``, the default) ids are linked
   over time by overlap (:mod:`cellshapes.prepare.linking`): ``NN_name_tracks.txt``
   holds the tracks as CTC ``L B E P`` rows, ``ids.json`` the detected jumps and links.
2. ``data.h5``: ``prepare --per-label`` at the profile's grid.
3. ``run/``: ``train`` (resumed if interrupted), optionally from a shipped decoder.
4. ``reconstruction/``: every training cell rebuilt on the training grid.
5. ``scores.csv``: DSC, surface distances and topology per cell and frame.
6. ``report.html`` (+ ``figures/``): the verdict by stated thresholds and the figures.
7. ``synthetic/``: ``generate`` of N new sequences (``--synthesize N``); with
   ``--scene CELLS`` instead N multi-cell scenes ``scenes/scene_NN/``
   (:mod:`cellshapes.synthesis.scene`) with CELLS cells each, in the field of view, spacing
   and number of frames of the first input video.
8. ``ctc/``: a Cell Tracking Challenge style data set of them (``--ctc``; one sequence
   per synthesized sequence or scene).

``out/request.json`` records the options (:class:`~cellshapes.pipeline.request.
ModelRequest`); a second call with other options stops with one
line instead of mixing results, and ``overwrite`` starts again (only in a folder this
command made).
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from cellshapes.errors import OutputExistsError
from cellshapes.pipeline.request import ModelRequest, model_request

__all__ = ["ModelRequest", "build_model"]

_REQUEST = "request.json"
_IDS = "ids.json"  # in labels/: per input, the id jumps found and the links made


def _say(msg: str, progress: bool) -> None:
    if progress:
        print(f"cellshapes model: {msg}", file=sys.stderr, flush=True)


def _open_folder(out: Path, request: ModelRequest, overwrite: bool) -> None:
    """Create ``out`` or check that it holds this request; ``overwrite`` starts again."""
    stored = out / _REQUEST
    mine = json.loads(json.dumps(asdict(request)))
    if not request.scene:  # folders made before --scene existed hold no such key
        del mine["scene"]
    if stored.exists():
        same = json.loads(stored.read_text()) == mine
        if same and not overwrite:
            return
        if not overwrite:
            raise OutputExistsError(f"{out} holds a model made with other options; pass "
                                    "--overwrite to start again or choose another --out")
        shutil.rmtree(out)
    elif out.exists() and any(out.iterdir()):
        raise OutputExistsError(f"{out} exists and is not a 'cellshapes model' folder (no "
                                f"{_REQUEST}); choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    stored.write_text(json.dumps(mine, indent=1))


def _label_names(request: ModelRequest) -> list[str]:
    return [f"{i:02d}_{Path(p).stem}.tif" for i, p in enumerate(request.inputs)]


def _ids_over_time(labels: np.ndarray, spacing: Any, src: str, request: ModelRequest,
                   parents: dict | None) -> tuple[np.ndarray, dict]:
    """Detect id jumps; join lineage (``tracks``) or link by overlap (``link``)."""
    from cellshapes.pipeline.labels import merge_lineage
    from cellshapes.prepare.linking import id_jumps, jumps_summary, link_by_overlap

    jumps = id_jumps(labels, spacing or (1.0, 1.0, 1.0))
    ids: dict[str, Any] = {"source": src, "jumps": jumps, "links": [], "tracks": None,
                           "rule": None}
    if parents is not None:
        labels = merge_lineage(labels, parents)
        ids["rule"] = "ids as given, daughters joined to their mother by --tracks"
    elif request.link:
        linking = link_by_overlap(labels)
        labels = linking.labels
        ids.update(links=linking.links, tracks=[list(r) for r in linking.tracks],
                   rule=linking.rule)
    if jumps:
        done = ("linked by overlap" if ids["tracks"] is not None else
                "ids kept as given (--tracks)" if parents is not None else
                "not linked (--no-link); sequences may jump between cells")
        _say(f"{jumps_summary(jumps, src)}; {done}", True)
    return labels, ids


def _read_labels(request: ModelRequest) -> list[tuple[np.ndarray, Any, dict]]:
    """Read every input, check it, link its ids over time (or join daughters to mothers
    with ``tracks``); nothing is written."""
    from cellshapes.io import read_masks
    from cellshapes.pipeline.labels import check_label_video, read_man_track

    parents = read_man_track(request.tracks) if request.tracks else None
    videos = []
    for src in request.inputs:
        labels, info = read_masks(src, axes=request.axes, channel=request.channel)
        spacing = request.spacing or info.get("spacing_um")
        for note in check_label_video(labels, str(src), spacing is not None,
                                      keep_border=request.keep_border):
            _say(note, True)
        labels, ids = _ids_over_time(labels, spacing, str(src), request, parents)
        videos.append((labels, spacing, ids))
    return videos


def _write_labels(out: Path, request: ModelRequest, videos: list, progress: bool) -> list[Path]:
    """The checked videos as ``out/labels/NN_name.tif`` (uint16, with their spacing), their
    tracks as ``NN_name_tracks.txt`` (CTC ``L B E P``) and ``ids.json``."""
    from cellshapes.atomic import atomic_dir
    from cellshapes.io import write_tiff
    from cellshapes.prepare.linking import write_man_track

    folder, names = out / "labels", _label_names(request)
    if videos:
        with atomic_dir(folder, overwrite=True) as tmp:
            for name, (labels, spacing, ids) in zip(names, videos):
                write_tiff(tmp / name, labels.astype(np.uint16), spacing)
                if ids["tracks"] is not None:
                    ids["track_file"] = str(folder / f"{Path(name).stem}_tracks.txt")
                    write_man_track(tmp / f"{Path(name).stem}_tracks.txt", ids["tracks"])
            (tmp / _IDS).write_text(json.dumps([v[2] for v in videos], indent=1))
        _say(f"labels checked: {len(names)} video(s) -> {folder}", progress)
    return [folder / n for n in names]


def _model_configs(request: ModelRequest):
    from cellshapes.config import model_config, train_config
    from cellshapes.training.warmstart import PRETRAINED_PREFIX, source_model_config

    init = f"{PRETRAINED_PREFIX}{request.from_pretrained}" if request.from_pretrained else None
    mcfg = source_model_config(init) if init else model_config(request.profile)
    return mcfg, train_config(request.profile, seed=request.seed, init_decoder=init)


def _train_stage(out: Path, request: ModelRequest, device: str, progress: bool) -> Path:
    from cellshapes.training.rundir import run_is_complete
    from cellshapes.training.loop import train

    run = out / "run"
    if run_is_complete(run):
        _say(f"training done before: {run}", progress)
        return run
    resume = (run / "config.json").exists()
    mcfg, tcfg = _model_configs(request)
    _say(("resuming" if resume else "training") + f" at profile {request.profile}"
         + (f" from the decoder of {request.from_pretrained}" if request.from_pretrained
            else "") + f" -> {run}", progress)
    if resume:
        train(out / "data.h5", run, device=device, resume=True, progress=progress)
    else:
        train(out / "data.h5", run, mcfg, tcfg, device=device, progress=progress,
              profile=request.profile, overwrite=run.exists())
    return run


def _scores_stage(out: Path, device: str, progress: bool):
    """Reconstruct the training cells and score them (cached in ``scores.csv``)."""
    import pandas as pd

    from cellshapes.atomic import atomic_path
    from cellshapes.inference.reconstruct import reconstruct_run
    from cellshapes.measure.compare import compare_path

    rec = out / "reconstruction"
    if not (rec / "sdf.h5").exists():
        _say(f"reconstructing the training cells -> {rec}", progress)
        reconstruct_run(out / "run", rec, device=device, overwrite=rec.exists(),
                        progress=progress)
    path = out / "scores.csv"
    if path.exists():
        return pd.read_csv(path)
    _say("scoring every cell and frame (DSC, surface distances, islands)", progress)
    scores = compare_path(out / "data.h5", rec / "sdf.h5", progress=progress)
    with atomic_path(path) as tmp:
        scores.to_csv(tmp, index=False)
    return scores


def _figures(out: Path, progress: bool) -> list[tuple[str, str]]:
    """Descriptor curves real vs reconstructed, and a 3D render of the first cell."""
    import pandas as pd

    from cellshapes.io import read_dataset
    from cellshapes.measure.metrics import describe_sequence
    from cellshapes.plot import descriptor_curves, render_volumes, save_figure

    folder = out / "figures"
    folder.mkdir(exist_ok=True)
    real = read_dataset(out / "data.h5")
    rec = {s.name: s for s in read_dataset(out / "reconstruction" / "sdf.h5")}
    voxel = (float(real[0].attrs["voxel_um"]),) * 3
    tables = {label: pd.concat([describe_sequence(s.sdf, voxel, is_sdf=True) for s in seqs])
              for label, seqs in (("real", real), ("reconstructed", [rec[s.name] for s in real]))}
    figs = [("Descriptors per time point, real vs reconstructed (mean, IQR)",
             str(save_figure(descriptor_curves(tables), folder / "descriptors.png",
                             close=True)))]
    try:
        import matplotlib.pyplot as plt

        first = real[0]
        img = render_volumes([first.sdf[-1], rec[first.name].sdf[-1]], voxel,
                             labels=[f"{first.name}: real, last frame", "reconstructed"])
        plt.imsave(folder / "render.png", img)
        figs.append(("3D render", str(folder / "render.png")))
    except Exception as exc:  # rendering is optional (no pyvista / no EGL)
        _say(f"3D render skipped ({type(exc).__name__}: {exc})", progress)
    return figs


def build_model(inputs: Sequence[str | os.PathLike], out: str | os.PathLike,
                request: ModelRequest | None = None, *, device: str = "auto",
                overwrite: bool = False, progress: bool = True,
                **overrides: Any) -> dict[str, Any]:
    """Turn label videos into a trained model, a report and (optionally) new cells.

    Parameters
    ----------
    inputs : sequence of path-like
        Label videos, (T, Z, Y, X) integer images, one id per cell over time.
    out : path-like
        Output folder (layout in the module docstring); resumable.
    request : ModelRequest, optional
        What to do (its ``inputs`` are replaced by ``inputs``); every field is an option
        of ``cellshapes model``.
    device : str
        ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
    overwrite : bool
        Start again in a folder this command made with other options.
    progress : bool
        Stage lines and progress bars on stderr.
    **overrides
        Fields of :class:`ModelRequest` replacing those of ``request`` (``profile="smoke"``,
        ``synthesize=3``); None keeps the request's value.

    Returns
    -------
    dict
        ``verdict`` (:func:`cellshapes.pipeline.report.verdict`), ``report`` (path),
        ``run``, ``synthetic`` and ``ctc`` (paths or None), ``seconds``.

    Raises
    ------
    InputError, InputFileNotFoundError, OutputExistsError
        Bad labels (one line saying what to change), missing files, an ``out`` made with
        other options or not by this command.
    """
    from cellshapes.config import data_defaults
    from cellshapes.pipeline.report import verdict, write_report
    from cellshapes.pipeline.scenes import scene_stage
    from cellshapes.pipeline.synthetic import ctc_stage, synthesis_stage
    from cellshapes.prepare import prepare_dataset
    from cellshapes.resources import check_device

    t0 = time.perf_counter()
    request = model_request(inputs, request, overrides)
    check_device(device)
    profile, synthesize, ctc = request.profile, request.synthesize, request.ctc
    if request.from_pretrained:
        _model_configs(request)  # an unknown name fails here, before any work
    out = Path(out)
    done = (out / _REQUEST).exists() and all((out / "labels" / n).exists()
                                             for n in _label_names(request))
    videos = [] if done and not overwrite else _read_labels(request)  # before any write
    _open_folder(out, request, overwrite)
    videos = _write_labels(out, request, videos, progress)
    if not (out / "data.h5").exists():
        prepare_dataset(videos, out / "data.h5", size=data_defaults(profile)["size"],
                        spacing=request.spacing, per_label=True, progress=progress,
                        keep_border=request.keep_border)
    run = _train_stage(out, request, device, progress)
    scores = _scores_stage(out, device, progress)
    judged = verdict(scores)
    _say(judged["line"], True)
    if not synthesize:
        synthesis = None
    elif request.scene:
        synthesis = scene_stage(out, out / "labels" / _label_names(request)[0], request,
                                device, progress)
    else:
        synthesis = synthesis_stage(out, request, device, progress)
    if ctc and not request.scene:
        ctc_stage(out, request, device, progress)
    figures = _figures(out, progress)
    facts = _facts(out, request, time.perf_counter() - t0)
    ids_path = out / "labels" / _IDS
    report = write_report(out / "report.html", "cellshapes model: " + ", ".join(
        Path(p).name for p in request.inputs), facts, judged, scores, figures, synthesis,
        ids=json.loads(ids_path.read_text()) if ids_path.exists() else [])
    made = "scenes" if request.scene else "synthetic"
    return {"verdict": judged, "report": str(report), "run": str(run),
            "synthetic": str(out / made) if synthesize else None,
            "ctc": str(out / "ctc") if ctc else None, "seconds": time.perf_counter() - t0}


def _facts(out: Path, request: ModelRequest, seconds: float) -> list[tuple[str, str]]:
    cfg = json.loads((out / "run" / "config.json").read_text())
    log = (out / "run" / "log.csv").read_text().strip().splitlines()
    last = dict(zip(log[0].split(","), log[-1].split(",")))
    return [("inputs", ", ".join(request.inputs)),
            ("profile", request.profile),
            ("started from", f"pretrained decoder {request.from_pretrained}"
             if request.from_pretrained else "random initialisation"),
            ("sequences", str(len(cfg["data"]["names"]))),
            ("training", f"{len(log) - 1} epochs, final loss {float(last['loss']):.4g}"),
            ("this call", f"{seconds:.0f} s"),
            ("folder", str(out))]
