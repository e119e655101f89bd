"""What ``cellshapes model`` is asked to do: :class:`ModelRequest`, stored as the output
folder's ``request.json``; its fields are the command's options
(:mod:`cellshapes.cli.options`)."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from cellshapes.config import PROFILES, bounded, check_bounds
from cellshapes.config.fields import one_of
from cellshapes.errors import InputError

__all__ = ["ModelRequest", "model_request"]


@dataclass(frozen=True)
class ModelRequest:
    """What ``cellshapes model`` was asked to do (stored as ``out/request.json``).

    Attributes
    ----------
    inputs : tuple of str
        Label videos (TIFF (T, Z, Y, X), folders of per-frame TIFFs, ``.npy``).
    spacing : tuple of float or None
        Voxel size (dz, dy, dx) in um; None: from the files.
    profile : str
        Data grid and training settings (:data:`cellshapes.config.PROFILES`). quick, meant
        for real use: a 48^3 grid, up to 100 epochs; the time grows with the cell-frames:
        10 cells x 20 frames take about 30 min on 2 free CPU cores (3 epochs measured on a
        busy 2-core EPYC: 110 s each, ~5x oversubscribed), much less on a GPU; smoke only
        proves the path runs (seconds, a rough model).
    from_pretrained : str or None
        Shipped model whose decoder starts the training (:mod:`cellshapes.pretrained`).
    synthesize : int
        New sequences to generate (0: none).
    ctc : bool
        Export the new sequences as a CTC data set.
    tracks : str or None
        CTC ``man_track.txt`` giving the lineage of the labels (its ids are trusted: no
        linking).
    seed : int
        Seed of training and synthesis.
    axes : str or None
        The label videos' real axes (``TZYX``, ``TCZYX`` ...), overriding file metadata.
    channel : int or None
        The channel holding the labels when the axes have a ``C``.
    link : bool
        Link ids over time by overlap (without ``tracks``); False only warns on jumps.
    keep_border : bool
        Keep cells touching the volume border, cropped (needed for thin stacks).
    scene : int
        Cells per synthesized scene; 0: ``synthesize`` single-cell sequences instead.
    """

    inputs: tuple[str, ...]
    spacing: tuple[float, float, float] | None = None
    profile: str = one_of("quick", PROFILES)
    from_pretrained: str | None = None
    synthesize: int = bounded(0, 0)
    ctc: bool = False
    tracks: str | None = None
    seed: int = 0
    axes: str | None = None
    channel: int | None = bounded(None, 0)
    link: bool = True
    keep_border: bool = False
    scene: int = bounded(0, 0)

    def __post_init__(self) -> None:
        for name in ("synthesize", "scene"):
            v = getattr(self, name)
            if isinstance(v, bool) or int(v) != v:
                raise InputError(f"--{name} must be an integer >= 0, got {v!r}")
        if self.profile not in PROFILES:
            raise InputError(f"unknown profile {self.profile!r}; choose one of "
                             f"{', '.join(PROFILES)}")
        check_bounds(self)
        if self.ctc and not self.synthesize:
            raise InputError("--ctc exports the synthesized sequences; give --synthesize N too")
        if self.scene and not self.synthesize:
            raise InputError("--scene CELLS makes N scenes; give --synthesize N too")


def model_request(inputs: Sequence[str | os.PathLike], request: ModelRequest | None,
             overrides: dict[str, Any]) -> ModelRequest:
    """The request of :func:`~cellshapes.pipeline.build_model`: ``request`` (default
    all defaults) with the non-None ``overrides`` and ``inputs``, in the form stored in
    ``request.json`` (absolute paths, float spacing, upper-case axes).

    Raises
    ------
    InputError
        An override that is not a field, or a value the request refuses.
    """
    names = {f.name for f in dataclasses.fields(ModelRequest)} - {"inputs"}
    unknown = set(overrides) - names
    if unknown:
        raise InputError(f"unknown ModelRequest option(s): {sorted(unknown)}")
    given = {k: getattr(request, k) for k in names} if request else {}
    given.update({k: v for k, v in overrides.items() if v is not None})
    if given.get("spacing"):
        given["spacing"] = tuple(float(v) for v in given["spacing"])
    if given.get("tracks"):
        given["tracks"] = str(Path(given["tracks"]).resolve())
    if given.get("axes"):
        given["axes"] = given["axes"].upper()
    return ModelRequest(tuple(str(Path(p).resolve()) for p in inputs), **given)
