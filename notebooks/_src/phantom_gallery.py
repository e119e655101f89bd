"""Render the phantoms (first / mid / last frame of each kind) and their descriptor curves.

    python notebooks/_src/phantom_gallery.py OUT_DIR [--size 64] [--frames 10] [--seeds 8]

Writes ``phantoms_render.png`` (one row per kind, seed 0, the whole field of view at one
scale, marked by small cubes at two corners; a fourth row shows the dividing cell with
``align_daughters``), ``phantoms_descriptors.png`` (volume, sphericity and
surface / volume over time for every seed; filopodia count and total length) and prints
the numbers. A check for people, not a test: look at the pictures.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from cellshapes.measure.metrics import describe_volume  # noqa: E402
from cellshapes.phantoms import KINDS, make_sequence  # noqa: E402
from cellshapes.plot.scene import render_volumes  # noqa: E402


def _framed(mask: np.ndarray) -> np.ndarray:
    """The mask plus a small cube at two opposite corners, so every panel shows the whole
    field of view at the same scale (render_volumes zooms to the surface's bounds)."""
    m = mask.copy()
    m[:3, :3, :3] = m[-3:, -3:, -3:] = 1
    return m


def _render(out: Path, size: int, frames: int) -> None:
    picks = [0, (frames - 1) // 2, frames - 1]
    rows = [(kind, {}) for kind in KINDS] + [("dividing", {"align_daughters": True})]
    images = []
    for kind, opts in rows:
        masks, meta = make_sequence(kind, frames, size, 0, **opts)
        labels = [f"{kind}{' aligned' if opts else ''} t={k}" for k in picks]
        volumes = [_framed(masks[k]) for k in picks]
        images.append(render_volumes(volumes, meta["spacing_um"], labels))
    fig, axes = plt.subplots(len(images), 1, figsize=(9, 3.2 * len(images)))
    for ax, img in zip(axes, images):
        ax.imshow(img)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(out / "phantoms_render.png", dpi=110)
    plt.close(fig)


def _descriptors(out: Path, size: int, frames: int, seeds: int) -> None:
    fig, axes = plt.subplots(len(KINDS), 3, figsize=(12, 3.2 * len(KINDS)))
    for row, kind in zip(axes, KINDS):
        for seed in range(seeds):
            masks, meta = make_sequence(kind, frames, size, seed)
            d = [describe_volume(m, meta["spacing_um"]) for m in masks]
            vol = np.array([x["volume_um3"] for x in d])
            sph = np.array([x["sphericity"] for x in d])
            sv = np.array([x["surface_um2"] for x in d]) / vol
            row[0].plot(vol, color="C0", alpha=0.6)
            row[1].plot(sph, color="C1", alpha=0.6)
            row[2].plot(sv, color="C2", alpha=0.6)
            line = f"{kind} seed {seed}: V {vol[0]:.0f}->{vol[-1]:.0f} um^3, " \
                   f"sphericity {sph[0]:.3f}->{sph[len(sph) // 2]:.3f}->{sph[-1]:.3f}"
            if "filopodia" in meta:
                f = meta["filopodia"]
                line += f", filopodia {[x['count'] for x in f]}, length " \
                        f"{[round(x['total_length_um']) for x in f]} um"
            print(line)
        for ax, name in zip(row, ["volume (um^3)", "sphericity 36piV^2/A^3", "A / V (1/um)"]):
            ax.set_title(f"{kind}: {name}", fontsize=9)
            ax.set_xlabel("frame")
    fig.tight_layout()
    fig.savefig(out / "phantoms_descriptors.png", dpi=110)
    plt.close(fig)


def main() -> None:
    """Parse the arguments and write both figures."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--frames", type=int, default=10)
    p.add_argument("--seeds", type=int, default=8)
    a = p.parse_args()
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    a.out.mkdir(parents=True, exist_ok=True)
    _render(a.out, a.size, a.frames)
    _descriptors(a.out, a.size, a.frames, a.seeds)


if __name__ == "__main__":
    main()
