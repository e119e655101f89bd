"""SIGKILL at random moments during ``cellshapes train``, then ``--resume`` (issue 7).

Whatever the moment of the kill (before the first checkpoint, mid-run, late, while a
checkpoint is written), resuming until the run finishes gives every epoch exactly once in
``log.csv`` and weights bit-identical to an uninterrupted run with the same seed (CPU).
"""
from __future__ import annotations

import csv
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from cellshapes.config import model_config, train_config
from cellshapes.training.checkpoint import latest_checkpoint, load_checkpoint
from cellshapes.training.loop import train

from .conftest import write_ellipsoid_dataset

EPOCHS = 30  # smoke profile: a checkpoint every 5 epochs


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_ellipsoid_dataset(tmp_path_factory.mktemp("kill") / "d.h5", n=2, size=16)


def _args(dataset: Path, run: Path) -> list[str]:
    return ["train", str(dataset), "--out", str(run), "--profile", "smoke", "--epochs",
            str(EPOCHS), "--points", "256", "--device", "cpu", "--seed", "11", "-q"]


def _start(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "cellshapes.cli", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _logged(run: Path) -> list[int]:
    """Epochs in log.csv (tolerates a half-written last line while the run is alive)."""
    try:
        with open(run / "log.csv") as fh:
            rows = list(csv.DictReader(fh))
    except OSError:
        return []
    return [int(r["epoch"]) for r in rows if r.get("epoch", "").isdigit()
            and r.get("points_per_s")]


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(run)["model"]


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _kill_when(proc: subprocess.Popen, ready, delay_s: float, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while not ready():
        assert proc.poll() is None, f"run ended before the kill: {proc.stderr.read().decode()}"
        assert time.time() < deadline, "timed out waiting for the kill point"
        time.sleep(0.002)
    time.sleep(delay_s)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


@pytest.mark.slow  # slow (~15 s): keeps the fast suite under 4 min on 2 cores
def test_sigkill_at_random_points_then_resume(dataset, tmp_path):
    rng = random.Random(20240607)
    run = tmp_path / "killed"
    args = _args(dataset, run)
    # 1) very early: as soon as config.json exists, before the first checkpoint (epoch 5)
    proc = _start(args)
    _kill_when(proc, lambda: (run / "config.json").exists(), rng.uniform(0.0, 0.01))
    assert proc.returncode == -signal.SIGKILL
    kills = [("early", latest_checkpoint(run))]
    # 2) mid-run and 3) late, at random epochs plus a random fraction of an epoch: the kill
    # may land inside a step, in a log append or in the middle of a checkpoint write
    for lo, hi in ((8, 18), (22, 28)):
        target = rng.randint(lo, hi)
        proc = _start(args + ["--resume"])
        _kill_when(proc, lambda t=target: len(_logged(run)) >= t, rng.uniform(0.0, 0.15))
        if proc.returncode != -signal.SIGKILL:  # it finished first: still a valid outcome
            assert proc.returncode == 0
        kills.append((f"epoch>={target}", latest_checkpoint(run)))
    # resume until finished (one resume must be enough)
    proc = _start(args + ["--resume"])
    assert proc.wait(timeout=300) == 0, proc.stderr.read().decode()
    assert _logged(run) == list(range(1, EPOCHS + 1)), kills
    state = load_checkpoint(run)
    assert state["epoch"] == EPOCHS
    assert [int(r["epoch"]) for r in state["history"]] == list(range(1, EPOCHS + 1))
    assert not list(run.rglob("*.tmp")), "stale temporaries left in the run directory"
    # the same seed, never interrupted
    reference = tmp_path / "reference"
    proc = _start(_args(dataset, reference))
    assert proc.wait(timeout=300) == 0, proc.stderr.read().decode()
    assert _same(_weights(run), _weights(reference))
    # the history is the same too, apart from timings
    ref_hist = load_checkpoint(reference)["history"]
    assert [r["loss"] for r in state["history"]] == [r["loss"] for r in ref_hist]


def _tiny(epochs: int, **kw):
    return (model_config("smoke", hidden=16, layers=2, latent_dim=4, latent_layers=(0,)),
            train_config("smoke", epochs=epochs, points_per_frame=256, seed=4, **kw))


def test_corrupt_latest_after_kill_falls_back_and_loses_no_epoch(dataset, tmp_path):
    """A kill (or full disk) that leaves latest.pt and the newest numbered checkpoint
    truncated: resume falls back to the previous numbered one, redoes the epochs after it,
    and the log still lists every epoch once."""
    run = tmp_path / "r"
    train(dataset, run, *_tiny(12, checkpoint_every=2), device="cpu", progress=False)
    ckpt = run / "checkpoints"
    assert sorted(p.name for p in ckpt.glob("*.pt")) == ["epoch_0010.pt", "epoch_0012.pt",
                                                         "latest.pt"]
    for name in ("latest.pt", "epoch_0012.pt"):
        raw = (ckpt / name).read_bytes()
        (ckpt / name).write_bytes(raw[: len(raw) // 2])
    (ckpt / ".latest.pt.abc123.tmp").write_bytes(b"half a checkpoint")  # a killed write
    with pytest.warns(UserWarning, match="using epoch_0010.pt"):
        history = train(dataset, run, device="cpu", progress=False, resume=True, epochs=20)
    assert [int(r["epoch"]) for r in history] == list(range(1, 21))
    with open(run / "log.csv") as fh:
        assert [int(r["epoch"]) for r in csv.DictReader(fh)] == list(range(1, 21))
    assert not list(run.rglob("*.tmp"))
    reference = tmp_path / "ref"
    train(dataset, reference, *_tiny(20, checkpoint_every=2), device="cpu", progress=False)
    assert _same(_weights(run), _weights(reference))


def test_resume_of_run_killed_before_first_checkpoint(dataset, tmp_path):
    """config.json written, no checkpoint yet: --resume starts over with the stored config."""
    run = tmp_path / "r"
    train(dataset, run, *_tiny(3), device="cpu", progress=False)
    import shutil

    shutil.rmtree(run / "checkpoints")
    (run / "log.csv").write_text("epoch,loss\n1,0.5\n")  # a stale, partial log
    history = train(dataset, run, device="cpu", progress=False, resume=True)
    assert [int(r["epoch"]) for r in history] == [1, 2, 3]
    reference = tmp_path / "ref"
    train(dataset, reference, *_tiny(3), device="cpu", progress=False)
    assert _same(_weights(run), _weights(reference))
