"""The decoder f(x, t, z), its DeepSDF baseline, rotations and the auto-decoder.

The SIREN decoder follows Sec 3.4 of the paper: ``layers`` hidden layers of width
``hidden`` with activations sin(w0 (W h + b)), SIREN initialisation, the latent code at
the input and again at the hidden layers in ``latent_layers``, and (x, y, z, t)
concatenated to the input of every hidden layer.

Implementation note (fused concatenation)
-----------------------------------------
Within one frame, t and z are the same for every point. A layer's pre-activation
``W [h; x; t; z] + b`` is therefore computed as ``W_h h + W_x x + (W_t t + W_z z + b)``
where the bracket is one vector per frame. This is exactly the concatenated layer (the
weights are stored as one matrix, so parameter count, initialisation and state dict equal
the concatenated form) but never materialises the (N, 196) concatenation and saves the
t/z part of the matmul for every point. The per-point part is one batched GEMM over
[h; x] with the per-frame bias added inside it, and for SIREN w0 is folded into the
weights: sin(w0 (W v + b)) = sin((w0 W) v + w0 b) (``cellshapes bench`` times this).

Implementation note (mixed precision)
-------------------------------------
Under ``torch.autocast`` (``TrainConfig.amp``) only the hidden-to-hidden products W_h h
run in bfloat16: h and W_h are rounded to bfloat16 and the product comes back as a
bfloat16 tensor, which is then added in float32 to the float32 rest of the
pre-activation; see :meth:`Decoder.forward` for which tensor has which dtype. On a CPU
with AVX512-BF16 this makes a training step about 2x faster than float32 at the same
accuracy (``benchmarks/``).
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from cellshapes.config import ModelConfig

__all__ = [
    "euler_to_matrix",
    "matrix_to_euler",
    "Decoder",
    "AutoDecoder",
    "count_parameters",
]


def euler_to_matrix(angles: Tensor) -> Tensor:
    """Rotation matrices from Euler angles, R = R_0(a) R_1(b) R_2(g).

    Parameters
    ----------
    angles : (..., 3) tensor
        Angles (a, b, g) in radians about the first, second and third coordinate axis
        (intrinsic "XYZ" convention of the reference code).

    Returns
    -------
    (..., 3, 3) tensor
        Orthonormal matrices with determinant 1.
    """
    a, b, g = angles.unbind(-1)
    one, zero = torch.ones_like(a), torch.zeros_like(a)
    ca, sa, cb, sb, cg, sg = a.cos(), a.sin(), b.cos(), b.sin(), g.cos(), g.sin()
    r0 = torch.stack([one, zero, zero, zero, ca, -sa, zero, sa, ca], -1)
    r1 = torch.stack([cb, zero, sb, zero, one, zero, -sb, zero, cb], -1)
    r2 = torch.stack([cg, -sg, zero, sg, cg, zero, zero, zero, one], -1)
    shape = angles.shape[:-1] + (3, 3)
    return r0.reshape(shape) @ r1.reshape(shape) @ r2.reshape(shape)


def matrix_to_euler(matrix: Tensor) -> Tensor:
    """Inverse of :func:`euler_to_matrix` (angles (..., 3) in radians)."""
    m = matrix
    b = torch.asin(m[..., 0, 2].clamp(-1.0, 1.0))
    a = torch.atan2(-m[..., 1, 2], m[..., 2, 2])
    g = torch.atan2(-m[..., 0, 1], m[..., 0, 0])
    return torch.stack([a, b, g], -1)


def _autocast_dtype(device_type: str) -> torch.dtype | None:
    """The low-precision dtype of an enclosing ``torch.autocast``, or None."""
    if not torch.is_autocast_enabled(device_type):
        return None
    return torch.get_autocast_dtype(device_type)


class _SineKeepCos(torch.autograd.Function):
    """sin(pre) whose backward uses cos(pre) saved in a low-precision dtype.

    Forward: (..., n) float32 pre-activation -> float32 sin(pre); cos(pre) is computed
    alongside and saved as ``low`` (2 bytes per value instead of recomputing it from the
    4-byte pre-activation in backward). Backward: grad * cos(pre), a relative error of
    about 2^-9 from the rounding of the cosine (bfloat16).
    """

    @staticmethod
    def forward(ctx: Any, pre: Tensor, low: torch.dtype) -> Tensor:
        ctx.save_for_backward(torch.cos(pre).to(low))
        return torch.sin(pre)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        (cos,) = ctx.saved_tensors
        return grad * cos, None


class _Layer(nn.Module):
    """One hidden layer with split inputs [h; x; t; z] and a single weight matrix."""

    def __init__(self, n_h: int, n_x: int, n_t: int, n_z: int, n_out: int) -> None:
        super().__init__()
        self.split = (n_h, n_x, n_t, n_z)
        self.linear = nn.Linear(n_h + n_x + n_t + n_z, n_out)

    @property
    def fan_in(self) -> int:
        return self.linear.in_features

    def frame_bias(self, t: Tensor, z: Tensor, scale: float = 1.0) -> Tensor:
        """Per-frame part scale (W_t t + W_z z + b): t (B, 1), z (B, D) -> (B, n_out)."""
        n_h, n_x, n_t, n_z = self.split
        w, out = self.linear.weight, self.linear.bias
        out = out.expand(t.shape[0], -1)
        if n_t:
            out = out + t @ w[:, n_h + n_x : n_h + n_x + n_t].T
        if n_z:
            out = out + z @ w[:, n_h + n_x + n_t :].T
        return out * scale if scale != 1.0 else out

    def forward(self, h: Tensor | None, x: Tensor, bias: Tensor, scale: float = 1.0,
                low: torch.dtype | None = None) -> Tensor:
        """scale (W_h h + W_x x) + bias: h (B, P, n_h) or None, x (B, P, 3), bias (B, n_out).

        One batched GEMM over [h; x] with the bias added inside it (``baddbmm``) and the
        scale folded into the (small) weight matrix: fewer passes over the (B, P, n_out)
        activations than separate matmuls, adds and a multiply.

        With ``low`` (e.g. ``torch.bfloat16``) only the hidden-to-hidden product runs in
        that dtype: h and scale W_h are cast to ``low`` and ``matmul`` returns W_h h as a
        ``low`` (B, P, n_out) tensor (accumulated in float32 inside the kernel, rounded
        to ``low`` on output). The coordinate term scale W_x x and ``bias`` are float32,
        and so is their sum with the product: the returned pre-activation is a float32
        tensor whose W_h h part has ``low`` precision (see :meth:`Decoder.forward`).
        """
        n_h, n_x = self.split[:2]
        w = self.linear.weight[:, : n_h + n_x]
        if scale != 1.0:
            w = w * scale
        if low is not None:
            return self._mixed(h, x, bias, w, low)
        if h is None:
            inp = x
        else:
            inp = torch.cat([h, x], -1) if n_x else h
        return torch.baddbmm(bias.unsqueeze(1), inp, w.T.expand(inp.shape[0], -1, -1))

    def _mixed(self, h: Tensor | None, x: Tensor, bias: Tensor, w: Tensor,
               low: torch.dtype) -> Tensor:
        n_h, n_x = self.split[:2]
        pre = bias.unsqueeze(1)
        if n_x:
            pre = torch.baddbmm(pre, x, w[:, n_h:].T.expand(x.shape[0], -1, -1))
        if h is not None:
            pre = pre + torch.matmul(h.to(low), w[:, :n_h].to(low).T)
        return pre


class Decoder(nn.Module):
    """The SDF decoder f(x, t, z) (SIREN, Sec 3.4) or its ReLU DeepSDF baseline (Sec 5.7).

    Parameters
    ----------
    config : ModelConfig
        Architecture. ``arch="siren"`` uses sine activations with SIREN initialisation,
        ``arch="deepsdf"`` ReLU with PyTorch's default initialisation and, as set in the
        config (all on for new DeepSDF runs, :data:`cellshapes.config.DEEPSDF_DEFAULTS`):
        weight normalisation of every hidden layer (``torch.nn.utils.parametrizations
        .weight_norm``, so the fused layers read the normalised weight), dropout after
        each hidden ReLU in training mode only, and tanh on the output.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        layers = []
        for i in range(c.layers):
            n_h = 0 if i == 0 else c.hidden
            coords = i == 0 or c.coords_every_layer or i in c.latent_layers
            n_z = c.latent_dim if (i == 0 or i in c.latent_layers) else 0
            layers.append(_Layer(n_h, 3 if coords else 0, 1 if coords else 0, n_z, c.hidden))
        self.layers = nn.ModuleList(layers)
        self.out = nn.Linear(c.hidden, 1)
        if c.arch == "siren":
            self._siren_init()
        elif c.weight_norm:  # g = ||v|| at the start: the same initial weights as without
            for layer in self.layers:
                nn.utils.parametrizations.weight_norm(layer.linear, "weight", dim=0)

    @torch.no_grad()
    def _siren_init(self) -> None:
        w0 = self.config.omega0
        for i, layer in enumerate(self.layers):
            n = layer.fan_in
            bound = 1.0 / n if i == 0 else math.sqrt(6.0 / n) / w0
            layer.linear.weight.uniform_(-bound, bound)
        n = self.out.in_features
        self.out.weight.uniform_(-math.sqrt(6.0 / n) / w0, math.sqrt(6.0 / n) / w0)

    def forward(self, x: Tensor, t: Tensor, z: Tensor) -> Tensor:
        """Evaluate the SDF.

        Parameters
        ----------
        x : (B, P, 3) tensor
            Points in the decoder's frame (already rotated by R^T), coordinates in [-1, 1].
        t : (B,) tensor
            Time of each of the B frames, in [-1, 1].
        z : (B, D) tensor
            Latent code of each frame's sequence.

        Returns
        -------
        (B, P) tensor
            Predicted signed distance (dataset SDF units), float32.

        Notes
        -----
        Mixed precision: inside ``torch.autocast`` with bfloat16, in each hidden layer
        after the first:

        - bfloat16: the layer input h (the previous sine's output) and w0 W_h, both
          rounded to bfloat16, and their product w0 W_h h, which ``matmul`` accumulates
          in float32 and returns as a bfloat16 (B, P, hidden) tensor. These products are
          nearly all of the FLOPs. Their backward pass also runs in bfloat16.
        - float32: the points x and the term w0 W_x x, t, z, the per-frame bias
          w0 (W_t t + W_z z + b), the sum of these with the bfloat16 product (the
          pre-activation is a float32 tensor), the sine, the output layer and the
          returned SDF; the first layer (no h) entirely; the parameters, their
          gradients and (in training) the optimiser state.

        So the sub-voxel position of a point is never rounded, and sin is evaluated on
        a float32 argument whose W_h h part carries bfloat16 rounding: a relative error
        of about 2^-9 of |w0 W_h h| (about 0.01 rad where pre-activations reach 6 rad at
        initialisation). Plain autocast would also round x, the bias and the whole
        pre-activation to bfloat16.

        The backward pass of each sine multiplies by cos(pre) computed in the forward
        pass and kept in bfloat16 (:class:`_SineKeepCos`), like the bfloat16 products
        of the backward pass, instead of recomputing the cosine from the saved float32
        pre-activation: one transcendental pass instead of two per layer in backward.
        This made the compiled bf16 step 1.36x faster on an Intel Xeon with AMX-BF16
        (``cellshapes bench``, ``benchmarks/RESULTS.md``).
        """
        low = _autocast_dtype(x.device.type)
        if low is None:
            return self._forward(x, t, z, None)
        with torch.autocast(x.device.type, enabled=False):
            return self._forward(x.float(), t.float(), z.float(), low)

    def _forward(self, x: Tensor, t: Tensor, z: Tensor, low: torch.dtype | None) -> Tensor:
        t = t.reshape(-1, 1).to(x.dtype)
        z = z.to(x.dtype)
        siren = self.config.arch == "siren"
        scale = self.config.omega0 if siren else 1.0  # sin(w0 v) = sin((w0 W) [h; x] + w0 b')
        drop = self.config.dropout if self.training else 0.0
        h = None
        for layer in self.layers:
            pre = layer(h, x, layer.frame_bias(t, z, scale), scale, low)
            if not siren:
                h = torch.relu(pre)
            else:
                h = torch.sin(pre) if low is None else _SineKeepCos.apply(pre, low)
            if drop:
                h = nn.functional.dropout(h, drop, training=True)
        out = self.out(h).squeeze(-1)
        return torch.tanh(out) if self.config.output_tanh else out


class AutoDecoder(nn.Module):
    """Decoder plus one latent code and (optionally) one rotation per training sequence.

    Parameters
    ----------
    config : ModelConfig
        Architecture and initialisation of codes and angles.
    n_sequences : int
        Number of latent codes (training sequences).
    generator : torch.Generator, optional
        Source of randomness for the code and angle initialisation.
    """

    def __init__(self, config: ModelConfig, n_sequences: int,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.config = config
        self.decoder = Decoder(config)
        codes = torch.randn(n_sequences, config.latent_dim, generator=generator)
        self.codes = nn.Parameter(codes * config.latent_init_std)
        if config.equivariant:
            angles = torch.randn(n_sequences, 3, generator=generator)
            self.angles = nn.Parameter(angles * config.angle_init_std)
        else:
            self.register_parameter("angles", None)

    @property
    def n_sequences(self) -> int:
        return self.codes.shape[0]

    def rotations(self, seq: Tensor) -> Tensor | None:
        """(B,) sequence indices -> (B, 3, 3) rotation matrices, or None if not equivariant."""
        if self.angles is None:
            return None
        return euler_to_matrix(self.angles[seq])

    def forward(self, x: Tensor, t: Tensor, seq: Tensor) -> Tensor:
        """SDF of sequence ``seq`` (B,) at points x (B, P, 3) and times t (B,) -> (B, P).

        The decoder sees R^T x (Sec 3.5); for row vectors that is ``x @ R``.
        """
        with torch.autocast(x.device.type, enabled=False):  # rotate in full precision
            rot = self.rotations(seq)
            if rot is not None:
                x = x @ rot.to(x.dtype)
        return self.decoder(x, t, self.codes[seq])

    def decode(self, x: Tensor, t: Tensor, z: Tensor, rot: Tensor | None) -> Tensor:
        """SDF for explicit codes z (B, D) and rotations rot (B, 3, 3) or None."""
        if rot is not None:
            with torch.autocast(x.device.type, enabled=False):
                x = x @ rot.to(x.dtype)
        return self.decoder(x, t, z)


def count_parameters(module: nn.Module) -> int:
    """Number of scalar parameters of ``module``."""
    return sum(p.numel() for p in module.parameters())
