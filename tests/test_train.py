"""Training: convergence, determinism, exact resume, SIGKILL, checkpoints (DDP: test_ddp)."""
from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from cellshapes.cli import main
from cellshapes.config import model_config, train_config
from cellshapes.errors import CheckpointError, InputError, OutputExistsError
from cellshapes.inference.evaluate import evaluate_run
from cellshapes.training.checkpoint import load_checkpoint
from cellshapes.training.loop import train

from .conftest import write_ellipsoid_dataset

TINY = dict(hidden=32, layers=3, latent_dim=8, latent_layers=(0,))


def _tiny(epochs, **kw):
    return model_config("smoke", **TINY), train_config("smoke", epochs=epochs,
                                                       points_per_frame=512, **kw)


def _log_epochs(run):
    with open(Path(run) / "log.csv") as fh:
        return [int(r["epoch"]) for r in csv.DictReader(fh)]


def _weights(run):
    return load_checkpoint(run)["model"]


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory):
    return write_ellipsoid_dataset(tmp_path_factory.mktemp("d") / "small.h5", n=2, size=16)


def test_short_training_reaches_high_dsc(trained_run, ellipsoid_dataset):
    report = evaluate_run(trained_run, ellipsoid_dataset, device="cpu", progress=False)
    assert report["dsc_mean"] > 0.9, report["dsc_mean"]
    assert set(report["per_sequence"]) == {f"seq_{i:04d}" for i in range(6)}


def test_run_directory_contents(trained_run):
    import json

    cfg = json.loads((trained_run / "config.json").read_text())
    assert cfg["model"]["latent_dim"] == 16 and cfg["train"]["seed"] == 0
    assert cfg["decoder_parameters"] > 0 and cfg["data"]["size"] == 24
    assert _log_epochs(trained_run) == list(range(1, 151))
    # plain weights only: loads with weights_only=True
    state = torch.load(trained_run / "checkpoints" / "latest.pt", weights_only=True)
    assert state["epoch"] == 150


def test_same_seed_same_weights(small_dataset, tmp_path):
    for name in ("a", "b"):
        train(small_dataset, tmp_path / name, *_tiny(3, seed=7), device="cpu", progress=False)
    wa, wb = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    train(small_dataset, tmp_path / "c", *_tiny(3, seed=8), device="cpu", progress=False)
    assert not torch.equal(wa["codes"], _weights(tmp_path / "c")["codes"])


def test_resume_equals_uninterrupted(small_dataset, tmp_path):
    m, t = _tiny(6, seed=3, checkpoint_every=1)
    train(small_dataset, tmp_path / "full", m, t, device="cpu", progress=False)
    m, t = _tiny(3, seed=3, checkpoint_every=1)
    train(small_dataset, tmp_path / "part", m, t, device="cpu", progress=False)
    train(small_dataset, tmp_path / "part", device="cpu", progress=False, resume=True,
          epochs=6)
    full, part = _weights(tmp_path / "full"), _weights(tmp_path / "part")
    assert all(torch.equal(full[k], part[k]) for k in full)
    assert _log_epochs(tmp_path / "part") == list(range(1, 7))


def test_existing_run_needs_resume_or_overwrite(small_dataset, tmp_path):
    train(small_dataset, tmp_path / "r", *_tiny(1), device="cpu", progress=False)
    with pytest.raises(OutputExistsError):
        train(small_dataset, tmp_path / "r", *_tiny(1), device="cpu", progress=False)
    train(small_dataset, tmp_path / "r", *_tiny(2), device="cpu", progress=False,
          overwrite=True)
    assert _log_epochs(tmp_path / "r") == [1, 2]


def _cli(*args, **kw):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "cellshapes.cli", *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def test_sigkill_then_resume_logs_each_epoch_once(small_dataset, tmp_path):
    run = tmp_path / "killed"
    args = ["train", small_dataset, "--out", run, "--profile", "smoke", "--epochs", "40",
            "--points", "512", "--device", "cpu", "--seed", "5", "-q"]
    proc = _cli(*args)
    deadline = time.time() + 120
    ckpt = run / "checkpoints" / "latest.pt"
    while time.time() < deadline and not ckpt.exists():
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    done = load_checkpoint(run)["epoch"]
    assert done < 40, "the run finished before it could be killed; make it longer"
    resumed = _cli(*args, "--resume")
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read().decode()
    assert _log_epochs(run) == list(range(1, 41))
    reference = tmp_path / "reference"
    ref = _cli(*[a if a != run else reference for a in args])
    assert ref.wait(timeout=300) == 0
    a, b = _weights(run), _weights(reference)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_sigterm_stops_cleanly_with_checkpoint(small_dataset, tmp_path):
    run = tmp_path / "termed"
    proc = _cli("train", small_dataset, "--out", run, "--profile", "smoke", "--epochs", "100000",
                "--points", "256", "--device", "cpu", "-q")
    while not (run / "log.csv").exists() or len(_log_epochs(run)) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    last = load_checkpoint(run)["epoch"]
    assert _log_epochs(run) == list(range(1, last + 1))


def test_pickled_checkpoint_is_refused_and_never_runs(small_dataset, tmp_path, capsys):
    run = tmp_path / "r"
    train(small_dataset, run, *_tiny(1), device="cpu", progress=False)
    state = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)
    marker = tmp_path / "payload_ran"

    class Payload:  # unpickling calls open(marker, "w"): creates the marker file
        def __reduce__(self):
            return (open, (str(marker), "w"))

    state["evil"] = Payload()
    for f in (run / "checkpoints").glob("*.pt"):
        torch.save(state, f)
    with pytest.raises(CheckpointError, match="pickled"):
        load_checkpoint(run)
    assert main(["reconstruct", str(run), "--out", str(tmp_path / "rec"), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pickled" in err[0]
    assert not marker.exists() and not (tmp_path / "rec").exists()
    # control: the payload is live, a plain (unsafe) load runs it
    torch.load(run / "checkpoints" / "latest.pt", weights_only=False)
    assert marker.exists()


def test_corrupt_latest_falls_back_to_previous(small_dataset, tmp_path):
    run = tmp_path / "r"
    train(small_dataset, run, *_tiny(3, checkpoint_every=1), device="cpu", progress=False)
    (run / "checkpoints" / "latest.pt").write_bytes(b"\x00garbage")
    (run / "checkpoints" / "epoch_0003.pt").write_bytes(b"PK\x03\x04truncated")
    with pytest.warns(UserWarning, match="using epoch_0002.pt"):
        assert load_checkpoint(run)["epoch"] == 2
    all_bad = tmp_path / "bad"
    (all_bad / "checkpoints").mkdir(parents=True)
    (all_bad / "checkpoints" / "latest.pt").write_bytes(b"nope")
    with pytest.raises(CheckpointError):
        load_checkpoint(all_bad)


def test_config_records_the_command_only_when_there_is_one(small_dataset, tmp_path,
                                                         monkeypatch):
    """A library call (e.g. from a notebook, whose sys.argv is the kernel launcher) records
    no command; the CLI records its own; a resumed run keeps the command it started with."""
    import json

    monkeypatch.setattr("sys.argv", ["ipykernel_launcher.py", "-f", "kernel.json"])
    train(small_dataset, tmp_path / "lib", *_tiny(1), device="cpu", progress=False)
    assert json.loads((tmp_path / "lib" / "config.json").read_text())["command"] is None
    monkeypatch.setattr("sys.argv", ["cellshapes", "train", str(small_dataset)])
    assert main(["train", str(small_dataset), "--out", str(tmp_path / "cli"), "--profile",
                 "smoke", "--epochs", "1", "--device", "cpu", "-q"]) == 0
    config = tmp_path / "cli" / "config.json"
    assert json.loads(config.read_text())["command"] == f"cellshapes train {small_dataset}"
    train(small_dataset, tmp_path / "cli", resume=True, epochs=2, device="cpu", progress=False)
    assert json.loads(config.read_text())["command"] == f"cellshapes train {small_dataset}"


def test_second_trainer_on_same_run_is_refused(small_dataset, tmp_path, capsys):
    from cellshapes.training.checkpoint import RunLockedError, run_lock

    run = tmp_path / "busy"
    with run_lock(run):
        with pytest.raises(RunLockedError, match="being trained by pid"):
            train(small_dataset, run, *_tiny(1), device="cpu", progress=False)
        assert main(["train", str(small_dataset), "--out", str(run), "--profile", "smoke",
                     "--epochs", "1", "-q"]) == 2
    assert "being trained" in capsys.readouterr().err
    assert not run.exists()
    train(small_dataset, run, *_tiny(1), device="cpu", progress=False)  # lock released
    assert _log_epochs(run) == [1]


def test_run_lock_waits_and_cleans_up(tmp_path):
    import threading

    from cellshapes.training.checkpoint import RunLockedError, lock_path, run_lock

    run = tmp_path / "r"
    owner = lock_path(run).with_suffix(".owner")
    order, held = [], []

    def second():
        cm = run_lock(run, wait=True)
        cm.__enter__()
        held.append(cm)
        order.append("second")

    with run_lock(run):
        assert owner.read_text() == f"pid {os.getpid()}"
        t = threading.Thread(target=second)
        t.start()
        time.sleep(0.2)
        order.append("first done")
    t.join(5)
    assert order == ["first done", "second"]
    # the waiting thread now holds it: a third caller is refused, with the holder's pid
    with pytest.raises(RunLockedError, match=f"being trained by pid {os.getpid()}"):
        with run_lock(run):
            pass
    held[0].__exit__(None, None, None)
    assert not owner.exists()


def test_run_lock_writes_nothing_beside_the_run(tmp_path, monkeypatch):
    from cellshapes.training.checkpoint import lock_path, run_lock

    monkeypatch.setenv("CELLSHAPES_LOCK_DIR", str(tmp_path / "locks"))
    out = tmp_path / "work"
    out.mkdir()
    run = out / "r"
    with run_lock(run):
        assert list(out.iterdir()) == []                      # nothing beside the run
        assert lock_path(run).with_suffix(".owner").read_text() == f"pid {os.getpid()}"
    assert list(out.iterdir()) == []
    names = sorted(p.name for p in (tmp_path / "locks").iterdir())
    assert len(names) == 1 and names[0].startswith("r-") and names[0].endswith(".lock")
    assert lock_path(run) != lock_path(out / "other" / "r")    # keyed by the full path
    with run_lock(run):  # and it can be taken again at once
        pass


def test_training_imports_without_fcntl(tmp_path):
    """The run lock is portable: no fcntl needed (Windows), the lock still works."""
    code = ("import sys; sys.modules['fcntl'] = None\n"
            "import warnings; warnings.simplefilter('ignore')\n"
            "import cellshapes.training.loop, cellshapes.training.checkpoint as c\n"
            f"with c.run_lock({str(tmp_path / 'r')!r}):\n"
            "    pass\n"
            "print('locked and released')\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "locked and released"


def test_amp_training_is_deterministic_and_float32_state(small_dataset, tmp_path):
    for name in ("a", "b"):
        train(small_dataset, tmp_path / name, *_tiny(3, seed=5, amp=True), device="cpu",
              progress=False)
    wa, wb = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert all(torch.equal(wa[k], wb[k]) and wa[k].dtype == torch.float32 for k in wa)
    train(small_dataset, tmp_path / "c", *_tiny(3, seed=5), device="cpu", progress=False)
    assert not torch.equal(wa["codes"], _weights(tmp_path / "c")["codes"])  # bf16 was used


def test_amp_without_native_bf16_warns(small_dataset, tmp_path, monkeypatch):
    import cellshapes.training.loop as train_module

    monkeypatch.setattr(train_module, "native_bf16", lambda dev: False)
    with pytest.warns(UserWarning, match="no native bfloat16"):
        train(small_dataset, tmp_path / "r", *_tiny(1, amp=True), device="cpu",
              progress=False)


def test_native_bf16_reads_cpu_flags(monkeypatch):
    from cellshapes import resources

    monkeypatch.setattr(resources, "_cpu_flags", lambda: {"avx2", "avx512f"})
    assert resources.native_bf16(torch.device("cpu")) is False
    monkeypatch.setattr(resources, "_cpu_flags", lambda: {"avx512f", "avx512_bf16"})
    assert resources.native_bf16(torch.device("cpu")) is True


def test_code_sigma_is_the_papers_prior_per_point(small_dataset, tmp_path):
    """(1/sigma^2)||z||^2 next to the summed L1 = 1/(sigma^2 N) next to the mean L1."""
    cfg = train_config("smoke", points_per_frame=4000, code_sigma=0.01)
    assert cfg.code_weight == pytest.approx(1.0 / (1e-4 * 4000))
    assert train_config("smoke", code_reg=3e-4).code_weight == 3e-4  # off: code_reg
    with pytest.raises(InputError, match="code_sigma"):
        train_config("smoke", code_sigma=-1.0)
    # a tight prior pulls the codes towards 0 much harder than the default 1e-4
    norms = {}
    for name, kw in [("default", {}), ("prior", dict(code_sigma=0.002, code_reg_warmup=1))]:
        train(small_dataset, tmp_path / name, *_tiny(8, seed=3, **kw), device="cpu",
              progress=False)
        norms[name] = float(_weights(tmp_path / name)["codes"].norm())
    assert norms["prior"] < 0.5 * norms["default"], norms
