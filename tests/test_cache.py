"""Keyed caches (cellshapes.repro.cache): an output is reused only for the same key.

The notebooks once evaluated a seed-0 model on seed-1 data because the shared run was
found by name alone; these tests pin that a different seed, config or input is never
reused, and that an output is deleted only when the caller asks (``rebuild=True``).
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from cellshapes.errors import CellshapesError, OutputExistsError
from cellshapes.repro.cache import (StaleOutputError, cached, is_cached, key_path,
                                    path_identity, read_key)


def _writer(calls):
    def build(out):
        calls.append(out)
        rng = np.random.default_rng(json.loads(key_path(out).read_text())["seed"])
        out.write_text(json.dumps(rng.random(3).tolist()))
    return build


def test_seed_change_is_refused_unless_rebuilt_and_same_key_reuses(tmp_path):
    out, calls = tmp_path / "thing.json", []
    key0, key1 = dict(kind="thing", seed=0), dict(kind="thing", seed=1)
    cached(out, key0, _writer(calls))
    first = out.read_text()
    with pytest.raises(StaleOutputError, match="rebuild=True") as info:
        cached(out, key1, _writer(calls))  # another seed: never the seed-0 output
    assert info.value.changes == ["seed"] and out.read_text() == first  # kept
    assert len(calls) == 1 and read_key(out)["seed"] == 0
    cached(out, key1, _writer(calls), rebuild=True)  # asked for: rebuilt
    assert len(calls) == 2 and out.read_text() != first
    assert read_key(out)["seed"] == 1
    mtime = out.stat().st_mtime_ns
    cached(out, key1, _writer(calls))  # same key: reused, not touched
    assert len(calls) == 2 and out.stat().st_mtime_ns == mtime
    cached(out, key0, _writer(calls), rebuild=True)  # back to seed 0: the same output
    assert len(calls) == 3 and out.read_text() == first


def test_changed_config_is_not_reused(tmp_path):
    out, calls = tmp_path / "thing.json", []
    key = dict(kind="thing", seed=0, train={"epochs": 3, "lr": 1e-3})
    cached(out, key, _writer(calls))
    assert is_cached(out, key)
    changed = dict(key, train={"epochs": 3, "lr": 2e-3})
    assert not is_cached(out, changed)
    with pytest.raises(StaleOutputError, match=r"differs in train\.lr\)") as info:
        cached(out, changed, _writer(calls))
    assert info.value.changes == ["train.lr"] and len(calls) == 1
    cached(out, changed, _writer(calls), rebuild=True)
    assert len(calls) == 2


def test_incomplete_output_with_same_key_is_continued(tmp_path):
    out, seen = tmp_path / "run", []

    def build(path):
        path.mkdir(exist_ok=True)
        seen.append(sorted(p.name for p in path.iterdir()))
        (path / f"part{len(seen)}").touch()

    def complete(path):
        return (path / "part2").exists()

    with pytest.raises(CellshapesError, match="without a complete output"):
        cached(out, {"kind": "run"}, build, complete)  # first build stops half way
    cached(out, {"kind": "run"}, build, complete)
    assert seen == [[], ["part1"]]  # the second build found the first one's work


def test_output_without_key_is_not_ours(tmp_path):
    out = tmp_path / "precious"
    out.mkdir()
    (out / "data.txt").write_text("keep me")
    with pytest.raises(OutputExistsError, match="not made by"):
        cached(out, {"kind": "x"}, lambda p: None)
    assert (out / "data.txt").read_text() == "keep me"


def test_path_identity_changes_when_input_is_rewritten(tmp_path):
    f = tmp_path / "data.h5"
    f.write_bytes(b"abc")
    before = path_identity(f)
    assert path_identity(f) == before
    os.utime(f, ns=(1, 1))
    assert path_identity(f) != before
    folder = tmp_path / "masks"
    folder.mkdir()
    (folder / "a.tif").write_bytes(b"1")
    one = path_identity(folder)
    (folder / "b.tif").write_bytes(b"2")
    assert path_identity(folder)["files"] == 2 and path_identity(folder) != one


def test_runs_of_two_seeds_never_share_a_model(ellipsoid_dataset, tmp_path):
    """train_or_load names and keys runs by seed: seed 1 trains its own, seed 1 again reuses."""
    import torch

    from cellshapes.repro.workflow import run_is_complete, run_key, train_or_load
    from cellshapes.training.checkpoint import load_checkpoint

    runs = tmp_path / "runs"
    tiny = dict(hidden=32, layers=3, latent_dim=8, latent_layers=(0,))
    kw = dict(device="cpu", progress=False, model=tiny, epochs=2, points_per_frame=256)

    def weights(run):
        return load_checkpoint(run)["model"]["codes"].clone()

    run0 = train_or_load(ellipsoid_dataset, runs, "smoke", seed=0, **kw)
    assert json.loads((run0 / "config.json").read_text())["train"]["seed"] == 0
    run1 = train_or_load(ellipsoid_dataset, runs, "smoke", seed=1, **kw)
    assert run1 != run0 and run1.parent == run0.parent == runs / "smoke" / "ellipsoids"
    assert json.loads((run1 / "config.json").read_text())["train"]["seed"] == 1
    assert not torch.equal(weights(run1), weights(run0))
    mtime = (run1 / "checkpoints" / "latest.pt").stat().st_mtime_ns
    key1 = run_key(ellipsoid_dataset, "smoke", 1, tiny, epochs=2, points_per_frame=256)
    assert is_cached(run1, key1, run_is_complete)
    assert train_or_load(ellipsoid_dataset, runs, "smoke", seed=1, **kw) == run1
    assert (run1 / "checkpoints" / "latest.pt").stat().st_mtime_ns == mtime


def test_a_run_of_rewritten_data_is_kept_until_rebuild(tmp_path):
    """The same spec on a dataset rewritten since: refused, naming the option; then rebuilt."""
    from .conftest import write_ellipsoid_dataset

    from cellshapes.repro.workflow import train_or_load

    data = write_ellipsoid_dataset(tmp_path / "e.h5", n=2)
    kw = dict(device="cpu", progress=False, epochs=1, points_per_frame=128,
              model=dict(hidden=16, layers=2, latent_dim=4, latent_layers=(0,)))
    run = train_or_load(data, tmp_path / "runs", "smoke", **kw)
    mtime = (run / "checkpoints" / "latest.pt").stat().st_mtime_ns
    os.utime(data, ns=(1, 1))
    with pytest.raises(StaleOutputError, match="rebuild=True") as info:
        train_or_load(data, tmp_path / "runs", "smoke", **kw)
    assert info.value.changes == ["data"] and info.value.path == run
    assert (run / "checkpoints" / "latest.pt").stat().st_mtime_ns == mtime  # not deleted
    assert train_or_load(data, tmp_path / "runs", "smoke", rebuild=True, **kw) == run
    assert (run / "checkpoints" / "latest.pt").stat().st_mtime_ns != mtime


def test_phantom_dataset_is_rebuilt_when_its_masks_change(tmp_path):
    from cellshapes.repro.workflow import phantom_dataset

    kw = dict(sequences=1, frames=2, size=12)
    ds = phantom_dataset("growing", tmp_path, "smoke", 0, **kw)
    mtime = ds.stat().st_mtime_ns
    assert phantom_dataset("growing", tmp_path, "smoke", 0, **kw) == ds
    assert ds.stat().st_mtime_ns == mtime
    masks = ds.with_name(f"{ds.stem}_masks")
    tif = sorted(masks.glob("*.tif"))[0]
    os.utime(tif, ns=(1, 1))  # masks redrawn or edited: the dataset is stale
    with pytest.raises(StaleOutputError, match="masks"):
        phantom_dataset("growing", tmp_path, "smoke", 0, **kw)
    assert ds.stat().st_mtime_ns == mtime  # kept until asked
    phantom_dataset("growing", tmp_path, "smoke", 0, rebuild=True, **kw)
    assert ds.stat().st_mtime_ns != mtime
