"""The end-to-end quickstart: phantoms -> prepare -> train -> reconstruct -> evaluate -> figure.

``cellshapes quickstart --out DIR`` runs it from the command line; notebook
``00_quickstart`` shows the same steps one at a time.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["run_quickstart"]


def run_quickstart(out: str | os.PathLike, kind: str = "dividing", profile: str = "smoke",
                   epochs: int | None = None, seed: int = 0, device: str = "auto",
                   overwrite: bool = False, progress: bool = True,
                   render: bool = True) -> dict[str, Any]:
    """Run the whole pipeline on procedural cells and write ``out/quickstart.png``.

    Parameters
    ----------
    out : path
        Output folder (phantoms, dataset, run, reconstructions, figures, report).
    kind : {"growing", "dividing", "filopodial"}
    profile : {"smoke", "quick", "paper"}
        Scale of data and training (smoke: under a minute on a laptop CPU).
    epochs : int, optional
        Override the number of training epochs (smoke default here: 300).

    Returns
    -------
    dict
        The evaluation report plus the paths written.
    """
    from cellshapes.atomic import atomic_dir
    from cellshapes.config import train_config

    final = Path(out)
    # validate what can be validated before anything is written
    train_config(profile, epochs=epochs or (300 if profile == "smoke" else None), seed=seed)
    with atomic_dir(final, overwrite) as tmp:  # an interrupted run leaves nothing behind
        report = _quickstart_in(tmp, kind, profile, epochs, seed, device, progress, render)
        # paths in the report name the final folder, not the temporary one
        report = json.loads(json.dumps(report).replace(json.dumps(str(tmp))[1:-1],
                                                       json.dumps(str(final))[1:-1]))
        (tmp / "report.json").write_text(json.dumps(report, indent=1))
    return report


def _quickstart_in(out: Path, kind: str, profile: str, epochs: int | None, seed: int,
                   device: str, progress: bool, render: bool) -> dict[str, Any]:
    """The body of :func:`run_quickstart`, writing into the (temporary) folder ``out``."""
    from cellshapes.config import data_defaults, model_config, train_config
    from cellshapes.inference.evaluate import evaluate_run
    from cellshapes.inference.reconstruct import reconstruct_run
    from cellshapes.io import read_dataset
    from cellshapes.measure.metrics import describe_sequence
    from cellshapes.phantoms import write_phantoms
    from cellshapes.plot import descriptor_curves, render_volumes, save_figure, slice_grid
    from cellshapes.prepare import prepare_dataset
    from cellshapes.training.loop import train

    d = data_defaults(profile)
    size = max(32, d["size"])
    frames = max(6, d["frames"])
    write_phantoms(kind, out / "phantoms", sequences=d["sequences"], frames=frames,
                   size=int(size * 1.5), seed=seed, progress=progress)
    prepare_dataset(sorted((out / "phantoms").glob("*.tif")), out / "data.h5", size=size,
                    cell_type=kind, progress=progress)
    n_epochs = epochs or (300 if profile == "smoke" else None)
    train(out / "data.h5", out / "run", model_config(profile),
          train_config(profile, epochs=n_epochs, seed=seed), device=device, progress=progress,
          profile=profile)
    reconstruct_run(out / "run", out / "reconstruction", device=device, progress=progress)
    report = evaluate_run(out / "run", out / "data.h5", device=device, progress=progress)
    real = read_dataset(out / "data.h5")
    rec = read_dataset(out / "reconstruction" / "sdf.h5")
    fig = slice_grid({"real": real[0].sdf <= 0, "reconstructed": rec[0].sdf <= 0},
                     title=f"{kind} cell, sequence 0: central z-slices "
                           f"(DSC {report['dsc_mean']:.3f}, profile {profile})")
    save_figure(fig, out / "quickstart.png", close=True)
    voxel = float(real[0].attrs["voxel_um"])
    tables = {}
    for label, seqs in (("real", real), ("reconstructed", rec)):
        import pandas as pd

        tables[label] = pd.concat([describe_sequence(s.sdf, (voxel,) * 3, is_sdf=True)
                                   for s in seqs])
    save_figure(descriptor_curves(tables, title="descriptors per time point (mean, IQR)"),
                out / "quickstart_descriptors.png", close=True)
    written = [str(out / "quickstart.png"), str(out / "quickstart_descriptors.png")]
    if render:
        try:
            img = render_volumes([real[0].sdf[-1], rec[0].sdf[-1]], (voxel,) * 3,
                                 labels=["real, last frame", "reconstructed"])
            import matplotlib.pyplot as plt

            plt.imsave(out / "quickstart_3d.png", img)
            written.append(str(out / "quickstart_3d.png"))
        except Exception as exc:  # rendering is optional (no pyvista / no EGL)
            print(f"cellshapes: 3D render skipped ({type(exc).__name__}: {exc})")
    return {**report, "figures": written}
