"""Benchmark harness (benchmarks/) on tiny sizes: keys, identical narrow-band masks,
positive ratios; and the thin ``cellshapes bench`` entry that finds it."""
from __future__ import annotations

import json
import math
import sys

import numpy as np
import pytest
import torch

from benchmarks.baselines import BaselineDecoder
from benchmarks.harness import (BenchSizes, capsule_sequences, format_summary,
                                mlp_flops_per_point, run_benchmarks)
from cellshapes import bench
from cellshapes.cli import main
from cellshapes.config import model_config
from cellshapes.errors import InputError
from cellshapes.model import Decoder, count_parameters

TINY = BenchSizes(data_size=24, data_sequences=2, data_frames=2, frames_per_batch=2,
                  points_per_frame=512, train_reps=2, fit_steps=40, accuracy_seeds=2,
                  matmul_n=256,
                  infer_size=32, infer_frames=2, infer_reps=1, scaling_sizes=(16, 32),
                  scaling_frames=(1, 2), scaling_size=16,
                  compile=False)  # compiling costs ~30 s of CPU; the CLI run covers it

KEYS = ("train_speedup", "train_speedup_fp32", "train_speedup_eager", "train_peak_fraction",
        "train_peak_fraction_fp32", "train_validation_l1", "infer_peak_fraction",
        "narrowband_fraction", "narrowband_identical", "infer_peak_mem_mb",
        "infer_mem_budget_mb")


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


def test_tiny_run_reports_ratios(tmp_path):
    torch.manual_seed(0)
    res = run_benchmarks("cpu", sizes=TINY, progress=False)
    for key in KEYS:
        assert key in res
    assert res["narrowband_identical"] is True
    for key in ("train_speedup", "train_speedup_eager", "train_peak_fraction",
                "infer_peak_fraction", "narrowband_fraction"):
        assert math.isfinite(res[key]) and res[key] > 0, key
    assert [(r["frames"], r["size"]) for r in res["inference"]["scaling"]] == [
        (1, 16), (1, 32), (2, 16)]
    assert set(res["targets"]) and all("met" in v for v in res["targets"].values())
    tr = res["training"]
    from cellshapes.resources import native_bf16

    variants = {"ours_fp32_eager", "ours_fp32"} | (
        {"ours_amp_eager", "ours_amp"} if native_bf16(torch.device("cpu")) else set())
    assert set(tr["speedup"]) == variants and tr["ours"] in variants
    assert res["train_speedup"] == pytest.approx(tr["speedup"][tr["ours"]])
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
