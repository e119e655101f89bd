"""Handlers of the ``cellshapes`` subcommands: each takes the parsed arguments, calls the
public API and returns the exit code.

Library modules are imported inside the handlers, so ``cellshapes --help`` stays fast and
a GPU box without VTK can still train. Errors are raised as
:class:`~cellshapes.errors.CellshapesError`; :func:`cellshapes.cli.main` turns them into
one line and exit code 2.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Sized

from cellshapes.errors import InputError


def _wrote(items: Sized, what: str, out: Path) -> int:
    """Report ``wrote N <what> to <out>`` and return the exit code 0."""
    print(f"wrote {len(items)} {what} to {out}")
    return 0


# ----------------------------------------------------------------------------- data side
def phantoms(a: argparse.Namespace) -> int:
    from cellshapes.phantoms import write_phantoms

    paths = write_phantoms(a.kind, a.out, sequences=a.sequences, frames=a.frames, size=a.size,
                           seed=a.seed, overwrite=a.overwrite, progress=not a.quiet)
    return _wrote(paths, f"{a.kind} sequence(s)", a.out)


def prepare(a: argparse.Namespace) -> int:
    from cellshapes.cli.options import config_from_args
    from cellshapes.config import PrepareConfig
    from cellshapes.prepare import prepare_dataset

    summary = prepare_dataset(a.inputs, a.out, config_from_args(a, PrepareConfig),
                              overwrite=a.overwrite, progress=not a.quiet)
    print(json.dumps(summary, indent=1, default=str))
    return 0


def export_reference(a: argparse.Namespace) -> int:
    from cellshapes.prepare import export_reference

    paths = export_reference(a.dataset, a.out, overwrite=a.overwrite)
    return _wrote(paths, "reference sdf_vid file(s)", a.out)


def describe(a: argparse.Namespace) -> int:
    from cellshapes.atomic import atomic_path, check_output
    from cellshapes.measure.metrics import describe_path

    if a.csv:
        check_output(a.csv, a.overwrite)  # before the work, not after it
    table = describe_path(a.input, spacing=a.spacing, per_cell=a.per_cell, axes=a.axes,
                          channel=a.channel)
    if a.csv:
        with atomic_path(a.csv, overwrite=a.overwrite) as tmp:
            table.to_csv(tmp, index=False)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return 0


def compare(a: argparse.Namespace) -> int:
    from cellshapes.atomic import atomic_path, check_output
    from cellshapes.measure.compare import compare_path

    if a.json:
        check_output(a.json, a.overwrite)  # before the work, not after it
    table = compare_path(a.truth, a.other, spacing=a.spacing, frame=a.frame,
                         tolerance_um=a.tolerance, body_radius_um=a.body_radius,
                         axes=a.axes, channel=a.channel)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if a.json:
        report = {"truth": str(a.truth), "other": str(a.other), **table.attrs,
                  "body_radius_um": a.body_radius,
                  "frames": json.loads(table.to_json(orient="records")),
                  "mean": json.loads(table.drop(columns=["sequence", "frame", "cell"]).mean()
                                     .to_json())}
        with atomic_path(a.json, overwrite=a.overwrite) as tmp:
            tmp.write_text(json.dumps(report, indent=1))
    return 0


def mesh(a: argparse.Namespace) -> int:
    from cellshapes.io.meshes import mesh_path

    info = mesh_path(a.input, a.out, frame=a.frame, spacing=a.spacing, overwrite=a.overwrite,
                     axes=a.axes, channel=a.channel)
    print(json.dumps(info, default=str))
    return 0


def quickstart(a: argparse.Namespace) -> int:
    from cellshapes.repro.quickstart import run_quickstart

    report = run_quickstart(a.out, kind=a.kind, profile=a.profile, epochs=a.epochs,
                            seed=a.seed, device=a.device, overwrite=a.overwrite,
                            progress=not a.quiet)
    print(f"DSC mean {report['dsc_mean']:.3f}; figures: {', '.join(report['figures'])}")
    return 0


# ---------------------------------------------------------------------------- model side
def train(a: argparse.Namespace) -> int:
    from cellshapes.cli.options import config_overrides
    from cellshapes.config import ModelConfig, TrainConfig, model_config, train_config
    from cellshapes.training.loop import train

    mcfg = model_config(a.profile, **config_overrides(a, ModelConfig))
    tcfg = train_config(a.profile, **config_overrides(a, TrainConfig))
    history = train(a.dataset, a.out, mcfg, tcfg, device=a.device, resume=a.resume,
                    overwrite=a.overwrite, progress=not a.quiet, profile=a.profile,
                    epochs=a.epochs, command=" ".join(["cellshapes", *sys.argv[1:]]))
    if int(os.environ.get("RANK", "0")) == 0 and history:  # torchrun: rank 0 reports
        last = history[-1]
        print(f"epoch {int(last['epoch'])}: loss {last['loss']:.5g}, "
              f"{last['points_per_s']:.3g} points/s -> {a.out}")
    return 0


def model(a: argparse.Namespace) -> int:
    from cellshapes.cli.options import config_overrides
    from cellshapes.pipeline import build_model
    from cellshapes.pipeline.request import ModelRequest

    given = config_overrides(a, ModelRequest)
    inputs = given.pop("inputs")
    result = build_model(inputs, a.out, device=a.device, overwrite=a.overwrite,
                         progress=not a.quiet, **given)
    print(f"{result['verdict']['line']}\nreport: {result['report']}")
    return 0


def plan(a: argparse.Namespace) -> int:
    """Print the memory plan of a training run; write it to ``--json``.

    The baseline is the resident set of this process after importing the training
    modules, as ``cellshapes train`` measures it.
    """
    from cellshapes.atomic import atomic_path, check_output
    from cellshapes.cli.options import config_overrides
    from cellshapes.config import ModelConfig, TrainConfig, model_config, train_config
    from cellshapes.resources import resolve_device
    from cellshapes.training import loop  # noqa: F401  (the baseline includes training)
    from cellshapes.training.data import load_training_data
    from cellshapes.training.plan import dataset_plan, memory_plan

    given = [x is not None for x in (a.sequences, a.frames, a.size)]
    if not (all(given) if a.dataset is None else not any(given)):
        raise InputError("plan needs either --dataset or all of --sequences, --frames, --size")
    fraction = a.near_voxel_fraction
    if fraction is not None and not 0.0 < fraction <= 1.0:
        raise InputError(f"--near-voxel-fraction must lie in (0, 1], got {fraction}")
    if a.json:
        check_output(a.json, a.overwrite)
    mcfg = model_config(a.profile, **config_overrides(a, ModelConfig))
    tcfg = train_config(a.profile, **config_overrides(a, TrainConfig))
    if a.device == "auto":  # cuda only where there is one; an explicit cuda plans for a GPU
        a.device = resolve_device("auto").type
    source = "given with --near-voxel-fraction"
    if a.dataset is not None:
        plan = dataset_plan(load_training_data(a.dataset, lazy=True), mcfg, tcfg, a.device,
                            fraction, source)
    else:
        plan = memory_plan([a.frames] * a.sequences, a.size, mcfg, tcfg, a.device, None,
                           fraction, source)
    print(plan.text())
    if a.json:
        doc = {"profile": a.profile, **plan.to_dict(),
               "command": " ".join(["cellshapes", *sys.argv[1:]])}
        with atomic_path(a.json, overwrite=a.overwrite) as tmp:
            tmp.write_text(json.dumps(doc, indent=1))
    return 0


def reconstruct(a: argparse.Namespace) -> int:
    from cellshapes.cli.options import config_from_args
    from cellshapes.config import GridOptions
    from cellshapes.inference.reconstruct import reconstruct_run

    out = reconstruct_run(a.run, a.out, size=a.size, frames=a.frames, sequences=a.sequences,
                          device=a.device, overwrite=a.overwrite, progress=not a.quiet,
                          options=config_from_args(a, GridOptions))
    return _wrote(out, "sequence(s)", a.out)


def evaluate(a: argparse.Namespace) -> int:
    from cellshapes.atomic import atomic_path, check_output
    from cellshapes.inference.evaluate import evaluate_run

    if a.json:
        check_output(a.json, a.overwrite)  # before the work, not after it
    report = evaluate_run(a.run, a.dataset, size=a.size, device=a.device, progress=not a.quiet)
    text = json.dumps(report, indent=1)
    if a.json:
        with atomic_path(a.json, overwrite=a.overwrite) as tmp:
            tmp.write_text(text)
    print(text)
    return 0


def fit(a: argparse.Namespace) -> int:
    from cellshapes.cli.options import config_from_args
    from cellshapes.config import FitConfig
    from cellshapes.inference.fit import fit_run

    report = fit_run(a.run, a.dataset, a.out, config_from_args(a, FitConfig), device=a.device,
                     overwrite=a.overwrite, progress=not a.quiet)
    print(json.dumps(report, indent=1))
    return 0


def generate(a: argparse.Namespace) -> int:
    from cellshapes.cli.options import config_from_args
    from cellshapes.inference.generate import GenerateConfig, generate_run
    from cellshapes.inference.samplers import paper_scale

    cfg = config_from_args(a, GenerateConfig)
    if a.std is not None:
        if a.scale is not None:
            raise InputError("give --std or --scale, not both")
        cfg.scale = paper_scale(cfg.method, std=a.std)
    report = generate_run(a.run, a.out, cfg, device=a.device, overwrite=a.overwrite,
                          progress=not a.quiet)
    print(json.dumps(report, indent=1))
    return 0


# ------------------------------------------------------------------- image synthesis
def simulate(a: argparse.Namespace) -> int:
    from cellshapes.synthesis.imaging import simulate_folder
    from cellshapes.synthesis.microscopy import MicroscopyConfig

    names = simulate_folder(a.masks, a.out, MicroscopyConfig(mode=a.mode), seed=a.seed,
                            overwrite=a.overwrite, progress=not a.quiet)
    return _wrote(names, "simulated image/mask pair(s)", a.out)


def texture_train(a: argparse.Namespace) -> int:
    from cellshapes.synthesis.texture import texture_config
    from cellshapes.synthesis.texture_train import train_texture

    cfg = None if a.resume and a.epochs is None else texture_config(a.profile, epochs=a.epochs,
                                                                     seed=a.seed)
    run = train_texture(a.pairs, a.out, cfg, device=a.device, resume=a.resume,
                        overwrite=a.overwrite, progress=not a.quiet)
    print(f"texture run in {run}")
    return 0


def texture(a: argparse.Namespace) -> int:
    from cellshapes.synthesis.texture import synthesize_folder

    names = synthesize_folder(a.run, a.masks, a.out, seed=a.seed, device=a.device,
                              overwrite=a.overwrite, progress=not a.quiet)
    return _wrote(names, "textured sequence(s)", a.out)


def export_ctc(a: argparse.Namespace) -> int:
    from cellshapes.synthesis.ctc import export_ctc

    s = export_ctc(a.input, a.out, texture=a.texture, dims=3 if a.three_d else 2, seed=a.seed,
                   device=a.device, overwrite=a.overwrite, progress=not a.quiet)
    return _wrote(s["sequences"], "CTC sequence(s)", a.out)




def _microscope(a: argparse.Namespace, spacing: tuple[float, float, float]) -> tuple:
    """Simulator settings of ``cellshapes scene``: given, or estimated with --like."""
    from dataclasses import replace

    from cellshapes.synthesis.microscopy import MicroscopyConfig

    base = MicroscopyConfig(mode=a.mode, **({"psf_sigma_um": tuple(a.psf)} if a.psf else {}))
    report = None
    if a.like:
        import tifffile

        from cellshapes.io import read_masks
        from cellshapes.synthesis.estimate import estimate_microscope

        try:
            image = tifffile.imread(a.like[0])
        except (OSError, ValueError) as exc:
            raise InputError(f"{a.like[0]}: cannot read image: {exc}") from None
        labels, _ = read_masks(a.like[1])
        base, report = estimate_microscope(image, labels.reshape(image.shape)
                                           if labels.size == image.size else labels, spacing,
                                           base)
    given = {k: getattr(a, k) for k in ("background", "signal", "gain", "read_noise")
             if getattr(a, k) is not None}
    return replace(base, **given), report


def scene(a: argparse.Namespace) -> int:
    """``cellshapes scene``: a multi-cell 3D+t scene (cellshapes.synthesis.scene)."""
    from cellshapes.atomic import check_output
    from cellshapes.cli.options import config_from_args
    from cellshapes.synthesis.scene import (SceneConfig, scene_from_run, scene_images,
                                            write_scene)

    cfg = config_from_args(a, SceneConfig)
    check_output(a.out, a.overwrite)
    imaging = a.images or a.ctc or a.like is not None or a.texture is not None
    micro, estimate = _microscope(a, cfg.spacing) if imaging and not a.texture else (None, None)
    if a.texture:
        from cellshapes.synthesis.texture import read_texture_config

        read_texture_config(a.texture)  # not a texture run: an error before the scene
    s = scene_from_run(a.run, cfg, device=a.device, progress=not a.quiet)
    images = scene_images(s, micro, a.seed, cfg.texture, a.device) if imaging else None
    if micro is not None:
        from dataclasses import asdict

        s.record["microscope"] = asdict(micro)
        s.record["microscope_estimate"] = estimate
    write_scene(s, a.out, overwrite=a.overwrite, images=images, ctc=a.ctc)
    print(f"wrote a {' x '.join(map(str, s.labels.shape))} (T, Z, Y, X) scene with "
          f"{len(s.tracks)} label(s), {s.record['labels_with_parent']} with a parent, to {a.out}")
    return 0
