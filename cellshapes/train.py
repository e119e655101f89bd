"""Training of the auto-decoder: Adam, step schedule, code regularisation, rotations.

Usage from Python::

    from cellshapes import train, config
    train.train("cells.h5", "runs/cells", config.model_config("quick"),
                config.train_config("quick", epochs=100))

The run directory (:mod:`cellshapes.rundir`) is the unit of work: ``config.json``,
``checkpoints/``, ``log.csv``.
Training resumes exactly (weights, Adam moments, schedule, every RNG) from the last
checkpoint; SIGINT/SIGTERM finish the current epoch, write a checkpoint and stop.
Multi-GPU / multi-node training runs under ``torchrun`` with DDP (gloo on CPU, NCCL on
CUDA); each rank draws its own frames and points, rank 0 writes the run directory.
"""
from __future__ import annotations

import argparse
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
import torch.distributed as dist

from . import __version__
from .checkpoint import (latest_checkpoint, load_checkpoint, read_config, run_lock,
                         save_checkpoint, write_config)
from .config import ModelConfig, TrainConfig, from_dict, model_config, to_dict, train_config
from .errors import CellshapesError
from .model import AutoDecoder, count_parameters
from .plan import plan_for_training
from .resources import native_bf16, resolve_device
from .rundir import RunLog, prepare_run_dir, stop_requests
from .sampling import SDFSampler
from .training_data import TrainingData, load_training_data

__all__ = [
    "train",
    "train_from_cli",
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
def _dist_info() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _maybe_init_distributed(device: torch.device) -> bool:
    """Join the torchrun process group if launched with WORLD_SIZE > 1."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or not dist.is_available():
        return False
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return True


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


def _rng_state(generator: torch.Generator) -> dict[str, torch.Tensor]:
    state = {"torch": torch.get_rng_state(), "sampler": generator.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def _set_rng_state(state: dict[str, torch.Tensor], generator: torch.Generator) -> None:
    torch.set_rng_state(state["torch"].cpu())
    generator.set_state(state["sampler"].cpu() if generator.device.type == "cpu"
                        else state["sampler"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"].cpu())


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

    Parameters
    ----------
    dataset : path or TrainingData
        Prepared HDF5 dataset (``cellshapes prepare``).
    out : path
        Run directory.
    model_cfg, train_cfg : ModelConfig, TrainConfig
        Architecture and training settings (default: the ``paper`` profile).
    device : str
        ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
    resume : bool
        Continue from ``checkpoints/latest.pt`` if the run exists (its config wins,
        except ``epochs`` which may extend the run).
    overwrite : bool
        Start over in an existing run directory.
    epochs : int, optional
        On resume: the new total number of epochs.
    lock : bool
        Hold the run-directory lock (:func:`cellshapes.checkpoint.run_lock`) while
        training; False when the caller already holds it (e.g. with ``wait=True``).

    Returns
    -------
    list of dict
        One row per finished epoch (the content of ``log.csv``).

    Raises
    ------
    RunLockedError
        Another process is training the same run directory.
    """
    rank = int(os.environ.get("RANK", "0"))
    held = run_lock(out) if lock and rank == 0 else contextlib.nullcontext()
    with held:
        return _train(dataset, out, model_cfg, train_cfg, device, resume, overwrite, progress,
                      profile, epochs)


def _train(dataset: str | os.PathLike | TrainingData, out: str | os.PathLike,
           model_cfg: ModelConfig | None, train_cfg: TrainConfig | None,
           device: str | torch.device, resume: bool, overwrite: bool, progress: bool,
           profile: str | None, epochs: int | None) -> list[dict[str, float]]:
    """:func:`train` once the run-directory lock is held (or not wanted)."""
    dev = resolve_device(device)
    distributed = _maybe_init_distributed(dev)
    rank, world = _dist_info()
    if distributed and dev.type == "cuda":
        dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(dev)
    out = Path(out)
    resuming = prepare_run_dir(out, resume, overwrite) if rank == 0 else resume
    if distributed:
        flag = torch.tensor([int(resuming)])
        dist.broadcast(flag, 0)
        resuming = bool(flag.item())
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
        _set_rng_state(state["rng"], gen)
        history = [dict(r) for r in state["history"]]
        start = int(state["epoch"]) + 1
        lr_scale = float(state.get("lr_scale", 1.0))
    n_params = count_parameters(model.decoder)
    log = RunLog(out, LOG_FIELDS)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        write_config(out, _run_config(data, model_cfg, train_cfg, profile, dev, world, n_params))
        if progress:
            print(f"cellshapes: {model_cfg.arch} decoder with {n_params:,} parameters "
                  f"({len(data.names)} sequences, {sampler.n_frames} training frames, "
                  f"{data.size}^3, device {dev}{', resuming' if resuming else ''})",
                  file=sys.stderr)
        log.write(history)
    if train_cfg.amp and rank == 0 and not native_bf16(dev):
        warnings.warn(f"amp: {dev} has no native bfloat16 matmul; mixed precision is "
                      "emulated and likely slower than float32", stacklevel=2)
    net = compile_model(model, train_cfg.compile)
    if distributed:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[dev.index] if dev.type == "cuda" else None)

    steps = max(1, math.ceil(sampler.n_frames / (train_cfg.frames_per_batch * world)))
    bar = None
    if progress and rank == 0:
        from tqdm.auto import tqdm

        bar = tqdm(total=train_cfg.epochs, initial=start - 1, desc="train", unit="epoch")
    failures = 0
    with stop_requests() as stop:
        epoch = start
        while epoch <= train_cfg.epochs:
            snapshot = (copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict()),
                        gen.get_state())
            _set_lr(optimizer, epoch, train_cfg, lr_scale)
            row = _run_epoch(net, model, sampler, optimizer, gen, train_cfg, epoch, steps, dev)
            if not math.isfinite(row["loss"]):
                failures += 1
                model.load_state_dict(snapshot[0])
                optimizer.load_state_dict(snapshot[1])
                gen.set_state(snapshot[2])
                lr_scale *= 0.5
                warnings.warn(f"non-finite loss in epoch {epoch}; rolled back and halved the "
                              f"learning rate (x{lr_scale:g})", stacklevel=2)
                if failures >= 3:
                    raise TrainingDivergedError(
                        f"loss became NaN/inf {failures} times (last in epoch {epoch}); "
                        "lower the learning rate or check the dataset")
                continue
            history.append(row)
            last = epoch == train_cfg.epochs or stop.requested
            if rank == 0:
                if epoch % train_cfg.checkpoint_every == 0 or last:
                    state = {"epoch": epoch, "model": model.state_dict(),
                             "optimizer": optimizer.state_dict(), "rng": _rng_state(gen),
                             "history": history, "lr_scale": lr_scale}
                    save_checkpoint(out, state, epoch, keep=train_cfg.keep_checkpoints)
                    log.write(history)
                else:
                    log.append(row)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{row['loss']:.4g}", pts_s=f"{row['points_per_s']:.3g}")
            if stop.requested:
                if rank == 0:
                    stop.announce(epoch)
                break
            epoch += 1
    if bar is not None:
        bar.close()
    if distributed:
        dist.barrier()
    return history


def _run_epoch(net: Any, model: AutoDecoder, sampler: SDFSampler,
               optimizer: torch.optim.Optimizer, gen: torch.Generator, cfg: TrainConfig,
               epoch: int, steps: int, dev: torch.device) -> dict[str, float]:
    """One epoch of ``steps`` optimisation steps; returns the log row."""
    t0 = time.perf_counter()
    reg_w = cfg.code_reg * min(1.0, epoch / max(cfg.code_reg_warmup, 1))
    total = torch.zeros((), device=dev)
    total_rec = torch.zeros((), device=dev)
    for _ in range(steps):
        loss, rec = train_step(net, model, sampler, optimizer, gen, cfg, reg_w, dev)
        total += loss
        total_rec += rec
    elapsed = time.perf_counter() - t0
    _, world = _dist_info()
    if world > 1:
        both = torch.stack([total, total_rec]).to(dev)
        dist.all_reduce(both)
        total, total_rec = both / world
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
        "format": "cellshapes.run", "format_version": 1,
        "profile": profile, "model": to_dict(model_cfg), "train": to_dict(train_cfg),
        "data": data.summary(), "device": str(dev), "world_size": world,
        "decoder_parameters": n_params,
        "versions": {"cellshapes": __version__, "torch": torch.__version__,
                     "numpy": np.__version__, "python": platform.python_version()},
        "command": " ".join(sys.argv),
    }


def train_from_cli(a: argparse.Namespace) -> int:
    """Handler of ``cellshapes train``."""
    overrides = dict(latent_dim=a.latent_dim, omega0=a.omega0, arch=a.arch)
    if a.no_equivariant:
        overrides["equivariant"] = False
    mcfg = model_config(a.profile, **overrides)
    tcfg = train_config(a.profile, epochs=a.epochs, frames_every=a.frames_every, seed=a.seed,
                        points_per_frame=a.points, amp=a.amp or None,
                        compile=a.compile or None)
    history = train(a.dataset, a.out, mcfg, tcfg, device=a.device, resume=a.resume,
                    overwrite=a.overwrite, progress=not a.quiet, profile=a.profile,
                    epochs=a.epochs)
    rank, _ = _dist_info()
    if rank == 0 and history:
        last = history[-1]
        print(f"epoch {int(last['epoch'])}: loss {last['loss']:.5g}, "
              f"{last['points_per_s']:.3g} points/s -> {a.out}")
    return 0
