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

``out/request.json`` records the options; a second call with other options stops with one
line instead of mixing results, and ``overwrite`` starts again (only in a folder this
command made).
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from cellshapes.config import PROFILES, bounded, check_bounds
from cellshapes.config.fields import one_of
from cellshapes.errors import InputError, OutputExistsError

__all__ = ["ModelRequest", "build_model"]

_REQUEST = "request.json"
_IDS = "ids.json"  # in labels/: per input, the id jumps found and the links made


@dataclass(frozen=True)
class ModelRequest:
    """What ``cellshapes model`` was asked to do (stored as ``out/request.json``).

    Attributes
    ----------
    inputs : tuple of str
        Label videos (TIFF (T, Z, Y, X), folders of per-frame TIFFs, ``.npy``).
    spacing : tuple of float or None
        Voxel size (dz, dy, dx) in um; None: from the files.
    profile : str
        Data grid and training settings (:data:`cellshapes.config.PROFILES`). quick, meant
        for real use: a 48^3 grid, up to 100 epochs; the time grows with the cell-frames:
        10 cells x 20 frames take about 30 min on 2 free CPU cores (3 epochs measured on a
        busy 2-core EPYC: 110 s each, ~5x oversubscribed), much less on a GPU; smoke only
        proves the path runs (seconds, a rough model).
    from_pretrained : str or None
        Shipped model whose decoder starts the training (:mod:`cellshapes.pretrained`).
    synthesize : int
        New sequences to generate (0: none).
    ctc : bool
        Export the new sequences as a CTC data set.
    tracks : str or None
        CTC ``man_track.txt`` giving the lineage of the labels (its ids are trusted: no
        linking).
    seed : int
        Seed of training and synthesis.
    axes : str or None
        The label videos' real axes (``TZYX``, ``TCZYX`` ...), overriding file metadata.
    channel : int or None
        The channel holding the labels when the axes have a ``C``.
    link : bool
        Link ids over time by overlap (without ``tracks``); False only warns on jumps.
    keep_border : bool
        Keep cells touching the volume border, cropped (needed for thin stacks).
    scene : int
        Cells per synthesized scene; 0: ``synthesize`` single-cell sequences instead.
    """

    inputs: tuple[str, ...]
    spacing: tuple[float, float, float] | None = None
    profile: str = one_of("quick", PROFILES)
    from_pretrained: str | None = None
    synthesize: int = bounded(0, 0)
    ctc: bool = False
    tracks: str | None = None
    seed: int = 0
    axes: str | None = None
    channel: int | None = bounded(None, 0)
    link: bool = True
    keep_border: bool = False
    scene: int = bounded(0, 0)

    def __post_init__(self) -> None:
        for name in ("synthesize", "scene"):
            v = getattr(self, name)
            if isinstance(v, bool) or int(v) != v:
                raise InputError(f"--{name} must be an integer >= 0, got {v!r}")
        if self.profile not in PROFILES:
            raise InputError(f"unknown profile {self.profile!r}; choose one of "
                             f"{', '.join(PROFILES)}")
        check_bounds(self)
        if self.ctc and not self.synthesize:
            raise InputError("--ctc exports the synthesized sequences; give --synthesize N too")
        if self.scene and not self.synthesize:
            raise InputError("--scene CELLS makes N scenes; give --synthesize N too")


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
    from cellshapes.repro.runs import run_is_complete
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
    request = _request(inputs, request, overrides)
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


def _request(inputs: Sequence[str | os.PathLike], request: ModelRequest | None,
             overrides: dict[str, Any]) -> ModelRequest:
    """The request of :func:`build_model`, in the form stored in ``request.json``
    (absolute paths, float spacing, upper-case axes)."""
    names = {f.name for f in dataclasses.fields(ModelRequest)} - {"inputs"}
    unknown = set(overrides) - names
    if unknown:
        raise InputError(f"unknown ModelRequest option(s): {sorted(unknown)}")
    given = {k: getattr(request, k) for k in names} if request else {}
    given.update({k: v for k, v in overrides.items() if v is not None})
    if given.get("spacing"):
        given["spacing"] = tuple(float(v) for v in given["spacing"])
    if given.get("tracks"):
        given["tracks"] = str(Path(given["tracks"]).resolve())
    if given.get("axes"):
        given["axes"] = given["axes"].upper()
    return ModelRequest(tuple(str(Path(p).resolve()) for p in inputs), **given)


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
