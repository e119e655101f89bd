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
import math
import os
import platform
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cellshapes import __version__
from cellshapes.config import (ModelConfig, TrainConfig, from_dict, model_config, to_dict,
                               train_config)
from cellshapes.errors import CellshapesError
from cellshapes.model import AutoDecoder, count_parameters
from cellshapes.progress import track
from cellshapes.resources import native_bf16, resolve_device
from cellshapes.training.checkpoint import (RUN_FORMAT, latest_checkpoint, load_checkpoint,
                                            read_config, run_lock, save_checkpoint, write_config)
from cellshapes.training.data import TrainingData, load_training_data
from cellshapes.training.divergence import DivergenceGuard
from cellshapes.training.distributed import (any_rank, broadcast_int, check_replicas,
                                             gather_rng_states, mean_over_ranks, process_group,
                                             rank_world, restore_rng_states)
from cellshapes.training.plan import plan_for_training
from cellshapes.training.rotation_search import run_search
from cellshapes.training.rundir import RunLog, mark_converged, prepare_run_dir, stop_requests
from cellshapes.training.sampling import SDFSampler
from cellshapes.training.step import (Rollback, TrainingDivergedError, compile_model,  # noqa: F401
                                      make_optimizer, set_lr, train_step)
from cellshapes.training.stopping import plateau_reached, stop_record
from cellshapes.training.warmstart import load_decoder

__all__ = ["train", "LOG_FIELDS", "compile_model", "make_optimizer", "train_step",
           "TrainingDivergedError"]

#: Columns of a shape run's ``log.csv``.
LOG_FIELDS = ("epoch", "loss", "rec_loss", "lr", "time_s", "points_per_s")


# ------------------------------------------------------------------------------- train
def train(dataset: str | os.PathLike | TrainingData, out: str | os.PathLike,
          model_cfg: ModelConfig | None = None, train_cfg: TrainConfig | None = None,
          device: str | torch.device = "auto", resume: bool = False, overwrite: bool = False,
          progress: bool = True, profile: str | None = None,
          epochs: int | None = None, lock: bool = True,
          command: str | None = None) -> list[dict[str, float]]:
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
    command : str, optional
        The command line that started the training, recorded in ``config.json`` (the CLI
        passes its own; a library call records none, or keeps the one of the run it
        resumes).

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
                      profile, epochs, command)


@dataclass
class _Session:
    """One training run while it runs: settings, data, model, optimiser and where it is.

    Built by :func:`_build`, advanced by :func:`_run_epochs`; ``start`` is the first epoch
    still to run (1-based) and ``history`` the log rows of the finished ones.
    """

    out: Path
    data: TrainingData
    model_cfg: ModelConfig
    train_cfg: TrainConfig
    profile: str | None
    dev: torch.device
    model: AutoDecoder
    sampler: SDFSampler
    optimizer: torch.optim.Optimizer
    gen: torch.Generator
    history: list[dict[str, float]] = field(default_factory=list)
    start: int = 1
    lr_scale: float = 1.0
    command: str | None = None


def _train(dataset: str | os.PathLike | TrainingData, out: Path,
           model_cfg: ModelConfig | None, train_cfg: TrainConfig | None,
           dev: torch.device, resuming: bool, progress: bool,
           profile: str | None, epochs: int | None,
           command: str | None = None) -> list[dict[str, float]]:
    """:func:`train` once the run directory is ready (and locked by rank 0)."""
    rank, _ = rank_world()
    if resuming:
        model_cfg, train_cfg, profile = _stored_configs(out, epochs, profile)
        command = command or read_config(out).get("command")
    data = (dataset if isinstance(dataset, TrainingData)
            else load_training_data(dataset, lazy=True))  # read frame by frame by the sampler
    model_cfg = model_cfg or model_config("paper")
    train_cfg = train_cfg or train_config("paper")
    plan_for_training(data, model_cfg, train_cfg, dev, report=progress and rank == 0)
    session = _build(out, data, model_cfg, train_cfg, profile, dev)
    session.command = command
    # killed before the first checkpoint: start over, with the stored config
    resuming = resuming and latest_checkpoint(out) is not None
    if resuming:
        _restore(session)
    _announce(session, resuming, progress)
    return _run_epochs(session, _wrap(session), progress)


def _stored_configs(out: Path, epochs: int | None, profile: str | None
                    ) -> tuple[ModelConfig, TrainConfig, str | None]:
    """The configs a resumed run was started with; ``epochs`` may extend it."""
    stored = read_config(out)
    stored["train"].setdefault("near_set", "band")  # runs from before near_set existed
    model_cfg = from_dict(ModelConfig, stored["model"])
    train_cfg = from_dict(TrainConfig, {**stored["train"],
                                        **({"epochs": epochs} if epochs else {})})
    return model_cfg, train_cfg, stored.get("profile", profile)


def _build(out: Path, data: TrainingData, model_cfg: ModelConfig, train_cfg: TrainConfig,
           profile: str | None, dev: torch.device) -> _Session:
    """Seeded model, sampler, optimiser and sampling generator of a fresh run."""
    rank, _ = rank_world()
    torch.manual_seed(train_cfg.seed)
    init_gen = torch.Generator().manual_seed(train_cfg.seed)
    model = AutoDecoder(model_cfg, len(data.names), generator=init_gen).to(dev)
    if model.angles is not None and model_cfg.angle_init == "principal":
        with torch.no_grad():
            model.angles.copy_(principal_angles(data).to(dev))
    if train_cfg.init_decoder:
        load_decoder(model, train_cfg.init_decoder)
    bands = [data.band(i, train_cfg.near_surface_um) for i in range(len(data.names))]
    sampler = SDFSampler(data.volumes, bands, train_cfg.frames_every, train_cfg.near_fraction,
                         dev, train_cfg.storage_dtype, train_cfg.near_set)
    gen = torch.Generator(dev).manual_seed(train_cfg.seed + 1000 * rank)
    return _Session(out, data, model_cfg, train_cfg, profile, dev, model, sampler,
                    make_optimizer(model, train_cfg), gen)


def principal_angles(data: TrainingData) -> torch.Tensor:
    """(N, 3) Euler angles of the principal axes of each sequence's first frame
    (``ModelConfig.angle_init="principal"``): the decoder then sees each sequence in its
    own principal frame, so rotated copies of one shape start aligned."""
    from cellshapes.model import matrix_to_euler
    from cellshapes.sdf import principal_axes

    mats = [principal_axes(np.asarray(v[0]) <= 0, (1.0, 1.0, 1.0)) for v in data.volumes]
    return matrix_to_euler(torch.tensor(np.stack(mats), dtype=torch.float32))


def _restore(s: _Session) -> None:
    """Weights, Adam moments, history, lr scale and every rank's RNG from the checkpoint."""
    rank, _ = rank_world()
    state = load_checkpoint(s.out, map_location=s.dev)
    s.model.load_state_dict(state["model"])
    s.optimizer.load_state_dict(state["optimizer"])
    s.history = [dict(r) for r in state["history"]]
    s.start = int(state["epoch"]) + 1
    restore_rng_states(state["rng"], s.gen, s.train_cfg.seed + 1000 * rank + 7919 * s.start)
    s.lr_scale = float(state.get("lr_scale", 1.0))


def _announce(s: _Session, resuming: bool, progress: bool) -> None:
    """Rank 0 writes ``config.json`` and the log so far and says what it trains."""
    rank, world = rank_world()
    n_params = count_parameters(s.model.decoder)
    if rank == 0:
        s.out.mkdir(parents=True, exist_ok=True)
        write_config(s.out, _run_config(s.data, s.model_cfg, s.train_cfg, s.profile, s.dev,
                                        world, n_params, s.command))
        if progress:
            print(f"cellshapes: {s.model_cfg.arch} decoder with {n_params:,} parameters "
                  f"({len(s.data.names)} sequences, {s.sampler.n_frames} training frames, "
                  f"{s.data.size}^3, device {s.dev}, {world} process(es)"
                  f"{', resuming' if resuming else ''})", file=sys.stderr)
        RunLog(s.out, LOG_FIELDS).write(s.history)
    if s.train_cfg.amp and rank == 0 and not native_bf16(s.dev):
        warnings.warn(f"amp: {s.dev} has no native bfloat16 matmul; mixed precision is "
                      "emulated and likely slower than float32", stacklevel=3)


def _wrap(s: _Session) -> Any:
    """What the forward pass calls: the (compiled) model, in DDP under torchrun."""
    _, world = rank_world()
    net = compile_model(s.model, s.train_cfg.compile)
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            s.model, device_ids=[s.dev.index] if s.dev.type == "cuda" else None)
    return net


def _run_epochs(s: _Session, net: Any, progress: bool) -> list[dict[str, float]]:
    """Epochs ``s.start .. epochs`` with rollback, checkpoints, log and a clean stop."""
    rank, world = rank_world()
    cfg = s.train_cfg
    steps = max(1, math.ceil(s.sampler.n_frames / (cfg.frames_per_batch * world)))
    log = RunLog(s.out, LOG_FIELDS)
    epochs_left = track(range(s.start, cfg.epochs + 1), progress and rank == 0,
                        total=cfg.epochs, initial=s.start - 1, desc="train", unit="epoch")
    rollback = Rollback(s.model, s.optimizer, s.gen)
    guard = DivergenceGuard(s.model, s.optimizer, s.out if rank == 0 else None,
                            [r["loss"] for r in s.history])
    if plateau_reached([r["loss"] for r in s.history], cfg.plateau_epochs, cfg.plateau_tol):
        return s.history  # a resumed run that had converged: nothing left to do
    with stop_requests() as stop:
        for epoch in epochs_left:
            run_search(s.model, s.sampler, cfg, epoch, s.out if rank == 0 else None,
                       s.optimizer)  # issue 33: start record, discrete rotation search
            row, s.lr_scale = rollback.epoch(
                lambda scale, e=epoch: _run_epoch(net, s, e, steps, scale), epoch, s.lr_scale)
            s.history.append(row)
            s.lr_scale = guard.check(epoch, [r["loss"] for r in s.history], s.lr_scale)
            stopping = any_rank(stop.requested)  # every rank stops after the same epoch
            losses = [r["loss"] for r in s.history]
            converged = plateau_reached(losses, cfg.plateau_epochs, cfg.plateau_tol)
            if epoch % cfg.checkpoint_every == 0 or epoch == cfg.epochs or stopping or converged:
                _checkpoint(s, epoch, log)
            elif rank == 0:
                log.append(row)
            if hasattr(epochs_left, "set_postfix"):
                epochs_left.set_postfix(loss=f"{row['loss']:.4g}",
                                        pts_s=f"{row['points_per_s']:.3g}")
            if converged:  # the loss has plateaued: epochs was the cap
                if rank == 0:
                    mark_converged(s.out, stop_record(losses, cfg.plateau_epochs,
                                                      cfg.plateau_tol, cfg.epochs))
                break
            if stopping:
                if rank == 0:
                    stop.announce(epoch)
                break
    if hasattr(epochs_left, "close"):
        epochs_left.close()
    return s.history


def _checkpoint(s: _Session, epoch: int, log: RunLog) -> None:
    """Check the replicas agree, gather every rank's RNG, rank 0 saves and logs."""
    check_replicas(s.model, s.optimizer)
    rng = gather_rng_states(s.gen)  # collective: every rank takes part
    if rank_world()[0] == 0:
        state = {"epoch": epoch, "model": s.model.state_dict(),
                 "optimizer": s.optimizer.state_dict(), "rng": rng,
                 "history": s.history, "lr_scale": s.lr_scale}
        save_checkpoint(s.out, state, epoch, keep=s.train_cfg.keep_checkpoints)
        log.write(s.history)


def _run_epoch(net: Any, s: _Session, epoch: int, steps: int, lr_scale: float = 1.0
               ) -> dict[str, float]:
    """One epoch of ``steps`` optimisation steps at the scheduled lr; returns the log row."""
    cfg, dev = s.train_cfg, s.dev
    set_lr(s.optimizer, epoch, cfg, lr_scale)
    t0 = time.perf_counter()
    reg_w = cfg.code_weight * min(1.0, epoch / max(cfg.code_reg_warmup, 1))
    total = torch.zeros((), device=dev)
    total_rec = torch.zeros((), device=dev)
    for _ in range(steps):
        loss, rec = train_step(net, s.model, s.sampler, s.optimizer, s.gen, cfg, reg_w, dev)
        total += loss
        total_rec += rec
    elapsed = time.perf_counter() - t0
    _, world = rank_world()
    total, total_rec = mean_over_ranks(torch.stack([total, total_rec]))
    points = steps * cfg.frames_per_batch * cfg.points_per_frame * world
    return {"epoch": epoch, "loss": float(total) / steps, "rec_loss": float(total_rec) / steps,
            "lr": s.optimizer.param_groups[0]["lr"], "time_s": round(elapsed, 4),
            "points_per_s": round(points / max(elapsed, 1e-9), 1)}


def _run_config(data: TrainingData, model_cfg: ModelConfig, train_cfg: TrainConfig,
                profile: str | None, dev: torch.device, world: int, n_params: int,
                command: str | None = None) -> dict[str, Any]:
    return {
        "format": RUN_FORMAT, "format_version": 1,
        "profile": profile, "model": to_dict(model_cfg), "train": to_dict(train_cfg),
        "data": data.summary(), "device": str(dev), "world_size": world,
        "decoder_parameters": n_params,
        "versions": {"cellshapes": __version__, "torch": torch.__version__,
                     "numpy": np.__version__, "python": platform.python_version()},
        "command": command,
    }
