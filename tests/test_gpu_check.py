"""The GPU lease kit: the ``gpu`` profile, its estimate, the wheels to carry, the check.

Nothing here needs a GPU or the network: the check and the wheel script are run with
``--dry-run`` / ``--list``, the wheel pruning and closure on fake wheels, the estimate on
the presets.
"""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from cellshapes.config import model_config, profile_seeds, train_config
from cellshapes.config.schema import ModelConfig
from cellshapes.repro.presets import GPU_NOTEBOOKS, notebook_preset

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import gpu_check, gpu_profile_estimate, gpu_wheels  # noqa: E402


def _bash(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(ROOT / "benchmarks" / script), *args],
                          capture_output=True, text=True, cwd=ROOT)


# ----------------------------------------------------------------------- the gpu profile
def test_gpu_profile_is_the_papers_decoder_at_128_with_three_seeds():
    paper = ModelConfig()  # the field defaults are the paper's decoder
    assert model_config("gpu") == paper
    assert (paper.hidden, paper.layers, paper.latent_dim, paper.omega0,
            paper.latent_layers) == (128, 9, 64, 30.0, (0, 4, 7))
    assert profile_seeds("gpu") == [0, 1, 2]  # enough for verdicts
    assert train_config("gpu").amp
    for name in GPU_NOTEBOOKS:
        preset = notebook_preset(name, "gpu")
        grids = getattr(preset, "train_grids", [getattr(preset, "size", None) or 128])
        assert max(grids) >= 128, name
    assert notebook_preset("09_deepsdf_comparison", "gpu").deepsdf == {}  # paper's DeepSDF


def test_gpu_estimate_fits_an_h100_and_a_few_minutes(tmp_path):
    out = tmp_path / "est.json"
    assert gpu_profile_estimate.main(["--json", str(out)]) == 0
    import json

    doc = json.loads(out.read_text())
    assert doc["estimate"] is True
    rows = {r["notebook"]: r for r in doc["notebooks"]}
    assert sorted(rows) == sorted(GPU_NOTEBOOKS)
    for r in rows.values():
        assert r["device_peak_gib"] < 78  # one H100
        assert r["wall_s"]["fast"] <= r["wall_s"]["slow"] <= 10 * 60  # minutes, not hours
    assert rows["02_reconstruction"]["models"] == 9  # 3 kinds x 3 seeds
    assert rows["09_deepsdf_comparison"]["device_peak_gib"] > rows["02_reconstruction"][
        "device_peak_gib"]  # the 8 x 512 DeepSDF holds more activations
    # the notebook the check runs is the cheapest one, and fits its step limit
    limit = dict((n, lim) for n, lim, _ in gpu_check.STEPS)["papermill"]
    assert min(rows, key=lambda n: rows[n]["wall_s"]["slow"]) == gpu_check.NOTEBOOK
    assert rows[gpu_check.NOTEBOOK]["wall_s"]["slow"] <= limit


# ----------------------------------------------------------------------- the wheels
def test_gpu_wheels_list_names_papermill_without_the_network(tmp_path):
    proc = _bash("gpu_wheels.sh", "--list", "--dir", str(tmp_path / "w"))
    assert proc.returncode == 0, proc.stderr
    assert "papermill" in proc.stdout and "ipykernel" in proc.stdout
    assert "--only-binary=:all:" in proc.stdout and "--python-version 3.12" in proc.stdout
    assert "manylinux2014_x86_64" in proc.stdout
    assert not (tmp_path / "w").exists()  # nothing downloaded, nothing made
    assert _bash("gpu_wheels.sh", "--dry-run", "--dir", str(tmp_path / "w")).returncode == 0


def test_wheels_folder_is_ignored_by_git():
    proc = subprocess.run(["git", "check-ignore", "-q", ".whl/x.whl"], cwd=ROOT)
    assert proc.returncode == 0


def _fake_wheel(folder: Path, name: str, requires: list[str]) -> Path:
    path = folder / f"{name}-1.0-py3-none-any.whl"
    meta = "Metadata-Version: 2.1\nName: {}\nVersion: 1.0\n".format(name) + "".join(
        f"Requires-Dist: {r}\n" for r in requires)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{name}-1.0.dist-info/METADATA", meta)
    return path


def test_prune_drops_what_the_machine_has_and_unmet_finds_holes(tmp_path):
    _fake_wheel(tmp_path, "papermill", ["nbclient", "PyYAML", "tenacity>=5",
                                        "black; extra == 'black'",
                                        "pywin32; sys_platform == 'win32'"])
    _fake_wheel(tmp_path, "nbclient", ["traitlets"])
    _fake_wheel(tmp_path, "PyYAML", [])
    box = {"pyyaml", "numpy"}
    assert gpu_wheels.prune(tmp_path, box) == ["pyyaml"]
    assert sorted(p.name.split("-")[0] for p in tmp_path.glob("*.whl")) == ["nbclient",
                                                                           "papermill"]
    # extras and other platforms are not needed; tenacity and traitlets are missing
    assert gpu_wheels.unmet(tmp_path, box) == {"nbclient-1.0-py3-none-any.whl": ["traitlets"],
                                               "papermill-1.0-py3-none-any.whl": ["tenacity"]}
    _fake_wheel(tmp_path, "tenacity", [])
    _fake_wheel(tmp_path, "traitlets", [])
    assert gpu_wheels.unmet(tmp_path, box) == {}
    (tmp_path / "traitlets-2.0-py3-none-any.whl").write_bytes(b"")
    assert gpu_wheels.duplicates(tmp_path) == ["traitlets"]


def test_box_packages_hold_the_gpu_machines_stack():
    box = gpu_wheels.box_packages()
    assert {"torch", "numpy", "h5py", "tifffile", "scikit-image", "matplotlib",
            "seaborn"} <= box
    assert not {"papermill", "ipykernel", "nbclient", "meshio", "pyvista", "vtk"} & box


# ----------------------------------------------------------------------- the check
def test_gpu_check_dry_run_lists_a_cuda_papermill_step_within_600_s(tmp_path):
    proc = _bash("gpu_check.sh", "--dry-run", "--out", str(tmp_path / "o"),
                 "--work", str(tmp_path / "w"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    head, steps = lines[0], lines[1:]
    total = sum(int(ln.split("<=")[1].split()[0]) for ln in steps)
    assert head.startswith(f"gpu_check: {len(steps)} steps, at most {total} s")
    assert total <= 600 and "budget 600 s" in head
    assert [ln.split()[0] for ln in steps] == ["wheels", "bench", "phantoms", "prepare",
                                              "plan", "train", "papermill"]
    wheels, bench, papermill = steps[0], steps[1], steps[-1]
    assert "--no-index" in wheels and ".whl/*.whl" in wheels
    assert "--device cuda" in bench
    assert "notebooks --profile gpu --only 07 --device cuda" in papermill
    assert not (tmp_path / "o").exists() and not (tmp_path / "w").exists()


def test_notebook_outputs_are_kept_in_few_small_files(tmp_path):
    work, out = tmp_path / "w", tmp_path / "o"
    nb = work / "notebooks"
    name = gpu_check.NOTEBOOK
    for rel in (f"notebooks/{name}.ipynb", f"results/{name}.json", f"figures/{name}_dsc.png",
                f"figures/{name}_render.png", "runs/gpu/a/log.csv", "runs/gpu/a/config.json",
                "data/big.h5"):
        (nb / rel).parent.mkdir(parents=True, exist_ok=True)
        (nb / rel).write_text("epoch,loss,time_s\n1,0.5,0.25\n2,0.4,0.5\n3,0.3,0.75\n")
    out.mkdir()
    kept = gpu_check.keep_notebook_outputs(work, out)
    assert kept == [f"{name}.ipynb", f"{name}.json", f"{name}_files.zip"]
    assert sorted(p.name for p in out.iterdir()) == sorted(kept)
    with zipfile.ZipFile(out / f"{name}_files.zip") as z:
        assert sorted(z.namelist()) == [f"figures/{name}_dsc.png", f"figures/{name}_render.png",
                                        "runs/gpu/a/config.json", "runs/gpu/a/log.csv"]
    assert gpu_check._epoch_seconds(nb) == {"a": 0.5}


def test_gpu_check_without_cuda_says_so(tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert gpu_check.main(["--out", str(tmp_path / "o"), "--work", str(tmp_path / "w")]) == 2


def test_notebooks_take_the_gpu_profile_where_sized_for_it(tmp_path):
    from cellshapes.errors import InputError
    from cellshapes.repro import workflow

    dirs = dict(data_dir=tmp_path / "d", runs_dir=tmp_path / "r", figures_dir=tmp_path / "f",
                results_dir=tmp_path / "x", verbose=False)
    for name in GPU_NOTEBOOKS:
        nb = workflow.setup(name, "gpu", "cpu", **dirs)
        assert nb.seeds == [0, 1, 2] and nb.settings == notebook_preset(name, "gpu")
    with pytest.raises(InputError, match="no 'gpu' preset"):  # not sized for it: refused
        workflow.setup("03_synthesis", "gpu", "cpu", **dirs)


def test_check_records_each_step_and_goes_on_after_a_failure(tmp_path, monkeypatch):
    """The step runner on CPU with stand-in commands: failures, time-outs, skipped wheels."""
    py = sys.executable
    monkeypatch.setattr(gpu_check, "STEPS", [
        ("wheels", 30, ["{wheels}"]),
        ("fails", 10, [py, "-c", "import sys; sys.exit(3)"]),
        ("slow", 1, [py, "-c", "import time; time.sleep(5)"]),
        ("papermill", 10, [py, "-c", "print('{out}')"]),
    ])
    monkeypatch.setattr(gpu_check, "_have_papermill", lambda env: False)
    where = {"out": tmp_path / "o", "work": tmp_path / "w", "site": tmp_path / "w" / "site"}
    where["out"].mkdir()
    doc = gpu_check._execute(where, budget_s=60, wheels=[])
    steps = doc["steps"]
    assert steps["wheels"]["rc"] is None and "gpu_wheels.sh" in steps["wheels"]["error"]
    assert steps["fails"]["rc"] == 3
    assert steps["slow"]["rc"] is None and "timed out after 1 s" in steps["slow"]["error"]
    assert steps["papermill"]["rc"] == 0 and str(where["out"]) in steps["papermill"][
        "stdout_tail"]
    assert steps["papermill"]["kept"] == []  # no notebook ran: nothing to keep
    monkeypatch.setattr(gpu_check, "_have_papermill", lambda env: True)
    doc = gpu_check._execute(where, budget_s=60, wheels=[])
    assert doc["steps"]["wheels"] == {"name": "wheels", "rc": 0,
                                      "skipped": "papermill already importable"}
