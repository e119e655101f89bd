"""Run-directory machinery shared by the shape and texture trainers."""
from __future__ import annotations

import csv
import os
import signal

import pytest

from cellshapes.errors import OutputExistsError
from cellshapes.training.rundir import RunLog, prepare_run_dir, stop_requests

FIELDS = ("epoch", "loss")


def _epochs(log: RunLog) -> list[str]:
    with open(log.path, newline="") as fh:
        return [r["epoch"] for r in csv.DictReader(fh)]


def test_log_write_append_truncate(tmp_path):
    log = RunLog(tmp_path, FIELDS)
    log.write([{"epoch": 1, "loss": 0.5}])
    log.append({"epoch": 2, "loss": 0.25})
    log.append({"epoch": 3, "loss": 0.125})
    assert _epochs(log) == ["1", "2", "3"]
    with open(log.path, "a") as fh:
        fh.write("4,0.0")  # half-written by a killed process
    log.truncate(2)
    assert _epochs(log) == ["1", "2"]
    assert log.path.read_text().splitlines()[0] == "epoch,loss"
    log.path.unlink()
    log.truncate(5)  # no log at all: a header
    assert _epochs(log) == []


def test_prepare_refuses_resumes_and_overwrites(tmp_path):
    run = tmp_path / "run"
    assert prepare_run_dir(run, resume=True, overwrite=False) is False  # nothing to resume
    run.mkdir()
    (run / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError):
        prepare_run_dir(run, resume=False, overwrite=False)
    with pytest.raises(OutputExistsError, match="not a run directory"):
        prepare_run_dir(run, resume=False, overwrite=True)
    (run / "config.json").write_text("{}")
    (run / "checkpoints").mkdir()
    assert prepare_run_dir(run, resume=True, overwrite=False) is True
    assert prepare_run_dir(run, resume=False, overwrite=True) is False
    assert sorted(p.name for p in run.iterdir()) == ["notes.txt"]  # only what a run writes


def test_first_signal_requests_a_stop_second_aborts():
    before = signal.getsignal(signal.SIGTERM)
    with stop_requests() as stop:
        assert not stop.requested
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.requested
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGTERM) is before
