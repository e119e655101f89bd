"""Small pretrained runs shipped inside the package (each under 1 MB).

Each model lives in ``cellshapes/pretrained/<name>/`` as a run directory
(``config.json``, ``checkpoints/latest.pt`` with the model weights only) plus
``model.json``: the SHA-256 of the checkpoint, and the command, profile and seed that made
it. :func:`load` checks the checksum and returns the run directory, which every
``cellshapes`` function that takes a run accepts.

Example
-------
>>> from cellshapes import pretrained
>>> pretrained.available()                              # doctest: +SKIP
>>> run = pretrained.load("growing_study")              # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from cellshapes.errors import CheckpointError, InputError

__all__ = ["available", "load", "load_pretrained", "export", "phantom_record", "train_settings", "ROOT"]

ROOT = Path(__file__).resolve().parent


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def available() -> dict[str, dict[str, Any]]:
    """Registered models: name -> the content of its ``model.json``."""
    out = {}
    for meta in sorted(ROOT.glob("*/model.json")):
        out[meta.parent.name] = json.loads(meta.read_text())
    return out


def load(name: str) -> Path:
    """Run directory of pretrained model ``name``, after checking its checksum.

    Raises
    ------
    InputError
        Unknown name (the message lists the available ones).
    CheckpointError
        The checkpoint does not match its recorded SHA-256.
    """
    models = available()
    if name not in models:
        raise InputError(f"no pretrained model {name!r}; available: {sorted(models)}")
    run = ROOT / name
    ckpt = run / "checkpoints" / "latest.pt"
    if _sha256(ckpt) != models[name]["sha256"]:
        raise CheckpointError(f"pretrained model {name!r} failed its checksum; reinstall "
                              "cellshapes")
    return run


#: ``cellshapes.load_pretrained``: the name :func:`load` has in the package namespace.
load_pretrained = load


def train_settings(name: str) -> dict[str, Any]:
    """The training configuration (``TrainConfig`` as a dict) model ``name`` was made with.

    Raises
    ------
    InputError
        Unknown name (the message lists the available ones).
    """
    models = available()
    if name not in models:
        raise InputError(f"no pretrained model {name!r}; available: {sorted(models)}")
    return dict(json.loads((ROOT / name / "config.json").read_text())["train"])


def phantom_record(config: dict[str, Any]) -> dict[str, Any] | None:
    """Generator version, kind and seed of the phantoms a run was trained on.

    Read from the ``phantoms.json`` that :func:`cellshapes.phantoms.write_phantoms` put next
    to the label images the run's dataset was prepared from (``config["data"]["attrs"]``).

    Returns
    -------
    dict or None
        ``generator_version``, ``kind``, ``seed``, ``frames``, ``size``; None when the run
        was not trained on phantoms (or their folder is gone).
    """
    attrs = config.get("data", {}).get("attrs") or [{}]
    source = attrs[0].get("source")
    if not source:
        return None
    meta = Path(source).parent / "phantoms.json"
    if not meta.is_file():
        return None
    rec = json.loads(meta.read_text())
    return {k: rec.get(k) for k in ("generator_version", "kind", "seed", "frames", "size")}


def export(run: str | os.PathLike, name: str, description: str, command: str,
           root: str | os.PathLike | None = None) -> Path:
    """Copy a finished run into the registry, keeping only the model weights.

    Parameters
    ----------
    run : path
        A trained run directory.
    name : str
        Registry name (a folder name).
    description, command : str
        What the model is and the exact command/notebook call that made it.
    root : path, optional
        Registry folder (default: the package's).
    """
    import torch

    from cellshapes.training.checkpoint import load_checkpoint, read_config

    root = Path(root) if root is not None else ROOT
    dest = root / name
    config = read_config(run)
    state = load_checkpoint(run)
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "checkpoints").mkdir(parents=True)
    slim = {"epoch": int(state["epoch"]), "model": state["model"]}
    torch.save(slim, dest / "checkpoints" / "latest.pt")
    phantoms = phantom_record(config)
    config = {**config, "command": command, "phantoms": phantoms}
    (dest / "config.json").write_text(json.dumps(config, indent=1, sort_keys=True))
    meta = {"description": description, "command": command,
            "profile": config.get("profile"), "seed": config["train"]["seed"],
            "epochs": int(state["epoch"]), "phantoms": phantoms,
            "sha256": _sha256(dest / "checkpoints" / "latest.pt"),
            "size_bytes": (dest / "checkpoints" / "latest.pt").stat().st_size}
    (dest / "model.json").write_text(json.dumps(meta, indent=1))
    return dest
