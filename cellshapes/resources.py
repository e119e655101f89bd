"""What the machine can do: the compute device, memory checks, native bfloat16.

``prepare``, ``reconstruct``, ``generate`` and ``phantoms`` call :func:`check_memory`
with the size of what they will hold at once, so an impossible request (``--size 5000
--frames 100``) fails in milliseconds with the estimate in GiB instead of being killed by
the OOM killer after minutes, or leaving the machine swapping.
"""
from __future__ import annotations

import os
import sys

import torch

from cellshapes.errors import InputError, ResourceError

__all__ = ["resolve_device", "check_device", "available_memory", "current_rss",
           "host_memory_available", "check_memory", "native_bf16",
           "GIB"]

GIB = float(2**30)


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """The torch device a ``--device`` option names (``auto`` = CUDA if available).

    :func:`check_device` with ``where="--device"``: the same checks, and errors that say
    ``use --device cpu or --device auto``.
    """
    return check_device(name, where="--device")


def check_device(name: str | torch.device = "auto", where: str = "--device") -> torch.device:
    """The torch device ``name`` names; a bad one fails with advice naming where it was set.

    Notebooks call it in their first cell, so ``device="cuda"`` on a machine without a
    GPU fails before any work, not minutes later inside ``reconstruct``.

    Parameters
    ----------
    name : str or torch.device
        ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
    where : str
        How the user set it: ``"notebook parameter device"`` (the message says ``set the
        notebook parameter device='cpu' or 'auto'``) or a CLI option ``"--device"`` (``use
        --device cpu or --device auto``).

    Returns
    -------
    torch.device

    Raises
    ------
    InputError
        Not a device name, CUDA without a CUDA GPU, or ``cuda:N`` beyond the GPUs there are.

    Examples
    --------
    >>> check_device("cpu")
    device(type='cpu')
    """
    if isinstance(name, torch.device):
        return name
    fix = (f"use {where} cpu or {where} auto" if where.startswith("-")
           else f"set the {where}='cpu' or 'auto'")
    try:
        dev = torch.device("cuda" if torch.cuda.is_available() else "cpu") \
            if name == "auto" else torch.device(name)
    except (RuntimeError, TypeError):
        raise InputError(f"device={name!r} is not a device (auto, cpu, cuda or cuda:N); "
                         f"{fix}") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"device={name!r} but CUDA is not available; {fix}")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise InputError(f"device={name!r} but this machine has "
                             f"{torch.cuda.device_count()} CUDA GPU(s); {fix}")
    return dev


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation, or None if unknown.

    Linux ``MemAvailable`` (page cache counts as available), else physical memory.
    """
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def current_rss() -> int:
    """Resident set size of this process, bytes (Linux ``/proc``; elsewhere the peak so far)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB; bytes on macOS
        return int(peak if sys.platform == "darwin" else peak * 1024)


def host_memory_available() -> int | None:
    """Bytes of host memory a new allocation can get: MemAvailable, capped by the cgroup.

    Under a batch scheduler (Slurm, Kubernetes) the job's cgroup limit is usually far
    below the node's memory; ``memory.max`` (cgroup v2) or ``memory.limit_in_bytes``
    (v1) minus current usage caps the answer.
    """
    avail = available_memory()
    for limit, usage in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                         ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                          "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            with open(limit) as fh:
                text = fh.read().strip()
            if text == "max" or int(text) >= 2**60:
                continue
            with open(usage) as fh:
                free = int(text) - int(fh.read().strip())
        except (OSError, ValueError):
            continue
        avail = free if avail is None else min(avail, free)
    return avail


def check_memory(nbytes: float, what: str, hint: str = "") -> float:
    """Raise :class:`ResourceError` if ``nbytes`` cannot fit in the available memory.

    Parameters
    ----------
    nbytes : float
        Estimated peak bytes the operation holds at once.
    what : str
        What needs it, e.g. ``"reconstruct: 100 frames x 5000^3 float32"``.
    hint : str
        What to change, e.g. ``"reduce --size or --frames"``.

    Returns
    -------
    float
        The estimate in GiB.
    """
    need = float(nbytes) / GIB
    avail = available_memory()
    if avail is not None and nbytes > avail:
        raise ResourceError(f"{what} needs about {need:.1f} GiB of memory but only "
                            f"{avail / GIB:.1f} GiB is available" + (f"; {hint}" if hint else ""))
    return need


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith(("flags", "Features")):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def native_bf16(device: torch.device) -> bool:
    """True if ``device`` multiplies bfloat16 matrices in hardware.

    CUDA: ``torch.cuda.is_bf16_supported()``. CPU: the AVX512-BF16 or AMX-BF16
    instructions (x86) or the BF16 extension (Arm), read from ``/proc/cpuinfo``; without
    them oneDNN emulates bfloat16 and mixed precision is slower than float32.
    """
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type != "cpu":
        return False
    return bool(_cpu_flags() & {"avx512_bf16", "amx_bf16", "bf16"})
