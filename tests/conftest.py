"""Shared fixtures: small analytic SDF datasets and one trained smoke run per session."""
from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")


def ellipsoid_sequences(n: int = 2, frames: int = 4, size: int = 24, seed: int = 0,
                        scale_um: float = 10.0):
    """Growing, off-centre ellipsoids with distinct axes (no rotational symmetry).

    SDF in cube units (sdf_unit_um == scale_um); the ellipsoid distance is the usual
    first-order approximation (q - 1) * min(axes), exact on the axes' shortest direction.
    """
    from cellshapes.io import SDFSequence

    rng = np.random.default_rng(seed)
    g = np.linspace(-1, 1, size)
    z, y, x = np.meshgrid(g, g, g, indexing="ij")
    seqs = []
    for i in range(n):
        axes = np.sort(rng.uniform(0.3, 0.6, 3))[::-1] * np.array([1.0, 0.8, 0.6]) + 0.1
        shift = rng.uniform(-0.1, 0.1, 3)
        vols = []
        for k in range(frames):
            a = axes * (1 + 0.3 * k / max(frames - 1, 1))
            q = np.sqrt(((z - shift[0]) / a[0]) ** 2 + ((y - shift[1]) / a[1]) ** 2
                        + ((x - shift[2]) / a[2]) ** 2)
            vols.append(((q - 1) * a.min()).astype(np.float32))
        attrs = dict(spacing_um=[1.0, 1.0, 1.0], scale_um=scale_um,
                     voxel_um=2 * scale_um / (size - 1), sdf_unit_um=scale_um,
                     cell_type="ellipsoid", source="analytic", label=-1, params="{}")
        seqs.append(SDFSequence(f"seq_{i:04d}", np.stack(vols), attrs))
    return seqs


def write_ellipsoid_dataset(path, **kwargs):
    from cellshapes.io import write_dataset

    write_dataset(path, ellipsoid_sequences(**kwargs), overwrite=True)
    return path


@pytest.fixture(scope="session")
def ellipsoid_dataset(tmp_path_factory):
    """A 6 sequences x 4 frames x 24^3 analytic training dataset."""
    return write_ellipsoid_dataset(tmp_path_factory.mktemp("data") / "ellipsoids.h5", n=6)


@pytest.fixture(scope="session")
def heldout_dataset(tmp_path_factory):
    """2 more ellipsoid sequences from the same distribution, never trained on."""
    return write_ellipsoid_dataset(tmp_path_factory.mktemp("data") / "heldout.h5", n=2,
                                   seed=99)


@pytest.fixture(scope="session")
def trained_run(ellipsoid_dataset, tmp_path_factory):
    """A smoke-profile run trained long enough to reconstruct the ellipsoids well."""
    from cellshapes.config import model_config, train_config
    from cellshapes.training.loop import train

    out = tmp_path_factory.mktemp("runs") / "smoke"
    train(ellipsoid_dataset, out, model_config("smoke"),
          train_config("smoke", epochs=150, seed=0), device="cpu", progress=False,
          profile="smoke")
    return out
