"""Memory plan of a training run: host and device bytes, before any data is read.

``cellshapes plan`` prints it for a dataset that does not exist yet (``--sequences N
--frames T --size S``); ``cellshapes train`` prints it for its dataset and refuses at
once (:class:`~cellshapes.errors.ResourceError`, exit code 2) when the machine cannot
hold it. The estimate is a sum of named parts, each one a formula of the run's shape:

* data on the training device: the (F, S, S, S) volumes in the storage dtype and the
  near-set indices (int32 while S^3 < 2^31) of :class:`~cellshapes.training.sampling.SDFSampler`;
* fixed overhead: the Python process with torch and cellshapes imported (measured: the
  resident set of the planning process), what torch adds at the first training step
  (CPU, measured once, :data:`CPU_STEP_OVERHEAD`), the CUDA context (assumed,
  :data:`CUDA_CONTEXT_HOST` / :data:`CUDA_CONTEXT_DEVICE`), the model with its
  gradients, Adam moments and the per-epoch rollback snapshot, and the activations of
  one batch (:func:`activation_bytes_per_point` x frames_per_batch x points_per_frame);
* the transient of loading: one float32 frame and HDF5's chunk buffers on the host, one
  frame's mask and indices on the device.

On a CUDA device the host holds only the fixed overhead and one frame; on the CPU the
"device" is the host and everything adds up there.

The number of near-set voxels per frame is the one unknown without data. With a dataset
it is counted (every frame of a small dataset, an even sample of a large one); without,
it is modelled as a sphere holding :data:`PAPER_INTERIOR_FRACTION` of the cube (the
paper's largest cells, Sec 4.5) plus the band around it.
"""
from __future__ import annotations

import math
import os
import sys
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np

from cellshapes.config import ModelConfig, NearSet, TrainConfig, check_choice
from cellshapes.errors import InputError, ResourceError
from cellshapes.resources import current_rss, host_memory_available
from cellshapes.training.sampling import measured_near_fraction

__all__ = ["MemoryPlan", "memory_plan", "activation_bytes_per_point", "parameter_count",
           "assumed_near_fraction",
           "dataset_plan", "plan_for_training",
           "PAPER_INTERIOR_FRACTION", "CPU_STEP_OVERHEAD", "CUDA_CONTEXT_HOST",
           "CUDA_CONTEXT_DEVICE"]

GIB = float(2**30)

#: Interior voxels of a 256^3 frame, as a fraction: the paper's largest data set
#: (DS_Cele, both daughters) has 515,533 +- 260,459 voxels with sdf <= 0 per frame
#: (Sec 4.5); mean + 2 sd = 1,036,451 voxels = 6.2 % of the cube.
PAPER_INTERIOR_FRACTION = 1_036_451 / 256**3

#: Resident memory torch adds at the first CPU training step (oneDNN / MKL kernels and
#: thread pools), measured on this project's CPU machine (torch 2.13 CPU build): RSS after
#: one smoke-profile step minus RSS after ``import cellshapes.training.loop``: 124 MiB.
CPU_STEP_OVERHEAD = 128 * 2**20

#: Host memory of a CUDA context with torch's CUDA libraries loaded. Assumed, not
#: measured (the project's measuring machine has no GPU); typical values are 0.5-2 GiB.
CUDA_CONTEXT_HOST = 2 * 2**30

#: Device memory of the CUDA context and cuBLAS workspaces. Assumed, not measured.
CUDA_CONTEXT_DEVICE = 2**29

#: Bytes per point of a batch besides the decoder's activations: points, rotated points,
#: targets, prediction and their gradients (float32), and the sampler's index arithmetic.
BATCH_BYTES_PER_POINT = 64


@dataclass
class MemoryPlan:
    """Peak memory of a training run, in bytes, with the parts it is made of.

    Attributes
    ----------
    sequences, training_frames, size : int
        Sequences, frames trained on (after ``frames_every``), cube edge S (voxels).
    device : {"cpu", "cuda"}
        Where the sampler's tensors and the model live.
    storage_dtype, index_dtype, near_set : str
        Volume dtype, near-set index dtype, near-set rule (``TrainConfig.near_set``).
    near_voxel_fraction : float
        Mean fraction of a frame's S^3 voxels in its near set.
    near_fraction_source : str
        Where ``near_voxel_fraction`` comes from (counted in the data, or the assumption).
    volume_bytes, index_bytes : int
        The sampler's volumes and near-set indices (on ``device``).
    model_bytes : int
        Parameters, gradients, two Adam moments and the rollback snapshot (float32).
    activation_bytes : int
        Peak autograd memory of one batch (eager estimate; torch.compile uses less).
    baseline_bytes : int
        Resident set of the Python process with torch and cellshapes imported.
    context_bytes : int
        CUDA context on the host, or torch's first-step overhead on the CPU.
    load_host_bytes, load_device_bytes : int
        Transient of loading one frame on the host and on the device.
    host_bytes, device_bytes : int
        Peak resident memory of the process and peak device memory (0 on the CPU).
    host_bytes_on_cpu : int
        What ``host_bytes`` would be for the same run with ``device="cpu"``.
    batch_points, parameters : int
        Points per optimisation step; trainable parameters (decoder, codes, angles).
    notes : list of str
        Assumptions behind the numbers.
    """

    sequences: int
    training_frames: int
    size: int
    device: str
    storage_dtype: str
    index_dtype: str
    near_set: str
    near_voxel_fraction: float
    near_fraction_source: str
    volume_bytes: int
    index_bytes: int
    model_bytes: int
    activation_bytes: int
    baseline_bytes: int
    context_bytes: int
    load_host_bytes: int
    load_device_bytes: int
    host_bytes: int
    device_bytes: int
    host_bytes_on_cpu: int
    batch_points: int
    parameters: int
    notes: list[str] = field(default_factory=list)

    @property
    def fixed_overhead_bytes(self) -> int:
        """Everything but the data: baseline, context, model and one batch's activations."""
        return self.baseline_bytes + self.context_bytes + self.model_bytes + self.activation_bytes

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (bytes as integers) including ``fixed_overhead_bytes``."""
        out = asdict(self)
        out["fixed_overhead_bytes"] = self.fixed_overhead_bytes
        out["near_voxels_per_frame"] = round(self.near_voxel_fraction * self.size**3)
        return out

    def text(self) -> str:
        """The plan as a few lines for a terminal."""
        g = _size
        where = "device" if self.device == "cuda" else "host"
        near = self.near_voxel_fraction * self.size**3
        ctx = "CUDA context" if self.device == "cuda" else "first step"
        rows = [
            ("data on " + where, f"volumes {g(self.volume_bytes)} {self.storage_dtype} + "
                                 f"near-set indices {g(self.index_bytes)} {self.index_dtype}"),
            (f"near set ({self.near_set})", f"{100 * self.near_voxel_fraction:.2f} % of a frame"
                                            f" = {near:,.0f} voxels ({self.near_fraction_source})"),
            ("fixed overhead", f"{g(self.fixed_overhead_bytes)} = process "
                               f"{g(self.baseline_bytes)} + {ctx} {g(self.context_bytes)} + "
                               f"model/optimiser {g(self.model_bytes)} ({self.parameters:,} "
                               f"parameters) + activations {g(self.activation_bytes)} "
                               f"({self.batch_points:,} points/batch)"),
        ]
        host = ("host peak", f"{g(self.host_bytes)} ({self.host_bytes:,} bytes)")
        if self.device == "cuda":  # what decides whether it fits: the GPU, first
            rows = [("device peak", f"{g(self.device_bytes)} ({self.device_bytes:,} bytes)"),
                    (host[0], f"{host[1]}, with an assumed {g(self.context_bytes)} CUDA "
                              "context"),
                    *rows, ("on --device cpu", f"{g(self.host_bytes_on_cpu)} of host memory")]
        else:
            rows = [host, *rows]
        head = (f"memory plan: {self.sequences} sequences, {self.training_frames} training "
                f"frames of {self.size}^3, device {self.device}")
        return "\n".join([head] + [f"  {k:<18} {v}" for k, v in rows])


def _size(nbytes: float) -> str:
    """``2.58 GiB`` / ``4.4 MiB``."""
    return f"{nbytes / GIB:.2f} GiB" if nbytes >= GIB else f"{nbytes / 2**20:.1f} MiB"


def parameter_count(model_cfg: ModelConfig, n_sequences: int) -> int:
    """Trainable parameters: decoder, latent codes and (if equivariant) Euler angles.

    Built on torch's ``meta`` device, so nothing is allocated.
    """
    import torch

    from cellshapes.model import AutoDecoder

    with torch.device("meta"):
        model = AutoDecoder(model_cfg, n_sequences)
    return sum(p.numel() for p in model.parameters())


def activation_bytes_per_point(model_cfg: ModelConfig, amp: bool) -> float:
    """Peak autograd memory of the decoder per point of a batch, bytes (eager mode).

    Counts what backward needs (as in :class:`cellshapes.model.Decoder`): per hidden
    layer the float32 pre-activation kept by ``sin`` (SIREN; with ``amp`` its cosine in
    bfloat16 instead) or the ReLU output (DeepSDF), the layer input [h; x] kept by the matmul (with ``amp``: h in bfloat16), the
    last hidden state kept by the output layer (DeepSDF's dropout adds its float32 mask
    and output per layer, ``output_tanh`` its output), plus a backward transient of three
    hidden-width float32 tensors and :data:`BATCH_BYTES_PER_POINT`.

    ``amp`` is ``TrainConfig.amp`` (bfloat16 hidden products). Checked against autograd's
    saved tensors in ``tests/test_plan.py``.
    """
    c, h = model_cfg, model_cfg.hidden
    siren = c.arch == "siren"
    drop = not siren and c.dropout > 0  # DeepSDF baseline in training mode
    total = 0.0
    for i in range(c.layers):
        n_x = 3 if (i == 0 or c.coords_every_layer or i in c.latent_layers) else 0
        kept = 2 * h if (siren and amp) else 4 * h  # sin's bf16 cosine / input, or ReLU output
        if drop:
            kept += 4 * h  # dropout's float32 mask
        if i > 0:
            if amp:
                kept += 2 * h  # h in bfloat16 for the weight gradient
            elif n_x:
                kept += 4 * (h + n_x)  # the concatenation [h; x]
            elif siren or drop:
                kept += 4 * h  # h itself (a ReLU output without dropout is already counted)
        total += kept
    if siren or drop:
        total += 4 * h  # the output layer keeps the last hidden output
    if c.output_tanh:
        total += 4  # tanh keeps its output
    return total + 3 * 4 * h + BATCH_BYTES_PER_POINT


def assumed_near_fraction(size: int, near_set: str, interior: float = PAPER_INTERIOR_FRACTION,
                          band_voxels: float = 1.5) -> float:
    """Near-set fraction of an S^3 frame holding a sphere of ``interior`` x S^3 voxels.

    ``near_set="paper"``: interior plus the outer band; ``"band"``: the shell |sdf| <=
    band. ``interior`` defaults to the paper's largest cells; ``band_voxels`` is the band
    half-width in voxels (training uses at least 1.5). Returns a fraction in [0, 1].
    """
    vol = interior * size**3
    r = (3.0 * vol / (4.0 * math.pi)) ** (1.0 / 3.0)
    outer = 4.0 / 3.0 * math.pi * (r + band_voxels) ** 3
    n = outer
    if check_choice("near_set", near_set, NearSet) == "band":
        n = outer - 4.0 / 3.0 * math.pi * max(r - band_voxels, 0.0) ** 3
    return min(1.0, n / size**3)


def memory_plan(frames: Sequence[int], size: int, model_cfg: ModelConfig,
                train_cfg: TrainConfig, device: str = "cuda", baseline_bytes: int | None = None,
                near_voxel_fraction: float | None = None, near_fraction_source: str = "",
                ) -> MemoryPlan:
    """The memory plan of training on sequences of ``frames`` frames of ``size``^3.

    Parameters
    ----------
    frames : sequence of int
        Frames of each sequence (its length is the number of sequences).
    size : int
        Cube edge S, voxels.
    model_cfg, train_cfg : ModelConfig, TrainConfig
        Architecture, batch (``frames_per_batch`` x ``points_per_frame``), ``amp``,
        ``frames_every``, ``storage_dtype`` and ``near_set``.
    device : {"cpu", "cuda"}
        Device type of the run.
    baseline_bytes : int, optional
        Resident set of the process before training (default: :func:`current_rss`).
    near_voxel_fraction : float, optional
        Near-set fraction per frame (default: :func:`assumed_near_fraction`).
    near_fraction_source : str
        Where a given ``near_voxel_fraction`` comes from (printed with the plan).

    Returns
    -------
    MemoryPlan

    Raises
    ------
    InputError
        Empty or non-positive shapes, or an unknown device type.
    """
    from cellshapes.training.sampling import as_storage_dtype, index_dtype

    frames = [int(t) for t in frames]
    if not frames or min(frames) < 1 or size < 2:
        raise InputError(f"a plan needs >= 1 sequence of >= 1 frame and size >= 2, got "
                         f"{len(frames)} sequence(s), frames {frames[:3]}, size {size}")
    if device not in ("cpu", "cuda"):
        raise InputError(f"device must be 'cpu' or 'cuda', got {device!r}")
    notes = []
    if near_voxel_fraction is None:
        near_voxel_fraction = assumed_near_fraction(size, train_cfg.near_set)
        near_fraction_source = (f"assumed: a sphere of {100 * PAPER_INTERIOR_FRACTION:.1f} % "
                                "of the cube (paper Sec 4.5, largest cells) + 1.5-voxel band")
    vox = size**3
    store = as_storage_dtype(train_cfg.storage_dtype)
    idx = index_dtype(size)
    item, idx_item = store.itemsize, idx.itemsize
    n_frames = sum(math.ceil(t / train_cfg.frames_every) for t in frames)
    near = near_voxel_fraction * vox
    volume_bytes = n_frames * vox * item
    index_bytes = int(n_frames * near * idx_item) + n_frames * 16
    params = parameter_count(model_cfg, len(frames))
    model_bytes = 7 * 4 * params  # weights, gradients, 2 Adam moments; snapshot of 3
    points = train_cfg.frames_per_batch * train_cfg.points_per_frame
    activation_bytes = int(points * activation_bytes_per_point(model_cfg, train_cfg.amp))
    if baseline_bytes is None:
        baseline_bytes = current_rss()
        notes.append("process: resident set of this process (torch and cellshapes imported)")
    # loading one frame: float32 frame + HDF5 chunk buffers (compressed + decompressed),
    # the finiteness mask and the cast to the storage dtype
    load_host = vox * (4 + 8 + 1 + item)
    # on the device: the near mask, the finiteness mask, |sdf| (band), the frame's indices
    load_device = vox * (2 + (item if train_cfg.near_set == "band" else 0)) + int(near * 12)
    data = volume_bytes + index_bytes
    on_cpu = (baseline_bytes + CPU_STEP_OVERHEAD + data + model_bytes
              + max(load_host + load_device, activation_bytes))
    if device == "cpu":
        host, dev_bytes, context = on_cpu, 0, CPU_STEP_OVERHEAD
        notes.append(f"first step: {CPU_STEP_OVERHEAD >> 20} MiB measured once on a CPU machine")
    else:
        context = CUDA_CONTEXT_HOST
        host = baseline_bytes + context + model_bytes + load_host
        dev_bytes = CUDA_CONTEXT_DEVICE + data + model_bytes + max(load_device, activation_bytes)
        notes.append(f"CUDA context: {CUDA_CONTEXT_HOST / GIB:g} GiB host, "
                     f"{CUDA_CONTEXT_DEVICE / GIB:g} GiB device, assumed (not measured)")
    notes.append("activations: eager autograd estimate; torch.compile needs less")
    return MemoryPlan(
        sequences=len(frames), training_frames=n_frames, size=size, device=device,
        storage_dtype=train_cfg.storage_dtype, index_dtype=str(idx).replace("torch.", ""),
        near_set=train_cfg.near_set, near_voxel_fraction=float(near_voxel_fraction),
        near_fraction_source=near_fraction_source, volume_bytes=volume_bytes,
        index_bytes=index_bytes, model_bytes=model_bytes, activation_bytes=activation_bytes,
        baseline_bytes=int(baseline_bytes), context_bytes=context, load_host_bytes=load_host,
        load_device_bytes=load_device, host_bytes=int(host), device_bytes=int(dev_bytes),
        host_bytes_on_cpu=int(on_cpu), batch_points=points, parameters=params, notes=notes)


def dataset_plan(data: Any, model_cfg: ModelConfig, train_cfg: TrainConfig, device: str,
                 near_voxel_fraction: float | None = None, source: str = "") -> MemoryPlan:
    """:func:`memory_plan` for a :class:`~cellshapes.training.data.TrainingData`.

    The shape comes from the data; the near set is counted in its frames
    (:func:`measured_near_fraction`) unless ``near_voxel_fraction`` is given; the baseline
    is this process's resident set, less any volumes already loaded (counted as data).
    """
    if near_voxel_fraction is None:
        bands = [data.band(i, train_cfg.near_surface_um) for i in range(len(data.names))]
        near_voxel_fraction, source = measured_near_fraction(
            data.volumes, bands, train_cfg.near_set, train_cfg.frames_every)
    held = sum(v.nbytes for v in data.volumes if isinstance(v, np.ndarray))
    plan = memory_plan([v.shape[0] for v in data.volumes], data.size, model_cfg, train_cfg,
                       device, current_rss() - held, near_voxel_fraction, source)
    if held:
        plan.host_bytes += held
        plan.notes.append(f"dataset already in memory: {held / GIB:.2f} GiB")
    return plan


def plan_for_training(data: Any, model_cfg: ModelConfig, train_cfg: TrainConfig,
                      device: Any, report: bool = True) -> MemoryPlan:
    """Plan a run on ``data`` (:func:`dataset_plan`), print it, refuse what cannot fit.

    ``device`` is the training torch.device; for CUDA its free memory is read first (which
    creates the CUDA context, so its host memory is part of the measured baseline).
    ``report`` prints the plan to stderr.

    Raises
    ------
    ResourceError
        The host (times the ranks on this node under ``torchrun``) or the GPU has less free
        memory than the plan needs; one line with both numbers.
    """
    import torch

    free_gpu = torch.cuda.mem_get_info(device)[0] if device.type == "cuda" else None
    plan = dataset_plan(data, model_cfg, train_cfg, device.type)
    if report:
        print(plan.text(), file=sys.stderr)
    ranks = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    avail = host_memory_available()
    data_gib = (plan.volume_bytes + plan.index_bytes) / GIB
    if avail is not None and plan.host_bytes * ranks > avail:
        raise ResourceError(
            f"train needs about {plan.host_bytes * ranks / GIB:.2f} GiB of host memory "
            f"({ranks} process(es) x {plan.host_bytes / GIB:.2f} GiB, data {data_gib:.2f} GiB "
            f"on {plan.device}) but only {avail / GIB:.2f} GiB is available; use a GPU, "
            "--storage-dtype float16, --frames-every or fewer sequences")
    if free_gpu is not None and plan.device_bytes > free_gpu:
        raise ResourceError(
            f"train needs about {plan.device_bytes / GIB:.2f} GiB on {device} (data "
            f"{data_gib:.2f} GiB, activations {plan.activation_bytes / GIB:.2f} GiB) but only "
            f"{free_gpu / GIB:.2f} GiB is free; use --storage-dtype float16, fewer --points, "
            "--frames-every or fewer sequences")
    return plan

