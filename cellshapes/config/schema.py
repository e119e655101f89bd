"""The config dataclasses: model, training, fitting unseen shapes, grid evaluation,
dataset preparation.

Each field is documented in the class docstring's ``Attributes`` section (the command
line's help text), its bounds are :func:`~cellshapes.config.fields.bounded` and its
choices a ``Literal[...]`` annotation; ``__post_init__`` checks both.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from cellshapes.config.fields import (AngleInit, Arch, FitRotationInit, NearSet,
                                      RotationCandidates, StorageDtype, bounded,
                                      check_bounds, check_choices)
from cellshapes.errors import InputError

__all__ = ["ModelConfig", "TrainConfig", "DEEPSDF_DEFAULTS", "FitConfig", "GridOptions",
           "PrepareConfig", "MARGIN"]


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
    angle_init : {"paper", "principal"}
        ``paper``: Euler angles drawn from N(0, angle_init_std^2); ``principal``: each
        sequence starts at the principal axes of its first frame (second moments, axis
        signs by skewness; ``cellshapes.sdf.principal_axes``), so rotated copies of one
        shape start aligned up to the shape's symmetries (set by the trainer from the
        data; not in the paper).
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

    arch: Arch = "siren"
    hidden: int = bounded(128, 1)
    layers: int = bounded(9, 1)
    latent_dim: int = bounded(64, 1)
    omega0: float = 30.0
    latent_layers: tuple[int, ...] = (0, 4, 7)
    coords_every_layer: bool = True
    equivariant: bool = True
    latent_init_std: float = 0.01
    angle_init_std: float = math.pi / 8
    angle_init: AngleInit = "paper"
    dropout: float = bounded(0.0, 0.0, 0.9)
    weight_norm: bool = False
    output_tanh: bool = False

    def __post_init__(self) -> None:
        self.latent_layers = tuple(int(i) for i in self.latent_layers)
        check_choices(self)
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
    plateau_epochs : int
        Stop before ``epochs`` (then a cap) once the best mean epoch loss of the last
        ``plateau_epochs`` epochs is less than ``plateau_tol`` below the best before them
        (:mod:`cellshapes.training.stopping`); the run records it in ``converged.json``.
        0: train exactly ``epochs``.
    plateau_tol : float
        Relative loss improvement that still counts as progress.
    freeze_angles : bool
        Keep the rotation angles of an equivariant model at their start (no gradient
        steps; a ``rotation_search`` may still turn them): the control that shows what
        learning the rotations adds.
    rotation_search : tuple of int
        Epochs before which every sequence's rotation is searched over a finite set of
        candidates and the best kept (:mod:`cellshapes.training.rotation_search`;
        equivariant models only; recorded in the run's ``rotation_search.json``).
        Empty (default): no search.
    rotation_candidates : {"flips", "cube"}
        Candidate set of the search: the 4 proper sign flips of the frame, or the 24
        rotations of the cube.
    rotation_search_points : int
        Points of the fixed sample (each sequence's first frame) that scores the
        candidates: N sequences x K candidates x N codes x this many decoder points.
    init_decoder : str or None
        Start the decoder from the weights of this run directory, or of a shipped model
        given as ``pretrained:NAME`` (:mod:`cellshapes.pretrained`); the codes and angles
        of the new sequences start fresh. The model settings must match that run's.
        None: the usual random initialisation.
    """

    epochs: int = bounded(2000, 1)
    frames_per_batch: int = bounded(5, 1)
    points_per_frame: int = bounded(1_000_000, 1)
    near_fraction: float = bounded(0.7, 0.0, 1.0)
    near_surface_um: float = 0.6
    near_set: NearSet = "paper"
    storage_dtype: StorageDtype = "float32"
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
    plateau_epochs: int = bounded(0, 0)
    plateau_tol: float = bounded(0.01, 0.0, 1.0)
    init_decoder: str | None = None
    freeze_angles: bool = False
    rotation_search: tuple[int, ...] = ()
    rotation_candidates: RotationCandidates = "flips"
    rotation_search_points: int = bounded(128, 1)

    def __post_init__(self) -> None:
        check_choices(self)
        check_bounds(self)

    @property
    def code_weight(self) -> float:
        """Weight of the mean ||z||^2 next to the mean L1 loss (before the warm-up ramp)."""
        if self.code_sigma > 0:
            return 1.0 / (self.code_sigma ** 2 * self.points_per_frame)
        return self.code_reg


@dataclass
class FitConfig:
    """Fitting codes (and rotations) of unseen shapes with the decoder frozen
    (:func:`cellshapes.inference.fit.fit_shapes`, ``cellshapes fit``).

    Attributes
    ----------
    steps : int
        Optimisation steps in total (both phases).
    restarts : int
        Random initial rotations per sequence in the first phase (equivariant models;
        rotations have local minima, Sec 3.6). Restart 0 starts from the identity.
    points : int
        SDF samples per frame per step in the second phase (the first uses a quarter).
    frames_per_step : int
        Frames per step (at least two per sequence are drawn).
    lr : float
        Adam learning rate of the first phase (the second uses half).
    code_reg : float
        Weight of the code regulariser mean ||z||^2.
    near_surface_um : float
        Width of the near-surface band the samples are drawn from [um].
    fit_codes : bool
        False: keep the codes fixed and fit only the rotations (the equivariance check
        of Sec 3.6).
    seed : int
        Seed of the initial codes, rotations and sampling.
    rotation_init : {"random", "principal"}
        ``random``: restart 0 starts from the identity, the others from uniformly random
        rotations. ``principal``: restarts 0-3 start from the principal axes of the
        sequence's first frame turned by the 4 proper sign flips (the start of
        ``angle_init="principal"`` models, issue 33), the others random.
    """

    steps: int = bounded(300, 1)
    restarts: int = bounded(16, 1)
    points: int = bounded(2048, 1)
    frames_per_step: int = bounded(16, 1)
    lr: float = bounded(3e-2, 0.0)
    code_reg: float = bounded(1e-4, 0.0)
    near_surface_um: float = bounded(0.6, 0.0)
    fit_codes: bool = True
    seed: int = 0
    rotation_init: FitRotationInit = "random"

    def __post_init__(self) -> None:
        check_choices(self)
        check_bounds(self)


@dataclass
class GridOptions:
    """How to evaluate a model on a grid (:func:`cellshapes.inference.grid.sdf_grid`,
    narrow band: :mod:`cellshapes.inference.band`).

    Attributes
    ----------
    narrow_band : bool
        Coarse-to-fine evaluation (masks equal dense; SDF far from the surface approximate).
    stride : int
        Coarsest block edge in voxels (a power of two; refined by halving).
    safety : float
        Multiplier of the Lipschitz bound from the data's units (an assumption about the
        network) in the narrow-band slope.
    memory_mb : float
        Activation memory budget per forward pass [MiB].
    check_gradient : bool
        Measure max |grad f| in every coarse block; a block's slope is at least
        ``gradient_margin`` times the largest value measured in it.
    gradient_samples : int
        Random points per coarse block at which the gradient is measured.
    gradient_margin : float
        Multiplier of the measured maximum (a sample maximum underestimates the true one;
        the block check catches what is left).
    check_blocks : bool
        Evaluate two points inside every skipped block; a sign that differs from the
        interpolated one makes that coarse block and its neighbours dense.
    """

    narrow_band: bool = True
    stride: int = bounded(8, 1)
    safety: float = bounded(2.0, 0.0)
    memory_mb: float = bounded(256.0, 0.0)
    check_gradient: bool = True
    gradient_samples: int = bounded(4, 1)
    gradient_margin: float = bounded(1.5, 1.0)
    check_blocks: bool = True

    def __post_init__(self) -> None:
        check_bounds(self)


#: Cube half-side = largest cell half-extent * MARGIN (``PrepareConfig.margin``).
MARGIN = 1.25


@dataclass
class PrepareConfig:
    """How masks become a prepared SDF dataset (:func:`cellshapes.prepare.prepare_dataset`,
    ``cellshapes prepare``).

    Attributes
    ----------
    size : int
        Cube edge S of the prepared grids (the paper: 256).
    spacing : (3,) floats or None
        Voxel size (dz, dy, dx) in um of every input. None: read from the files (they must
        agree), else 1 1 1 with a warning.
    cell_type : str or None
        Cell type name stored as metadata (None: "unknown").
    per_label : bool
        Each label id present in at least half of the frames becomes its own sequence
        (its longest run of consecutive frames); labels touching the volume border are
        skipped (one line says how many) unless keep_border.
    label : int or None
        Use this label id of every mask input.
    align : bool
        Rotate each frame into its principal axes.
    margin : float
        Cube half-side = largest cell extent from its centroid times this.
    keep_border : bool
        With per_label: keep labels touching the volume border, cropped (their SDF treats
        the outside of the volume as background).
    axes : str or None
        The masks' real axes in stored order (TZYX, ZYX, TCZYX ...), overriding the file's
        metadata (often wrong in microscopy TIFFs).
    channel : int or None
        With a channel axis (C): the channel holding the masks (0-based).
    link : bool
        Link label ids over time by overlap first (Hungarian matching on IoU; for
        segmentations numbered anew in every frame); without it per_label warns when ids
        jump between cells.
    """

    size: int = bounded(64, 4)
    spacing: tuple[float, float, float] | None = None
    cell_type: str | None = None
    per_label: bool = False
    label: int | None = None
    align: bool = False
    margin: float = bounded(MARGIN, 1.0)
    keep_border: bool = False
    axes: str | None = None
    channel: int | None = bounded(None, 0)
    link: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or int(self.size) != self.size:
            raise InputError(f"size must be an integer >= 4, got {self.size}")
        self.size = int(self.size)
        if self.spacing is not None:
            self.spacing = tuple(float(x) for x in self.spacing)  # type: ignore[assignment]
        check_bounds(self)
        if self.per_label and self.label is not None:
            raise InputError("use either per_label or label, not both")
