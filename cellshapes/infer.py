"""Inference: SDF grids at any size and time, chunked, with a narrow-band fast path.

Functions here turn a trained run into SDF volumes and masks, evaluate it against a
dataset (DSC, descriptors), and fit codes and rotations of unseen shapes with the decoder
frozen.

Narrow-band evaluation
----------------------
A frame is first evaluated on a coarse grid (every ``stride``-th voxel). A block of
stride^3 fine voxels whose 8 coarse corners share one sign and all lie farther than
``margin`` from zero cannot contain the surface if the network's SDF changes by less than
``margin`` over half a block diagonal; its voxels are filled by trilinear interpolation of
the corners (the sign, hence the mask, is exact; the SDF value there is approximate).
All other blocks are evaluated densely. ``margin`` is ``safety`` times the Lipschitz
constant of a true SDF in the dataset's units times half the block diagonal. The masks
are compared with dense evaluation in the tests and in ``cellshapes bench``.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .checkpoint import load_checkpoint, read_config, run_path, save_checkpoint, write_config
from .config import ModelConfig, from_dict
from .errors import CheckpointError, DatasetFormatError, InputError, ResourceError
from .model import AutoDecoder, euler_to_matrix
from .resources import check_memory
from .progress import track
from .sampling import SDFSampler, frame_times
from .resources import resolve_device
from .training_data import TrainingData, load_training_data

__all__ = [
    "load_run",
    "chunk_points",
    "GridOptions",
    "sdf_grid",
    "sequence_sdf",
    "reconstruct_run",
    "evaluate_run",
    "fit_shapes",
    "fit_run",
    "write_derived_run",
]

SdfFn = Callable[[Tensor], Tensor]  # (P, 3) points -> (P,) SDF


def load_run(run: str | os.PathLike, device: str | torch.device = "cpu"
             ) -> tuple[AutoDecoder, dict[str, Any]]:
    """Rebuild the model of a run directory from ``config.json`` and its latest checkpoint.

    Returns
    -------
    model : AutoDecoder
        In eval mode on ``device``.
    config : dict
        The run's ``config.json``.
    """
    dev = resolve_device(device)
    config = read_config(run)
    try:
        mcfg = from_dict(ModelConfig, config["model"])
    except (TypeError, ValueError) as exc:  # a hand-edited or foreign config.json
        raise DatasetFormatError(f"{run}/config.json: invalid 'model' section ({exc})"
                                 ) from None
    state = load_checkpoint(run, map_location=dev)
    codes = state["model"].get("codes")
    if not isinstance(codes, torch.Tensor) or codes.ndim != 2:
        raise CheckpointError(f"{run}: checkpoint has no (n_sequences, latent_dim) 'codes'")
    model = AutoDecoder(mcfg, codes.shape[0]).to(dev)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise CheckpointError(f"{run}: checkpoint does not match config.json ({first})"
                              ) from None
    model.eval()
    return model, config


def chunk_points(hidden: int, memory_mb: float = 256.0) -> int:
    """Points per forward pass so that activations stay within ``memory_mb``.

    A forward pass keeps about four (P, hidden) float32 tensors alive (input, matmul
    output, activation, next input) plus the coordinates.
    """
    per_point = 4 * (4 * hidden + 8)
    return max(4096, int(memory_mb * 2**20 // per_point))


@dataclass
class GridOptions:
    """How to evaluate a grid.

    Attributes
    ----------
    narrow_band : bool
        Coarse-to-fine evaluation (masks equal dense; SDF far from the surface approximate).
    stride : int
        Coarsest block edge in voxels (a power of two; refined by halving).
    safety : float
        Multiplier of the Lipschitz bound used for the narrow-band margin.
    memory_mb : float
        Activation memory budget per forward pass.
    """

    narrow_band: bool = True
    stride: int = 8
    safety: float = 2.0
    memory_mb: float = 256.0


def _axis(size: int, device: torch.device) -> Tensor:
    # the formula of the narrow band's refinement (not linspace, which differs by 1 ulp at
    # half the points), so dense and narrow band evaluate bit-identical coordinates
    return -1.0 + 2.0 * torch.arange(size, device=device) / (size - 1)


#: Below this many points a forward pass may take another GEMM path whose rounding
#: differs (seen with MKL for < 100 rows); tiny chunks are padded so that a point's SDF
#: does not depend on the chunk it falls in (narrow-band masks then equal dense ones).
_MIN_ROWS = 128


def _eval_chunk(fn: SdfFn, points: Tensor) -> Tensor:
    n = points.shape[0]
    if n >= _MIN_ROWS:
        return fn(points).float()
    padded = torch.cat([points, points[-1:].expand(_MIN_ROWS - n, -1)])
    return fn(padded)[:n].float()


def _eval_points(fn: SdfFn, points: Tensor, chunk: int) -> Tensor:
    out = torch.empty(points.shape[0], device=points.device)
    for s in range(0, points.shape[0], chunk):
        out[s : s + chunk] = _eval_chunk(fn, points[s : s + chunk])
    return out


def _dense(fn: SdfFn, size: int, chunk: int, device: torch.device,
           positions: Tensor | None = None) -> Tensor:
    """Evaluate on the full grid (or at ``positions``, fine indices per axis) -> (n, n, n)."""
    n = size if positions is None else positions.numel()
    coords = _axis(size, device) if positions is None else -1.0 + 2.0 * positions / (size - 1)
    out = torch.empty(n ** 3, device=device)
    idx = torch.arange(n ** 3, device=device)
    for s in range(0, n ** 3, chunk):
        i = idx[s : s + chunk]
        pts = torch.stack([coords[i // (n * n)], coords[(i // n) % n], coords[i % n]], -1)
        out[s : s + chunk] = _eval_chunk(fn, pts)
    return out.reshape(n, n, n)


def sdf_grid(fn: SdfFn, size: int, device: torch.device, chunk: int,
             options: GridOptions | None = None, lipschitz: float = 1.0
             ) -> tuple[Tensor, dict[str, float]]:
    """Evaluate an SDF function on the corner-aligned grid of ``size``^3 over [-1, 1]^3.

    With ``options.narrow_band`` the grid is refined coarse-to-fine like an octree:
    blocks of ``stride`` voxels whose corners prove (by the Lipschitz margin) that the
    surface does not pass through them are filled by trilinear interpolation; the others
    are split in eight and their new corners evaluated, down to single voxels.

    Parameters
    ----------
    fn : callable
        Maps (P, 3) points (z, y, x) to (P,) SDF values.
    size : int
        Grid edge S.
    lipschitz : float
        |grad SDF| of a true SDF in the model's units per unit coordinate
        (``scale_um / sdf_unit_um``).

    Returns
    -------
    sdf : (S, S, S) tensor on ``device``
    stats : dict
        ``evaluated`` (points evaluated) and ``fraction`` (of S^3).
    """
    opt = options or GridOptions()
    s0 = 1 << max(0, int(opt.stride).bit_length() - 1)  # power of two
    if not opt.narrow_band or s0 < 2 or size < 4 * s0:
        return _dense(fn, size, chunk, device), {"evaluated": size ** 3, "fraction": 1.0}
    nb = math.ceil((size - 1) / s0)
    g = nb * s0 + 1  # working grid, may reach past the last voxel (still a valid point)
    vals = torch.zeros(g, g, g, device=device)
    known = torch.zeros(g, g, g, dtype=torch.bool, device=device)
    positions = torch.arange(nb + 1, device=device) * s0
    vals[::s0, ::s0, ::s0] = _dense(fn, size, chunk, device, positions.float())
    known[::s0, ::s0, ::s0] = True
    evaluated = (nb + 1) ** 3
    cube = torch.stack(torch.meshgrid(*(torch.arange(2, device=device),) * 3, indexing="ij"),
                       -1).reshape(-1, 3)
    blocks = torch.stack(torch.meshgrid(*(torch.arange(nb, device=device),) * 3,
                                        indexing="ij"), -1).reshape(-1, 3)
    step = s0
    while step > 1 and blocks.shape[0]:
        c = (blocks[:, None, :] + cube[None]) * step  # (n, 8, 3) corner positions
        cv = vals[c[..., 0], c[..., 1], c[..., 2]]
        margin = opt.safety * lipschitz * math.sqrt(3.0) * step / (size - 1)
        same = (cv > 0).all(1) | (cv <= 0).all(1)
        unsafe = ~(same & (cv.abs().amin(1) > margin))
        half = step // 2
        blocks = (blocks[unsafe][:, None, :] * 2 + cube[None]).reshape(-1, 3)
        need = torch.zeros_like(known)
        corners = ((blocks[:, None, :] + cube[None]) * half).reshape(-1, 3)
        need[corners[:, 0], corners[:, 1], corners[:, 2]] = True
        pts = (need & ~known).nonzero()
        if pts.shape[0]:
            vals[pts[:, 0], pts[:, 1], pts[:, 2]] = _eval_points(
                fn, -1.0 + 2.0 * pts.float() / (size - 1), chunk)
            known[pts[:, 0], pts[:, 1], pts[:, 2]] = True
            evaluated += pts.shape[0]
        step = half
    return _prolongate(vals, known, s0)[:size, :size, :size].contiguous(), {
        "evaluated": evaluated, "fraction": evaluated / size ** 3}


def _prolongate(vals: Tensor, known: Tensor, s0: int) -> Tensor:
    """Fill unknown voxels coarse-to-fine: each level is the trilinear 2x refinement of
    the level above, with the evaluated values put back. Inside a block proven free of
    the surface every value is a convex combination of same-sign values, so the sign
    (the mask) is exact."""
    level = vals[::s0, ::s0, ::s0]
    step = s0
    while step > 1:
        step //= 2
        n = 2 * level.shape[0] - 1
        up = F.interpolate(level[None, None], size=(n, n, n), mode="trilinear",
                           align_corners=True)[0, 0]
        level = torch.where(known[::step, ::step, ::step], vals[::step, ::step, ::step], up)
    return level


def sequence_sdf(model: AutoDecoder, times: Sequence[float], size: int, *,
                 seq: int | None = None, code: Tensor | None = None,
                 rotation: Tensor | None = None, lipschitz: float = 1.0,
                 options: GridOptions | None = None, progress: bool = False
                 ) -> tuple[np.ndarray, dict[str, float]]:
    """SDF volumes of one sequence at the given time points.

    Parameters
    ----------
    model : AutoDecoder
    times : sequence of float
        Time coordinates in [-1, 1] (any number: temporal interpolation).
    size : int
        Grid edge S (any size: spatial interpolation).
    seq : int, optional
        Use the learned code and rotation of training sequence ``seq`` ...
    code, rotation : tensor, optional
        ... or an explicit code (D,) and rotation matrix (3, 3) (None: identity).

    Returns
    -------
    sdf : (T, S, S, S) float32 array
    stats : dict
        Fraction of grid points evaluated (narrow band) over all frames.
    """
    opt = options or GridOptions()
    dev = next(model.parameters()).device
    if seq is not None:
        idx = torch.tensor([seq], device=dev)
        code = model.codes[idx][0]
        rot = model.rotations(idx)
        rotation = rot[0] if rot is not None else None
    if code is None:
        raise InputError("sequence_sdf needs seq or code")
    est = len(times) * size ** 3 * 4
    if est > 64 * 2**30:
        raise ResourceError(f"{len(times)} x {size}^3 float32 needs {est / 2**30:.1f} GiB; "
                            "reduce --size or --frames")
    z = code.reshape(1, -1).to(dev)
    rot = None if rotation is None else rotation.reshape(1, 3, 3).to(dev)
    chunk = chunk_points(model.config.hidden, opt.memory_mb)
    out = np.empty((len(times), size, size, size), np.float32)
    evaluated = 0
    it = track(list(enumerate(times)), progress, desc="frames", leave=False)
    with torch.no_grad():
        for k, t in it:
            tt = torch.tensor([float(t)], device=dev)

            def fn(p: Tensor) -> Tensor:
                return model.decode(p[None], tt, z, rot)[0]

            grid, stats = sdf_grid(fn, size, dev, chunk, opt, lipschitz)
            out[k] = grid.cpu().numpy()
            evaluated += stats["evaluated"]
    return out, {"evaluated": evaluated, "fraction": evaluated / (len(times) * size ** 3)}


def _lipschitz(attrs: dict[str, Any]) -> float:
    return float(attrs.get("scale_um", 1.0)) / float(attrs.get("sdf_unit_um", 1.0))


def _parse_sequences(spec: str | Sequence[int] | None, n: int) -> list[int]:
    if spec is None:
        return list(range(n))
    if isinstance(spec, str):
        try:
            spec = [int(s) for s in spec.split(",") if s.strip()]
        except ValueError:
            raise InputError(f"--sequences must be comma-separated integers, got {spec!r}") \
                from None
    bad = [i for i in spec if not 0 <= i < n]
    if bad:
        raise InputError(f"sequence indices {bad} out of range 0..{n - 1}")
    return list(spec)


def reconstruct_run(run: str | os.PathLike, out: str | os.PathLike, size: int | None = None,
                    frames: int | None = None, sequences: str | Sequence[int] | None = None,
                    device: str = "auto", overwrite: bool = False, progress: bool = True,
                    options: GridOptions | None = None) -> list[str]:
    """Rebuild sequences of a run as masks (TIFF) and SDFs (HDF5).

    Writes ``out/masks/<name>.tif`` (T, Z, Y, X) uint8 and ``out/sdf.h5`` (the prepared
    dataset layout, so ``describe``/``evaluate`` read it). ``size`` and ``frames`` default
    to the training grid and frame count; other values interpolate in space and time.

    Returns
    -------
    list of str
        Names of the written sequences.
    """
    from .atomic import atomic_dir
    from .io import SDFSequence, write_dataset, write_tiff

    check_grid_args(size, frames)
    model, config = load_run(run, device)
    data = config["data"]
    names = data["names"]
    chosen = _parse_sequences(sequences, model.n_sequences)
    s_all = size or int(data["size"])
    known = [int(t) for t in data["frames"]]
    t_of = {i: frames or (known[i] if i < len(known) else max(known, default=1)) for i in chosen}
    check_grid_memory(sum(t_of.values()), s_all, "reconstruct")
    written = []
    with atomic_dir(out, overwrite=overwrite) as tmp:
        seqs = []
        it = track(chosen, progress, desc="reconstruct", unit="seq")
        for i in it:
            attrs = dict(data["attrs"][i]) if i < len(data["attrs"]) else {}
            s = size or int(data["size"])
            t = t_of[i]
            sdf, stats = sequence_sdf(model, frame_times(t), s, seq=i,
                                      lipschitz=_lipschitz(attrs), options=options)
            attrs.update(_grid_attrs(attrs, s), source=f"reconstruction of {run}",
                         evaluated_fraction=stats["fraction"])
            name = names[i] if i < len(names) else f"seq_{i:04d}"
            write_tiff(run_path(tmp / "masks", f"{name}.tif"), (sdf <= 0).astype(np.uint8),
                       spacing=(attrs["voxel_um"],) * 3)
            seqs.append(SDFSequence(name, sdf, attrs))
            written.append(name)
        write_dataset(tmp / "sdf.h5", seqs)
    return written


def check_grid_args(size: int | None, frames: int | None) -> None:
    """InputError unless ``size`` (grid edge) >= 2 and ``frames`` >= 1 where given."""
    for name, value, low in (("--size", size, 2), ("--frames", frames, 1)):
        if value is not None and (isinstance(value, bool) or int(value) != value
                                  or value < low):
            raise InputError(f"{name} must be an integer >= {low}, got {value!r}")


def check_grid_memory(frames: int, size: int, what: str) -> None:
    """ResourceError if ``frames`` grids of ``size``^3 (float32 SDF + uint8 mask, all held
    until the final write) cannot fit in memory; checked before anything is allocated."""
    check_memory(frames * size ** 3 * 5 + size ** 3 * 8,
                 f"{what}: {frames} frame(s) x {size}^3 float32 grids",
                 "reduce --size or --frames")


def _grid_attrs(attrs: dict[str, Any], size: int) -> dict[str, Any]:
    scale = float(attrs.get("scale_um", 1.0))
    return {"scale_um": scale, "voxel_um": 2.0 * scale / (size - 1),
            "sdf_unit_um": float(attrs.get("sdf_unit_um", 1.0)), "label": -1,
            "cell_type": attrs.get("cell_type", ""), "spacing_um": [2.0 * scale / (size - 1)] * 3,
            "params": "{}"}


def evaluate_run(run: str | os.PathLike, dataset: str | os.PathLike, size: int | None = None,
                 device: str = "auto", progress: bool = True,
                 options: GridOptions | None = None) -> dict[str, Any]:
    """DSC per sequence and frame, plus descriptor summaries, of a run against a dataset.

    Sequences are matched by name. Frames not used in training (``frames_every`` > 1)
    are reported separately as ``dsc_heldout_mean``.

    Returns
    -------
    dict
        ``dsc_mean``, ``dsc_train_frames_mean``, ``dsc_heldout_mean`` (or None),
        ``per_sequence`` {name: [DSC per frame]}, ``descriptors`` (means of real and
        reconstructed) and ``ks`` (KS p-values real vs reconstructed).
    """
    from .metrics import describe_sequence, dice_per_frame, ks_tests

    check_grid_args(size, None)
    model, config = load_run(run, device)
    truth = load_training_data(dataset)
    names = config["data"]["names"]
    every = int(config["train"].get("frames_every", 1))
    matched = [(names.index(n), j) for j, n in enumerate(truth.names) if n in names]
    if not matched:
        raise InputError(f"no sequence of {dataset} matches the run's sequences {names[:5]}...")
    _check_same_scale(config["data"].get("attrs", []), truth, matched, dataset)
    per_seq: dict[str, list[float]] = {}
    train_d, held_d, real_rows, rec_rows = [], [], [], []
    it = track(matched, progress, desc="evaluate", unit="seq")
    for i, j in it:
        gt = truth.volumes[j]
        s = size or gt.shape[-1]
        if s != gt.shape[-1]:
            raise InputError(f"--size {s} differs from the dataset grid {gt.shape[-1]}")
        attrs = truth.attrs[j]
        sdf, _ = sequence_sdf(model, frame_times(gt.shape[0]), s, seq=i,
                              lipschitz=_lipschitz(attrs), options=options)
        d = dice_per_frame(sdf <= 0, gt <= 0)
        per_seq[truth.names[j]] = [round(float(v), 5) for v in d]
        for k, v in enumerate(d):
            (train_d if k % every == 0 else held_d).append(float(v))
        voxel = float(attrs.get("voxel_um", 1.0))
        for rows, vol in ((real_rows, gt), (rec_rows, sdf)):
            df = describe_sequence(vol, (voxel,) * 3, is_sdf=True)
            df["sequence"] = truth.names[j]
            rows.append(df)
    import pandas as pd

    real, rec = pd.concat(real_rows), pd.concat(rec_rows)
    cols = ["volume_um3", "surface_um2", "sphericity"]
    ks = ks_tests(real, rec, columns=cols)
    all_d = train_d + held_d
    return {
        "run": str(run), "dataset": str(dataset),
        "dsc_mean": float(np.mean(all_d)),
        "dsc_std": float(np.std(all_d)),
        "dsc_train_frames_mean": float(np.mean(train_d)),
        "dsc_heldout_mean": float(np.mean(held_d)) if held_d else None,
        "per_sequence": per_seq,
        "descriptors": {"real": {c: float(real[c].mean()) for c in cols},
                        "reconstructed": {c: float(rec[c].mean()) for c in cols}},
        "ks": {r["descriptor"]: {"statistic": float(r["statistic"]), "pvalue": float(r["pvalue"])}
               for _, r in ks.iterrows()},
    }


def _check_same_scale(run_attrs: list[dict[str, Any]], truth: TrainingData,
                      matched: list[tuple[int, int]], dataset: str | os.PathLike) -> None:
    """InputError if a matched sequence was prepared at another um-per-unit scale than the
    run's training data (its DSC would compare shapes at different sizes)."""
    for i, j in matched:
        a = float(run_attrs[i]["scale_um"]) if i < len(run_attrs) and "scale_um" in \
            run_attrs[i] else None
        b = truth.attrs[j].get("scale_um")
        if a is not None and b is not None and not np.isclose(a, float(b), rtol=1e-4):
            raise InputError(f"{dataset}: sequence {truth.names[j]} has scale_um {float(b):.6g} "
                             f"but the run was trained with {a:.6g} (mismatched spacing); "
                             "prepare both with the same inputs and spacing")


# ----------------------------------------------------------------------- unseen shapes
def fit_shapes(model: AutoDecoder, data: TrainingData, steps: int = 300, restarts: int = 16,
               points: int = 2048, frames_per_step: int = 16, lr: float = 3e-2,
               code_reg: float = 1e-4, seed: int = 0, near_surface_um: float = 0.6,
               progress: bool = False, init_codes: Tensor | None = None,
               fit_codes: bool = True) -> tuple[Tensor, Tensor | None, np.ndarray]:
    """Fit latent codes (and rotations) of unseen sequences with the decoder frozen.

    All sequences are optimised together as one batch. Rotations have local minima
    (Sec 3.6), so the first half of the steps optimises ``restarts`` random initial
    rotations per sequence with a quarter of the points; the restart with the lowest loss
    on a fixed validation sample continues alone with all points for the second half.

    Parameters
    ----------
    model : AutoDecoder
        Trained model; its weights are not changed.
    data : TrainingData
        The unseen sequences.
    steps : int
        Optimisation steps in total.
    points : int
        SDF samples per frame per step (second phase).
    init_codes : (M, D) tensor, optional
        Start from these codes (default: N(0, latent_init_std^2)).
    fit_codes : bool
        If False, keep the codes fixed and optimise only the rotations (the
        equivariance check of Sec 3.6: a rotated shape is rebuilt by its rotation alone).

    Returns
    -------
    codes : (M, D) tensor
    angles : (M, 3) tensor or None
        Euler angles of the chosen rotation (None for non-equivariant models).
    losses : (M,) array
        Validation L1 loss of each sequence.
    """
    dev = next(model.parameters()).device
    cfg = model.config
    m = len(data.names)
    k = restarts if cfg.equivariant else 1
    gen = torch.Generator(dev).manual_seed(seed)
    cpu_gen = torch.Generator().manual_seed(seed)
    bands = [data.band(i, near_surface_um) for i in range(m)]
    sampler = SDFSampler(data.volumes, bands, device=dev)
    if init_codes is None:
        codes = torch.randn(m * k, cfg.latent_dim, generator=cpu_gen) * cfg.latent_init_std
    else:
        codes = init_codes.detach().cpu().float().repeat_interleave(k, 0)
    codes = codes.to(dev)
    angles = None
    if cfg.equivariant:
        from scipy.spatial.transform import Rotation

        from .model import matrix_to_euler

        rots = Rotation.random(m * k, random_state=seed).as_matrix()
        rots[::k] = np.eye(3)  # restart 0 starts from the identity
        angles = matrix_to_euler(torch.tensor(rots, dtype=torch.float32)).to(dev)
    if not fit_codes and angles is None:
        raise InputError("nothing to fit: fit_codes=False on a non-equivariant model")
    for p in model.parameters():
        p.requires_grad_(False)
    nf = min(sampler.n_frames, max(frames_per_step, 2 * m))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, desc="fit", unit="step")
    try:
        first = steps // 2 if k > 1 else 0
        codes, angles = _fit_phase(model, sampler, codes, angles, k, first, nf,
                                   max(256, points // 4), lr, code_reg, fit_codes, gen, bar)
        with torch.no_grad():
            val = sampler.sample(0, points, gen, frames=torch.arange(sampler.n_frames,
                                                                     device=dev))
            per = _fit_loss(model, sampler, val, codes, angles, k, per_restart=True)
            sel = torch.arange(m, device=dev) * k + per.reshape(m, k).argmin(1)
        codes, angles = _fit_phase(model, sampler, codes[sel], None if angles is None
                                   else angles[sel], 1, steps - first, nf, points,
                                   lr * 0.5, code_reg, fit_codes, gen, bar)
        with torch.no_grad():
            losses = _fit_loss(model, sampler, val, codes, angles, 1, per_restart=True)
    finally:
        for p in model.parameters():
            p.requires_grad_(True)
        if bar is not None:
            bar.close()
    return codes.detach(), None if angles is None else angles.detach(), losses.cpu().numpy()


def _fit_loss(model: AutoDecoder, sampler: SDFSampler, batch: Any, codes: Tensor,
              angles: Tensor | None, k: int, per_restart: bool = False,
              code_reg: float = 0.0) -> Tensor:
    """L1 loss of every (frame, restart) pair of a batch; k restarts per sequence."""
    dev = codes.device
    b = batch.frames.shape[0]
    idx = sampler.seq[batch.frames].repeat_interleave(k) * k + torch.arange(k, device=dev).repeat(b)
    x = batch.points.repeat_interleave(k, 0)
    rot = euler_to_matrix(angles[idx]) if angles is not None else None
    pred = model.decode(x, batch.times.repeat_interleave(k), codes[idx], rot)
    err = (pred - batch.sdf.repeat_interleave(k, 0)).abs().mean(1)  # (b * k,)
    if per_restart:
        total = torch.zeros(codes.shape[0], device=dev).index_add_(0, idx, err)
        count = torch.zeros(codes.shape[0], device=dev).index_add_(0, idx, torch.ones_like(err))
        return total / count.clamp(min=1)
    return err.mean() + code_reg * codes[idx].pow(2).sum(-1).mean()


def _fit_phase(model: AutoDecoder, sampler: SDFSampler, codes: Tensor, angles: Tensor | None,
               k: int, steps: int, frames: int, points: int, lr: float, code_reg: float,
               fit_codes: bool, gen: torch.Generator, bar: Any) -> tuple[Tensor, Tensor | None]:
    codes = codes.detach().clone().requires_grad_(fit_codes)
    angles = None if angles is None else angles.detach().clone().requires_grad_(True)
    params = ([codes] if fit_codes else []) + ([angles] if angles is not None else [])
    if steps < 1 or not params:
        return codes, angles
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, steps // 2), gamma=0.5)
    for _ in range(steps):
        batch = sampler.sample(frames, points, gen)
        loss = _fit_loss(model, sampler, batch, codes, angles, k, code_reg=code_reg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if bar is not None:
            bar.update(1)
    return codes, angles


def write_derived_run(src_config: dict[str, Any], model: AutoDecoder, codes: Tensor,
                      angles: Tensor | None, out: str | os.PathLike, data_summary: dict,
                      extra: dict[str, Any] | None = None) -> Path:
    """Write a run-like folder: the source decoder with new codes/rotations.

    ``reconstruct`` and ``evaluate`` accept the result like any trained run.
    """
    out = Path(out)
    derived = AutoDecoder(model.config, codes.shape[0]).to(codes.device)
    derived.decoder.load_state_dict(model.decoder.state_dict())
    with torch.no_grad():
        derived.codes.copy_(codes)
        if derived.angles is not None:
            derived.angles.copy_(angles if angles is not None else torch.zeros_like(derived.angles))
    config = dict(src_config)
    config["data"] = data_summary
    config["train"] = {**config.get("train", {}), "frames_every": 1}
    config.update(extra or {})
    out.mkdir(parents=True, exist_ok=True)
    write_config(out, config)
    state = {"epoch": 0, "model": {k: v.cpu() for k, v in derived.state_dict().items()}}
    save_checkpoint(out, state, 0)
    return out


def fit_run(run: str | os.PathLike, dataset: str | os.PathLike, out: str | os.PathLike,
            steps: int | None = None, device: str = "auto", overwrite: bool = False,
            seed: int = 0, progress: bool = True) -> dict[str, Any]:
    """``cellshapes fit``: fit unseen shapes of ``dataset`` and write a run-like folder."""
    import time

    from .atomic import atomic_dir

    if steps is not None and (isinstance(steps, bool) or int(steps) != steps or steps < 1):
        raise InputError(f"--steps must be an integer >= 1, got {steps!r}")
    model, config = load_run(run, device)
    data = load_training_data(dataset)
    t0 = time.perf_counter()
    codes, angles, losses = fit_shapes(model, data, steps=steps or 300, seed=seed,
                                       progress=progress)
    elapsed = time.perf_counter() - t0
    with atomic_dir(out, overwrite=overwrite) as tmp:
        write_derived_run(config, model, codes, angles, tmp, data.summary(),
                          {"fitted_from": str(Path(run).resolve()),
                           "fit": {"steps": steps or 300, "seed": seed}})
    return {"out": str(out), "sequences": data.names, "fit_seconds": round(elapsed, 2),
            "seconds_per_shape": round(elapsed / len(data.names), 3),
            "val_loss": [round(float(v), 6) for v in losses]}
