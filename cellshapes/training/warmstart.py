"""Warm start: a new run's decoder begins from the weights of a trained one.

``TrainConfig.init_decoder`` names the source (a run directory or ``pretrained:NAME``);
:func:`load_decoder` copies its decoder weights into a freshly built model, whose codes
and angles (one per new sequence) keep their new initialisation. Used by ``cellshapes
model --from-pretrained`` and ``cellshapes train --init-decoder``.
"""
from __future__ import annotations

from pathlib import Path

import torch

from cellshapes.config import ModelConfig, from_dict
from cellshapes.errors import InputError
from cellshapes.model import AutoDecoder
from cellshapes.training.checkpoint import load_checkpoint, read_config

__all__ = ["PRETRAINED_PREFIX", "source_run", "source_model_config", "load_decoder"]

#: ``init_decoder`` values with this prefix name a shipped model.
PRETRAINED_PREFIX = "pretrained:"

#: ModelConfig fields that fix the decoder's weights (the rest may differ).
_ARCH_FIELDS = ("arch", "hidden", "layers", "latent_dim", "latent_layers", "coords_every_layer",
                "weight_norm", "output_tanh")


def source_run(init_decoder: str) -> Path:
    """The run directory behind an ``init_decoder`` value.

    Raises
    ------
    InputError
        An unknown shipped model name, or a folder that is not a run.
    """
    if init_decoder.startswith(PRETRAINED_PREFIX):
        from cellshapes import pretrained

        return pretrained.load(init_decoder[len(PRETRAINED_PREFIX):])
    run = Path(init_decoder)
    if not (run / "config.json").is_file():
        raise InputError(f"init_decoder {init_decoder!r} is not a run directory (no "
                         "config.json) nor 'pretrained:NAME'")
    return run


def source_model_config(init_decoder: str) -> ModelConfig:
    """The ModelConfig of the source run (a new run must match its decoder fields)."""
    return from_dict(ModelConfig, read_config(source_run(init_decoder))["model"])


def load_decoder(model: AutoDecoder, init_decoder: str) -> None:
    """Copy the source run's decoder weights into ``model.decoder`` (in place).

    Raises
    ------
    InputError
        The decoders differ in architecture (the differing fields are named).
    """
    source = source_model_config(init_decoder)
    diff = [f"{k} {getattr(source, k)!r} vs {getattr(model.config, k)!r}" for k in _ARCH_FIELDS
            if getattr(source, k) != getattr(model.config, k)]
    if diff:
        raise InputError(f"cannot start from the decoder of {init_decoder}: its model "
                         f"differs ({'; '.join(diff)}); train with its model settings")
    state = load_checkpoint(source_run(init_decoder), map_location="cpu")["model"]
    decoder = {k[len("decoder."):]: v for k, v in state.items() if k.startswith("decoder.")}
    with torch.no_grad():
        model.decoder.load_state_dict(decoder)
