"""Benchmark harness (benchmarks/) on tiny sizes: keys, identical narrow-band masks,
ratios consistent with the measurements they come from; and the thin ``cellshapes bench``
entry that finds it."""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

from benchmarks.baselines import BaselineDecoder
from benchmarks.harness import (BenchSizes, capsule_sequences, format_summary, mlp_flops_per_point,
                                run_benchmarks)
from cellshapes import bench
from cellshapes.cli import main
from cellshapes.config import model_config
from cellshapes.errors import InputError
from cellshapes.model import Decoder, count_parameters

TINY = BenchSizes(data_size=24, data_sequences=2, data_frames=2, frames_per_batch=2,
                  points_per_frame=512, train_reps=2, fit_steps=40, accuracy_seeds=2,
                  matmul_n=256,
                  infer_size=32, infer_frames=2, infer_reps=1, scaling_sizes=(16, 32),
                  scaling_frames=(1, 2), scaling_size=16, band_sizes=(32,),
                  compile=False)  # compiling costs ~30 s of CPU; the CLI run covers it

def test_baseline_has_the_same_parameters_and_flops():
    cfg = model_config("paper")
    assert count_parameters(BaselineDecoder(cfg)) == count_parameters(Decoder(cfg)) == 161537
    # 2 * in * out per layer: 68, 6 x 132, 2 x 196 inputs of width 128, output 128 -> 1
    assert mlp_flops_per_point(cfg) == 2 * 128 * (68 + 6 * 132 + 2 * 196) + 2 * 128


def test_capsules_are_exact_sdfs():
    vol = capsule_sequences(1, 2, 32)[0]
    grad = np.stack(np.gradient(vol[0], 2.0 / 31), 0)
    norm = np.linalg.norm(grad, axis=0)[2:-2, 2:-2, 2:-2]
    assert np.median(norm) == pytest.approx(1.0, abs=0.02) and norm.max() < 1.05
    assert (vol < 0).any() and (vol > 0).any()


def test_tiny_run_reports_consistent_measurements(tmp_path):
    """Relations that hold within one run whatever the machine's load: every reported
    ratio is the ratio of the reported measurements, dense evaluation counts each voxel
    once, grids too small for a narrow band are dense, and the narrow band (checked on the
    network) gives the dense masks voxel for voxel. Speed itself is not asserted: on a
    loaded 2-core machine the timings of a tiny run are noise."""
    torch.manual_seed(0)
    res = run_benchmarks("cpu", sizes=TINY, progress=False)
    inf, tr = res["inference"], res["training"]
    # every headline number is the one its detailed measurements give
    flops_step = 3 * mlp_flops_per_point(model_config("paper")) * tr["points_per_step"]
    for k, t in tr["step_s"].items():
        assert tr["train_flops"][k] == pytest.approx(flops_step / t)
        dtype = "bf16" if "amp" in k else "fp32"
        assert tr["peak_fraction"][k] == pytest.approx(
            tr["train_flops"][k] / tr["matmul_flops"][dtype])
    assert res["train_peak_fraction"] == pytest.approx(tr["peak_fraction"][tr["ours"]])
    assert res["train_peak_fraction_fp32"] == pytest.approx(tr["peak_fraction"]["ours_fp32"])
    assert res["train_speedup_fp32"] == pytest.approx(
        tr["step_s"]["baseline"] / tr["step_s"]["ours_fp32"])
    assert res["train_validation_l1"] == pytest.approx(
        {k: float(np.mean(v)) for k, v in tr["validation_l1"].items()})
    assert res["infer_peak_mem_mb"] == max(inf["dense"]["peak_mem_mb"],
                                           inf["narrow"]["peak_mem_mb"])
    frames, size = TINY.infer_frames, TINY.infer_size
    assert res["narrowband_identical"] is True and inf["narrowband_mismatched_voxels"] == 0
    assert inf["dense"]["evaluated"] == frames * size ** 3 and inf["dense"]["fraction"] == 1.0
    assert res["narrowband_fraction"] == pytest.approx(
        inf["narrow"]["evaluated"] / (frames * size ** 3))
    assert inf["narrowband_speedup"] == pytest.approx(
        inf["dense"]["time_s"] / inf["narrow"]["time_s"])
    flops_pt = mlp_flops_per_point(model_config("paper"))
    assert res["infer_peak_fraction"] == pytest.approx(
        inf["dense"]["evaluated"] * flops_pt / inf["dense"]["time_s"] / inf["matmul_flops_fp32"])
    # 256 MB of activations + 24 B/voxel of work + the (2, 32, 32, 32) float32 output
    assert res["infer_mem_budget_mb"] == pytest.approx(256 + (24 + 4 * frames) * size ** 3
                                                       / 2 ** 20)
    rows = inf["scaling"]
    assert [(r["frames"], r["size"]) for r in rows] == [(1, 16), (1, 32), (2, 16)]
    assert [r["fraction"] for r in rows if r["size"] == 16] == [1.0, 1.0]  # < 4 x stride
    assert set(res["targets"]) and all("met" in v for v in res["targets"].values())
    # inference runs on the shipped trained model, and the per-size table is consistent
    assert res["infer_model"].startswith("shipped growing_study")
    (row,) = inf["by_size"]
    assert row["size"] == 32 and row["identical"] is True and 0 < row["fraction"] <= 1.05
    assert row["speedup"] == pytest.approx(row["dense_s"] / row["narrow_s"])
    from cellshapes.resources import native_bf16

    variants = {"ours_fp32_eager", "ours_fp32"} | (
        {"ours_amp_eager", "ours_amp"} if native_bf16(torch.device("cpu")) else set())
    assert set(tr["speedup"]) == variants and tr["ours"] in variants
    for k in variants:
        assert tr["speedup"][k] == pytest.approx(tr["step_s"]["baseline"] / tr["step_s"][k])
        assert len(tr["step_s_all"][k]) == TINY.train_reps
    assert res["train_speedup"] == pytest.approx(tr["speedup"][tr["ours"]])
    assert res["train_speedup_eager"] == pytest.approx(tr["speedup"]["ours_fp32_eager"])
    assert tr["points_per_step"] == TINY.frames_per_batch * TINY.points_per_frame
    # float32 and (where timed) bf16 models trained from the same start: both learned
    assert all(0 < v < 0.5 for v in res["train_validation_l1"].values())
    assert all(len(v) == 2 for v in tr["validation_l1"].values())  # one per seed
    json.dumps(res)  # serialisable as written by --json
    text = format_summary(res)
    assert "training speedup" in text and "scaling" in text


def test_cellshapes_bench_finds_the_harness_of_the_checkout():
    harness = bench.load_harness()
    assert harness is sys.modules["benchmarks.harness"]
    assert harness.run_benchmarks is run_benchmarks


def test_cellshapes_bench_without_benchmarks_folder_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench, "benchmarks_dir", lambda: tmp_path / "benchmarks")
    with pytest.raises(InputError, match="source checkout"):
        bench.load_harness()
    assert main(["bench", "--quick", "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cellshapes: error:") and "benchmarks/" in err and "\n" not in err

