"""``cellshapes model --synthesize N [--ctc]``: new single-cell sequences of the trained run
with their validity and novelty (:func:`cellshapes.inference.generate.generate_run`), and
their Cell Tracking Challenge export. ``request`` is the
:class:`~cellshapes.pipeline.stages.ModelRequest`."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from cellshapes.pipeline.scenes import say

__all__ = ["synthesis_stage", "ctc_stage"]


def synthesis_stage(out: Path, request: Any, device: str, progress: bool):
    """Generate the new sequences; returns per sequence its components and islands."""
    import pandas as pd

    from cellshapes.atomic import atomic_path
    from cellshapes.inference.generate import generate_run

    folder, summary_path = out / "synthetic", out / "synthetic.json"
    if not summary_path.exists():
        say(f"synthesizing {request.synthesize} new sequence(s) -> {folder}", progress)
        summary = generate_run(out / "run", folder, n=request.synthesize, seed=request.seed,
                               device=device, overwrite=folder.exists(), progress=progress)
        with atomic_path(summary_path) as tmp:
            tmp.write_text(json.dumps(summary, indent=1))
    summary = json.loads(summary_path.read_text())
    return pd.DataFrame([{"sequence": name, "frames": len(seq["frames"]),
                          "whole": seq["valid"],
                          "most components in a frame": max(r["components"]
                                                            for r in seq["frames"]),
                          "island fraction (mean)": float(np.mean(
                              [r["island_fraction"] for r in seq["frames"]])),
                          "DSC to nearest training cell": seq["nearest_training_dsc"]}
                         for name, seq in summary["sequences"].items()])


def ctc_stage(out: Path, request: Any, device: str, progress: bool) -> Path:
    from cellshapes.synthesis.ctc import export_ctc

    folder = out / "ctc"
    if not (folder / "export.json").exists():
        say(f"exporting the synthesized sequences as a CTC data set -> {folder}", progress)
        export_ctc(out / "synthetic", folder, seed=request.seed, device=device,
                   overwrite=folder.exists(), progress=progress)
    return folder
