"""Configuration dataclasses and the named profiles ``smoke``, ``quick`` and ``paper``.

One profile runs the same code at three scales (see DESIGN.md): ``smoke`` proves a path
runs in seconds, ``quick`` reproduces the direction of each claim on a laptop CPU in
minutes, ``paper`` uses the paper's settings on a GPU. Explicit arguments override the
profile: ``train_config("quick", epochs=50)``.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any, Mapping, TypeVar

from .errors import DatasetFormatError, InputError

__all__ = [
    "ModelConfig",
    "TrainConfig",
    "PROFILES",
    "model_config",
    "train_config",
    "data_defaults",
    "PROFILE_SEEDS",
    "profile_seeds",
    "profile_entry",
    "config_from",
    "bounded",
    "check_bounds",
    "bound_error",
    "to_dict",
    "from_dict",
    "check_keys",
    "LEGACY_KEYS",
    "UnknownConfigKeyError",
]


def bounded(default: Any, low: float | None = None, high: float | None = None) -> Any:
    """A dataclass field with inclusive bounds, checked by :func:`check_bounds`.

    The bounds live in the field's metadata (``"min"``, ``"max"``), so the config's
    ``__post_init__`` and the command line (:mod:`cellshapes.cliconfig`) check the same
    rule and a bad ``--option`` is refused before any work starts.

    Parameters
    ----------
    default : any
        The field's default value.
    low, high : float, optional
        Smallest and largest allowed value (inclusive); None means unbounded.
    """
    return field(default=default, metadata={"min": low, "max": high})


def bound_error(name: str, value: Any, low: float | None, high: float | None) -> str | None:
    """Why ``value`` breaks the bounds ``low..high`` of field ``name``; None if it does not."""
    if low is not None and high is not None and not low <= value <= high:
        return f"{name} must lie in [{low}, {high}], got {value}"
    if low is not None and value < low:
        return f"{name} must be >= {low}, got {value}"
    if high is not None and value > high:
        return f"{name} must be <= {high}, got {value}"
    return None


def check_bounds(obj: Any) -> None:
    """Raise :class:`InputError` for the first field of ``obj`` outside its bounds.

    The bounds are those of :func:`bounded` fields; other fields are not checked.
    """
    for f in dataclasses.fields(obj):
        msg = bound_error(f.name, getattr(obj, f.name), f.metadata.get("min"),
                          f.metadata.get("max"))
        if msg:
            raise InputError(msg)


@dataclass
class ModelConfig:
    """Architecture of the decoder f(x, t, z) and its per-sequence parameters.

    Attributes
    ----------
    arch : {"siren", "deepsdf"}
        ``siren``: the paper's sine MLP; ``deepsdf``: the ReLU baseline of Sec 5.7.
    hidden : int
        Width of every hidden layer (paper: 128; DeepSDF baseline: 512).
    layers : int
        Number of hidden layers (paper: 9; DeepSDF baseline: 8).
    latent_dim : int
        Size of the per-sequence latent code z (paper: 64; DeepSDF baseline: 256).
    omega0 : float
        Angular frequency w0 of the sine activations sin(w0 (Wx + b)) (paper: 30).
    latent_layers : tuple of int
        0-based hidden layers whose input receives z again (paper: input, 5th and 8th
        hidden layer, i.e. ``(0, 4, 7)``). Layer 0 always sees z.
    coords_every_layer : bool
        Concatenate (x, y, z, t) to the input of every hidden layer (paper: True).
    equivariant : bool
        Learn per-sequence Euler angles; the decoder sees R^T x (Sec 3.5).
    latent_init_std : float
        Standard deviation of the N(0, std^2) initialisation of the codes (paper: 0.01).
    angle_init_std : float
        Standard deviation of the Euler-angle initialisation [rad] (paper: pi/8).
    dropout : float
        ``deepsdf`` only: probability of dropping a hidden unit after each ReLU while
        training (DeepSDF, Park et al. 2019: 0.2; no dropout in eval mode). The field
        default 0 keeps runs written before this field existed as they were trained.
    weight_norm : bool
        ``deepsdf`` only: weight normalisation W = g v / ||v|| (per output unit) on every
        hidden layer, as DeepSDF (its output layer has none). Default False (older runs).
    output_tanh : bool
        ``deepsdf`` only: tanh on the output, as DeepSDF, which bounds the SDF to (-1, 1)
        in cube units (the cube is [-1, 1]^3). Default False (older runs).

    Notes
    -----
    New DeepSDF runs get dropout 0.2, weight normalisation and tanh from
    :data:`DEEPSDF_DEFAULTS` (``model_config(arch="deepsdf")``); a ``config.json`` of an
    older DeepSDF run lacks these keys and loads with the field defaults, i.e. the plain
    ReLU decoder it was trained as. The SIREN decoder refuses all three.
    """

    arch: str = "siren"
    hidden: int = bounded(128, 1)
    layers: int = bounded(9, 1)
    latent_dim: int = bounded(64, 1)
    omega0: float = 30.0
    latent_layers: tuple[int, ...] = (0, 4, 7)
    coords_every_layer: bool = True
    equivariant: bool = True
    latent_init_std: float = 0.01
    angle_init_std: float = math.pi / 8
    dropout: float = bounded(0.0, 0.0, 0.9)
    weight_norm: bool = False
    output_tanh: bool = False

    def __post_init__(self) -> None:
        self.latent_layers = tuple(int(i) for i in self.latent_layers)
        if self.arch not in ("siren", "deepsdf"):
            raise InputError(f"arch must be 'siren' or 'deepsdf', got {self.arch!r}")
        check_bounds(self)
        extras = [k for k in ("dropout", "weight_norm", "output_tanh") if getattr(self, k)]
        if self.arch == "siren" and extras:
            raise InputError(f"{', '.join(extras)} belong(s) to the DeepSDF baseline only "
                             "(arch='deepsdf'); the SIREN decoder has none")
        if any(not 0 <= i < self.layers for i in self.latent_layers):
            raise InputError(f"latent_layers {self.latent_layers} outside 0..{self.layers - 1}")
        if self.omega0 <= 0:
            raise InputError(f"omega0 must be positive, got {self.omega0}")


#: The DeepSDF baseline of Sec 5.7: ReLU, 8 layers of 512, latent 256 injected at layer 4
#: (with the coordinates, DeepSDF's skip connection), weight normalisation on the hidden
#: layers, dropout 0.2 after each hidden ReLU in training, tanh on the output
#: (Park et al. 2019, and their reference decoder).
DEEPSDF_DEFAULTS: dict[str, Any] = dict(
    arch="deepsdf", hidden=512, layers=8, latent_dim=256, latent_layers=(0, 4),
    coords_every_layer=False, dropout=0.2, weight_norm=True, output_tanh=True,
)


@dataclass
class TrainConfig:
    """Training and sampling settings (Sec 5, "Training parameters", "SDF sampling").

    Attributes
    ----------
    epochs : int
        Passes over all training frames (paper: 2000).
    frames_per_batch : int
        Frames per optimisation step, drawn with repetition (paper: 5).
    points_per_frame : int
        SDF samples drawn per frame per step (paper: 1,000,000).
    near_fraction : float
        Fraction of the samples of a frame drawn from its near set (``near_set``) (0.7).
    near_surface_um : float
        Width of the near-surface band [um] (paper: 0.6; at least 1.5 voxels is used).
    near_set : {"paper", "band"}
        Voxels the near samples come from. ``paper``: sdf <= band, the whole cell interior
        included, as in Sec 4.5 of the paper; ``band``: |sdf| <= band, a shell around the
        surface without the deep interior (this project's earlier sampler; runs written
        before this option existed resume with it).
    storage_dtype : {"float32", "float16"}
        dtype of the SDF volumes held on the training device. float16 halves the
        dataset's memory (paper scale: 33 GB instead of 66 GB) at a rounding error of
        about 5e-4 relative; targets are interpolated in float32.
    lr : float
        Adam learning rate of the decoder weights (paper: 1e-4).
    lr_latent : float
        Learning rate of the latent codes and rotation angles (reference code: 1e-3).
    lr_step : int
        Epochs between learning-rate halvings (paper: 350).
    lr_gamma : float
        Factor applied every ``lr_step`` epochs (paper: 0.5).
    code_reg : float
        Weight lambda of the code regulariser lambda * ||z||^2 (DeepSDF / reference: 1e-4),
        ramped in linearly over ``code_reg_warmup`` epochs.
    code_reg_warmup : int
        Epochs of the linear ramp of the code regulariser (reference code: 100).
    code_sigma : float
        If > 0, the paper's regulariser (1/sigma^2) ||z||^2 (Eq. 3, sigma the standard
        deviation of the code prior) replaces ``code_reg``. The paper adds it to the L1
        norm over a frame's samples (Eq. 2), a sum; our reconstruction term is the mean
        over points, so the weight becomes 1 / (sigma^2 * points_per_frame)
        (:attr:`code_weight`). 0 (default): ``code_reg`` is used.
    frames_every : int
        Train only on every k-th frame (1 = all frames; Sec 5.4 uses 4).
    amp : bool
        bfloat16 mixed precision (:class:`cellshapes.model.Decoder`): the hidden
        matmuls in bfloat16, everything else float32. On CUDA and on CPUs with native
        bfloat16 (AVX512-BF16 or AMX) it is several times faster; elsewhere it is
        emulated and slower (``cellshapes train`` warns).
    compile : bool
        Try ``torch.compile`` on the decoder; falls back to eager with a warning.
    checkpoint_every : int
        Epochs between checkpoints (``latest.pt`` is written at every such epoch).
    keep_checkpoints : int
        Numbered ``epoch_NNNN.pt`` files kept besides ``latest.pt``.
    seed : int
        Seed of every random number generator (weights, codes, sampling).
    """

    epochs: int = bounded(2000, 1)
    frames_per_batch: int = bounded(5, 1)
    points_per_frame: int = bounded(1_000_000, 1)
    near_fraction: float = bounded(0.7, 0.0, 1.0)
    near_surface_um: float = 0.6
    near_set: str = "paper"
    storage_dtype: str = "float32"
    lr: float = 1e-4
    lr_latent: float = 1e-3
    lr_step: int = bounded(350, 1)
    lr_gamma: float = 0.5
    code_reg: float = 1e-4
    code_reg_warmup: int = 100
    code_sigma: float = bounded(0.0, 0.0)
    frames_every: int = bounded(1, 1)
    amp: bool = False
    compile: bool = False
    checkpoint_every: int = bounded(1, 1)
    keep_checkpoints: int = 2
    seed: int = 0

    def __post_init__(self) -> None:
        check_bounds(self)
        if self.near_set not in ("paper", "band"):
            raise InputError(f"near_set must be 'paper' or 'band', got {self.near_set!r}")
        if self.storage_dtype not in ("float32", "float16"):
            raise InputError("storage_dtype must be 'float32' or 'float16', got "
                             f"{self.storage_dtype!r}")

    @property
    def code_weight(self) -> float:
        """Weight of the mean ||z||^2 next to the mean L1 loss (before the warm-up ramp)."""
        if self.code_sigma > 0:
            return 1.0 / (self.code_sigma ** 2 * self.points_per_frame)
        return self.code_reg


#: Named profiles: overrides of :class:`TrainConfig` and :class:`ModelConfig`, plus the
#: grid size and phantom counts the notebooks use. Sized from the measured CPU speed
#: (~30k training points/s on 2 threads): a smoke run is a few seconds, quick minutes.
#: ``smoke`` and ``quick`` keep the |sdf| band as near set (``near_set="band"``): their
#: results stay what they were, and with the paper's rule the test suite's 150-epoch smoke
#: model fell below its DSC 0.9 bar (0.899, one run); ``paper`` follows Sec 4.5.
PROFILES: dict[str, dict[str, dict[str, Any]]] = {
    "smoke": {
        "train": dict(epochs=20, frames_per_batch=4, points_per_frame=2048, lr=1e-4 * 10,
                      lr_latent=1e-2, lr_step=1000, code_reg_warmup=5, checkpoint_every=5,
                      near_set="band"),
        "model": dict(hidden=64, layers=5, latent_dim=16, latent_layers=(0, 3)),
        "data": dict(size=24, sequences=2, frames=4),
    },
    "quick": {
        "train": dict(epochs=100, frames_per_batch=5, points_per_frame=2048, lr=5e-4,
                      lr_latent=5e-3, lr_step=50, code_reg_warmup=20, checkpoint_every=10,
                      near_set="band"),
        "model": dict(hidden=128, layers=9, latent_dim=64),
        "data": dict(size=48, sequences=8, frames=10),
    },
    "study": {
        "train": dict(epochs=100, frames_per_batch=5, points_per_frame=4096, lr=5e-4,
                      lr_latent=5e-3, lr_step=50, code_reg_warmup=20, checkpoint_every=25,
                      amp=True),
        "model": dict(hidden=128, layers=9, latent_dim=64),
        "data": dict(size=64, sequences=6, frames=8),
    },
    "paper": {
        "train": dict(epochs=2000, frames_per_batch=5, points_per_frame=1_000_000, lr=1e-4,
                      lr_step=350, checkpoint_every=20, amp=True, compile=True,
                      storage_dtype="float16", code_sigma=1e-3, code_reg_warmup=0),
        "model": dict(),
        "data": dict(size=256, sequences=33, frames=30),
    },
}


T = TypeVar("T")


def profile_entry(profiles: Mapping[str, T], name: str) -> T:
    """``profiles[name]``, or an :class:`InputError` naming the profiles there are.

    Parameters
    ----------
    profiles : mapping
        Profile name -> settings (:data:`PROFILES`, ``synthesis.texture.TEXTURE_PROFILES``).
    name : str
        Requested profile.
    """
    if name not in profiles:
        raise InputError(f"unknown profile {name!r}; choose one of {sorted(profiles)}")
    return profiles[name]


def config_from(cls: type[T], base: Mapping[str, Any], overrides: Mapping[str, Any]) -> T:
    """A config dataclass from profile values ``base`` and ``overrides``.

    Overrides that are None mean "the profile's value" (so an unset command-line option
    changes nothing); a name that is not a field of ``cls`` is an :class:`InputError`.
    """
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(overrides) - names
    if unknown:
        raise InputError(f"unknown {cls.__name__} option(s): {sorted(unknown)}")
    return cls(**{**base, **{k: v for k, v in overrides.items() if v is not None}})


def train_config(profile: str = "paper", **overrides: Any) -> TrainConfig:
    """Build a :class:`TrainConfig` from a profile; non-None ``overrides`` win."""
    return config_from(TrainConfig, profile_entry(PROFILES, profile)["train"], overrides)


def model_config(profile: str = "paper", **overrides: Any) -> ModelConfig:
    """Build a :class:`ModelConfig` from a profile; non-None ``overrides`` win.

    ``arch="deepsdf"`` starts from the DeepSDF baseline (ReLU, 8 x 512, latent 256).
    """
    base = profile_entry(PROFILES, profile)["model"]
    if overrides.get("arch") == "deepsdf":
        base = DEEPSDF_DEFAULTS
    return config_from(ModelConfig, base, overrides)


#: Training seeds every compared arm of a notebook runs with, per profile. The verdict rule
#: (:mod:`cellshapes.repro.stats`) needs at least 3; smoke and quick run one (their
#: verdicts are always "not settled").
PROFILE_SEEDS: dict[str, tuple[int, ...]] = {
    "smoke": (0,), "quick": (0,), "study": (0, 1, 2), "paper": (0, 1, 2)}


def profile_seeds(profile: str) -> list[int]:
    """The training seeds of ``profile`` (:data:`PROFILE_SEEDS`)."""
    return list(profile_entry(PROFILE_SEEDS, profile))


def data_defaults(profile: str) -> dict[str, Any]:
    """Grid size, sequence and frame counts of a profile's phantom data.

    Returns
    -------
    dict
        ``size`` (cube edge in voxels), ``sequences`` and ``frames`` (counts).
    """
    return dict(profile_entry(PROFILES, profile)["data"])


def to_dict(obj: Any) -> dict[str, Any]:
    """A JSON-serialisable dict of a config dataclass."""
    return json.loads(json.dumps(dataclasses.asdict(obj)))


class UnknownConfigKeyError(InputError, DatasetFormatError):
    """A settings dict (e.g. a run's ``config.json``) holds a key that is not a field.

    Attributes
    ----------
    keys : list of str
        The unknown keys.
    """

    def __init__(self, message: str, keys: list[str]) -> None:
        super().__init__(message)
        self.keys = keys


#: Keys that configs written by earlier cellshapes versions hold and this version reads
#: differently, per config class: ``{class name: {old key: new key, or None to ignore}}``.
#: Empty so far: no field of ModelConfig, TrainConfig or TextureConfig has been removed or
#: renamed since the first release (``git log -p -- cellshapes/config.py
#: cellshapes/synthesis/texture.py``), and the shipped runs in ``cellshapes/pretrained``
#: hold only current fields. A field that is removed or renamed gets an entry here, so
#: older runs keep loading while any other unknown key is refused.
LEGACY_KEYS: dict[str, dict[str, str | None]] = {}


def check_keys(cls: type, data: Mapping[str, Any], where: str | None = None) -> dict[str, Any]:
    """``data`` with legacy keys mapped (:data:`LEGACY_KEYS`); refuse any other unknown key.

    Parameters
    ----------
    cls : dataclass type
        The config class whose fields ``data`` holds.
    data : mapping
        Field name -> value, e.g. the ``model`` section of a run's ``config.json``.
    where : str, optional
        Where ``data`` comes from, for the message (default: the class name).

    Returns
    -------
    dict
        The known fields of ``data``; a legacy key is renamed, or dropped if it maps to
        None or its new name is also present.

    Raises
    ------
    UnknownConfigKeyError
        ``data`` holds a key that is neither a field of ``cls`` nor a legacy key.
    """
    names = {f.name for f in dataclasses.fields(cls)}
    legacy = LEGACY_KEYS.get(cls.__name__, {})
    unknown = sorted(k for k in data if k not in names and k not in legacy)
    if unknown:
        what = "key" if len(unknown) == 1 else "keys"
        raise UnknownConfigKeyError(
            f"unknown {what} {', '.join(map(repr, unknown))} in {where or cls.__name__}: not "
            f"{'a field' if len(unknown) == 1 else 'fields'} of {cls.__name__} (written by "
            "another cellshapes version, or edited by hand?)", unknown)
    known = {k: v for k, v in data.items() if k in names}
    for old, new in legacy.items():
        if old in data and new is not None and new not in known:
            known[new] = data[old]
    return known


def from_dict(cls: type, data: Mapping[str, Any], where: str | None = None) -> Any:
    """Rebuild a config dataclass from :func:`to_dict` output.

    Legacy keys of older versions are mapped or ignored (:data:`LEGACY_KEYS`); any other
    key that is not a field is refused, so a typo in a hand-edited ``config.json`` is
    never silently dropped.

    Parameters
    ----------
    cls : dataclass type
    data : mapping
        Field name -> value; missing fields take their defaults.
    where : str, optional
        Where ``data`` comes from, named in the error message.

    Raises
    ------
    UnknownConfigKeyError
        A key of ``data`` is not a field of ``cls`` (:func:`check_keys`).
    InputError
        A value is out of its field's bounds.
    """
    return cls(**check_keys(cls, data, where))
