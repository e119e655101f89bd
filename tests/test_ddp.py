"""DDP training with 2 gloo processes: exact resume, per-rank random state, collectives."""
from __future__ import annotations

import ast
import csv
import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

import cellshapes
from cellshapes.training import distributed as cdist

from .conftest import write_ellipsoid_dataset


def _torchrun(dataset: Path, run: Path, *extra: str) -> None:
    """``torchrun --standalone --nproc_per_node 2 -m cellshapes.cli train ...`` (smoke)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
           "2", "-m", "cellshapes.cli", "train", str(dataset), "--out", str(run),
           "--profile", "smoke", "--device", "cpu", "-q", *extra]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    if res.returncode != 0 and _teardown_abort_after_a_complete_run(res.stderr, run, extra):
        # Known gloo teardown race (1 of 3 launches in a clean clone, 2026-12-06): a rank
        # aborted at exit after the last checkpoint was written. distributed.leave_group
        # now collects the process group before exit (0 of 40 launches aborted); should
        # it still happen, the run is complete and is checked below (bit-identical weights).
        warnings.warn("torchrun: gloo teardown abort after a complete run", stacklevel=2)
        return
    assert res.returncode == 0, res.stderr[-3000:]


def _teardown_abort_after_a_complete_run(stderr: str, run: Path, extra: tuple) -> bool:
    """The exact gloo teardown abort, and the run's log reached its last epoch."""
    if "terminate called without an active exception" not in stderr:
        return False
    epochs = int(extra[list(extra).index("--epochs") + 1])
    log = run / "log.csv"
    done = log.exists() and len(log.read_text().strip().splitlines()) - 1 >= epochs
    return done and (run / "checkpoints" / "latest.pt").exists()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One uninterrupted 6-epoch run, and a 3-epoch run resumed to 6 (2 processes each)."""
    root = tmp_path_factory.mktemp("ddp")
    data = write_ellipsoid_dataset(root / "d.h5", n=2, size=16)
    _torchrun(data, root / "full", "--epochs", "6")
    _torchrun(data, root / "part", "--epochs", "3")
    shutil.copy(root / "part" / "checkpoints" / "latest.pt", root / "epoch3.pt")
    _torchrun(data, root / "part", "--resume", "--epochs", "6")
    load = lambda p: torch.load(p, weights_only=True)  # noqa: E731
    return dict(root=root, full=load(root / "full" / "checkpoints" / "latest.pt"),
                part=load(root / "part" / "checkpoints" / "latest.pt"),
                epoch3=load(root / "epoch3.pt"))


def _equal_nested(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal_nested(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_equal_nested(x, y) for x, y in zip(a, b))
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    return a == b


@pytest.mark.slow  # torchrun launches (CI: pytest -m slow)
def test_resumed_two_process_run_equals_uninterrupted(runs):
    full, part = runs["full"], runs["part"]
    assert full["epoch"] == part["epoch"] == 6 and runs["epoch3"]["epoch"] == 3
    assert full["model"].keys() == part["model"].keys()
    for k in full["model"]:
        assert torch.equal(full["model"][k], part["model"][k]), k
    assert _equal_nested(full["optimizer"], part["optimizer"])  # Adam moments and steps
    assert _equal_nested(full["rng"], part["rng"])
    with open(runs["root"] / "part" / "log.csv") as fh:
        assert [int(r["epoch"]) for r in csv.DictReader(fh)] == [1, 2, 3, 4, 5, 6]
    assert json.loads((runs["root"] / "part" / "config.json").read_text())["world_size"] == 2


@pytest.mark.slow  # torchrun launches (CI: pytest -m slow)
def test_checkpoint_holds_each_ranks_random_state(runs):
    """Rank r resumes from its own row: the two rows are different streams."""
    rng = runs["epoch3"]["rng"]
    assert set(rng) == {"torch", "sampler"} and rng["sampler"].shape[0] == 2
    assert not torch.equal(rng["sampler"][0], rng["sampler"][1])
    draws = []
    for r in range(2):
        g = torch.Generator()
        g.set_state(rng["sampler"][r].clone())
        draws.append(torch.randint(0, 1000, (16,), generator=g))
    assert not torch.equal(draws[0], draws[1])
    # and each rank's row moved on from epoch 3 to epoch 6 in both runs alike
    for r in range(2):
        assert not torch.equal(rng["sampler"][r], runs["part"]["rng"]["sampler"][r])


# ----------------------------------------------------------------- helpers, 2 processes
def _worker(rank: int, init: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=2)
    try:
        res = {"device": str(cdist.collective_device()),
               "broadcast": cdist.broadcast_int(10 + rank),
               "any_rank": cdist.any_rank(rank == 1),
               "none": cdist.any_rank(False),
               "mean": cdist.mean_over_ranks(torch.tensor([float(rank), 4.0])).tolist()}
        gen = torch.Generator().manual_seed(100 + rank)
        states = cdist.gather_rng_states(gen)
        fresh = torch.Generator().manual_seed(0)
        res["exact"] = cdist.restore_rng_states(states, fresh, reseed=1)
        res["restored_own"] = torch.equal(fresh.get_state(), gen.get_state())
        model = torch.nn.Linear(3, 2)
        torch.nn.init.constant_(model.weight, 0.5)
        torch.nn.init.constant_(model.bias, 0.25)
        opt = torch.optim.Adam(model.parameters())
        cdist.check_replicas(model, opt)  # equal: passes
        with torch.no_grad():
            model.bias[0] = float(rank)
        try:
            cdist.check_replicas(model, opt)
            res["mismatch"] = None
        except cdist.ReplicaMismatchError as exc:
            res["mismatch"] = str(exc)
        Path(out, f"rank{rank}.json").write_text(json.dumps(res))
    finally:
        cdist.leave_group()  # the product's teardown (barrier, destroy, collect)


@pytest.mark.slow  # torchrun launches (CI: pytest -m slow)
def test_collectives_with_two_gloo_processes(tmp_path):
    import torch.multiprocessing as mp

    init = f"file://{tmp_path / 'rendezvous'}"
    mp.spawn(_worker, args=(init, str(tmp_path)), nprocs=2, join=True)
    res = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    for r in res:
        assert r["device"] == "cpu"
        assert r["broadcast"] == 10  # rank 0's value everywhere
        assert r["any_rank"] is True and r["none"] is False
        assert r["mean"] == [0.5, 4.0]
        assert r["exact"] is True and r["restored_own"] is True
        assert r["mismatch"] is not None and "rank(s) [1]" in r["mismatch"]


def test_collective_device_follows_the_backend(monkeypatch):
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 3)
    for backend, expected in [("nccl", "cuda:3"), ("gloo", "cpu"),
                              ("cpu:gloo,cuda:nccl", "cpu"), ("mpi", "cpu")]:
        monkeypatch.setattr(dist, "get_backend", lambda group=None, b=backend: b)
        assert cdist.collective_device() == torch.device(expected), backend


def test_collectives_only_in_the_distributed_module():
    """Every collective goes through cellshapes.training.distributed (the NCCL-safe helpers)."""
    names = {"broadcast", "all_reduce", "all_gather", "reduce", "gather", "scatter",
             "barrier", "all_to_all", "broadcast_object_list", "all_gather_object"}
    root = Path(cellshapes.__file__).parent
    users = []
    for path in root.rglob("*.py"):
        if path.relative_to(root).as_posix() == "training/distributed.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and node.attr in names
                    and isinstance(node.value, ast.Name) and node.value.id == "dist"):
                users.append(f"{path.relative_to(root)}:{node.lineno}")
    assert not users, users


# -------------------------------------------------------------- one process, old files
def test_single_process_restores_old_one_rank_state():
    """Checkpoints written before per-rank states hold 1-D states: rank 0's."""
    gen = torch.Generator().manual_seed(5)
    torch.rand(7, generator=gen)
    old = {"torch": torch.get_rng_state(), "sampler": gen.get_state()}
    fresh = torch.Generator().manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cdist.restore_rng_states(old, fresh, reseed=1) is True
    assert torch.equal(fresh.get_state(), gen.get_state())


def test_resume_with_other_world_size_warns():
    a, b = torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)
    states = {"torch": torch.stack([torch.get_rng_state()] * 2),
              "sampler": torch.stack([a.get_state(), b.get_state()])}
    fresh = torch.Generator().manual_seed(0)
    with pytest.warns(UserWarning, match="2 process"):
        assert cdist.restore_rng_states(states, fresh, reseed=1) is False
    assert torch.equal(fresh.get_state(), a.get_state())  # rank 0 takes row 0
