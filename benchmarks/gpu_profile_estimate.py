"""What the ``gpu`` profile costs on one H100, estimated (no GPU measured it yet).

``python benchmarks/gpu_profile_estimate.py [--json PATH] [--measure-cpu]`` prints, per
notebook sized for ``gpu`` (:data:`cellshapes.repro.presets.GPU_NOTEBOOKS`), the models it
trains, their training points and FLOPs, the device memory of its largest run
(:func:`cellshapes.training.plan.memory_plan`, the planner that ``cellshapes train``
checks before it starts) and an estimated wall time between two ends:

* training: model FLOPs (3 x the forward count of ``benchmarks.harness``) at 20 % /
  5 % of the H100's bf16 matmul rate (798 TFLOP/s, read on this workplace's H100 by the
  device notes, not by this project), plus 2 / 6 ms of launch overhead per optimisation
  step (assumed: a 9-layer decoder's forward and backward in eager mode);
* the CPU side, from seconds measured here at 128^3 with ``--measure-cpu`` (process
  time, one thread): drawing and preparing phantom frames and the surface comparisons
  (``compare_shapes``); reconstruction on the GPU by the same FLOP rule.

Renders, descriptors, KS tests and kernel start are left out (seconds each at
``study``). The numbers are an estimate to size a lease with, not a result.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.harness import mlp_flops_per_point  # noqa: E402
from cellshapes.config import (data_defaults, model_config, profile_seeds,  # noqa: E402
                               train_config)
from cellshapes.repro.presets import GPU_NOTEBOOKS, base_settings, notebook_preset  # noqa: E402

PROFILE = "gpu"
#: bf16 8192^3 matmul on the H100 of this workplace (its device notes, 2026-11-13).
H100_BF16 = 798e12
#: (fraction of that rate reached by training, launch overhead per step in s): fast, slow.
ENDS = {"fast": (0.20, 0.002), "slow": (0.05, 0.006)}
DEFAULT_JSON = ROOT / "benchmarks" / "gpu_profile_estimate.json"
#: Process time per 128^3 frame on one thread of this project's CPU machine, measured
#: with ``--measure-cpu`` (the JSON's ``cpu_measured`` wins when present).
CPU_DEFAULTS = {"phantom_frame_s": 1.8, "compare_frame_s": 3.5}
#: Baseline process memory of the plan (the resident set the paper plan recorded).
BASELINE = 371_855_360


@dataclass
class Runs:
    """The training runs and CPU work of one notebook at ``gpu``.

    Attributes
    ----------
    models : list of (label, model overrides, sequences, training frames per sequence,
        grid size, epochs)
        One entry per trained model (seeds x arms x grids).
    phantom_frames : int
        Frames drawn and prepared (regridded copies included).
    compare_frames : int
        ``compare_shapes`` calls (surface metrics, on the CPU).
    infer_points : int
        Decoder evaluations of reconstruction and scoring.
    """

    models: list[tuple[str, dict, int, int, int, int]]
    phantom_frames: int
    compare_frames: int
    infer_points: int


def _seeds() -> int:
    """Training seeds per compared arm at ``gpu``."""
    return len(profile_seeds(PROFILE))


def notebook_runs(name: str) -> Runs:
    """The runs of notebook ``name`` at ``gpu``, read off its preset (as the notebook does)."""
    p, n = notebook_preset(name, PROFILE), _seeds()
    if name == "02_reconstruction":
        b = base_settings(PROFILE)
        s, t, g = b.sequences, b.frames, data_defaults(PROFILE)["size"]
        models = [("sine", {}, s, t, g, b.train["epochs"])] * (3 * n)
        return Runs(models, 3 * s * t, 3 * n * s, 3 * (n + 1) * s * t * g**3)
    if name == "06_temporal_interpolation":
        s, t, g = p.sequences, p.frames, p.size
        models = [("sine", {}, s, math.ceil(t / 4), g, p.epochs)] * n
        return Runs(models, s * t, s * t, (n * s * t + s * p.fine_frames) * g**3)
    if name == "07_spatial_interpolation":
        s, t = p.sequences, p.frames
        models = [("sine", {}, s, t, g, p.epochs_at(g)) for g in p.train_grids] * n
        recon = sum(r**3 for r in p.recon_grids) * len(p.train_grids) * n * s
        return Runs(models, s * t * (len(p.train_grids) + 1), 0, recon)
    if name == "09_deepsdf_comparison":
        s, t, g = p.sequences, p.frames, p.size
        deepsdf = {"arch": "deepsdf", **p.deepsdf}
        models = [("sine", {}, s, t, g, p.epochs), ("DeepSDF", deepsdf, s, t, g, p.epochs)]
        return Runs(models * n, s * t, 2 * n * s, 2 * n * s * t * g**3)
    raise KeyError(f"no estimate for {name}")


def _train_seconds(flops: float, steps: int, end: str) -> float:
    """Seconds of ``flops`` in ``steps`` optimisation steps at one end of :data:`ENDS`."""
    fraction, overhead = ENDS[end]
    return flops / (fraction * H100_BF16) + steps * overhead


def estimate(name: str, cpu: dict[str, float]) -> dict:
    """Points, FLOPs, device memory and the two ends of the wall time of one notebook."""
    from cellshapes.training.plan import memory_plan

    runs, tcfg = notebook_runs(name), train_config(PROFILE)
    flops = points = steps = 0
    peak, fwd_max = 0, 0
    for _label, model, seqs, frames, size, epochs in runs.models:
        mcfg = model_config(PROFILE, **model)
        fwd = mlp_flops_per_point(mcfg)
        fwd_max = max(fwd_max, fwd)
        pts = epochs * seqs * frames * tcfg.points_per_frame
        points, flops = points + pts, flops + 3 * fwd * pts
        steps += epochs * math.ceil(seqs * frames / tcfg.frames_per_batch)
        plan = memory_plan([frames] * seqs, size, mcfg, tcfg, "cuda", baseline_bytes=BASELINE)
        peak = max(peak, plan.device_bytes)
    cpu_s = (runs.phantom_frames * cpu["phantom_frame_s"]
             + runs.compare_frames * cpu["compare_frame_s"])
    infer_flops = runs.infer_points * fwd_max
    ends = {end: round(_train_seconds(flops, steps, end)
                       + infer_flops / (ENDS[end][0] * H100_BF16) + cpu_s)
            for end in ENDS}
    return {"notebook": name, "models": len(runs.models), "train_points": points,
            "train_flops": flops, "steps": steps, "device_peak_gib": round(peak / 2**30, 2),
            "cpu_s": round(cpu_s), "phantom_frames": runs.phantom_frames,
            "compare_frames": runs.compare_frames, "wall_s": ends}


def measure_cpu() -> dict[str, float]:
    """Process seconds per 128^3 frame: phantom drawing + preparing, one compare_shapes."""
    import tempfile

    from cellshapes import io
    from cellshapes.measure import compare
    from cellshapes.repro.datasets import phantom_dataset

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.process_time()
        ds = phantom_dataset("filopodial", tmp, PROFILE, seed=0, sequences=1, frames=4, size=128)
        phantom = (time.process_time() - t0) / 4
        q = io.read_dataset(ds)[0]
        voxel = (float(q.attrs["voxel_um"]),) * 3
        t0 = time.process_time()
        for a, b in ((3, 2), (2, 1)):
            compare.compare_shapes(q.sdf[a], q.sdf[b], voxel, is_sdf_truth=True,
                                   is_sdf_other=True)
        comp = (time.process_time() - t0) / 2
    return {"phantom_frame_s": round(phantom, 2), "compare_frame_s": round(comp, 2)}


def _cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else the machine type."""
    import platform

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_constants(measure: bool) -> dict:
    """Measured now (``--measure-cpu``), else as the committed JSON recorded them."""
    if measure:
        return {**measure_cpu(), "machine": _cpu_name(), "date": time.strftime("%Y-%m-%d"),
                "how": "process time, OMP_NUM_THREADS=1"}
    if DEFAULT_JSON.exists():
        return json.loads(DEFAULT_JSON.read_text()).get("cpu_measured", CPU_DEFAULTS)
    return dict(CPU_DEFAULTS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gpu_profile_estimate",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    parser.add_argument("--measure-cpu", action="store_true",
                        help="re-measure the CPU seconds per 128^3 frame here")
    a = parser.parse_args(argv)
    cpu = _cpu_constants(a.measure_cpu)
    rows = [estimate(name, cpu) for name in GPU_NOTEBOOKS]
    print(f"gpu profile on one H100, ESTIMATED (bf16 rate {H100_BF16 / 1e12:.0f} TFLOP/s x "
          f"{ENDS['fast'][0]:.0%}..{ENDS['slow'][0]:.0%}, CPU side measured here: "
          f"{cpu['phantom_frame_s']} s per phantom frame, {cpu['compare_frame_s']} s per "
          "surface comparison)")
    for r in rows:
        print(f"  {r['notebook']:<27} {r['models']:>2} models, {r['train_points'] / 1e6:7.0f} M "
              f"points, device peak {r['device_peak_gib']:5.2f} GiB, CPU {r['cpu_s']:>4} s, "
              f"wall {r['wall_s']['fast'] / 60:.1f}-{r['wall_s']['slow'] / 60:.1f} min")
    doc = {"profile": PROFILE, "estimate": True, "h100_bf16_flops": H100_BF16,
           "ends": {k: {"peak_fraction": v[0], "step_overhead_s": v[1]} for k, v in ENDS.items()},
           "cpu_measured": cpu, "notebooks": rows,
           "command": "python benchmarks/gpu_profile_estimate.py"
                      + (" --measure-cpu" if a.measure_cpu else "")}
    a.json.write_text(json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
