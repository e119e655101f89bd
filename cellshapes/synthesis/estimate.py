"""Simulator parameters estimated from a real image and its labels (``scene --like``).

The simulator's camera model (:mod:`cellshapes.synthesis.microscopy`) gives every voxel
``counts = gain * Poisson(photons) + Normal(0, read_noise**2)``, so its noise variance is
``gain * mean + read_noise**2``. Two regions give two (mean, noise variance) points on
that line: background far from any cell (labels dilated by ``3 * psf_sigma_um``) and cell
interiors (labels eroded by ``2 * psf_sigma_um``). The noise variance is measured from
second differences of neighbouring voxels along x (``var(I[x-1] - 2 I[x] + I[x+1]) / 6``),
which removes the smooth parts of the signal (texture, PSF blur; linear trends exactly)
but not the independent per-voxel noise. Then ``gain`` is the slope, ``read_noise`` the
root of the intercept, ``background = mean_bg / gain`` and
``signal = (mean_fg - mean_bg) / gain`` (photons per interior voxel above background,
texture and brightness factors averaged in). The PSF,
texture and staining mode are not estimated; they stay as given.

This is a moment estimate for images whose noise follows that model; it is rough where
cells are dim, textured at the scale of a voxel, or where the camera has an offset (an
offset shows up as background).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Sequence

import numpy as np
from scipy import ndimage

from cellshapes.errors import InputError
from cellshapes.synthesis.microscopy import MicroscopyConfig

__all__ = ["estimate_microscope"]


def _regions(labels: np.ndarray, spacing: np.ndarray, psf: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """(background, interior) boolean masks of one (Z, Y, X) frame."""
    fg = labels > 0
    far = ndimage.distance_transform_edt(~fg, sampling=spacing) > 3.0 * psf.max()
    deep = ndimage.distance_transform_edt(fg, sampling=spacing) > 2.0 * psf.max()
    return far, deep


def _moments(image: np.ndarray, region: np.ndarray) -> tuple[float, float, int]:
    """Mean, noise variance (second x-differences / 6) and voxel count of a region."""
    trip = region[..., 2:] & region[..., 1:-1] & region[..., :-2]
    diff = (image[..., 2:] - 2.0 * image[..., 1:-1] + image[..., :-2])[trip]
    return float(image[region].mean()), float(diff.var() / 6.0), int(trip.sum())


def estimate_microscope(image: np.ndarray, labels: np.ndarray, spacing: Sequence[float],
                        base: MicroscopyConfig | None = None, min_voxels: int = 200
                        ) -> tuple[MicroscopyConfig, dict[str, Any]]:
    """Simulator settings whose background, signal and noise match a real image.

    Parameters
    ----------
    image : (Z, Y, X) or (T, Z, Y, X) float ndarray
        Camera counts.
    labels : same shape, integer ndarray
        Cell labels (0 = background) of ``image``.
    spacing : (3,) floats
        Voxel size (dz, dy, dx) in um.
    base : MicroscopyConfig, optional
        Settings kept (PSF, texture, mode); default :class:`MicroscopyConfig()`.
    min_voxels : int
        Fewest voxel triples (along x) each region needs.

    Returns
    -------
    config : MicroscopyConfig
        ``base`` with ``gain``, ``read_noise``, ``background`` and ``signal`` estimated.
    report : dict
        The region moments and estimates (JSON-ready).

    Raises
    ------
    InputError
        Shapes differ, a region is too small, or the interior is not brighter than the
        background.
    """
    base = base or MicroscopyConfig()
    img = np.asarray(image, np.float64)
    lab = np.asarray(labels)
    if img.shape != lab.shape or img.ndim not in (3, 4):
        raise InputError(f"--like: image {img.shape} and labels {lab.shape} must be the same "
                         "(Z, Y, X) or (T, Z, Y, X) shape")
    if img.ndim == 3:
        img, lab = img[None], lab[None]
    sp, psf = np.asarray(spacing, float), np.asarray(base.psf_sigma_um, float)
    regions = [_regions(f, sp, psf) for f in lab]
    bg = np.stack([r[0] for r in regions])
    fg = np.stack([r[1] for r in regions])
    (mb, vb, nb), (mf, vf, nf) = _moments(img, bg), _moments(img, fg)
    if min(nb, nf) < min_voxels:
        raise InputError(f"--like: {nb} background and {nf} interior voxel triples; need "
                         f"{min_voxels} each (larger cells or more background)")
    if not mf > mb:
        raise InputError(f"--like: cell interiors ({mf:.3g}) are not brighter than the "
                         f"background ({mb:.3g})")
    gain = max((vf - vb) / (mf - mb), 1e-6)
    read = float(np.sqrt(max(vb - gain * mb, 0.0)))
    cfg = replace(base, gain=float(gain), read_noise=read,
                  background=float(max(mb / gain, 0.0)), signal=float((mf - mb) / gain))
    report = {"background_mean": mb, "background_noise_var": vb, "interior_mean": mf,
              "interior_noise_var": vf, "gain": cfg.gain, "read_noise": cfg.read_noise,
              "background": cfg.background, "signal": cfg.signal,
              "kept": {"psf_sigma_um": list(base.psf_sigma_um), "mode": base.mode,
                       "texture_um": base.texture_um}}
    return cfg, report
