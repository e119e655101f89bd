"""What the machine can do: the compute device, memory checks, native bfloat16.

``prepare``, ``reconstruct``, ``generate`` and ``phantoms`` call :func:`check_memory`
with the size of what they will hold at once, so an impossible request (``--size 5000
--frames 100``) fails in milliseconds with the estimate in GiB instead of being killed by
the OOM killer after minutes, or leaving the machine swapping.
"""
from __future__ import annotations

import os

import torch

from .errors import InputError, ResourceError

__all__ = ["resolve_device", "available_memory", "check_memory", "native_bf16", "GIB"]

GIB = float(2**30)


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """The torch device a ``--device`` option names.

    Parameters
    ----------
    name : str or torch.device
        ``auto`` (CUDA if available, else CPU), ``cpu``, ``cuda`` or ``cuda:N``; a
        :class:`torch.device` is returned unchanged.

    Returns
    -------
    torch.device

    Raises
    ------
    InputError
        ``name`` is not a device, or names CUDA on a machine without a CUDA GPU.
    """
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise InputError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' requested but no CUDA GPU is available; use --device cpu")
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
