"""The argparse parser of the ``cellshapes`` command.

Options that set a config field are generated from the dataclasses
(:mod:`cellshapes.cli.options`); the rest are declared here, grouped as the README's
command table is. Each subcommand's handler is in :mod:`cellshapes.cli.commands`.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable

from cellshapes.cli import commands, tools
from cellshapes.cli.options import Parser, add_config_options, int_min
from cellshapes.config import (PROFILES, FitConfig, GridOptions, ModelConfig, PrepareConfig,
                               TrainConfig, model_config, to_dict, train_config)

__all__ = ["build_parser"]


def _spacing(p: argparse.ArgumentParser) -> None:
    p.add_argument("--spacing", type=float, nargs=3, metavar=("Z", "Y", "X"), default=None,
                   help="voxel size in um along z, y, x (default: from the file, else 1 1 1)")


def _axes(p: argparse.ArgumentParser) -> None:
    """``--axes`` and ``--channel``: the masks' real axes, overriding the file's metadata."""
    p.add_argument("--axes", default=None, metavar="AXES",
                   help="the masks' real axes in stored order, overriding the file's metadata "
                        "(often wrong in microscopy TIFFs), e.g. TZYX, ZYX, TCZYX")
    p.add_argument("--channel", type=int_min(0), default=None, metavar="N",
                   help="with a channel axis (C): the channel holding the masks (0-based)")


def _flag(p: argparse.ArgumentParser, name: str, help_: str) -> None:
    p.add_argument(name, action="store_true", help=help_)


def _json(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--json", type=Path, default=None, help=f"also write {what} as JSON here")
    _flag(p, "--overwrite", "replace an existing --json file")


def _common(p: argparse.ArgumentParser, overwrite: bool = True, device: bool = False) -> None:
    if device:
        _device(p)
    if overwrite:
        _flag(p, "--overwrite", "replace existing outputs")
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
    """The argparse parser of the ``cellshapes`` command (one subparser per command)."""
    parser = Parser(prog="cellshapes", description=(
        "Generative modelling of time-evolving 3D cell shapes with SO(3)-equivariant "
        "implicit neural representations (Wiesner et al., MedIA 2024)."))
    from cellshapes import __version__

    parser.add_argument("--version", action="version", version=f"cellshapes {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True

    def add(name: str, handler: Callable[[argparse.Namespace], int], help_: str):
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(handler=handler)
        return p

    _data_commands(add)
    _model_commands(add)
    _tool_commands(add)
    _synthesis_commands(add)
    return parser


def _data_commands(add: Callable[..., argparse.ArgumentParser]) -> None:
    """Subcommands of the data side: phantoms, preparation, measurement."""
    p = add("quickstart", commands.quickstart,
            "phantoms -> prepare -> train -> reconstruct -> evaluate -> figure, end to end")
    p.add_argument("--out", type=Path, default=Path("quickstart"), help="output folder")
    p.add_argument("--kind", choices=["growing", "dividing", "filopodial"], default="dividing")
    _profile(p, "smoke", "data sizes and training settings")
    add_config_options(p, TrainConfig, include=["epochs"], section="train",
                       profiles={k: to_dict(train_config(k)) for k in PROFILES},
                       title="training (default: the profile's value)")
    p.add_argument("--seed", type=int, default=0, help="seed of the phantoms and the training")
    _common(p, device=True)

    p = add("phantoms", commands.phantoms, "write seeded procedural 3D+t cell masks (TIFF)")
    p.add_argument("kind", choices=["growing", "dividing", "filopodial", "oriented"],
                   help="oriented: growing cells with two off-centre lobes (one orientation)")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--sequences", type=int, default=4, help="number of sequences (default 4)")
    p.add_argument("--frames", type=int, default=10, help="time points per sequence (default 10)")
    p.add_argument("--size", type=int, default=64, help="cube edge in voxels (default 64)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    _common(p)

    p = add("prepare", commands.prepare, "turn masks into a prepared SDF dataset (HDF5)")
    p.add_argument("inputs", nargs="+", type=Path,
                   help="3D/3D+t TIFF masks, folders of per-frame TIFFs, or reference .h5")
    p.add_argument("--out", required=True, type=Path, help="output dataset .h5")
    _common(p)
    add_config_options(p, PrepareConfig, metavars={"spacing": ("Z", "Y", "X"), "axes": "AXES"},
                       title="preparation (PrepareConfig)")

    p = add("export-reference", commands.export_reference,
            "export a prepared dataset to the reference implementation's sdf_vid .h5 files")
    p.add_argument("dataset", type=Path)
    p.add_argument("--out", required=True, type=Path, help="output folder")
    _common(p)

    p = add("describe", commands.describe, "volume, surface area and sphericity per frame")
    p.add_argument("input", type=Path, help="mask TIFF / folder or prepared dataset .h5")
    _spacing(p)
    _axes(p)
    _flag(p, "--per-cell", "one row per cell of each frame: each label id of a label image "
          "(touching cells stay apart), each 26-connected component of a "
          "binary mask or SDF (e.g. each daughter)")
    p.add_argument("--csv", type=Path, default=None, help="also write the table as CSV")
    _flag(p, "--overwrite", "replace an existing --csv file")

    p = add("compare", commands.compare,
            "DSC, HD95, ASSD, surface Dice and protrusion recall of a shape against the truth")
    p.add_argument("truth", type=Path, help="true masks (TIFF / folder / .npy) or SDF .h5")
    p.add_argument("other", type=Path, help="shape to compare, same grid (masks or SDF .h5)")
    _spacing(p)
    _axes(p)
    p.add_argument("--frame", type=int_min(0), default=None,
                   help="compare this time point only (default: every frame)")
    for name, what in (("--tolerance", "tolerance of surface Dice and protrusion recall in "
                                         "um (default: one voxel diagonal)"),
                       ("--body-radius", "cell-body ball radius of the protrusion recall in um "
                                         "(default: half the equivalent-sphere radius of the "
                                         "true cell)")):
        p.add_argument(name, type=float, default=None, metavar="UM", help=what)
    _json(p, "the results")

    p = add("mesh", commands.mesh, "marching-cubes mesh of one frame, in um")
    p.add_argument("input", type=Path, help="mask TIFF / folder, SDF .h5 or prepared dataset")
    p.add_argument("--out", required=True, type=Path, help="FILE.ply, .stl, .vtk or .obj")
    p.add_argument("--frame", type=int_min(0), default=0, help="time point (default 0)")
    _spacing(p)
    _axes(p)
    _flag(p, "--overwrite", "replace an existing file")


def _model_commands(add: Callable[..., argparse.ArgumentParser]) -> None:
    """Subcommands of the model side: training, planning, inference."""
    p = add("train", commands.train, "train the auto-decoder on a prepared dataset")
    p.add_argument("dataset", type=Path)
    p.add_argument("--out", required=True, type=Path, help="run directory")
    _profile(p, "paper", "the settings every option below defaults to")
    _device(p)
    _flag(p, "--resume", "continue from checkpoints/latest.pt (the run's stored config wins, "
          "except --epochs, which may extend the run)")
    _common(p)
    add_config_options(p, TrainConfig, section="train", aliases={"points_per_frame": ["--points"]},
                       profiles={k: to_dict(train_config(k)) for k in PROFILES},
                       title="training (TrainConfig; default: the profile's value)")
    add_config_options(p, ModelConfig, section="model",
                       profiles={k: to_dict(model_config(k)) for k in PROFILES},
                       title="model (ModelConfig; default: the profile's value; "
                             "--arch deepsdf starts from the DeepSDF baseline)")

    p = add("model", commands.model,
            "label video(s) -> checked labels, dataset, trained model, report.html, and "
            "optionally new sequences and a CTC data set; rerun to continue")
    p.add_argument("inputs", nargs="+", type=Path,
                   help="label videos: (T, Z, Y, X) integer TIFF / folder of per-frame TIFFs "
                        "/ .npy, one id per cell over time")
    p.add_argument("--out", required=True, type=Path, help="output folder (resumable)")
    _common(p, device=True)
    from cellshapes.pipeline.request import ModelRequest

    add_config_options(p, ModelRequest, exclude=["inputs"],
                       metavars={"spacing": ("Z", "Y", "X"), "from_pretrained": "NAME",
                                 "synthesize": "N", "scene": "CELLS", "tracks": "MAN_TRACK",
                                 "axes": "AXES"},
                       title="what to do (ModelRequest, stored as OUT/request.json)")

    p = add("plan", commands.plan, "host and device memory a training run needs, without data")
    p.add_argument("--sequences", type=int_min(1), metavar="N", help="number of sequences")
    p.add_argument("--frames", type=int_min(1), metavar="T", help="frames per sequence")
    p.add_argument("--size", type=int_min(2), metavar="S", help="cube edge in voxels")
    p.add_argument("--dataset", type=Path, default=None,
                   help="plan for this prepared dataset instead (shape from the file, near-set "
                        "size counted in its frames)")
    _profile(p, "paper", "the settings every option below defaults to")
    p.add_argument("--device", choices=["auto", "cuda", "cpu"], default="auto",
                   help="where the run trains (default auto: cuda where available, else cpu; "
                        "cpu: data and model in host RAM)")
    p.add_argument("--near-voxel-fraction", type=float, default=None, metavar="X",
                   help="fraction of a frame's voxels in the near set (default: counted in "
                        "--dataset, else assumed from the paper's cell sizes)")
    _json(p, "the plan")
    add_config_options(p, TrainConfig, section="train", aliases={"points_per_frame": ["--points"]},
                       include=["frames_every", "frames_per_batch", "points_per_frame", "amp",
                                "near_set", "near_surface_um", "storage_dtype"],
                       profiles={k: to_dict(train_config(k)) for k in PROFILES},
                       title="training (TrainConfig; default: the profile's value)")
    add_config_options(p, ModelConfig, section="model", include=["arch", "hidden", "layers",
                                                                  "latent_dim"],
                       profiles={k: to_dict(model_config(k)) for k in PROFILES},
                       title="model (ModelConfig; default: the profile's value)")

    p = add("reconstruct", commands.reconstruct, "evaluate a trained model on grids -> masks + SDF")
    p.add_argument("run", type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--size", type=int_min(2), default=None,
                   help="grid edge (default: training size)")
    p.add_argument("--frames", type=int_min(1), default=None,
                   help="time points, spread evenly over [-1, 1] (default: training frames)")
    p.add_argument("--sequences", default=None, help="comma-separated indices (default all)")
    g = add_config_options(p, GridOptions,
                           title="grid evaluation (GridOptions; masks equal dense)")
    g.add_argument("--dense", dest="narrow_band", action="store_false", default=None,
                   help="evaluate every voxel: the same as --no-narrow-band")
    _common(p, device=True)

    p = add("evaluate", commands.evaluate, "DSC and descriptors of a run against a dataset")
    _run_and_dataset(p)
    p.add_argument("--json", type=Path, default=None, help="also write the report here")
    p.add_argument("--size", type=int_min(2), default=None)
    _common(p, device=True)

    p = add("fit", commands.fit, "fit codes and rotations of unseen shapes, decoder frozen")
    _run_and_dataset(p)
    p.add_argument("--out", required=True, type=Path, help="run-like output folder")
    add_config_options(p, FitConfig, section="fit", title="fitting (FitConfig)")
    _common(p, device=True)

    p = add("generate", commands.generate, "synthesize new shape sequences from the latent space")
    p.add_argument("run", type=Path)
    p.add_argument("--out", required=True, type=Path)
    _common(p, device=True)
    from cellshapes.inference.generate import GenerateConfig

    g = add_config_options(p, GenerateConfig, section="generate",
                           aliases={"drop_islands_voxels": ["--drop-islands"]},
                           metavars={"drop_islands_voxels": "VOXELS"},
                           title="what to make (GenerateConfig)")
    g.add_argument("--std", type=float, default=None, metavar="X",
                   help="the paper's name of --scale for its samplers (gaussian, near): a "
                        "standard deviation")


def _tool_commands(add: Callable[..., argparse.ArgumentParser]) -> None:
    """Subcommands of the checkout tools: benchmarks, notebooks, results."""
    p = add("bench", tools.bench,
            "training/inference throughput as ratios to baselines")
    _flag(p, "--quick", "small sizes, a few minutes on CPU")
    _device(p)
    p.add_argument("--json", type=Path, default=None, help="also write the results here")

    p = add("notebooks", tools.notebooks,
            "execute the numbered notebooks with papermill")
    p.add_argument("--profile", default="smoke", choices=list(PROFILES))
    p.add_argument("--out", type=Path, default=None,
                   help="folder for executed copies, data, runs, figures, results "
                        "(default <repo>/out/<profile>, git-ignored)")
    p.add_argument("--only", default=None, help="comma-separated numbers or names, e.g. 00,02")
    _flag(p, "--publish", "write figures and results to the committed figures/ and results/")
    _flag(p, "--sync", "only re-pair NN_topic.py and NN_topic.ipynb (jupytext) and strip "
          "outputs; runs nothing")
    _device(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")

    p = add("results", tools.results,
            "the README results table from the notebooks' results/NN_topic.json")
    p.add_argument("--dir", type=Path, default=Path("results"),
                   help="folder of results files (default results)")
    p.add_argument("--readme", type=Path, default=None,
                   help="rewrite the table and the quoted numbers between the markers of "
                        "this README")
    _flag(p, "--check", "only compare the README (--readme, default README.md) with the "
          "files: its table, its quoted numbers and the verdicts under the current rule; "
          "exit 1 on any difference")
    _flag(p, "--rejudge", "first judge every claim of the files again by the current "
          "verdict rule (values kept, nothing rerun)")


def _synthesis_commands(add: Callable[..., argparse.ArgumentParser]) -> None:
    """Subcommands of the image synthesis and export."""
    p = add("simulate", commands.simulate, "simulated fluorescence images of masks (image/mask pairs)")
    p.add_argument("masks", type=Path, help="mask TIFF, phantoms folder or generate output")
    p.add_argument("--out", required=True, type=Path, help="pair folder (images/, masks/)")
    p.add_argument("--mode", choices=["cytoplasm", "membrane"], default="cytoplasm")
    p.add_argument("--seed", type=int, default=0)
    _common(p)

    p = add("texture-train", commands.texture_train, "train the mask -> image texture GAN on pairs")
    p.add_argument("pairs", type=Path, help="folder with images/ and masks/ (see simulate)")
    p.add_argument("--out", required=True, type=Path, help="run directory")
    p.add_argument("--profile", default="quick", choices=["smoke", "quick", "paper"])
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--seed", type=int, default=None)
    _flag(p, "--resume", "continue from checkpoints/latest.pt")
    _common(p, device=True)

    p = add("texture", commands.texture, "textured 2D+t images of masks with a texture run")
    p.add_argument("run", type=Path)
    p.add_argument("masks", type=Path, help="mask TIFF, phantoms folder or generate output")
    p.add_argument("--out", required=True, type=Path, help="pair folder (images/, masks/)")
    p.add_argument("--seed", type=int, default=0, help="noise-field seed")
    _common(p, device=True)

    _scene_command(add)

    p = add("export-ctc", commands.export_ctc, "Cell Tracking Challenge style dataset from masks")
    p.add_argument("input", type=Path, help="mask TIFF, phantoms folder or generate output")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--texture", type=Path, default=None,
                   help="texture run for the images (default: microscopy simulator)")
    p.add_argument("--3d", dest="three_d", action="store_true",
                   help="3D+t stacks instead of 2D+t projections")
    p.add_argument("--seed", type=int, default=0)
    _common(p, device=True)


def _scene_command(add: Callable[..., argparse.ArgumentParser]) -> None:
    """``cellshapes scene``: many new cells per field of view, with lineage and images."""
    p = add("scene", commands.scene,
            "a 3D+t field of view with many new cells of a model: labels, man_track.txt, "
            "provenance; optionally simulated images and a CTC data set")
    p.add_argument("run", help="run directory, or a shipped model name (growing_study, "
                               "dividing_study, filopodial_study)")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    from cellshapes.synthesis.scene_config import SceneConfig

    add_config_options(p, SceneConfig, aliases={"gap_um": ["--gap"], "drift_um": ["--drift"]},
                       defaults={"cells": 6, "frames": 5},
                       metavars={"shape": ("Z", "Y", "X"), "spacing": ("Z", "Y", "X"),
                                 "gap_um": "UM", "drift_um": "UM", "texture": "RUN"},
                       title="scene (SceneConfig)")
    g = p.add_argument_group("images")
    _flag(g, "--images", "also simulate fluorescence images (images.tif)")
    _flag(g, "--ctc", "also write a Cell Tracking Challenge data set (ctc/; implies --images)")
    g.add_argument("--like", type=Path, nargs=2, default=None, metavar=("IMAGE", "LABELS"),
                   help="estimate background, signal, gain and read noise from this real "
                        "image and its labels (same shape; implies --images)")
    # the simulator's settings (synthesis.microscopy.MicroscopyConfig), declared here so
    # that the parser does not import the simulator (scipy.ndimage)
    g.add_argument("--psf", type=float, nargs=3, default=None, metavar=("Z", "Y", "X"),
                   help="Gaussian PSF sigma in um (default 1.2 0.4 0.4)")
    for name, what in (("background", "background photons per voxel (default 8)"),
                       ("signal", "photons per cell voxel (default 60)"),
                       ("gain", "camera counts per photon (default 1)"),
                       ("read-noise", "Gaussian read noise sd in counts (default 2)")):
        g.add_argument(f"--{name}", type=float, default=None, help=what)
    g.add_argument("--mode", choices=["cytoplasm", "membrane"], default="cytoplasm",
                   help="staining (default cytoplasm)")
    _common(p, device=True)
