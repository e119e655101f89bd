"""Axis letters of an image array: the file's metadata, or the user's (``--axes``).

Microscopy TIFF metadata is often wrong (an ImageJ header calling z slices "channels");
:func:`apply_axes` relabels the stored axes as the user says and picks one channel, and
:func:`as_tzyx` brings the array to (T, Z, Y, X). Every error names ``--axes`` (and
``--channel``) and what the file claims.
"""
from __future__ import annotations

import os

import numpy as np

from cellshapes.errors import InputError

__all__ = ["AXES_LETTERS", "apply_axes", "as_tzyx"]

#: Letters ``--axes`` accepts: time, depth, channel, rows, columns.
AXES_LETTERS = "TZCYX"


def _claim(claimed: str) -> str:
    """How error messages quote the file's own axis metadata."""
    return f"the file's metadata says axes {claimed}" if claimed else "the file names no axes"


def _suggest_axes(axes: str) -> str:
    """A likely reading of axes with a channel axis that holds z slices (``ZCYX`` ->
    ``TZYX``, ``CYX`` -> ``ZYX``), for the error message."""
    if "Z" in axes and "T" in axes:
        return axes + " --channel 0"
    return axes.replace("Z", "T").replace("C", "Z")


def apply_axes(arr: np.ndarray, found: str, axes: str | None, channel: int | None,
               path: str | os.PathLike) -> tuple[np.ndarray, str]:
    """Relabel an array's axes as the user says (``--axes``) and pick one channel.

    Parameters
    ----------
    arr : ndarray
        The image as stored (:func:`read_tiff`, ``np.load``).
    found : str
        The file's axis letters (``""`` if it says nothing).
    axes : str or None
        The real axes in stored order (letters of :data:`AXES_LETTERS`, each once, Z, Y
        and X required); None keeps ``found``.
    channel : int or None
        Index along ``C`` to keep; needed when ``C`` is longer than one.
    path : path-like
        Named in the messages.

    Returns
    -------
    arr : ndarray
        ``arr`` without its ``C`` axis when a channel was picked (a view).
    axes : str
        The axis letters of the returned array (``""``: unknown, as :func:`as_tzyx` takes).

    Raises
    ------
    InputError
        Letters that are not a valid axes string, a count that does not match the
        array's dimensions, ``channel`` without a ``C`` axis or out of range.
    """
    arr = np.asarray(arr)
    if axes is None:
        if channel is not None and "C" not in found:
            raise InputError(f"--channel {channel}: {path} has no channel axis "
                             f"({_claim(found)}); give the axes with --axes, e.g. TCZYX")
        use = found
    else:
        use = axes.upper()
        if (set(use) - set(AXES_LETTERS) or len(set(use)) != len(use)
                or not set("ZYX") <= set(use)):
            raise InputError(f"--axes {axes}: give each axis once from {AXES_LETTERS}, with "
                             "Z, Y and X (e.g. TZYX, ZYX, TCZYX)")
        if len(use) != arr.ndim:
            raise InputError(f"--axes {use} names {len(use)} axes but {path} holds a "
                             f"{arr.ndim}D array of shape {tuple(arr.shape)} "
                             f"({_claim(found)})")
        if channel is not None and "C" not in use:
            raise InputError(f"--channel {channel} needs a C in --axes (e.g. TCZYX)")
    if channel is None or "C" not in use:
        return arr, use
    c = use.index("C")
    if not 0 <= channel < arr.shape[c]:
        raise InputError(f"--channel {channel} out of range: {path} has {arr.shape[c]} "
                         f"channel(s) (0..{arr.shape[c] - 1})")
    return np.take(arr, channel, axis=c), use.replace("C", "")


def as_tzyx(arr: np.ndarray, axes: str, path: str | os.PathLike,
            claimed: str | None = None) -> np.ndarray:
    """Bring an image array to (T, Z, Y, X), using its axis letters where known.

    Parameters
    ----------
    arr : ndarray
        3D or 4D image, or an array with ImageJ axes (singleton ``C`` / ``S`` axes are
        dropped).
    axes : str
        Axis letters of ``arr`` as returned by :func:`read_tiff` or :func:`apply_axes`;
        ``""``: a 3D array is (Z, Y, X), a 4D one (T, Z, Y, X).
    path : path-like
        Source file, named in error messages.
    claimed : str, optional
        The axes the file's metadata claims, quoted in error messages (default ``axes``).

    Returns
    -------
    (T, Z, Y, X) ndarray
        A view or reshaped copy; T = 1 for a 3D image.

    Raises
    ------
    InputError
        Several channels, no Z axis, or a shape that is neither 3D nor 4D; each message
        names ``--axes`` (and ``--channel``) and what the file claims.
    """
    arr = np.asarray(arr)
    claimed = axes if claimed is None else claimed
    if axes and len(axes) == arr.ndim:
        # Drop singleton channel/sample axes; a real multi-channel image is not a mask.
        for ax, n in zip(axes, arr.shape):
            if ax in "CS" and n != 1:
                raise InputError(
                    f"{path} has {n} channels ({_claim(claimed)}, shape {tuple(arr.shape)}); "
                    f"a mask has one: if these are not channels, give the real axes with "
                    f"--axes (e.g. --axes {_suggest_axes(axes)}), else pick one with "
                    "--channel N")
        arr = arr.reshape([n for ax, n in zip(axes, arr.shape) if ax not in "CS"])
        axes = "".join(ax for ax in axes if ax not in "CS")
        if set(axes) <= set("TZYX") and "Z" not in axes:
            raise InputError(f"{path}: needs a 3D (Z,Y,X) or 3D+t (T,Z,Y,X) image, got shape "
                             f"{tuple(arr.shape)} with axes {axes} (no Z; {_claim(claimed)}); "
                             "if the planes are z-slices, give the real axes with --axes "
                             f"(e.g. --axes {axes.replace('T', 'Z', 1) if 'T' in axes else 'ZYX'})")
        if set(axes) <= set("TZYX") and "Y" in axes and "X" in axes:
            order = [axes.index(a) for a in "TZYX" if a in axes]
            arr = arr.transpose(order)
            return arr[None] if "T" not in axes else arr
    if arr.ndim == 3:
        return arr[None]
    if arr.ndim == 4:
        return arr
    raise InputError(f"{path}: needs a 3D (Z,Y,X) or 3D+t (T,Z,Y,X) image, got shape "
                     f"{tuple(arr.shape)} ({_claim(claimed)}); give the real axes with "
                     "--axes (e.g. --axes TCZYX --channel 0)")
