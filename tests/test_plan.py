"""Memory plan: its parts against known answers, the paper-scale numbers, refusal, and the
measured peak RSS of a `train` subprocess against the plan it prints."""
from __future__ import annotations

import json
import math
import re
import sys

import numpy as np
import pytest
import torch

from cellshapes.cli import main
from cellshapes.config import model_config, train_config
from cellshapes.errors import ResourceError
from cellshapes.model import AutoDecoder
from cellshapes.training import plan as planmod
from cellshapes.training.data import load_training_data
from cellshapes.training.plan import (activation_bytes_per_point, assumed_near_fraction,
                                      memory_plan, parameter_count, plan_for_training)
from cellshapes.training.sampling import measured_near_fraction

from .conftest import write_ellipsoid_dataset

GB = 1e9


def _saved_bytes(mcfg, amp, b=2, p=4000):
    """Bytes autograd keeps for backward per point (distinct storages, parameters and
    tensors with fewer than ``p`` elements excluded: they do not grow with the batch)."""
    model = AutoDecoder(mcfg, 2)
    params = {q.untyped_storage().data_ptr() for q in model.parameters()}
    seen = {}

    def pack(t):
        st = t.untyped_storage()
        if st.data_ptr() not in params and t.numel() >= p:
            seen[st.data_ptr()] = st.nbytes()
        return t

    x = torch.rand(b, p, 3) * 2 - 1
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            model(x, torch.zeros(b), torch.arange(b) % 2)
    return sum(seen.values())


def _saved_bytes_per_point(mcfg, amp, b=2, p=4000):
    """Growth of the saved bytes per added point (fixed-size tensors such as weight-normalised
    weights cancel out)."""
    return (_saved_bytes(mcfg, amp, b, 2 * p) - _saved_bytes(mcfg, amp, b, p)) / (b * p)


@pytest.mark.parametrize("profile,arch,amp", [
    ("smoke", "siren", False), ("paper", "siren", False), ("paper", "siren", True),
    ("paper", "deepsdf", False), ("paper", "deepsdf", True)])
def test_activation_formula_matches_autograd_saved_tensors(profile, arch, amp):
    mcfg = model_config(profile, arch=arch)
    transient = 3 * 4 * mcfg.hidden + planmod.BATCH_BYTES_PER_POINT
    formula = activation_bytes_per_point(mcfg, amp) - transient
    measured = _saved_bytes_per_point(mcfg, amp)
    assert abs(formula / measured - 1) < 0.03, (formula, measured)


def test_parameter_count_equals_the_model():
    for profile, arch in (("smoke", "siren"), ("paper", "siren"), ("paper", "deepsdf")):
        mcfg = model_config(profile, arch=arch)
        real = sum(p.numel() for p in AutoDecoder(mcfg, 7).parameters())
        assert parameter_count(mcfg, 7) == real


def test_paper_scale_fits_32_gb_host_and_an_80_gb_gpu():
    mcfg, tcfg = model_config("paper"), train_config("paper")
    plan = memory_plan([30] * 33, 256, mcfg, tcfg, "cuda", baseline_bytes=400 * 2**20)
    assert plan.training_frames == 990 and plan.storage_dtype == "float16"
    assert plan.volume_bytes == 990 * 256**3 * 2  # float16, one copy
    assert plan.index_dtype == "int32"
    near = plan.near_voxel_fraction * 256**3
    assert plan.index_bytes == int(990 * near * 4) + 990 * 16
    assert plan.host_bytes <= 32 * GB
    assert plan.device_bytes <= 79 * 2**30  # what torch reports as total on an 80 GB H100
    assert plan.host_bytes_on_cpu > 64 * GB  # a CPU run of the same data needs a big node
    cpu = memory_plan([30] * 33, 256, mcfg, tcfg, "cpu", baseline_bytes=400 * 2**20)
    assert cpu.host_bytes == plan.host_bytes_on_cpu and cpu.device_bytes == 0


def test_band_rule_plans_fewer_indices_than_the_paper_rule():
    mcfg = model_config("paper")
    paper = memory_plan([30] * 33, 256, mcfg, train_config("paper"), baseline_bytes=0)
    band = memory_plan([30] * 33, 256, mcfg, train_config("paper", near_set="band"),
                       baseline_bytes=0)
    assert band.index_bytes < 0.2 * paper.index_bytes


def test_assumed_fraction_is_the_voxel_count_of_the_modelled_sphere():
    for size, near_set in ((256, "paper"), (128, "paper"), (256, "band")):
        g = np.arange(size) - (size - 1) / 2
        z, y, x = np.meshgrid(g, g, g, indexing="ij", sparse=True)
        r = np.sqrt(z**2 + y**2 + x**2)
        radius = (3 * planmod.PAPER_INTERIOR_FRACTION * size**3 / (4 * math.pi)) ** (1 / 3)
        d = r - radius
        count = (d <= 1.5).sum() if near_set == "paper" else (np.abs(d) <= 1.5).sum()
        assert abs(assumed_near_fraction(size, near_set) * size**3 / count - 1) < 0.03


def test_measured_fraction_counts_the_frames(tmp_path):
    path = write_ellipsoid_dataset(tmp_path / "e.h5", n=2, frames=3, size=16)
    data = load_training_data(path, lazy=True)
    bands = [data.band(i, 0.6) for i in range(2)]
    got, source = measured_near_fraction(data.volumes, bands, "paper")
    eager = load_training_data(path)
    want = np.mean([(eager.volumes[i][k] <= bands[i]).mean() for i in range(2) for k in range(3)])
    assert got == pytest.approx(want, rel=1e-6) and source == "counted in 6 of 6 frames"
    got, source = measured_near_fraction(data.volumes, bands, "band", limit=2)
    assert source == "counted in 2 of 6 frames"
    pick = ((0, 0), (1, 2))  # the first and the last training frame
    want = np.mean([(np.abs(eager.volumes[i][k]) <= bands[i]).mean() for i, k in pick])
    assert got == pytest.approx(want, rel=1e-6)


def test_plan_command_writes_the_paper_plan(tmp_path, capsys):
    out = tmp_path / "P.json"
    assert main(["plan", "--sequences", "33", "--frames", "30", "--size", "256",
                 "--profile", "paper", "--device", "cuda", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["device"] == "cuda" and doc["host_bytes"] <= 32 * GB
    assert doc["volume_bytes"] == 990 * 256**3 * 2 and doc["index_dtype"] == "int32"
    assert doc["host_bytes_on_cpu"] > doc["host_bytes"]
    text = capsys.readouterr().out
    assert text.splitlines()[1].lstrip().startswith("device peak")  # the GPU figure first
    assert "assumed 2.00 GiB CUDA context" in text


def test_plan_defaults_to_the_device_there_is(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "P.json"
    assert main(["plan", "--sequences", "6", "--frames", "8", "--size", "64",
                 "--profile", "smoke", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["device"] == "cpu"
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("device cpu") and lines[1].lstrip().startswith("host peak")
    assert main(["plan", "--sequences", "2", "--frames", "3", "--size", "16",
                 "--dataset", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cellshapes: error:") and "\n" not in err


def test_train_refuses_at_once_when_the_host_cannot_hold_the_plan(tmp_path, capsys, monkeypatch):
    path = write_ellipsoid_dataset(tmp_path / "e.h5", n=2, frames=2, size=16)
    monkeypatch.setattr(planmod, "host_memory_available", lambda: 50 * 2**20)
    rc = main(["train", str(path), "--out", str(tmp_path / "run"), "--profile", "smoke",
               "--device", "cpu", "-q"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "\n" not in err
    assert re.match(r"cellshapes: error: train needs about [\d.]+ GiB of host memory .* only "
                    r"0\.05 GiB is available", err), err
    assert not (tmp_path / "run" / "checkpoints").exists() or not any(
        (tmp_path / "run" / "checkpoints").iterdir())


def test_gpu_without_room_is_refused_before_anything_is_allocated(tmp_path, monkeypatch):
    path = write_ellipsoid_dataset(tmp_path / "e.h5", n=2, frames=2, size=16)
    data = load_training_data(path, lazy=True)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda dev=None: (2**20, 80 * 2**30))
    with pytest.raises(ResourceError, match=r"on cuda.* but only 0\.00 GiB is free"):
        plan_for_training(data, model_config("smoke"), train_config("smoke"),
                          torch.device("cuda"), report=False)


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is KiB on Linux only")
def test_train_peak_rss_is_within_25_percent_of_its_plan(tmp_path):
    """The plan printed by `train` (its baseline: the RSS measured at plan time) against
    the peak RSS of that process, read by a wrapper process that has no other child."""
    from benchmarks.memory_rss import measure

    path = write_ellipsoid_dataset(tmp_path / "e.h5", n=4, frames=6, size=32)
    row = measure(path, tmp_path / "run", epochs=1, pythonpath=None)
    assert abs(row["ratio"] - 1) <= 0.25, row
