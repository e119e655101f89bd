"""Training of the texture GAN (:mod:`cellshapes.synthesis.texture`) on image/mask pairs.

pix2pix updates (Isola et al., 2017): the PatchGAN discriminator on real vs generated
(condition, image) pairs, then the U-Net generator on
``BCE(D(c, G(c)), 1) + l1_weight * |G(c) - y|``. The previous-frame channel of the
condition is the real previous image, hidden with probability ``prev_dropout``.

The run directory, its log and the stop requests are the shape trainer's
(:mod:`cellshapes.training.rundir`), and so are the checkpoints (:mod:`cellshapes.training.checkpoint`):
``--resume`` continues exactly (weights, Adam moments, batch order) from the latest one,
and SIGINT/SIGTERM stop after the current epoch with a checkpoint.
"""
from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from cellshapes.errors import CheckpointError, InputError
from cellshapes.progress import track
from cellshapes.resources import resolve_device
from cellshapes.synthesis.texture import (TEXTURE_FORMAT, TextureConfig, build_networks, condition,
                                          noise_field, pad_to_multiple, read_texture_config,
                                          texture_config)
from cellshapes.training.checkpoint import (latest_checkpoint, load_checkpoint, run_lock,
                                            save_checkpoint, write_config)
from cellshapes.training.rundir import RunLog, StopRequest, prepare_run_dir, stop_requests

__all__ = ["train_texture", "LOG_FIELDS"]

#: Columns of a texture run's ``log.csv``: mean losses over the epoch's frames.
LOG_FIELDS = ("epoch", "l1", "adv", "disc", "seconds")


@dataclass
class _Frames:
    """All training frames: static conditions, targets in [-1, 1], previous-frame index."""

    static: torch.Tensor   # (N, 3, H, W)
    target: torch.Tensor   # (N, 1, H, W)
    prev: torch.Tensor     # (N,) long, -1 for a first frame


def _frames(pairs: Sequence[dict], cfg: TextureConfig, lo: float, hi: float) -> _Frames:
    shapes = {p["image"].shape[1:] for p in pairs}
    if len(shapes) != 1:
        raise InputError(f"all training images must share one (Y, X) size, got {sorted(shapes)}")
    static, target, prev, n = [], [], [], 0
    for i, p in enumerate(pairs):
        t = p["image"].shape[0]
        noise = noise_field(p["image"].shape[1:], cfg.seed * 1000 + i, cfg.noise_sigma_px)
        static.append(condition(p["masks"], noise))
        target.append(_to_unit(p["image"], lo, hi)[:, None])
        prev.extend([-1] + list(range(n, n + t - 1)))
        n += t
    return _Frames(torch.from_numpy(np.concatenate(static)),
                   torch.from_numpy(np.concatenate(target)), torch.tensor(prev))


def _batch(frames: _Frames, idx: torch.Tensor, cfg: TextureConfig, gen: torch.Generator,
           device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Network input (B, 4, H, W) and target (B, 1, H, W), with prev-frame dropout and
    one random flip/rotation for the whole batch."""
    prev_idx = frames.prev[idx]
    drop = torch.rand(len(idx), generator=gen) < cfg.prev_dropout
    prev = frames.target[prev_idx.clamp(min=0)].clone()
    prev[(prev_idx < 0) | drop] = 0.0
    x = torch.cat([frames.static[idx, :2], prev, frames.static[idx, 2:]], dim=1)
    y = frames.target[idx]
    if cfg.augment:
        k = int(torch.randint(4, (1,), generator=gen)) if x.shape[-1] == x.shape[-2] else 0
        flip = bool(torch.randint(2, (1,), generator=gen))
        x, y = torch.rot90(x, k, (2, 3)), torch.rot90(y, k, (2, 3))
        if flip:
            x, y = x.flip(3), y.flip(3)
    return x.to(device), y.to(device)


def _step(G: nn.Module, D: nn.Module, opt_g: torch.optim.Optimizer,
          opt_d: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
          cfg: TextureConfig) -> dict[str, float]:
    """One pix2pix update of D then G; returns the batch's losses."""
    fake = G(pad_to_multiple(x, 2 ** cfg.depth))[..., : y.shape[-2], : y.shape[-1]]
    bce = F.binary_cross_entropy_with_logits
    real_logit, fake_logit = D(x, y), D(x, fake.detach())
    loss_d = 0.5 * (bce(real_logit, torch.ones_like(real_logit))
                    + bce(fake_logit, torch.zeros_like(fake_logit)))
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    logit = D(x, fake)
    adv = bce(logit, torch.ones_like(logit))
    l1 = F.l1_loss(fake, y)
    opt_g.zero_grad(set_to_none=True)
    (adv + cfg.l1_weight * l1).backward()
    opt_g.step()
    return {"l1": l1.item(), "adv": adv.item(), "disc": loss_d.item()}


def _intensity_range(pairs: Sequence[dict]) -> tuple[float, float]:
    values = np.concatenate([p["image"].ravel() for p in pairs])
    lo, hi = (float(v) for v in np.percentile(values, [0.1, 99.9]))
    if not hi > lo:
        raise InputError("training images are constant; nothing to learn")
    return lo, hi


def _to_unit(img: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Intensities in [lo, hi] mapped linearly to [-1, 1] and clipped, float32."""
    return np.clip(2 * (img - lo) / (hi - lo) - 1, -1, 1).astype(np.float32)


def train_texture(pairs: str | os.PathLike | Sequence[dict], out: str | os.PathLike,
                  cfg: TextureConfig | None = None, device: str | torch.device = "auto",
                  resume: bool = False, overwrite: bool = False,
                  progress: bool = True) -> Path:
    """Train the texture GAN on image/mask pairs and write a run directory.

    Parameters
    ----------
    pairs : path-like or sequence of dict
        A pair folder (:func:`cellshapes.synthesis.imaging.read_pairs`) or its loaded content:
        dicts with ``image`` (T, Y, X) float and ``masks`` (T, Z, Y, X) int, all of one
        (Y, X) size.
    out : path-like
        Run directory (``config.json``, ``checkpoints/``, ``log.csv``).
    cfg : TextureConfig, optional
        Defaults to the ``quick`` profile. When resuming, the run's own config is used
        and only ``cfg.epochs`` (if ``cfg`` is given) replaces its epoch count.
    device : str
        ``auto``, ``cpu``, ``cuda`` ... (:func:`cellshapes.resources.resolve_device`).
    resume : bool
        Continue an existing run from its latest checkpoint (a run without one starts
        over; no run at all starts fresh).
    overwrite : bool
        Start over in an existing run directory.
    progress : bool
        Show a progress bar over epochs.

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    RunLockedError, OutputExistsError
        As :func:`cellshapes.training.loop.train`: the run is busy, or exists without
        ``resume``/``overwrite``.

    Notes
    -----
    SIGINT/SIGTERM finish the current epoch, write a checkpoint and return; ``resume``
    continues from there (:func:`cellshapes.training.rundir.stop_requests`).
    """
    from cellshapes.synthesis.imaging import read_pairs

    out = Path(out)
    dev = resolve_device(device)
    if not isinstance(pairs, (list, tuple)):
        source, pairs = str(pairs), read_pairs(pairs)
    else:
        source = "in-memory pairs"
    with run_lock(out):
        resumed = prepare_run_dir(out, resume, overwrite)
        if resumed:
            saved, config = read_texture_config(out)
            cfg = dataclasses.replace(saved, epochs=cfg.epochs) if cfg else saved
            lo, hi = config["data"]["lo"], config["data"]["hi"]
            resumed = latest_checkpoint(out) is not None
        else:
            cfg = cfg or texture_config("quick")
            lo, hi = _intensity_range(pairs)
        out.mkdir(parents=True, exist_ok=True)
        write_config(out, _run_config(cfg, lo, hi, pairs, source))
        G, D = build_networks(cfg)
        G, D = G.to(dev), D.to(dev)
        opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(0.5, 0.999))
        opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=(0.5, 0.999))
        gen = torch.Generator().manual_seed(cfg.seed)
        log = RunLog(out, LOG_FIELDS)
        if resumed:
            start = _restore(out, G, D, opt_g, opt_d, gen, dev)
            log.truncate(start)
        else:
            start = 0
            log.write()
        frames = _frames(pairs, cfg, lo, hi)
        with stop_requests() as stop:
            _fit(G, D, opt_g, opt_d, frames, cfg, gen, dev, out, log, start, progress, stop)
    return out


def _restore(out: Path, G: nn.Module, D: nn.Module, opt_g: torch.optim.Optimizer,
             opt_d: torch.optim.Optimizer, gen: torch.Generator, dev: torch.device) -> int:
    """Load the latest checkpoint into networks, optimisers and RNG; return its epoch."""
    state = load_checkpoint(out, map_location=dev)
    try:
        G.load_state_dict(state["model"])
        D.load_state_dict(state["disc"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        gen.set_state(state["rng"].cpu())
    except (KeyError, RuntimeError, ValueError) as exc:
        raise CheckpointError(f"{out}: checkpoint does not fit this texture run "
                              f"({str(exc).splitlines()[0]})") from None
    return int(state["epoch"])


def _fit(G: nn.Module, D: nn.Module, opt_g: torch.optim.Optimizer,
         opt_d: torch.optim.Optimizer, frames: _Frames, cfg: TextureConfig,
         gen: torch.Generator, dev: torch.device, out: Path, log: RunLog, start: int,
         progress: bool, stop: StopRequest) -> None:
    """Epochs ``start + 1 .. cfg.epochs``: log each, checkpoint every ``checkpoint_every``."""
    n = len(frames.prev)
    epochs = track(range(start + 1, cfg.epochs + 1), progress, desc="texture", unit="epoch",
                   initial=start, total=cfg.epochs)
    G.train()
    D.train()
    for epoch in epochs:
        t0 = time.perf_counter()
        order = torch.randperm(n, generator=gen)
        sums = {"l1": 0.0, "adv": 0.0, "disc": 0.0}
        for b in range(0, n, cfg.batch_size):
            x, y = _batch(frames, order[b: b + cfg.batch_size], cfg, gen, dev)
            for k, v in _step(G, D, opt_g, opt_d, x, y, cfg).items():
                sums[k] += v * len(y) / n
        log.append({"epoch": epoch, **{k: round(v, 6) for k, v in sums.items()},
                    "seconds": round(time.perf_counter() - t0, 3)})
        if epoch % cfg.checkpoint_every == 0 or epoch == cfg.epochs or stop.requested:
            save_checkpoint(out, {"model": G.state_dict(), "disc": D.state_dict(),
                                  "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
                                  "rng": gen.get_state(), "epoch": epoch}, epoch)
        if stop.requested:
            stop.announce(epoch)
            break


def _run_config(cfg: TextureConfig, lo: float, hi: float, pairs: Sequence[dict],
                source: str) -> dict[str, Any]:
    """Content of a texture run's ``config.json`` (read back by ``read_texture_config``)."""
    d = dataclasses.asdict(cfg)
    model_keys = ("base", "depth", "disc_base", "noise_sigma_px")
    return {"format": TEXTURE_FORMAT, "format_version": 1,
            "model": {k: d[k] for k in model_keys},
            "train": {k: v for k, v in d.items() if k not in model_keys},
            "data": {"lo": lo, "hi": hi, "source": source,
                     "names": [str(p.get("name", i)) for i, p in enumerate(pairs)],
                     "size": int(pairs[0]["image"].shape[1]),
                     "image_shape": [int(v) for v in pairs[0]["image"].shape[1:]],
                     "frames": [int(p["image"].shape[0]) for p in pairs]}}
