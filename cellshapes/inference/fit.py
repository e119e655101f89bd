"""Fitting unseen shapes: latent codes (and rotations) with the decoder frozen.

``fit_shapes`` optimises codes and rotations of new sequences against a trained decoder;
``write_derived_run`` stores a decoder with new codes as a run-like folder that
``reconstruct`` and ``evaluate`` accept; ``fit_run`` is ``cellshapes fit``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from cellshapes.config import FitConfig, config_from, to_dict
from cellshapes.errors import InputError
from cellshapes.inference.reconstruct import load_run
from cellshapes.model import AutoDecoder, euler_to_matrix, matrix_to_euler
from cellshapes.progress import bar as progress_bar
from cellshapes.training.checkpoint import save_checkpoint, write_config
from cellshapes.training.data import TrainingData, load_training_data
from cellshapes.training.sampling import SDFSampler

__all__ = ["fit_shapes", "fit_run", "derived_model", "write_derived_run"]


@dataclass
class _Fit:
    """What the two phases of :func:`fit_shapes` share: the frozen model, the sampler of
    the unseen sequences, the settings, the device generator and the progress bar."""

    model: AutoDecoder
    sampler: SDFSampler
    cfg: FitConfig
    sequences: int
    frames: int
    gen: torch.Generator
    bar: Any


def fit_shapes(model: AutoDecoder, data: TrainingData, config: FitConfig | None = None, *,
               init_codes: Tensor | None = None, progress: bool = False,
               **overrides: Any) -> tuple[Tensor, Tensor | None, np.ndarray]:
    """Fit latent codes (and rotations) of unseen sequences with the decoder frozen.

    All sequences are optimised together as one batch. Rotations have local minima
    (Sec 3.6), so the first half of the steps optimises ``config.restarts`` random initial
    rotations per sequence with a quarter of the points; the restart with the lowest loss
    on a fixed validation sample continues alone with all points for the second half.

    Parameters
    ----------
    model : AutoDecoder
        Trained model; its weights are not changed.
    data : TrainingData
        The unseen sequences (M of them).
    config : FitConfig, optional
        Steps, restarts, points, learning rate, seed (default ``FitConfig()``).
    init_codes : (M, D) tensor, optional
        Start from these codes (default: N(0, latent_init_std^2)).
    progress : bool
        Show a progress bar.
    **overrides
        Fields of :class:`FitConfig` that replace those of ``config``
        (``fit_shapes(model, data, steps=150)``).

    Returns
    -------
    codes : (M, D) tensor
    angles : (M, 3) tensor or None
        Euler angles of the chosen rotation (None for non-equivariant models).
    losses : (M,) array
        Validation L1 loss of each sequence.
    """
    cfg = config_from(FitConfig, to_dict(config or FitConfig()), overrides)
    if not cfg.fit_codes and not model.config.equivariant:
        raise InputError("nothing to fit: fit_codes=False on a non-equivariant model")
    dev = next(model.parameters()).device
    m = len(data.names)
    k = cfg.restarts if model.config.equivariant else 1
    sampler = SDFSampler(data.volumes, [data.band(i, cfg.near_surface_um) for i in range(m)],
                         device=dev)
    codes, angles = _initial_state(model, m, k, cfg.seed, init_codes)
    if angles is not None and cfg.rotation_init == "principal":
        angles = _principal_restarts(data, angles, k)
    fit = _Fit(model, sampler, cfg, m, min(sampler.n_frames, max(cfg.frames_per_step, 2 * m)),
               torch.Generator(dev).manual_seed(cfg.seed),
               progress_bar(progress, total=cfg.steps, desc="fit", unit="step"))
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        first = cfg.steps // 2 if k > 1 else 0
        codes, angles = _fit_phase(fit, codes, angles, k, first, max(256, cfg.points // 4),
                                   cfg.lr)
        with torch.no_grad():
            val = sampler.sample(0, cfg.points, fit.gen,
                                 frames=torch.arange(sampler.n_frames, device=dev))
            codes, angles = _best_restarts(fit, val, codes, angles, k)
        codes, angles = _fit_phase(fit, codes, angles, 1, cfg.steps - first, cfg.points,
                                   cfg.lr * 0.5)
        with torch.no_grad():
            losses = _fit_loss(model, sampler, val, codes, angles, 1, per_restart=True)
    finally:
        for p in model.parameters():
            p.requires_grad_(True)
        fit.bar.close()
    return codes.detach(), None if angles is None else angles.detach(), losses.cpu().numpy()


def _initial_state(model: AutoDecoder, m: int, k: int, seed: int,
                   init_codes: Tensor | None) -> tuple[Tensor, Tensor | None]:
    """(m k, D) starting codes and (m k, 3) Euler angles (None if not equivariant):
    restart 0 of each sequence starts from the identity, the others from uniformly random
    rotations."""
    dev = next(model.parameters()).device
    cfg = model.config
    if init_codes is None:
        cpu_gen = torch.Generator().manual_seed(seed)
        codes = torch.randn(m * k, cfg.latent_dim, generator=cpu_gen) * cfg.latent_init_std
    else:
        codes = init_codes.detach().cpu().float().repeat_interleave(k, 0)
    if not cfg.equivariant:
        return codes.to(dev), None
    from scipy.spatial.transform import Rotation

    rots = Rotation.random(m * k, random_state=seed).as_matrix()
    rots[::k] = np.eye(3)
    return codes.to(dev), matrix_to_euler(torch.tensor(rots, dtype=torch.float32)).to(dev)


def _principal_restarts(data: TrainingData, angles: Tensor, k: int) -> Tensor:
    """(m k, 3) angles whose restarts 0..3 of each sequence are its principal axes turned
    by the 4 proper sign flips (``FitConfig.rotation_init="principal"``)."""
    from cellshapes.training.loop import principal_angles
    from cellshapes.training.rotation_sync import candidate_rotations

    start = euler_to_matrix(principal_angles(data))  # (m, 3, 3)
    flips = torch.as_tensor(candidate_rotations("flips"), dtype=torch.float32)
    out = angles.detach().clone().reshape(-1, k, 3)
    for f in range(min(k, len(flips))):
        out[:, f] = matrix_to_euler(start @ flips[f]).to(out.device)
    return out.reshape(-1, 3)


def _best_restarts(fit: _Fit, val: Any, codes: Tensor, angles: Tensor | None,
                   k: int) -> tuple[Tensor, Tensor | None]:
    """The restart of each sequence with the lowest loss on the validation batch."""
    per = _fit_loss(fit.model, fit.sampler, val, codes, angles, k, per_restart=True)
    m = fit.sequences
    sel = torch.arange(m, device=codes.device) * k + per.reshape(m, k).argmin(1)
    return codes[sel], None if angles is None else angles[sel]


def _fit_loss(model: AutoDecoder, sampler: SDFSampler, batch: Any, codes: Tensor,
              angles: Tensor | None, k: int, per_restart: bool = False,
              code_reg: float = 0.0) -> Tensor:
    """L1 loss of every (frame, restart) pair of a batch; k restarts per sequence."""
    dev = codes.device
    b = batch.frames.shape[0]
    idx = sampler.seq[batch.frames].repeat_interleave(k) * k + torch.arange(k, device=dev).repeat(b)
    x = batch.points.repeat_interleave(k, 0)
    rot = euler_to_matrix(angles[idx]) if angles is not None else None
    pred = model.decode(x, batch.times.repeat_interleave(k), codes[idx], rot)
    err = (pred - batch.sdf.repeat_interleave(k, 0)).abs().mean(1)  # (b * k,)
    if per_restart:
        total = torch.zeros(codes.shape[0], device=dev).index_add_(0, idx, err)
        count = torch.zeros(codes.shape[0], device=dev).index_add_(0, idx, torch.ones_like(err))
        return total / count.clamp(min=1)
    return err.mean() + code_reg * codes[idx].pow(2).sum(-1).mean()


def _fit_phase(fit: _Fit, codes: Tensor, angles: Tensor | None, k: int, steps: int,
               points: int, lr: float) -> tuple[Tensor, Tensor | None]:
    """``steps`` Adam steps on the codes (if ``fit.cfg.fit_codes``) and angles of all
    ``k`` restarts, learning rate halved after half the steps."""
    codes = codes.detach().clone().requires_grad_(fit.cfg.fit_codes)
    angles = None if angles is None else angles.detach().clone().requires_grad_(True)
    params = ([codes] if fit.cfg.fit_codes else []) + ([angles] if angles is not None else [])
    if steps < 1 or not params:
        return codes, angles
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, steps // 2), gamma=0.5)
    for _ in range(steps):
        batch = fit.sampler.sample(fit.frames, points, fit.gen)
        loss = _fit_loss(fit.model, fit.sampler, batch, codes, angles, k,
                         code_reg=fit.cfg.code_reg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        fit.bar.update(1)
    return codes, angles


def derived_model(model: AutoDecoder, codes: Tensor, angles: Tensor | None,
                  attrs: list[dict[str, Any]] | None = None) -> AutoDecoder:
    """The decoder of ``model`` with the (M, D) ``codes`` and (M, 3) Euler ``angles`` of
    M other sequences (zero angles where None), on the codes' device, in eval mode;
    ``attrs`` (M dicts, default none) become its ``data_attrs``, as
    :func:`~cellshapes.inference.reconstruct.load_run` sets them."""
    derived = AutoDecoder(model.config, codes.shape[0]).to(codes.device)
    derived.decoder.load_state_dict(model.decoder.state_dict())
    with torch.no_grad():
        derived.codes.copy_(codes)
        if derived.angles is not None:
            derived.angles.copy_(angles if angles is not None else torch.zeros_like(derived.angles))
    derived.data_attrs = [dict(a) for a in attrs or []]
    return derived.eval()


def write_derived_run(src_config: dict[str, Any], model: AutoDecoder, codes: Tensor,
                      angles: Tensor | None, out: str | os.PathLike, data_summary: dict,
                      extra: dict[str, Any] | None = None) -> Path:
    """Write a run-like folder: the source decoder with new codes/rotations.

    ``reconstruct`` and ``evaluate`` accept the result like any trained run.
    """
    out = Path(out)
    derived = derived_model(model, codes, angles)
    config = dict(src_config)
    config["data"] = data_summary
    config["train"] = {**config.get("train", {}), "frames_every": 1}
    config.update(extra or {})
    out.mkdir(parents=True, exist_ok=True)
    write_config(out, config)
    state = {"epoch": 0, "model": {k: v.cpu() for k, v in derived.state_dict().items()}}
    save_checkpoint(out, state, 0)
    return out


def fit_run(run: str | os.PathLike, dataset: str | os.PathLike, out: str | os.PathLike,
            config: FitConfig | None = None, *, device: str = "auto",
            overwrite: bool = False, progress: bool = True, **overrides: Any
            ) -> dict[str, Any]:
    """``cellshapes fit``: fit unseen shapes of ``dataset`` and write a run-like folder.

    Parameters
    ----------
    run : path-like
        Trained run directory (its decoder stays frozen).
    dataset : path-like
        Prepared dataset of the unseen sequences.
    out : path-like
        Run-like output folder (``reconstruct`` and ``evaluate`` accept it); the settings
        are stored in its ``config.json`` under ``fit``.
    config : FitConfig, optional
        Fitting settings (default ``FitConfig()``); every field is an option of
        ``cellshapes fit``.
    device, overwrite, progress
        Where to fit, replace an existing ``out``, show a progress bar.
    **overrides
        Fields of :class:`FitConfig` replacing those of ``config`` (``steps=150``).

    Returns
    -------
    dict
        ``out``, ``sequences``, ``fit_seconds``, ``seconds_per_shape``, ``val_loss``
        (per sequence).
    """
    import time

    from cellshapes.atomic import atomic_dir

    steps = overrides.get("steps")
    if steps is not None and (isinstance(steps, bool) or int(steps) != steps):
        raise InputError(f"--steps must be an integer >= 1, got {steps!r}")
    cfg = config_from(FitConfig, to_dict(config or FitConfig()), overrides)
    model, config = load_run(run, device)
    data = load_training_data(dataset)
    t0 = time.perf_counter()
    codes, angles, losses = fit_shapes(model, data, cfg, progress=progress)
    elapsed = time.perf_counter() - t0
    with atomic_dir(out, overwrite=overwrite) as tmp:
        write_derived_run(config, model, codes, angles, tmp, data.summary(),
                          {"fitted_from": str(Path(run).resolve()),
                           "fit": to_dict(cfg)})
    return {"out": str(out), "sequences": data.names, "fit_seconds": round(elapsed, 2),
            "seconds_per_shape": round(elapsed / len(data.names), 3),
            "val_loss": [round(float(v), 6) for v in losses]}
