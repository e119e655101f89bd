"""A small fluorescence-microscopy simulator: 3D+t masks -> textured, noisy images.

Pure computation on arrays (no I/O; :mod:`cellshapes.synthesis.imaging` reads and writes folders).
The image formation follows the usual widefield/confocal forward model:

1. fluorophore density from the masks: the whole cell (``"cytoplasm"``) or a shell of
   width ``membrane_um`` under the surface (``"membrane"``);
2. multiplicative texture: a seeded Gaussian random field smoothed to a correlation
   length of ``texture_um`` (fixed per sequence, so texture is coherent over time) and a
   per-cell brightness drawn log-normally per label id (intensity heterogeneity);
3. blur with a Gaussian point-spread function, anisotropic sigma (z, y, x) in um;
4. a constant background and Poisson-Gaussian noise:
   ``counts = gain * Poisson(photons) + Normal(0, read_noise**2)``, so that
   ``var = gain * mean + read_noise**2`` where ``mean = gain * photons``;
5. the maximum-intensity projection over z gives the 2D+t images of the paper's Fig. 14.

Used to make ground-truth image/mask pairs for the texture GAN (:mod:`cellshapes.synthesis.texture`)
and images for Cell Tracking Challenge exports (:mod:`cellshapes.synthesis.ctc`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import ndimage

from cellshapes.errors import InputError
from cellshapes.units import check_spacing

__all__ = ["MODES", "MicroscopyConfig", "simulate", "simulate_frame", "fluorophore_density",
           "texture_field", "psf_blur", "poisson_gaussian", "max_projection"]

#: Fluorophore distributions: whole cell body or a shell under the membrane.
MODES: tuple[str, ...] = ("cytoplasm", "membrane")


@dataclass(frozen=True)
class MicroscopyConfig:
    """Parameters of the simulated microscope and staining.

    Attributes
    ----------
    mode : {"cytoplasm", "membrane"}
        Where the fluorophore sits.
    membrane_um : float
        Width (um) of the stained shell in ``"membrane"`` mode.
    texture_um : float
        Correlation length (um, Gaussian sigma) of the intracellular texture.
    texture_contrast : float
        Standard deviation of the multiplicative texture (0 = uniform cells).
    cell_brightness_sd : float
        Standard deviation of the log of the per-cell brightness factor.
    signal : float
        Expected photons per voxel of an average, untextured, unblurred cell interior.
    background : float
        Expected background photons per voxel (autofluorescence, offset light).
    psf_sigma_um : (3,) floats
        Gaussian PSF sigma along (z, y, x) in um; z is usually 2-4x wider.
    gain : float
        Camera counts per photon.
    read_noise : float
        Standard deviation of the Gaussian read noise, in counts.
    """

    mode: str = "cytoplasm"
    membrane_um: float = 0.8
    texture_um: float = 1.0
    texture_contrast: float = 0.35
    cell_brightness_sd: float = 0.25
    signal: float = 60.0
    background: float = 8.0
    psf_sigma_um: tuple[float, float, float] = (1.2, 0.4, 0.4)
    gain: float = 1.0
    read_noise: float = 2.0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InputError(f"unknown mode {self.mode!r}; choose one of {', '.join(MODES)}")
        for name in ("membrane_um", "texture_um", "signal", "gain"):
            if not float(getattr(self, name)) > 0:
                raise InputError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("texture_contrast", "cell_brightness_sd", "background", "read_noise"):
            if not float(getattr(self, name)) >= 0:
                raise InputError(f"{name} must be >= 0, got {getattr(self, name)}")
        if len(self.psf_sigma_um) != 3 or min(self.psf_sigma_um) < 0:
            raise InputError(f"psf_sigma_um must be 3 non-negative numbers (z, y, x), got "
                             f"{self.psf_sigma_um}")


# ----------------------------------------------------------------------------- stages
def fluorophore_density(labels: np.ndarray, spacing: Sequence[float], mode: str = "cytoplasm",
                        membrane_um: float = 0.8) -> np.ndarray:
    """Relative fluorophore concentration of one frame.

    Parameters
    ----------
    labels : (Z, Y, X) integer ndarray
        0 = background, other ids = cells.
    spacing : (3,) floats
        Voxel size (dz, dy, dx) in um.
    mode : {"cytoplasm", "membrane"}
        ``"cytoplasm"``: 1 inside every cell. ``"membrane"``: 1 within ``membrane_um`` of
        the cell surface (measured inside the cell, per label so touching cells keep
        their shared boundary), 0 deeper inside.

    Returns
    -------
    (Z, Y, X) float32 ndarray in [0, 1]
    """
    inside = labels > 0
    if mode == "cytoplasm":
        return inside.astype(np.float32)
    if mode != "membrane":
        raise InputError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    # distance to the nearest voxel that is not of the same label; padding makes the
    # field-of-view border count as outside
    pad = np.pad(labels, 1)
    edge = np.zeros(pad.shape, bool)
    for ax in range(3):
        for shift in (1, -1):
            edge |= np.roll(pad, shift, axis=ax) != pad
    edge &= pad > 0
    dist = ndimage.distance_transform_edt(~edge, sampling=spacing)[1:-1, 1:-1, 1:-1]
    return (inside & (dist < membrane_um)).astype(np.float32)


def texture_field(shape: Sequence[int], spacing: Sequence[float], correlation_um: float,
                  rng: np.random.Generator) -> np.ndarray:
    """Smoothed Gaussian noise with zero mean and unit standard deviation.

    Parameters
    ----------
    shape : (3,) ints
        (Z, Y, X) voxels.
    spacing : (3,) floats
        Voxel size in um.
    correlation_um : float
        Gaussian smoothing sigma in um (isotropic in physical space).
    rng : numpy.random.Generator

    Returns
    -------
    (Z, Y, X) float32 ndarray
    """
    noise = rng.standard_normal(tuple(shape)).astype(np.float32)
    sigma = [correlation_um / float(s) for s in spacing]
    field = ndimage.gaussian_filter(noise, sigma, mode="wrap")
    sd = float(field.std())
    return (field - field.mean()) / (sd if sd > 0 else 1.0)


def psf_blur(volume: np.ndarray, spacing: Sequence[float],
             sigma_um: Sequence[float]) -> np.ndarray:
    """Convolve with a Gaussian PSF of sigma (z, y, x) in um (energy preserving).

    Returns
    -------
    (Z, Y, X) float32 ndarray
    """
    sigma = [float(s) / float(d) for s, d in zip(sigma_um, spacing)]
    return ndimage.gaussian_filter(volume.astype(np.float32), sigma, mode="constant")


def poisson_gaussian(photons: np.ndarray, gain: float, read_noise: float,
                     rng: np.random.Generator) -> np.ndarray:
    """Camera counts ``gain * Poisson(photons) + Normal(0, read_noise**2)``.

    Parameters
    ----------
    photons : ndarray of float >= 0
        Expected photons per pixel/voxel.

    Returns
    -------
    float32 ndarray, same shape; mean ``gain * photons``, variance
    ``gain**2 * photons + read_noise**2``.
    """
    counts = gain * rng.poisson(np.maximum(photons, 0.0)).astype(np.float32)
    if read_noise > 0:
        counts += rng.normal(0.0, read_noise, photons.shape).astype(np.float32)
    return counts.astype(np.float32)


def max_projection(volumes: np.ndarray) -> np.ndarray:
    """Maximum-intensity projection over z: (T, Z, Y, X) -> (T, Y, X) (or (Z,Y,X) -> (Y,X))."""
    return np.asarray(volumes).max(axis=-3)


# ----------------------------------------------------------------------------- pipeline
def simulate_frame(labels: np.ndarray, spacing: Sequence[float], config: MicroscopyConfig,
                   texture: np.ndarray, brightness: dict[int, float],
                   rng: np.random.Generator) -> np.ndarray:
    """One noisy 3D frame from its label image.

    Parameters
    ----------
    labels : (Z, Y, X) integer ndarray
    spacing : (3,) floats
        Voxel size in um.
    config : MicroscopyConfig
    texture : (Z, Y, X) float32
        Zero-mean unit-sd field (:func:`texture_field`).
    brightness : dict
        Brightness factor per label id (labels missing from it get 1).
    rng : numpy.random.Generator
        Noise source.

    Returns
    -------
    (Z, Y, X) float32 ndarray of camera counts.
    """
    density = fluorophore_density(labels, spacing, config.mode, config.membrane_um)
    factor = np.ones(int(labels.max()) + 1, np.float32)
    for lab, b in brightness.items():
        if 0 < lab < len(factor):
            factor[lab] = b
    tex = np.maximum(1.0 + config.texture_contrast * texture, 0.0)
    fluor = config.signal * density * tex * factor[labels]
    photons = config.background + psf_blur(fluor, spacing, config.psf_sigma_um)
    return poisson_gaussian(photons, config.gain, config.read_noise, rng)


def simulate(masks: np.ndarray, spacing: Sequence[float] = (1.0, 1.0, 1.0),
             config: MicroscopyConfig | None = None, seed: int = 0
             ) -> tuple[np.ndarray, np.ndarray]:
    """Simulate a fluorescence time-lapse of a 3D+t mask sequence.

    Parameters
    ----------
    masks : (T, Z, Y, X) or (Z, Y, X) integer/bool ndarray
        Binary masks or label images (0 = background). Each label id keeps one random
        brightness over the whole sequence; a binary mask is one cell.
    spacing : (3,) floats
        Voxel size (dz, dy, dx) in um.
    config : MicroscopyConfig, optional
        Microscope and staining parameters (defaults: cytoplasm staining, PSF sigma
        1.2/0.4/0.4 um, background 8 photons, read noise 2 counts).
    seed : int
        Seeds texture, brightness and noise; the same seed gives identical output.

    Returns
    -------
    volumes : (T, Z, Y, X) float32 ndarray
        Camera counts.
    mip : (T, Y, X) float32 ndarray
        Maximum-intensity projection over z of ``volumes``.

    Raises
    ------
    InputError
        Wrong dimensionality, negative or non-integer mask values, bad spacing.
    """
    config = config or MicroscopyConfig()
    arr = _check_masks(masks)
    spacing = check_spacing(spacing)
    rng = np.random.default_rng(seed)
    texture = texture_field(arr.shape[1:], spacing, config.texture_um, rng)
    ids = [int(v) for v in np.unique(arr) if v > 0]
    brightness = {lab: float(np.exp(rng.normal(0.0, config.cell_brightness_sd)))
                  for lab in ids}
    vols = np.stack([simulate_frame(f, spacing, config, texture, brightness, rng)
                     for f in arr])
    return vols, max_projection(vols)


def _check_masks(masks: np.ndarray) -> np.ndarray:
    arr = np.asarray(masks)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4:
        raise InputError(f"masks must be (Z, Y, X) or (T, Z, Y, X), got shape {arr.shape}")
    if arr.dtype == bool:
        return arr.astype(np.int32)
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise InputError("masks must hold integer label ids (0 = background)")
        arr = arr.astype(np.int64)
    if arr.size and arr.min() < 0:
        raise InputError("masks must be >= 0 (0 = background)")
    return arr.astype(np.int64) if arr.dtype.itemsize > 4 else arr.astype(np.int32)
