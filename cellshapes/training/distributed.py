"""Multi-process (DDP) training under ``torchrun``: process group, collectives, per-rank state.

:func:`cellshapes.training.loop.train` runs one process per device. Every rank holds the whole
model (weights, per-sequence codes and angles, Adam moments), identical on all ranks
because DDP averages the gradients; every rank draws its own frames and points from its
own generator, so the effective batch is ``world`` times the per-rank batch.

Two rules keep this correct on every backend:

- Collectives put their tensors on :func:`collective_device`: a CUDA tensor on the rank's
  own GPU for NCCL (which accepts nothing else), a CPU tensor for gloo. Training code
  calls the helpers here, never ``torch.distributed`` collectives directly.
- Checkpoints carry the random-number state of *every* rank, gathered to rank 0 as
  ``(world, n)`` uint8 tensors (:func:`gather_rng_states`); on resume rank r restores row
  r (:func:`restore_rng_states`), so the ranks keep drawing different batches and a
  resumed run equals an uninterrupted one bit for bit.

Launch (one node, 2 processes; gloo on CPU, NCCL with ``--device cuda``)::

    torchrun --standalone --nproc_per_node 2 -m cellshapes.cli train DATA --out RUN ...

Several nodes use a c10d rendezvous (the same command on every node; ``RUN`` and
``DATA`` on a filesystem all nodes share)::

    torchrun --nnodes 2 --nproc_per_node 4 --rdzv-backend c10d \\
        --rdzv-endpoint HOST:29400 --rdzv-id RUN_ID -m cellshapes.cli train DATA --out RUN
"""
from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import warnings
from typing import Iterable, Iterator

import torch
import torch.distributed as dist

__all__ = [
    "rank_world",
    "process_group",
    "collective_device",
    "broadcast_int",
    "any_rank",
    "mean_over_ranks",
    "gather_rows",
    "gather_rng_states",
    "restore_rng_states",
    "check_replicas",
    "ReplicaMismatchError",
]


class ReplicaMismatchError(RuntimeError):
    """Weights or optimiser state differ between ranks (a bug: DDP keeps them equal)."""


def _active() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank_world() -> tuple[int, int]:
    """``(rank, world_size)`` of this process; ``(0, 1)`` outside a process group."""
    if _active():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


@contextlib.contextmanager
def process_group(device: torch.device) -> Iterator[torch.device]:
    """Join the ``torchrun`` process group for the duration of a training run.

    Outside ``torchrun`` (``WORLD_SIZE`` unset or 1) nothing happens. Under it, CUDA ranks
    use the GPU ``LOCAL_RANK`` and the NCCL backend, CPU ranks gloo. A group created here
    is destroyed on exit; one the caller created is used and left alone.

    Parameters
    ----------
    device : torch.device
        The requested training device (``cuda`` or ``cpu``).

    Yields
    ------
    torch.device
        This rank's device: ``cuda:LOCAL_RANK`` for distributed CUDA runs, else ``device``.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    joined = _active()
    if not joined and (world <= 1 or not dist.is_available()):
        yield device
        return
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if joined:
        yield device
        return
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    done = False
    try:
        yield device
        done = True
    finally:
        leave_group(wait_for_peers=done)


def leave_group(wait_for_peers: bool = True) -> None:
    """Tear down the default process group so that the process can exit cleanly.

    Two gloo teardown races aborted a rank at exit ("terminate called without an active
    exception", about 1 launch in 8 on 2 CPU cores, 2026-12-07): a peer that leaves while
    the other still talks, and a process group kept alive by a reference cycle until
    interpreter finalization, when its C++ threads are destroyed unjoined. The barrier
    answers the first, the garbage collection after ``destroy_process_group`` the second
    (0 aborts in 40 launches, against 4 in 30 without it).

    Parameters
    ----------
    wait_for_peers : bool
        Barrier first (every rank finished its work). False when leaving on an error,
        where a peer may never reach the barrier.
    """
    if not _active():
        return
    try:
        if wait_for_peers:
            dist.barrier()
    finally:
        dist.destroy_process_group()
        gc.collect()


def collective_device() -> torch.device:
    """Where the tensors of a collective must live for the active backend.

    NCCL accepts only CUDA tensors on the rank's current GPU; gloo (and MPI) take CPU
    tensors. A mixed backend (``"cpu:gloo,cuda:nccl"``) routes CPU tensors to gloo.

    Returns
    -------
    torch.device
        ``cuda:<current device>`` for NCCL alone, else ``cpu``.
    """
    backend = str(dist.get_backend()).lower()
    if "nccl" in backend and "gloo" not in backend:
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def broadcast_int(value: int, src: int = 0) -> int:
    """``value`` of rank ``src`` on every rank (``value`` itself outside a group)."""
    if not _active():
        return int(value)
    t = torch.tensor([int(value)], dtype=torch.int64, device=collective_device())
    dist.broadcast(t, src)
    return int(t.item())


def any_rank(flag: bool) -> bool:
    """True on every rank if ``flag`` is True on at least one (e.g. a stop request)."""
    if not _active():
        return bool(flag)
    t = torch.tensor([int(bool(flag))], dtype=torch.int32, device=collective_device())
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def mean_over_ranks(t: torch.Tensor) -> torch.Tensor:
    """Element-wise mean of ``t`` over all ranks, returned on ``t``'s device and dtype."""
    if not _active():
        return t
    buf = t.detach().to(collective_device(), torch.float64, copy=True)
    dist.all_reduce(buf)
    return (buf / dist.get_world_size()).to(t.device, t.dtype)


def gather_rows(row: torch.Tensor) -> torch.Tensor:
    """Stack a 1-D tensor of every rank into ``(world, n)`` (CPU), available on all ranks.

    Parameters
    ----------
    row : (n,) tensor
        Same length and dtype on every rank (e.g. a generator state, a digest).

    Returns
    -------
    (world, n) tensor
        Row r is rank r's ``row``; ``row[None]`` outside a group.
    """
    row = row.detach().reshape(-1).cpu()
    if not _active():
        return row[None].clone()
    dev = collective_device()
    local = row.to(dev)
    rows = [torch.empty_like(local) for _ in range(dist.get_world_size())]
    dist.all_gather(rows, local)
    return torch.stack([r.cpu() for r in rows])


def gather_rng_states(generator: torch.Generator) -> dict[str, torch.Tensor]:
    """The random-number state of every rank, for a checkpoint.

    Parameters
    ----------
    generator : torch.Generator
        This rank's sampling generator (CPU or CUDA).

    Returns
    -------
    dict of (world, n) uint8 tensors
        ``sampler`` (the generator), ``torch`` (the global CPU generator) and, where CUDA
        is available, ``cuda`` (the current GPU's default generator); row r is rank r's.
        Every rank must call this (it is a collective); only rank 0 needs the result.
    """
    states = {"torch": torch.get_rng_state(), "sampler": generator.get_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state()
    return {k: gather_rows(v) for k, v in states.items()}


def restore_rng_states(states: dict[str, torch.Tensor], generator: torch.Generator,
                       reseed: int) -> bool:
    """Restore this rank's row of :func:`gather_rng_states` output.

    Parameters
    ----------
    states : dict of (world, n) or (n,) uint8 tensors
        From a checkpoint. A 1-D tensor is one rank's state (checkpoints written before
        per-rank states: rank 0's only).
    generator : torch.Generator
        This rank's sampling generator, set in place.
    reseed : int
        Seed of ``generator`` if the checkpoint has no row for this rank (it was written
        by fewer processes); make it differ between ranks and from the first run.

    Returns
    -------
    bool
        True if every state of this rank was restored, so training continues exactly
        as it would have without the interruption.
    """
    rank, world = rank_world()
    exact = True
    for key in ("torch", "sampler", "cuda"):
        rows = states.get(key)
        if rows is None:
            continue
        rows = rows[None] if rows.ndim == 1 else rows
        if rank >= rows.shape[0]:
            exact = False
            continue
        row = rows[rank].cpu().clone()  # set_state crashes on a view with an offset
        if key == "torch":
            torch.set_rng_state(row)
        elif key == "sampler":
            generator.set_state(row)
        elif torch.cuda.is_available():
            torch.cuda.set_rng_state(row)
    saved = states["sampler"].shape[0] if states["sampler"].ndim == 2 else 1
    if rank >= saved:
        generator.manual_seed(reseed)
    if saved != world:
        exact = False
        if rank == 0:
            warnings.warn(f"the checkpoint holds the random state of {saved} process(es), "
                          f"this run has {world}: training continues but does not repeat an "
                          "uninterrupted run exactly", stacklevel=2)
    return exact


def _digest(tensors: Iterable[torch.Tensor]) -> torch.Tensor:
    """SHA-256 of the bytes of ``tensors`` (in order) as a (32,) uint8 tensor."""
    h = hashlib.sha256()
    for t in tensors:
        h.update(t.detach().reshape(-1).cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return torch.frombuffer(bytearray(h.digest()), dtype=torch.uint8)


def check_replicas(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
    """Raise on every rank unless all ranks hold the same weights and optimiser state.

    Rank 0 alone writes checkpoints; this makes sure what it writes is every rank's
    state (weights, per-sequence codes and angles, Adam moments and step counts),
    compared bit for bit through a SHA-256 digest. A collective: every rank calls it.

    Raises
    ------
    ReplicaMismatchError
        The states differ between ranks.
    """
    if not _active():
        return
    opt = optimizer.state_dict()["state"]
    tensors = [v for _, v in sorted(model.state_dict().items())]
    tensors += [torch.as_tensor(opt[i][k]) for i in sorted(opt) for k in sorted(opt[i])]
    digests = gather_rows(_digest(tensors))
    differ = [r for r in range(digests.shape[0]) if not torch.equal(digests[r], digests[0])]
    if differ:
        raise ReplicaMismatchError(f"rank(s) {differ} hold weights or optimiser state that "
                                   "differ from rank 0's; refusing to checkpoint")
