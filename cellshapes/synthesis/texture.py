"""Conditional image-to-image GAN (pix2pix-style) that textures cell masks.

The paper (Sec. 5.9, Fig. 14) turns maximum-intensity projections of generated masks into
microscopy images with pix2pixHD. This is the small CPU-trainable version:

* generator: a U-Net (stride-2 convolutions down, transposed convolutions up, skip
  connections, GroupNorm, tanh output) from 4 condition channels to 1 image channel;
* discriminator: a PatchGAN (70x70-style, here 3 stride levels) on (condition, image);
* loss (Isola et al., 2017): ``BCE(D(c, G(c)), 1) + l1_weight * |G(c) - y|``.

Condition channels of frame t, each (Y, X) in [-1, 1]:

0. mask projection (any voxel of the cell along z);
1. cell thickness along z, divided by the sequence's maximum;
2. the previous frame's image (the real one while training, the generated one when
   synthesizing; zeros for the first frame and, with probability ``prev_dropout``, while
   training): temporal consistency;
3. a fixed smoothed noise field per sequence (same for all frames): the texture's random
   source, also constant over time.

Images are mapped to [-1, 1] with the training set's 0.1 / 99.9 percentiles (stored in the
run's ``config.json``), so synthesized images come back in the training images' units.
A run directory is like the shape model's (:mod:`cellshapes.training.rundir`): ``config.json``,
``checkpoints/*.pt`` (plain tensors, loaded with ``weights_only=True``), ``log.csv``.
Training is :func:`cellshapes.synthesis.texture_train.train_texture`; this module holds
the configuration, the networks, the conditions and the synthesis from a trained run.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from cellshapes.config import bounded, check_bounds, config_from, profile_entry
from cellshapes.errors import CheckpointError, DatasetFormatError, InputError
from cellshapes.progress import track
from cellshapes.resources import resolve_device

__all__ = ["TextureConfig", "TEXTURE_PROFILES", "texture_config", "TEXTURE_FORMAT",
           "read_texture_config", "UNetGenerator", "PatchDiscriminator", "build_networks",
           "noise_field", "condition", "pad_to_multiple", "load_texture_run",
           "synthesize", "synthesize_with", "image_distances", "synthesize_folder"]

#: ``format`` tag of a texture run's ``config.json``.
TEXTURE_FORMAT = "cellshapes.texture"
_COND = 4


@dataclass
class TextureConfig:
    """Architecture and training settings of the texture GAN.

    Attributes
    ----------
    base : int
        Channels of the U-Net's first level (doubled per level, at most 8x).
    depth : int
        Number of stride-2 levels; images are padded to a multiple of ``2**depth``.
    disc_base : int
        Channels of the PatchGAN's first layer.
    noise_sigma_px : float
        Smoothing (Gaussian sigma, pixels) of the fixed noise field.
    epochs : int
        Passes over all training frames.
    batch_size : int
        Frames per step.
    lr : float
        Adam learning rate of both networks (betas 0.5, 0.999 as pix2pix).
    l1_weight : float
        Weight of the L1 term (pix2pix: 100).
    prev_dropout : float
        Probability of hiding the previous frame while training.
    augment : bool
        Random flips / 90-degree rotations of each batch.
    seed : int
        Seeds initial weights, batch order, augmentation and noise fields.
    checkpoint_every : int
        Epochs between checkpoints (the last epoch is always saved).
    """

    base: int = bounded(16, 1)
    depth: int = bounded(3, 1)
    disc_base: int = bounded(16, 1)
    noise_sigma_px: float = bounded(1.5, 0.0)
    epochs: int = bounded(40, 1)
    batch_size: int = bounded(8, 1)
    lr: float = 2e-4
    l1_weight: float = bounded(100.0, 0.0)
    prev_dropout: float = bounded(0.3, 0.0, 1.0)
    augment: bool = True
    seed: int = 0
    checkpoint_every: int = bounded(5, 1)

    def __post_init__(self) -> None:
        check_bounds(self)
        if not self.lr > 0:
            raise InputError(f"lr must be > 0, got {self.lr}")


#: Profiles sized for 2 CPU cores: smoke a few seconds, quick a few minutes.
TEXTURE_PROFILES: dict[str, dict[str, Any]] = {
    "smoke": dict(base=8, depth=2, disc_base=8, epochs=4, batch_size=4, lr=1e-3,
                  checkpoint_every=2),
    "quick": dict(base=16, depth=3, disc_base=16, epochs=40, batch_size=8, lr=5e-4),
    "study": dict(base=16, depth=3, disc_base=16, epochs=60, batch_size=8, lr=5e-4),
    "paper": dict(base=32, depth=4, disc_base=64, epochs=200, batch_size=4, checkpoint_every=10),
}


def texture_config(profile: str = "quick", **overrides: Any) -> TextureConfig:
    """A :class:`TextureConfig` from a profile; non-None ``overrides`` win."""
    return config_from(TextureConfig, profile_entry(TEXTURE_PROFILES, profile), overrides)


def read_texture_config(run: str | os.PathLike) -> tuple[TextureConfig, dict[str, Any]]:
    """The settings of a texture run, from its ``config.json``.

    Parameters
    ----------
    run : path-like
        Texture run directory.

    Returns
    -------
    cfg : TextureConfig
        Its architecture and training settings (a key that is not a field is refused,
        :func:`cellshapes.config.from_dict`).
    config : dict
        The whole ``config.json``; ``config["data"]`` holds ``lo`` / ``hi``, the
        intensities that [-1, 1] maps to.

    Raises
    ------
    DatasetFormatError
        ``run`` is not a texture run, or its settings are invalid.
    """
    from cellshapes.config import from_dict
    from cellshapes.training.checkpoint import read_config

    config = read_config(run)
    if config.get("format") != TEXTURE_FORMAT:
        raise DatasetFormatError(f"{run} is not a texture run (config.json format is "
                                 f"{config.get('format')!r}, expected {TEXTURE_FORMAT!r})")
    try:
        cfg = from_dict(TextureConfig, {**config["model"], **config["train"]})
    except (KeyError, TypeError, ValueError) as exc:
        raise DatasetFormatError(f"{run}/config.json: invalid texture settings ({exc})"
                                 ) from None
    return cfg, config


# ----------------------------------------------------------------------------- networks
def _norm(ch: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(4, ch), ch)


class UNetGenerator(nn.Module):
    """U-Net: (B, 4, H, W) condition -> (B, 1, H, W) image in [-1, 1].

    H and W must be multiples of ``2**depth`` (:func:`synthesize_with` pads).
    """

    def __init__(self, in_ch: int = _COND, base: int = 16, depth: int = 3) -> None:
        super().__init__()
        ch = [min(base * 2 ** i, base * 8) for i in range(depth + 1)]
        self.stem = nn.Sequential(nn.Conv2d(in_ch, ch[0], 3, 1, 1), nn.LeakyReLU(0.2))
        self.down = nn.ModuleList(
            nn.Sequential(nn.Conv2d(ch[i], ch[i + 1], 4, 2, 1), _norm(ch[i + 1]),
                          nn.LeakyReLU(0.2)) for i in range(depth))
        self.up = nn.ModuleList(
            nn.Sequential(nn.ConvTranspose2d(ch[i + 1] * (1 if i == depth - 1 else 2), ch[i],
                                             4, 2, 1), _norm(ch[i]), nn.ReLU())
            for i in range(depth))
        self.head = nn.Sequential(nn.Conv2d(2 * ch[0], ch[0], 3, 1, 1), nn.ReLU(),
                                  nn.Conv2d(ch[0], 1, 1), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [self.stem(x)]
        for d in self.down:
            feats.append(d(feats[-1]))
        y = feats[-1]
        for i in reversed(range(len(self.up))):
            y = torch.cat([self.up[i](y), feats[i]], dim=1)
        return self.head(y)


class PatchDiscriminator(nn.Module):
    """PatchGAN: (B, 4 + 1, H, W) condition and image -> (B, 1, H/4, W/4) real/fake logits."""

    def __init__(self, in_ch: int = _COND + 1, base: int = 16) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_ch, base, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(base, 2 * base, 4, 2, 1), _norm(2 * base), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * base, 4 * base, 3, 1, 1), _norm(4 * base), nn.LeakyReLU(0.2),
            nn.Conv2d(4 * base, 1, 3, 1, 1))

    def forward(self, cond: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([cond, image], dim=1))


def build_networks(cfg: TextureConfig) -> tuple[UNetGenerator, PatchDiscriminator]:
    """Generator and discriminator of ``cfg``, initial weights drawn from ``cfg.seed``.

    The global torch RNG is left untouched, so a run's untrained generator can be
    rebuilt exactly (``load_texture_run(..., untrained=True)``).

    Returns
    -------
    G : UNetGenerator
    D : PatchDiscriminator
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        return UNetGenerator(base=cfg.base, depth=cfg.depth), \
            PatchDiscriminator(base=cfg.disc_base)


# ----------------------------------------------------------------------------- conditions
def noise_field(shape: Sequence[int], seed: int, sigma_px: float = 1.5) -> np.ndarray:
    """Fixed (Y, X) float32 noise field, zero mean and unit sd, smoothed by ``sigma_px``."""
    from scipy import ndimage

    field = np.random.default_rng(seed).standard_normal(tuple(shape)).astype(np.float32)
    if sigma_px > 0:
        field = ndimage.gaussian_filter(field, sigma_px, mode="wrap")
    return (field - field.mean()) / max(float(field.std()), 1e-6)


def condition(masks: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Static condition channels (mask projection, thickness, noise) of a sequence.

    Parameters
    ----------
    masks : (T, Z, Y, X) integer ndarray
        Masks or labels (0 = background).
    noise : (Y, X) float32
        :func:`noise_field`.

    Returns
    -------
    (T, 3, Y, X) float32 ndarray in [-1, 1] (noise unbounded); channel 2 of the network
    input (the previous frame) is added by the caller.
    """
    fg = np.asarray(masks) > 0
    if fg.ndim != 4:
        raise InputError(f"masks must be (T, Z, Y, X), got shape {fg.shape}")
    if noise.shape != fg.shape[2:]:
        raise InputError(f"noise field {noise.shape} does not match masks {fg.shape[2:]}")
    thick = fg.sum(axis=1).astype(np.float32)
    thick /= max(float(thick.max()), 1.0)
    proj = fg.any(axis=1).astype(np.float32)
    out = np.stack([2 * proj - 1, 2 * thick - 1,
                    np.broadcast_to(noise, proj.shape)], axis=1)
    return out.astype(np.float32)


def _from_unit(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return ((x + 1) * 0.5 * (hi - lo) + lo).astype(np.float32)


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """(..., H, W) tensor padded at the bottom and right (edge values) to multiples.

    The U-Net needs H and W divisible by ``2**depth``; crop its output back to (H, W).
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    return F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x


# ----------------------------------------------------------------------------- inference
def load_texture_run(run: str | os.PathLike, device: str | torch.device = "auto",
                     untrained: bool = False) -> tuple[UNetGenerator, dict[str, Any]]:
    """The generator of a texture run (eval mode) and its config.

    Parameters
    ----------
    untrained : bool
        Return the generator as initialised before training (same config and seed): the
        baseline that shows what training bought.
    """
    from cellshapes.training.checkpoint import load_checkpoint

    dev = resolve_device(device)
    cfg, config = read_texture_config(run)
    G, _ = build_networks(cfg)
    if not untrained:
        state = load_checkpoint(run, map_location="cpu")
        try:
            G.load_state_dict(state["model"])
        except RuntimeError as exc:
            raise CheckpointError(f"{run}: checkpoint does not fit its config.json "
                                  f"({str(exc).splitlines()[0]})") from None
    return G.to(dev).eval(), config


@torch.no_grad()
def synthesize_with(G: UNetGenerator, masks: np.ndarray, lo: float, hi: float,
                    noise: np.ndarray) -> np.ndarray:
    """Texture one sequence frame by frame, feeding each generated frame to the next.

    Parameters
    ----------
    G : UNetGenerator
    masks : (T, Z, Y, X) integer ndarray
    lo, hi : float
        Intensities that [-1, 1] maps to (the training set's percentiles).
    noise : (Y, X) float32
        Fixed noise field of this sequence (:func:`noise_field`).

    Returns
    -------
    (T, Y, X) float32 ndarray in the training images' units.
    """
    dev = next(G.parameters()).device
    static = torch.from_numpy(condition(masks, noise)).to(dev)
    depth = len(G.down)
    prev = torch.zeros_like(static[:1, :1])
    frames = []
    for t in range(static.shape[0]):
        x = torch.cat([static[t: t + 1, :2], prev, static[t: t + 1, 2:]], dim=1)
        y = G(pad_to_multiple(x, 2 ** depth))[..., : x.shape[-2], : x.shape[-1]]
        frames.append(y[0, 0])
        prev = y
    return _from_unit(torch.stack(frames).cpu().numpy(), lo, hi)


def synthesize(run: str | os.PathLike, masks: np.ndarray, seed: int = 0,
               device: str | torch.device = "auto", untrained: bool = False) -> np.ndarray:
    """Textured 2D+t images (T, Y, X) float32 for a (T, Z, Y, X) mask sequence.

    ``seed`` picks the sequence's fixed noise field (different seeds: different texture
    for the same shape).
    """
    G, config = load_texture_run(run, device, untrained)
    masks = np.asarray(masks)
    if masks.ndim == 3:
        masks = masks[None]
    noise = noise_field(masks.shape[2:], seed, float(config["model"]["noise_sigma_px"]))
    return synthesize_with(G, masks, config["data"]["lo"], config["data"]["hi"], noise)


def synthesize_folder(run: str | os.PathLike, masks: str | os.PathLike,
                      out: str | os.PathLike, seed: int = 0, device: str = "auto",
                      overwrite: bool = False, progress: bool = True) -> list[str]:
    """``cellshapes texture``: texture every sequence under ``masks`` into a pair folder.

    Writes ``out/images/<name>.tif`` ((T, 1, Y, X) float32) and ``out/masks/<name>.tif``
    (the masks as read), atomically.
    """
    from cellshapes.atomic import atomic_dir, check_output
    from cellshapes.io import read_masks, write_tiff
    from cellshapes.phantoms import sequence_seed
    from cellshapes.synthesis.imaging import find_sequences

    check_output(out, overwrite)
    G, config = load_texture_run(run, device)
    seqs = find_sequences(masks)
    it = track(seqs, progress, desc="texture", unit="seq")
    with atomic_dir(out, overwrite) as tmp:
        for i, (name, path) in enumerate(it):
            m, info = read_masks(path)
            noise = noise_field(m.shape[2:], sequence_seed(seed, i),
                                float(config["model"]["noise_sigma_px"]))
            img = synthesize_with(G, m, config["data"]["lo"], config["data"]["hi"], noise)
            write_tiff(tmp / "images" / f"{name}.tif", img[:, None], info["spacing_um"])
            write_tiff(tmp / "masks" / f"{name}.tif", m, info["spacing_um"])
    return [name for name, _ in seqs]


# ----------------------------------------------------------------------------- evaluation
def image_distances(pred: np.ndarray, real: np.ndarray) -> dict[str, float]:
    """How far synthesized images are from real ones (same masks), in intensity units.

    Parameters
    ----------
    pred, real : ndarray, same shape
        E.g. (T, Y, X) images of the same mask sequence.

    Returns
    -------
    dict
        ``l1``: mean absolute pixel difference; ``wasserstein``: 1-Wasserstein distance
        between the two intensity histograms (insensitive to where the texture lies);
        ``mean_pred`` / ``mean_real``.
    """
    from scipy.stats import wasserstein_distance

    pred, real = np.asarray(pred, np.float64), np.asarray(real, np.float64)
    if pred.shape != real.shape:
        raise InputError(f"shapes differ: {pred.shape} vs {real.shape}")
    return {"l1": float(np.abs(pred - real).mean()),
            "wasserstein": float(wasserstein_distance(pred.ravel(), real.ravel())),
            "mean_pred": float(pred.mean()), "mean_real": float(real.mean())}
