"""Training of the auto-decoder: Adam, step schedule, code regularisation, rotations.

Usage from Python::

    from cellshapes import config
    from cellshapes.training import loop as train
    train.train("cells.h5", "runs/cells", config.model_config("quick"),
                config.train_config("quick", epochs=100))

The run directory (:mod:`cellshapes.training.rundir`) is the unit of work: ``config.json``,
``checkpoints/``, ``log.csv``.
Training resumes exactly (weights, Adam moments, schedule, every RNG) from the last
checkpoint; SIGINT/SIGTERM finish the current epoch, write a checkpoint and stop.
Multi-GPU / multi-node training runs under ``torchrun`` with DDP (gloo on CPU, NCCL on
CUDA; :mod:`cellshapes.training.distributed`): each rank draws its own frames and points, rank 0
writes the run directory, and a checkpoint holds every rank's random state, so a resumed
multi-process run also repeats the uninterrupted one exactly.
"""
from __future__ import annotations

import contextlib
import copy
import math
import os
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cellshapes import __version__
from cellshapes.training.checkpoint import (RUN_FORMAT, latest_checkpoint, load_checkpoint, read_config, run_lock,
                         save_checkpoint, write_config)
from cellshapes.config import ModelConfig, TrainConfig, from_dict, model_config, to_dict, train_config
from cellshapes.training.distributed import (any_rank, broadcast_int, check_replicas, gather_rng_states,
                          mean_over_ranks, process_group, rank_world, restore_rng_states)
from cellshapes.errors import CellshapesError
from cellshapes.model import AutoDecoder, count_parameters
from cellshapes.training.plan import plan_for_training
from cellshapes.progress import track
from cellshapes.resources import native_bf16, resolve_device
from cellshapes.training.rundir import RunLog, prepare_run_dir, stop_requests
from cellshapes.training.sampling import SDFSampler
from cellshapes.training.data import TrainingData, load_training_data

__all__ = [
    "train",
    "compile_model",
    "make_optimizer",
    "train_step",
    "TrainingDivergedError",
    "LOG_FIELDS",
]

#: Columns of a shape run's ``log.csv``.
LOG_FIELDS = ("epoch", "loss", "rec_loss", "lr", "time_s", "points_per_s")


class TrainingDivergedError(CellshapesError):
    """The loss became NaN/inf repeatedly even after rolling back and lowering the lr."""


# ------------------------------------------------------------------------------ helpers
def _lr_factor(epoch: int, cfg: TrainConfig) -> float:
    """Step schedule: halve (lr_gamma) every lr_step epochs; epoch is 1-based."""
    return cfg.lr_gamma ** ((epoch - 1) // cfg.lr_step)


def _set_lr(optimizer: torch.optim.Optimizer, epoch: int, cfg: TrainConfig, scale: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = group["base_lr"] * _lr_factor(epoch, cfg) * scale


def make_optimizer(model: AutoDecoder, cfg: TrainConfig) -> torch.optim.Optimizer:
    """Adam over the decoder (``cfg.lr``) and the codes and angles (``cfg.lr_latent``).

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
        groups.append({"params": [model.angles], "base_lr": cfg.lr_latent, "lr": cfg.lr_latent})
    return torch.optim.Adam(groups)


def _autocast(device: torch.device, amp: bool):
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


# ------------------------------------------------------------------------------- train
def train(dataset: str | os.PathLike | TrainingData, out: str | os.PathLike,
          model_cfg: ModelConfig | None = None, train_cfg: TrainConfig | None = None,
          device: str | torch.device = "auto", resume: bool = False, overwrite: bool = False,
          progress: bool = True, profile: str | None = None,
          epochs: int | None = None, lock: bool = True) -> list[dict[str, float]]:
    """Train an auto-decoder on a prepared dataset and write a run directory.

    Under ``torchrun`` (``WORLD_SIZE`` > 1) the processes train one model with DDP
    (:mod:`cellshapes.training.distributed`): rank 0 holds the lock and writes the run directory,
    every rank draws its own batches, and checkpoints carry every rank's random state.

    Parameters
    ----------
    dataset : path or TrainingData
        Prepared HDF5 dataset (``cellshapes prepare``).
    out : path
        Run directory.
    model_cfg, train_cfg : ModelConfig, TrainConfig
        Architecture and training settings (default: the ``paper`` profile).
    device : str
        ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (under ``torchrun``: ``cuda:LOCAL_RANK``).
    resume : bool
        Continue from ``checkpoints/latest.pt`` if the run exists (its config wins,
        except ``epochs`` which may extend the run).
    overwrite : bool
        Start over in an existing run directory.
    epochs : int, optional
        On resume: the new total number of epochs.
    lock : bool
        Hold the run-directory lock (:func:`cellshapes.training.checkpoint.run_lock`) while
        training; False when the caller already holds it (e.g. with ``wait=True``).

    Returns
    -------
    list of dict
        One row per finished epoch (the content of ``log.csv``).

    Raises
    ------
    RunLockedError
        Another process is training the same run directory.
    OutputExistsError
        ``out`` exists and neither ``resume`` nor ``overwrite`` is set.
    """
    with process_group(resolve_device(device)) as dev, contextlib.ExitStack() as held:
        rank, _ = rank_world()
        failed: CellshapesError | None = None
        resuming = False
        if rank == 0:
            try:
                if lock:
                    held.enter_context(run_lock(out))
                resuming = prepare_run_dir(out, resume, overwrite)
            except CellshapesError as exc:
                failed = exc
        code = broadcast_int(-1 if failed else int(resuming))
        if failed is not None:
            raise failed
        if code < 0:
            raise CellshapesError(f"rank 0 could not start the run in {out} (see its error)")
        return _train(dataset, Path(out), model_cfg, train_cfg, dev, bool(code), progress,
                      profile, epochs)


def _train(dataset: str | os.PathLike | TrainingData, out: Path,
           model_cfg: ModelConfig | None, train_cfg: TrainConfig | None,
           dev: torch.device, resuming: bool, progress: bool,
           profile: str | None, epochs: int | None) -> list[dict[str, float]]:
    """:func:`train` once the run directory is ready (and locked by rank 0)."""
    rank, world = rank_world()
    if resuming:
        stored = read_config(out)
        stored["train"].setdefault("near_set", "band")  # runs from before near_set existed
        model_cfg = from_dict(ModelConfig, stored["model"])
        train_cfg = from_dict(TrainConfig, {**stored["train"],
                                            **({"epochs": epochs} if epochs else {})})
        profile = stored.get("profile", profile)
    model_cfg = model_cfg or model_config("paper")
    train_cfg = train_cfg or train_config("paper")
    data = (dataset if isinstance(dataset, TrainingData)
            else load_training_data(dataset, lazy=True))  # read frame by frame by the sampler
    plan_for_training(data, model_cfg, train_cfg, dev, report=progress and rank == 0)

    torch.manual_seed(train_cfg.seed)
    init_gen = torch.Generator().manual_seed(train_cfg.seed)
    model = AutoDecoder(model_cfg, len(data.names), generator=init_gen).to(dev)
    bands = [data.band(i, train_cfg.near_surface_um) for i in range(len(data.names))]
    sampler = SDFSampler(data.volumes, bands, train_cfg.frames_every, train_cfg.near_fraction,
                         dev, train_cfg.storage_dtype, train_cfg.near_set)
    gen = torch.Generator(dev).manual_seed(train_cfg.seed + 1000 * rank)
    optimizer = make_optimizer(model, train_cfg)
    history: list[dict[str, float]] = []
    start = 1
    lr_scale = 1.0
    if resuming and latest_checkpoint(out) is None:
        resuming = False  # killed before the first checkpoint: start over, stored config
    if resuming:
        state = load_checkpoint(out, map_location=dev)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        history = [dict(r) for r in state["history"]]
        start = int(state["epoch"]) + 1
        restore_rng_states(state["rng"], gen, train_cfg.seed + 1000 * rank + 7919 * start)
        lr_scale = float(state.get("lr_scale", 1.0))
    n_params = count_parameters(model.decoder)
    log = RunLog(out, LOG_FIELDS)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        write_config(out, _run_config(data, model_cfg, train_cfg, profile, dev, world, n_params))
        if progress:
            print(f"cellshapes: {model_cfg.arch} decoder with {n_params:,} parameters "
                  f"({len(data.names)} sequences, {sampler.n_frames} training frames, "
                  f"{data.size}^3, device {dev}, {world} process(es)"
                  f"{', resuming' if resuming else ''})", file=sys.stderr)
        log.write(history)
    if train_cfg.amp and rank == 0 and not native_bf16(dev):
        warnings.warn(f"amp: {dev} has no native bfloat16 matmul; mixed precision is "
                      "emulated and likely slower than float32", stacklevel=2)
    net = compile_model(model, train_cfg.compile)
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[dev.index] if dev.type == "cuda" else None)

    steps = max(1, math.ceil(sampler.n_frames / (train_cfg.frames_per_batch * world)))
    epochs_left = track(range(start, train_cfg.epochs + 1), progress and rank == 0,
                        total=train_cfg.epochs, initial=start - 1, desc="train", unit="epoch")
    rollback = _Rollback(model, optimizer, gen)
    with stop_requests() as stop:
        for epoch in epochs_left:
            row, lr_scale = rollback.epoch(
                lambda scale, e=epoch: _run_epoch(net, model, sampler, optimizer, gen,
                                                  train_cfg, e, steps, dev, scale),
                epoch, lr_scale)
            history.append(row)
            stopping = any_rank(stop.requested)  # every rank stops after the same epoch
            if epoch % train_cfg.checkpoint_every == 0 or epoch == train_cfg.epochs or stopping:
                check_replicas(model, optimizer)
                rng = gather_rng_states(gen)  # collective: every rank takes part
                if rank == 0:
                    state = {"epoch": epoch, "model": model.state_dict(),
                             "optimizer": optimizer.state_dict(), "rng": rng,
                             "history": history, "lr_scale": lr_scale}
                    save_checkpoint(out, state, epoch, keep=train_cfg.keep_checkpoints)
                    log.write(history)
            elif rank == 0:
                log.append(row)
            if hasattr(epochs_left, "set_postfix"):
                epochs_left.set_postfix(loss=f"{row['loss']:.4g}",
                                        pts_s=f"{row['points_per_s']:.3g}")
            if stopping:
                if rank == 0:
                    stop.announce(epoch)
                break
    if hasattr(epochs_left, "close"):
        epochs_left.close()
    return history


class _Rollback:
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


def _run_epoch(net: Any, model: AutoDecoder, sampler: SDFSampler,
               optimizer: torch.optim.Optimizer, gen: torch.Generator, cfg: TrainConfig,
               epoch: int, steps: int, dev: torch.device, lr_scale: float = 1.0
               ) -> dict[str, float]:
    """One epoch of ``steps`` optimisation steps at the scheduled lr; returns the log row."""
    _set_lr(optimizer, epoch, cfg, lr_scale)
    t0 = time.perf_counter()
    reg_w = cfg.code_weight * min(1.0, epoch / max(cfg.code_reg_warmup, 1))
    total = torch.zeros((), device=dev)
    total_rec = torch.zeros((), device=dev)
    for _ in range(steps):
        loss, rec = train_step(net, model, sampler, optimizer, gen, cfg, reg_w, dev)
        total += loss
        total_rec += rec
    elapsed = time.perf_counter() - t0
    _, world = rank_world()
    total, total_rec = mean_over_ranks(torch.stack([total, total_rec]))
    points = steps * cfg.frames_per_batch * cfg.points_per_frame * world
    return {"epoch": epoch, "loss": float(total) / steps, "rec_loss": float(total_rec) / steps,
            "lr": optimizer.param_groups[0]["lr"], "time_s": round(elapsed, 4),
            "points_per_s": round(points / max(elapsed, 1e-9), 1)}


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
    with _autocast(dev, cfg.amp):
        pred = net(batch.points, batch.times, batch.sequences)
    rec = (pred.float() - batch.sdf).abs().mean()
    reg = model.codes[batch.sequences].pow(2).sum(-1).mean()
    loss = rec + reg_w * reg
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach(), rec.detach()


def _run_config(data: TrainingData, model_cfg: ModelConfig, train_cfg: TrainConfig,
                profile: str | None, dev: torch.device, world: int, n_params: int
                ) -> dict[str, Any]:
    return {
        "format": RUN_FORMAT, "format_version": 1,
        "profile": profile, "model": to_dict(model_cfg), "train": to_dict(train_cfg),
        "data": data.summary(), "device": str(dev), "world_size": world,
        "decoder_parameters": n_params,
        "versions": {"cellshapes": __version__, "torch": torch.__version__,
                     "numpy": np.__version__, "python": platform.python_version()},
        "command": " ".join(sys.argv),
    }
