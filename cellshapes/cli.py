"""The ``cellshapes`` command line: thin wrappers around the public API.

Every expected failure (a :class:`~cellshapes.errors.CellshapesError`) prints one line
``cellshapes: error: ...`` to stderr and exits with code 2, without a traceback. Library
modules are imported inside the handlers so that ``cellshapes --help`` is fast and a
GPU box without VTK can still train.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Callable, Sequence, Sized

from .cliconfig import Parser, add_config_options, int_min
from .config import PROFILES, ModelConfig, TrainConfig, model_config, to_dict, train_config
from .errors import CellshapesError

__all__ = ["main", "build_parser"]


def _lazy(module: str, name: str) -> Callable[[argparse.Namespace], int]:
    """A handler that imports ``module`` (relative to cellshapes) only when it runs."""
    import importlib

    return lambda a: getattr(importlib.import_module(module, __package__), name)(a)


def _wrote(items: Sized, what: str, out: Path) -> int:
    """Report ``wrote N <what> to <out>`` and return the exit code 0."""
    print(f"wrote {len(items)} {what} to {out}")
    return 0


# ----------------------------------------------------------------------------- data side
def _cmd_phantoms(a: argparse.Namespace) -> int:
    from .phantoms import write_phantoms

    paths = write_phantoms(a.kind, a.out, sequences=a.sequences, frames=a.frames, size=a.size,
                           seed=a.seed, overwrite=a.overwrite, progress=not a.quiet)
    return _wrote(paths, f"{a.kind} sequence(s)", a.out)


def _cmd_prepare(a: argparse.Namespace) -> int:
    from .prepare import prepare_dataset

    summary = prepare_dataset(
        a.inputs, a.out, size=a.size, spacing=a.spacing, cell_type=a.cell_type,
        per_label=a.per_label, label=a.label, align=a.align, overwrite=a.overwrite,
        progress=not a.quiet,
    )
    print(json.dumps(summary, indent=1, default=str))
    return 0


def _cmd_export_reference(a: argparse.Namespace) -> int:
    from .prepare import export_reference

    paths = export_reference(a.dataset, a.out, overwrite=a.overwrite)
    return _wrote(paths, "reference sdf_vid file(s)", a.out)


def _cmd_describe(a: argparse.Namespace) -> int:
    from .metrics import describe_path

    from .atomic import atomic_path, check_output

    if a.csv:
        check_output(a.csv, a.overwrite)  # before the work, not after it
    table = describe_path(a.input, spacing=a.spacing, per_cell=a.per_cell)
    if a.csv:
        with atomic_path(a.csv, overwrite=a.overwrite) as tmp:
            table.to_csv(tmp, index=False)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return 0


def _cmd_compare(a: argparse.Namespace) -> int:
    from .atomic import atomic_path, check_output
    from .surface import compare_path

    if a.json:
        check_output(a.json, a.overwrite)  # before the work, not after it
    table = compare_path(a.truth, a.other, spacing=a.spacing, frame=a.frame,
                         tolerance_um=a.tolerance, body_radius_um=a.body_radius)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if a.json:
        report = {"truth": str(a.truth), "other": str(a.other), **table.attrs,
                  "body_radius_um": a.body_radius,
                  "frames": json.loads(table.to_json(orient="records")),
                  "mean": json.loads(table.drop(columns=["sequence", "frame"]).mean()
                                     .to_json())}
        with atomic_path(a.json, overwrite=a.overwrite) as tmp:
            tmp.write_text(json.dumps(report, indent=1))
    return 0


def _cmd_mesh(a: argparse.Namespace) -> int:
    from .mesh import mesh_path

    info = mesh_path(a.input, a.out, frame=a.frame, spacing=a.spacing, overwrite=a.overwrite)
    print(json.dumps(info, default=str))
    return 0


def _cmd_quickstart(a: argparse.Namespace) -> int:
    from .repro.quickstart import run_quickstart

    report = run_quickstart(a.out, kind=a.kind, profile=a.profile, epochs=a.epochs,
                            seed=a.seed, device=a.device, overwrite=a.overwrite,
                            progress=not a.quiet)
    print(f"DSC mean {report['dsc_mean']:.3f}; figures: {', '.join(report['figures'])}")
    return 0


# ---------------------------------------------------------------------------- model side
def _cmd_train(a: argparse.Namespace) -> int:
    from .cliconfig import config_overrides
    from .config import ModelConfig, TrainConfig, model_config, train_config
    from .train import train

    mcfg = model_config(a.profile, **config_overrides(a, ModelConfig))
    tcfg = train_config(a.profile, **config_overrides(a, TrainConfig))
    history = train(a.dataset, a.out, mcfg, tcfg, device=a.device, resume=a.resume,
                    overwrite=a.overwrite, progress=not a.quiet, profile=a.profile,
                    epochs=a.epochs)
    if int(os.environ.get("RANK", "0")) == 0 and history:  # torchrun: rank 0 reports
        last = history[-1]
        print(f"epoch {int(last['epoch'])}: loss {last['loss']:.5g}, "
              f"{last['points_per_s']:.3g} points/s -> {a.out}")
    return 0


def _cmd_plan(a: argparse.Namespace) -> int:
    from .plan import plan_from_cli

    return plan_from_cli(a)


def _cmd_reconstruct(a: argparse.Namespace) -> int:
    from .reconstruct import reconstruct_run

    out = reconstruct_run(a.run, a.out, size=a.size, frames=a.frames, sequences=a.sequences,
                          device=a.device, overwrite=a.overwrite, progress=not a.quiet,
                          dense=a.dense)
    return _wrote(out, "sequence(s)", a.out)


def _cmd_evaluate(a: argparse.Namespace) -> int:
    from .atomic import atomic_path, check_output
    from .evaluate import evaluate_run

    if a.json:
        check_output(a.json, a.overwrite)  # before the work, not after it
    report = evaluate_run(a.run, a.dataset, size=a.size, device=a.device, progress=not a.quiet)
    text = json.dumps(report, indent=1)
    if a.json:
        with atomic_path(a.json, overwrite=a.overwrite) as tmp:
            tmp.write_text(text)
    print(text)
    return 0


def _cmd_fit(a: argparse.Namespace) -> int:
    from .fit import fit_run

    report = fit_run(a.run, a.dataset, a.out, steps=a.steps, device=a.device,
                     overwrite=a.overwrite, seed=a.seed, progress=not a.quiet)
    print(json.dumps(report, indent=1))
    return 0


def _cmd_generate(a: argparse.Namespace) -> int:
    from .generate import generate_run

    report = generate_run(a.run, a.out, n=a.n, method=a.method, seed=a.seed, size=a.size,
                          frames=a.frames, device=a.device, overwrite=a.overwrite,
                          progress=not a.quiet, std=a.std)
    print(json.dumps(report, indent=1))
    return 0


# ------------------------------------------------------------------- image synthesis
def _cmd_simulate(a: argparse.Namespace) -> int:
    from .synthesis.imaging import simulate_folder
    from .synthesis.microscopy import MicroscopyConfig

    names = simulate_folder(a.masks, a.out, MicroscopyConfig(mode=a.mode), seed=a.seed,
                            overwrite=a.overwrite, progress=not a.quiet)
    return _wrote(names, "simulated image/mask pair(s)", a.out)


def _cmd_texture_train(a: argparse.Namespace) -> int:
    from .synthesis.texture import texture_config
    from .synthesis.texture_train import train_texture

    cfg = None if a.resume and a.epochs is None else texture_config(a.profile, epochs=a.epochs,
                                                                     seed=a.seed)
    run = train_texture(a.pairs, a.out, cfg, device=a.device, resume=a.resume,
                        overwrite=a.overwrite, progress=not a.quiet)
    print(f"texture run in {run}")
    return 0


def _cmd_texture(a: argparse.Namespace) -> int:
    from .synthesis.texture import synthesize_folder

    names = synthesize_folder(a.run, a.masks, a.out, seed=a.seed, device=a.device,
                              overwrite=a.overwrite, progress=not a.quiet)
    return _wrote(names, "textured sequence(s)", a.out)


def _cmd_export_ctc(a: argparse.Namespace) -> int:
    from .synthesis.ctc import export_ctc

    s = export_ctc(a.input, a.out, texture=a.texture, dims=3 if a.three_d else 2, seed=a.seed,
                   device=a.device, overwrite=a.overwrite, progress=not a.quiet)
    return _wrote(s["sequences"], "CTC sequence(s)", a.out)


# -------------------------------------------------------------------------------- parser
def _spacing(p: argparse.ArgumentParser) -> None:
    p.add_argument("--spacing", type=float, nargs=3, metavar=("Z", "Y", "X"), default=None,
                   help="voxel size in um along z, y, x (default: from the file, else 1 1 1)")


def _common(p: argparse.ArgumentParser, overwrite: bool = True, device: bool = False) -> None:
    if device:
        _device(p)
    if overwrite:
        p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


def _run_and_dataset(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", type=Path, help="run directory (cellshapes train)")
    p.add_argument("dataset", type=Path, help="prepared dataset .h5 (cellshapes prepare)")


def _profile(p: argparse.ArgumentParser, default: str, what: str) -> None:
    p.add_argument("--profile", default=default, choices=sorted(PROFILES),
                   help=f"named scale: {what} (default {default}; see cellshapes.config)")


def _device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of the ``cellshapes`` command."""
    parser = Parser(prog="cellshapes", description=(
        "Generative modelling of time-evolving 3D cell shapes with SO(3)-equivariant "
        "implicit neural representations (Wiesner et al., MedIA 2024)."))
    from . import __version__

    parser.add_argument("--version", action="version", version=f"cellshapes {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True

    def add(name: str, handler: Callable[[argparse.Namespace], int], help_: str):
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(handler=handler)
        return p

    p = add("quickstart", _cmd_quickstart,
            "phantoms -> prepare -> train -> reconstruct -> evaluate -> figure, end to end")
    p.add_argument("--out", type=Path, default=Path("quickstart"), help="output folder")
    p.add_argument("--kind", choices=["growing", "dividing", "filopodial"], default="dividing")
    _profile(p, "smoke", "data sizes and training settings")
    add_config_options(p, TrainConfig, include=["epochs"], section="train",
                       profiles={k: to_dict(train_config(k)) for k in PROFILES},
                       title="training (default: the profile's value)")
    p.add_argument("--seed", type=int, default=0, help="seed of the phantoms and the training")
    _common(p, device=True)

    p = add("phantoms", _cmd_phantoms, "write seeded procedural 3D+t cell masks (TIFF)")
    p.add_argument("kind", choices=["growing", "dividing", "filopodial"])
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--sequences", type=int, default=4, help="number of sequences (default 4)")
    p.add_argument("--frames", type=int, default=10, help="time points per sequence (default 10)")
    p.add_argument("--size", type=int, default=64, help="cube edge in voxels (default 64)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    _common(p)

    p = add("prepare", _cmd_prepare, "turn masks into a prepared SDF dataset (HDF5)")
    p.add_argument("inputs", nargs="+", type=Path,
                   help="3D/3D+t TIFF masks, folders of per-frame TIFFs, or reference .h5")
    p.add_argument("--out", required=True, type=Path, help="output dataset .h5")
    p.add_argument("--size", type=int_min(4), default=64, help="output cube edge S (default 64)")
    _spacing(p)
    p.add_argument("--cell-type", default=None, help="cell type name stored as metadata")
    p.add_argument("--per-label", action="store_true",
                   help="each label id that persists over time becomes its own sequence")
    p.add_argument("--label", type=int, default=None, help="use this label id only")
    p.add_argument("--align", action="store_true", help="align principal axes")
    _common(p)

    p = add("export-reference", _cmd_export_reference,
            "export a prepared dataset to the reference implementation's sdf_vid .h5 files")
    p.add_argument("dataset", type=Path)
    p.add_argument("--out", required=True, type=Path, help="output folder")
    _common(p)

    p = add("describe", _cmd_describe, "volume, surface area and sphericity per frame")
    p.add_argument("input", type=Path, help="mask TIFF / folder or prepared dataset .h5")
    _spacing(p)
    p.add_argument("--per-cell", action="store_true",
                   help="one row per 26-connected cell of each frame (e.g. each daughter)")
    p.add_argument("--csv", type=Path, default=None, help="also write the table as CSV")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --csv file")

    p = add("compare", _cmd_compare,
            "DSC, HD95, ASSD, surface Dice and protrusion recall of a shape against the truth")
    p.add_argument("truth", type=Path, help="true masks (TIFF / folder / .npy) or SDF .h5")
    p.add_argument("other", type=Path, help="shape to compare, same grid (masks or SDF .h5)")
    _spacing(p)
    p.add_argument("--frame", type=int_min(0), default=None,
                   help="compare this time point only (default: every frame)")
    p.add_argument("--tolerance", type=float, default=None, metavar="UM",
                   help="tolerance of surface Dice and protrusion recall in um "
                        "(default: one voxel diagonal)")
    p.add_argument("--body-radius", type=float, default=None, metavar="UM",
                   help="cell-body ball radius of the protrusion recall in um (default: "
                        "half the equivalent-sphere radius of the true cell)")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")

    p = add("mesh", _cmd_mesh, "marching-cubes mesh of one frame, in um")
    p.add_argument("input", type=Path, help="mask TIFF / folder, SDF .h5 or prepared dataset")
    p.add_argument("--out", required=True, type=Path, help="FILE.ply, .stl, .vtk or .obj")
    p.add_argument("--frame", type=int_min(0), default=0, help="time point (default 0)")
    _spacing(p)
    p.add_argument("--overwrite", action="store_true", help="replace an existing file")

    p = add("train", _cmd_train, "train the auto-decoder on a prepared dataset")
    p.add_argument("dataset", type=Path)
    p.add_argument("--out", required=True, type=Path, help="run directory")
    _profile(p, "paper", "the settings every option below defaults to")
    _device(p)
    p.add_argument("--resume", action="store_true",
                   help="continue from checkpoints/latest.pt (the run's stored config wins, "
                        "except --epochs, which may extend the run)")
    _common(p)
    add_config_options(p, TrainConfig, section="train", aliases={"points_per_frame": ["--points"]},
                       profiles={k: to_dict(train_config(k)) for k in PROFILES},
                       title="training (TrainConfig; default: the profile's value)")
    add_config_options(p, ModelConfig, section="model",
                       profiles={k: to_dict(model_config(k)) for k in PROFILES},
                       title="model (ModelConfig; default: the profile's value; "
                             "--arch deepsdf starts from the DeepSDF baseline)")

    p = add("plan", _cmd_plan, "host and device memory a training run needs, without data")
    p.add_argument("--sequences", type=int_min(1), metavar="N", help="number of sequences")
    p.add_argument("--frames", type=int_min(1), metavar="T", help="frames per sequence")
    p.add_argument("--size", type=int_min(2), metavar="S", help="cube edge in voxels")
    p.add_argument("--dataset", type=Path, default=None,
                   help="plan for this prepared dataset instead (shape from the file, near-set "
                        "size counted in its frames)")
    _profile(p, "paper", "the settings every option below defaults to")
    p.add_argument("--device", choices=["cuda", "cpu"], default="cuda",
                   help="where the run trains (default cuda; cpu: data and model in host RAM)")
    p.add_argument("--near-voxel-fraction", type=float, default=None, metavar="X",
                   help="fraction of a frame's voxels in the near set (default: counted in "
                        "--dataset, else assumed from the paper's cell sizes)")
    p.add_argument("--json", type=Path, default=None, help="also write the plan as JSON")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    add_config_options(p, TrainConfig, section="train", aliases={"points_per_frame": ["--points"]},
                       include=["frames_every", "frames_per_batch", "points_per_frame", "amp",
                                "near_set", "near_surface_um", "storage_dtype"],
                       profiles={k: to_dict(train_config(k)) for k in PROFILES},
                       title="training (TrainConfig; default: the profile's value)")
    add_config_options(p, ModelConfig, section="model", include=["arch", "hidden", "layers",
                                                                  "latent_dim"],
                       profiles={k: to_dict(model_config(k)) for k in PROFILES},
                       title="model (ModelConfig; default: the profile's value)")

    p = add("reconstruct", _cmd_reconstruct, "evaluate a trained model on grids -> masks + SDF")
    p.add_argument("run", type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--size", type=int_min(2), default=None,
                   help="grid edge (default: training size)")
    p.add_argument("--frames", type=int_min(1), default=None,
                   help="time points, spread evenly over [-1, 1] (default: training frames)")
    p.add_argument("--sequences", default=None, help="comma-separated indices (default all)")
    p.add_argument("--dense", action="store_true",
                   help="evaluate every voxel (default: the checked narrow band, same masks)")
    _common(p, device=True)

    p = add("evaluate", _cmd_evaluate, "DSC and descriptors of a run against a dataset")
    _run_and_dataset(p)
    p.add_argument("--json", type=Path, default=None, help="also write the report here")
    p.add_argument("--size", type=int_min(2), default=None)
    _common(p, device=True)

    p = add("fit", _cmd_fit, "fit codes and rotations of unseen shapes, decoder frozen")
    _run_and_dataset(p)
    p.add_argument("--out", required=True, type=Path, help="run-like output folder")
    p.add_argument("--steps", type=int_min(1), default=None, help="optimisation steps")
    p.add_argument("--seed", type=int, default=0)
    _common(p, device=True)

    p = add("generate", _cmd_generate, "synthesize new shape sequences from the latent space")
    p.add_argument("run", type=Path)
    p.add_argument("--n", type=int_min(1), default=1, help="number of new sequences")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--method", choices=["gaussian", "near", "gmm"], default="gaussian")
    p.add_argument("--std", type=float, default=None,
                   help="standard deviation of gaussian/near sampling (default: the paper's "
                        "rule, the codes' std rounded up to a power of ten; half for near)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", type=int_min(2), default=None)
    p.add_argument("--frames", type=int_min(1), default=None)
    _common(p, device=True)
    p = add("bench", _lazy(".bench", "bench_from_cli"),
            "training/inference throughput as ratios to baselines")
    p.add_argument("--quick", action="store_true", help="small sizes, a few minutes on CPU")
    _device(p)
    p.add_argument("--json", type=Path, default=None, help="also write the results here")

    p = add("notebooks", _lazy(".repro.notebooks", "notebooks_from_cli"),
            "execute the numbered notebooks with papermill")
    p.add_argument("--profile", default="smoke", choices=list(PROFILES))
    p.add_argument("--out", type=Path, default=None,
                   help="folder for executed copies, data, runs, figures, results "
                        "(default <repo>/out/<profile>, git-ignored)")
    p.add_argument("--only", default=None, help="comma-separated numbers or names, e.g. 00,02")
    p.add_argument("--publish", action="store_true",
                   help="write figures and results to the committed figures/ and results/")
    p.add_argument("--sync", action="store_true",
                   help="only re-pair NN_topic.py and NN_topic.ipynb (jupytext) and strip "
                        "outputs; runs nothing")
    _device(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")

    p = add("results", _lazy(".repro.report", "results_from_cli"),
            "the README results table from the notebooks' results/NN_topic.json")
    p.add_argument("--dir", type=Path, default=Path("results"),
                   help="folder of results files (default results)")
    p.add_argument("--readme", type=Path, default=None,
                   help="rewrite the table between the markers of this README")
    p.add_argument("--check", action="store_true",
                   help="with --readme: only compare; exit 1 when the README differs")

    p = add("simulate", _cmd_simulate, "simulated fluorescence images of masks (image/mask pairs)")
    p.add_argument("masks", type=Path, help="mask TIFF, phantoms folder or generate output")
    p.add_argument("--out", required=True, type=Path, help="pair folder (images/, masks/)")
    p.add_argument("--mode", choices=["cytoplasm", "membrane"], default="cytoplasm")
    p.add_argument("--seed", type=int, default=0)
    _common(p)

    p = add("texture-train", _cmd_texture_train, "train the mask -> image texture GAN on pairs")
    p.add_argument("pairs", type=Path, help="folder with images/ and masks/ (see simulate)")
    p.add_argument("--out", required=True, type=Path, help="run directory")
    p.add_argument("--profile", default="quick", choices=["smoke", "quick", "paper"])
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--resume", action="store_true", help="continue from checkpoints/latest.pt")
    _common(p, device=True)

    p = add("texture", _cmd_texture, "textured 2D+t images of masks with a texture run")
    p.add_argument("run", type=Path)
    p.add_argument("masks", type=Path, help="mask TIFF, phantoms folder or generate output")
    p.add_argument("--out", required=True, type=Path, help="pair folder (images/, masks/)")
    p.add_argument("--seed", type=int, default=0, help="noise-field seed")
    _common(p, device=True)

    p = add("export-ctc", _cmd_export_ctc, "Cell Tracking Challenge style dataset from masks")
    p.add_argument("input", type=Path, help="mask TIFF, phantoms folder or generate output")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--texture", type=Path, default=None,
                   help="texture run for the images (default: microscopy simulator)")
    p.add_argument("--3d", dest="three_d", action="store_true",
                   help="3D+t stacks instead of 2D+t projections")
    p.add_argument("--seed", type=int, default=0)
    _common(p, device=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cellshapes`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except CellshapesError as exc:
        msg = " ".join(str(exc).split())  # exactly one line
        print(f"cellshapes: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cellshapes: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
