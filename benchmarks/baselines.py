"""Reference-style BASELINE of the training step, timed against ours by the harness.

Written like the reference code, on purpose: host-side numpy sampling per batch
(:class:`HostSampler`), the latent code repeated per point and the explicit
concatenation of [h, z, xyzt] into every layer (:class:`BaselineDecoder`), float32, no
compile. Same layers, widths and parameter count as :class:`cellshapes.model.Decoder`;
only the evaluation differs. Not part of the library: only ``benchmarks/harness.py``
uses it.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

from cellshapes.config import ModelConfig, TrainConfig
from cellshapes.model import euler_to_matrix
from cellshapes.training.sampling import frame_times

__all__ = ["BaselineDecoder", "BaselineAutoDecoder", "HostSampler", "baseline_step"]


class BaselineDecoder(nn.Module):
    """BASELINE (reference-style) decoder: explicit per-point concatenation.

    Every hidden layer gets ``torch.cat([h, z, xyzt])`` (or ``[h, xyzt]``) of shape
    (N, in) built per point, then ``sin(w0 * Linear(.))``. Same layers, widths and
    parameter count as :class:`cellshapes.model.Decoder`; only the evaluation differs.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        layers = []
        for i in range(cfg.layers):
            n_in = (0 if i == 0 else cfg.hidden) + 4 + (cfg.latent_dim if self._has_z(i) else 0)
            layers.append(nn.Linear(n_in, cfg.hidden))
        self.layers = nn.ModuleList(layers)
        self.out = nn.Linear(cfg.hidden, 1)
        with torch.no_grad():
            for i, layer in enumerate(self.layers):
                n = layer.in_features
                bound = 1.0 / n if i == 0 else math.sqrt(6.0 / n) / cfg.omega0
                layer.weight.uniform_(-bound, bound)

    def _has_z(self, i: int) -> bool:
        return i == 0 or i in self.cfg.latent_layers

    def forward(self, inputs: Tensor) -> Tensor:
        """inputs (N, D + 4) = [latent, x, y, z, t] per point -> (N,) SDF."""
        d = self.cfg.latent_dim
        z, xyzt = inputs[:, :d], inputs[:, d:]
        h = torch.sin(self.cfg.omega0 * self.layers[0](inputs))
        for i, layer in enumerate(self.layers[1:], 1):
            parts = [h, z, xyzt] if self._has_z(i) else [h, xyzt]
            h = torch.sin(self.cfg.omega0 * layer(torch.cat(parts, 1)))
        return self.out(h)[:, 0]


class BaselineAutoDecoder(nn.Module):
    """BASELINE: reference-style decoder plus per-sequence codes and Euler angles."""

    def __init__(self, cfg: ModelConfig, n_sequences: int) -> None:
        super().__init__()
        self.decoder = BaselineDecoder(cfg)
        self.codes = nn.Parameter(torch.randn(n_sequences, cfg.latent_dim) * cfg.latent_init_std)
        self.angles = nn.Parameter(torch.randn(n_sequences, 3) * cfg.angle_init_std)


class HostSampler:
    """BASELINE sampling as in the reference data loader: numpy on the host per batch.

    Near (|sdf| <= band) and far voxel index lists are precomputed per frame; each batch
    draws frames, then 70% / 30% indices with ``numpy.random.choice``, takes the SDF at
    those voxels and builds the (N, 4) xyzt array, which is then copied to the device.
    """

    def __init__(self, volumes: list[np.ndarray], band: float, near_fraction: float = 0.7,
                 seed: int = 0) -> None:
        self.frames = [(i, k) for i, v in enumerate(volumes) for k in range(v.shape[0])]
        self.flat = [volumes[i][k].ravel() for i, k in self.frames]
        self.near = [np.flatnonzero(np.abs(f) <= band) for f in self.flat]
        self.far = [np.flatnonzero(np.abs(f) > band) for f in self.flat]
        self.times = {i: frame_times(v.shape[0]) for i, v in enumerate(volumes)}
        self.size = volumes[0].shape[-1]
        self.near_fraction = near_fraction
        self.rng = np.random.default_rng(seed)

    def sample(self, n_frames: int, n_points: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """-> xyzt (B, P, 4) float32, sdf (B, P) float32, sequence index (B,) int64."""
        n_near = int(round(n_points * self.near_fraction))
        s = self.size
        xyzt, sdf, seqs = [], [], []
        for f in self.rng.integers(0, len(self.frames), n_frames):
            i, k = self.frames[f]
            idx = np.concatenate([self.rng.choice(self.near[f], n_near),
                                  self.rng.choice(self.far[f], n_points - n_near)])
            zyx = np.stack(np.unravel_index(idx, (s, s, s)), 1) * (2.0 / (s - 1)) - 1.0
            t = np.full((n_points, 1), self.times[i][k])
            xyzt.append(np.concatenate([zyx, t], 1).astype(np.float32))
            sdf.append(self.flat[f][idx])
            seqs.append(i)
        return np.stack(xyzt), np.stack(sdf), np.array(seqs)


def baseline_step(model: BaselineAutoDecoder, sampler: HostSampler,
                  optimizer: torch.optim.Optimizer, cfg: TrainConfig,
                  device: torch.device) -> Tensor:
    """BASELINE optimisation step: host sampling, per-point latent + concatenation.

    Parameters
    ----------
    model : BaselineAutoDecoder
    sampler : HostSampler
        Draws ``cfg.frames_per_batch`` frames x ``cfg.points_per_frame`` points on the host.
    optimizer : torch.optim.Optimizer
        Over the decoder, the codes and the angles.
    cfg : TrainConfig
        Batch sizes and ``code_reg`` (no warm-up).
    device : torch.device

    Returns
    -------
    () float32 tensor, detached
        The step's loss: mean |f(x) - sdf(x)| + code regularisation.
    """
    xyzt, sdf, seqs = sampler.sample(cfg.frames_per_batch, cfg.points_per_frame)
    xyzt = torch.from_numpy(xyzt).to(device)
    sdf = torch.from_numpy(sdf).to(device)
    seqs = torch.from_numpy(seqs).to(device)
    rot = euler_to_matrix(model.angles[seqs])
    xyz = torch.bmm(xyzt[..., :3], rot)  # R^T x per frame
    xyzt = torch.cat([xyz, xyzt[..., 3:]], -1)
    n = cfg.points_per_frame
    latent = torch.cat([model.codes[s].repeat(n, 1) for s in seqs])
    inputs = torch.cat([latent, xyzt.reshape(-1, 4)], 1)
    pred = model.decoder(inputs)
    rec = (pred - sdf.reshape(-1)).abs().mean()
    loss = rec + cfg.code_reg * model.codes[seqs].pow(2).sum(-1).mean()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()
