"""One optimisation step of the auto-decoder and what an epoch needs around it.

:func:`train_step` is the unit the training loop (:mod:`cellshapes.training.loop`) and
``cellshapes bench`` time; :func:`make_optimizer` and :func:`set_lr` give the paper's Adam
with its step schedule; :class:`Rollback` retries an epoch whose loss became non-finite.
"""
from __future__ import annotations

import contextlib
import copy
import math
import warnings
from typing import Any

import torch

from cellshapes.config import TrainConfig
from cellshapes.errors import CellshapesError
from cellshapes.model import AutoDecoder
from cellshapes.training.sampling import SDFSampler

__all__ = ["TrainingDivergedError", "make_optimizer", "set_lr", "autocast", "compile_model",
           "train_step", "Rollback"]


class TrainingDivergedError(CellshapesError):
    """The loss became NaN/inf repeatedly even after rolling back and lowering the lr."""


def _lr_factor(epoch: int, cfg: TrainConfig) -> float:
    """Step schedule: halve (lr_gamma) every lr_step epochs; epoch is 1-based."""
    return cfg.lr_gamma ** ((epoch - 1) // cfg.lr_step)


def set_lr(optimizer: torch.optim.Optimizer, epoch: int, cfg: TrainConfig, scale: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = group["base_lr"] * _lr_factor(epoch, cfg) * scale


def make_optimizer(model: AutoDecoder, cfg: TrainConfig) -> torch.optim.Optimizer:
    """Adam over the decoder (``cfg.lr``) and the codes and angles (``cfg.lr_latent``).

    With ``cfg.freeze_angles`` the angles get no gradient and no parameter group.

    Parameters
    ----------
    model : AutoDecoder
    cfg : TrainConfig

    Returns
    -------
    torch.optim.Adam
        One parameter group per kind; each keeps its ``base_lr``, which the step
        schedule scales every epoch.
    """
    groups = [{"params": list(model.decoder.parameters()), "base_lr": cfg.lr, "lr": cfg.lr},
              {"params": [model.codes], "base_lr": cfg.lr_latent, "lr": cfg.lr_latent}]
    if model.angles is not None:
        model.angles.requires_grad_(not cfg.freeze_angles)  # frozen: the control of issue 33
    if model.angles is not None and not cfg.freeze_angles:
        groups.append({"params": [model.angles], "base_lr": cfg.lr_latent, "lr": cfg.lr_latent})
    return torch.optim.Adam(groups)


def autocast(device: torch.device, amp: bool):
    """bfloat16 mixed precision (see :class:`cellshapes.model.Decoder`) when ``amp``."""
    if amp:
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def compile_model(model: AutoDecoder, enabled: bool) -> AutoDecoder:
    """``torch.compile`` the decoder's forward in place when ``enabled``.

    Falls back to eager with a warning where compiling is not available; a compiled
    forward that fails on its first call is the caller's to catch (``del
    model.decoder.forward`` restores eager).

    Parameters
    ----------
    model : AutoDecoder
    enabled : bool
        ``TrainConfig.compile``.

    Returns
    -------
    AutoDecoder
        ``model`` itself.
    """
    if not enabled:
        return model
    try:
        model.decoder.forward = torch.compile(model.decoder.forward, dynamic=False)
    except Exception as exc:  # pragma: no cover - depends on the toolchain
        warnings.warn(f"torch.compile unavailable ({exc}); training eagerly", stacklevel=2)
    return model


def train_step(net: Any, model: AutoDecoder, sampler: SDFSampler,
                optimizer: torch.optim.Optimizer, gen: torch.Generator, cfg: TrainConfig,
                reg_w: float, dev: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimisation step on a batch drawn on the device.

    Also timed as "ours" by ``cellshapes bench`` (``benchmarks/harness.py``).

    Parameters
    ----------
    net : AutoDecoder or DistributedDataParallel
        What the forward pass calls (``model`` itself, or its DDP wrapper).
    model : AutoDecoder
        The model whose codes are regularised.
    sampler : SDFSampler
        Draws ``cfg.frames_per_batch`` frames x ``cfg.points_per_frame`` points.
    optimizer : torch.optim.Optimizer
        From :func:`make_optimizer`; the learning rates are left as they are.
    gen : torch.Generator
        On ``dev``; drives the sampling.
    cfg : TrainConfig
        Batch sizes and ``amp`` (bfloat16 autocast of the forward pass).
    reg_w : float
        Weight of the code regularisation ``mean ||z||^2`` this epoch.
    dev : torch.device

    Returns
    -------
    loss, rec : () float32 tensors, detached
        Total loss and its reconstruction part, mean |f(x) - sdf(x)| in SDF units.
    """
    batch = sampler.sample(cfg.frames_per_batch, cfg.points_per_frame, gen)
    with autocast(dev, cfg.amp):
        pred = net(batch.points, batch.times, batch.sequences)
    rec = (pred.float() - batch.sdf).abs().mean()
    reg = model.codes[batch.sequences].pow(2).sum(-1).mean()
    loss = rec + reg_w * reg
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach(), rec.detach()


class Rollback:
    """Run an epoch; on a non-finite loss restore its start, halve the lr and retry."""

    def __init__(self, model: AutoDecoder, optimizer: torch.optim.Optimizer,
                 gen: torch.Generator, max_failures: int = 3) -> None:
        self.model, self.optimizer, self.gen = model, optimizer, gen
        self.failures, self.max_failures = 0, max_failures

    def epoch(self, run: Any, epoch: int, lr_scale: float) -> tuple[dict[str, float], float]:
        """``run(lr_scale)`` until its loss is finite; returns its row and the lr scale.

        The loss is averaged over ranks, so all ranks roll back together.
        """
        while True:
            snapshot = (copy.deepcopy(self.model.state_dict()),
                        copy.deepcopy(self.optimizer.state_dict()), self.gen.get_state())
            row = run(lr_scale)
            if math.isfinite(row["loss"]):
                return row, lr_scale
            self.failures += 1
            self.model.load_state_dict(snapshot[0])
            self.optimizer.load_state_dict(snapshot[1])
            self.gen.set_state(snapshot[2])
            lr_scale *= 0.5
            warnings.warn(f"non-finite loss in epoch {epoch}; rolled back and halved the "
                          f"learning rate (x{lr_scale:g})", stacklevel=3)
            if self.failures >= self.max_failures:
                raise TrainingDivergedError(
                    f"loss became NaN/inf {self.failures} times (last in epoch {epoch}); "
                    "lower the learning rate or check the dataset")
