"""Fitting unseen shapes: latent codes (and rotations) with the decoder frozen.

``fit_shapes`` optimises codes and rotations of new sequences against a trained decoder;
``write_derived_run`` stores a decoder with new codes as a run-like folder that
``reconstruct`` and ``evaluate`` accept; ``fit_run`` is ``cellshapes fit``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from cellshapes.training.checkpoint import save_checkpoint, write_config
from cellshapes.errors import InputError
from cellshapes.model import AutoDecoder, euler_to_matrix
from cellshapes.progress import bar as progress_bar
from cellshapes.inference.reconstruct import load_run
from cellshapes.training.sampling import SDFSampler
from cellshapes.training.data import TrainingData, load_training_data

__all__ = ["fit_shapes", "fit_run", "write_derived_run"]


def fit_shapes(model: AutoDecoder, data: TrainingData, steps: int = 300, restarts: int = 16,
               points: int = 2048, frames_per_step: int = 16, lr: float = 3e-2,
               code_reg: float = 1e-4, seed: int = 0, near_surface_um: float = 0.6,
               progress: bool = False, init_codes: Tensor | None = None,
               fit_codes: bool = True) -> tuple[Tensor, Tensor | None, np.ndarray]:
    """Fit latent codes (and rotations) of unseen sequences with the decoder frozen.

    All sequences are optimised together as one batch. Rotations have local minima
    (Sec 3.6), so the first half of the steps optimises ``restarts`` random initial
    rotations per sequence with a quarter of the points; the restart with the lowest loss
    on a fixed validation sample continues alone with all points for the second half.

    Parameters
    ----------
    model : AutoDecoder
        Trained model; its weights are not changed.
    data : TrainingData
        The unseen sequences.
    steps : int
        Optimisation steps in total.
    points : int
        SDF samples per frame per step (second phase).
    init_codes : (M, D) tensor, optional
        Start from these codes (default: N(0, latent_init_std^2)).
    fit_codes : bool
        If False, keep the codes fixed and optimise only the rotations (the
        equivariance check of Sec 3.6: a rotated shape is rebuilt by its rotation alone).

    Returns
    -------
    codes : (M, D) tensor
    angles : (M, 3) tensor or None
        Euler angles of the chosen rotation (None for non-equivariant models).
    losses : (M,) array
        Validation L1 loss of each sequence.
    """
    dev = next(model.parameters()).device
    cfg = model.config
    m = len(data.names)
    k = restarts if cfg.equivariant else 1
    gen = torch.Generator(dev).manual_seed(seed)
    cpu_gen = torch.Generator().manual_seed(seed)
    bands = [data.band(i, near_surface_um) for i in range(m)]
    sampler = SDFSampler(data.volumes, bands, device=dev)
    if init_codes is None:
        codes = torch.randn(m * k, cfg.latent_dim, generator=cpu_gen) * cfg.latent_init_std
    else:
        codes = init_codes.detach().cpu().float().repeat_interleave(k, 0)
    codes = codes.to(dev)
    angles = None
    if cfg.equivariant:
        from scipy.spatial.transform import Rotation

        from cellshapes.model import matrix_to_euler

        rots = Rotation.random(m * k, random_state=seed).as_matrix()
        rots[::k] = np.eye(3)  # restart 0 starts from the identity
        angles = matrix_to_euler(torch.tensor(rots, dtype=torch.float32)).to(dev)
    if not fit_codes and angles is None:
        raise InputError("nothing to fit: fit_codes=False on a non-equivariant model")
    for p in model.parameters():
        p.requires_grad_(False)
    nf = min(sampler.n_frames, max(frames_per_step, 2 * m))
    bar = progress_bar(progress, total=steps, desc="fit", unit="step")
    try:
        first = steps // 2 if k > 1 else 0
        codes, angles = _fit_phase(model, sampler, codes, angles, k, first, nf,
                                   max(256, points // 4), lr, code_reg, fit_codes, gen, bar)
        with torch.no_grad():
            val = sampler.sample(0, points, gen, frames=torch.arange(sampler.n_frames,
                                                                     device=dev))
            per = _fit_loss(model, sampler, val, codes, angles, k, per_restart=True)
            sel = torch.arange(m, device=dev) * k + per.reshape(m, k).argmin(1)
        codes, angles = _fit_phase(model, sampler, codes[sel], None if angles is None
                                   else angles[sel], 1, steps - first, nf, points,
                                   lr * 0.5, code_reg, fit_codes, gen, bar)
        with torch.no_grad():
            losses = _fit_loss(model, sampler, val, codes, angles, 1, per_restart=True)
    finally:
        for p in model.parameters():
            p.requires_grad_(True)
        bar.close()
    return codes.detach(), None if angles is None else angles.detach(), losses.cpu().numpy()


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


def _fit_phase(model: AutoDecoder, sampler: SDFSampler, codes: Tensor, angles: Tensor | None,
               k: int, steps: int, frames: int, points: int, lr: float, code_reg: float,
               fit_codes: bool, gen: torch.Generator, bar: Any) -> tuple[Tensor, Tensor | None]:
    codes = codes.detach().clone().requires_grad_(fit_codes)
    angles = None if angles is None else angles.detach().clone().requires_grad_(True)
    params = ([codes] if fit_codes else []) + ([angles] if angles is not None else [])
    if steps < 1 or not params:
        return codes, angles
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, steps // 2), gamma=0.5)
    for _ in range(steps):
        batch = sampler.sample(frames, points, gen)
        loss = _fit_loss(model, sampler, batch, codes, angles, k, code_reg=code_reg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        bar.update(1)
    return codes, angles


def write_derived_run(src_config: dict[str, Any], model: AutoDecoder, codes: Tensor,
                      angles: Tensor | None, out: str | os.PathLike, data_summary: dict,
                      extra: dict[str, Any] | None = None) -> Path:
    """Write a run-like folder: the source decoder with new codes/rotations.

    ``reconstruct`` and ``evaluate`` accept the result like any trained run.
    """
    out = Path(out)
    derived = AutoDecoder(model.config, codes.shape[0]).to(codes.device)
    derived.decoder.load_state_dict(model.decoder.state_dict())
    with torch.no_grad():
        derived.codes.copy_(codes)
        if derived.angles is not None:
            derived.angles.copy_(angles if angles is not None else torch.zeros_like(derived.angles))
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
            steps: int | None = None, device: str = "auto", overwrite: bool = False,
            seed: int = 0, progress: bool = True) -> dict[str, Any]:
    """``cellshapes fit``: fit unseen shapes of ``dataset`` and write a run-like folder."""
    import time

    from cellshapes.atomic import atomic_dir

    if steps is not None and (isinstance(steps, bool) or int(steps) != steps or steps < 1):
        raise InputError(f"--steps must be an integer >= 1, got {steps!r}")
    model, config = load_run(run, device)
    data = load_training_data(dataset)
    t0 = time.perf_counter()
    codes, angles, losses = fit_shapes(model, data, steps=steps or 300, seed=seed,
                                       progress=progress)
    elapsed = time.perf_counter() - t0
    with atomic_dir(out, overwrite=overwrite) as tmp:
        write_derived_run(config, model, codes, angles, tmp, data.summary(),
                          {"fitted_from": str(Path(run).resolve()),
                           "fit": {"steps": steps or 300, "seed": seed}})
    return {"out": str(out), "sequences": data.names, "fit_seconds": round(elapsed, 2),
            "seconds_per_shape": round(elapsed / len(data.names), 3),
            "val_loss": [round(float(v), 6) for v in losses]}
