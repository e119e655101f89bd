"""A battery of bad inputs for every CLI command (GitHub issue 7).

Every case must: exit with code 2, print exactly one line on stderr starting with
``cellshapes: error:`` (no traceback), leave no partial output behind (the output path
does not exist afterwards unless it existed before, no stray ``.tmp`` files) and change
no input file (hashes before/after). Cases run in-process through
:func:`cellshapes.cli.main`; a handful also run through the real console script.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import tifffile

from cellshapes.cli import main
from cellshapes.io import write_tiff

from .conftest import write_ellipsoid_dataset

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _ball(shape=(12, 12, 12), r=4.0, centre=None):
    c = np.array(centre if centre is not None else [(s - 1) / 2 for s in shape])
    g = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"), -1)
    return (np.linalg.norm(g - c, axis=-1) <= r).astype(np.uint8)


class _Evil:
    """Unpickling this would run a shell command; weights_only loading must refuse it."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """Every bad (and a few good) input files, plus one tiny trained run."""
    import torch

    from cellshapes.config import model_config, train_config
    from cellshapes.training.loop import train

    root = tmp_path_factory.mktemp("bad")
    p = {}
    p["root"] = root
    # --- masks
    p["mask"] = write_tiff(root / "mask.tif", np.stack([_ball(), _ball(r=4.5)]),
                           spacing=(1.0, 0.5, 0.5))
    p["mask_sp2"] = write_tiff(root / "mask_sp2.tif", _ball(), spacing=(2.0, 0.5, 0.5))
    p["img2d"] = root / "img2d.tif"
    tifffile.imwrite(p["img2d"], _ball()[6])
    p["img5d"] = root / "img5d.tif"
    tifffile.imwrite(p["img5d"], np.zeros((2, 2, 3, 8, 8), np.uint8), photometric="minisblack")
    p["empty"] = write_tiff(root / "empty.tif", np.zeros((8, 8, 8), np.uint8))
    p["full"] = write_tiff(root / "full.tif", np.ones((8, 8, 8), np.uint8))
    p["floaty"] = root / "floaty.tif"
    tifffile.imwrite(p["floaty"], np.random.default_rng(0).random((6, 8, 8), np.float32))
    p["nan_tif"] = root / "nan.tif"
    nan_img = np.zeros((6, 8, 8), np.float32)
    nan_img[2, 3, 3] = np.nan
    tifffile.imwrite(p["nan_tif"], nan_img)
    p["garbage_tif"] = root / "garbage.tif"
    p["garbage_tif"].write_bytes(b"II*\x00" + os.urandom(200))
    labels = np.zeros((1, 20, 20, 20), np.uint16)
    for k, (z, y, x) in enumerate([(5, 5, 5), (5, 14, 5), (14, 5, 14), (14, 14, 14)], 1):
        labels[0] += (k + 6) * _ball((20, 20, 20), r=2.5 + 0.3 * k, centre=(z, y, x))
    p["labels"] = write_tiff(root / "labels.tif", labels, spacing=(1.0, 1.0, 1.0))
    p["empty_dir"] = root / "empty_dir"
    p["empty_dir"].mkdir()
    p["unreadable"] = write_tiff(root / "unreadable.tif", _ball())
    if not IS_ROOT:
        p["unreadable"].chmod(0)
    # --- datasets
    p["data"] = write_ellipsoid_dataset(root / "data.h5", n=2, size=16)
    p["data_other"] = write_ellipsoid_dataset(root / "data_other.h5", n=2, size=16,
                                              scale_um=25.0)
    raw = p["data"].read_bytes()
    p["truncated"] = root / "truncated.h5"
    p["truncated"].write_bytes(raw[: len(raw) // 2])
    good = np.zeros((2, 8, 8, 8), np.float32) + 1.0
    good[:, 3:5, 3:5, 3:5] = -1.0
    for name, value in (("nan", np.nan), ("inf", np.inf)):
        p[name] = root / f"{name}.h5"
        with h5py.File(p[name], "w") as f:
            f.attrs["format"] = "cellshapes.sdf"
            f.attrs["format_version"] = 1
            bad = good.copy()
            bad[1, 0, 0, 0] = value
            f.create_group("seq_0000").create_dataset("sdf", data=bad)
    p["root_ds"] = root / "root_ds.h5"
    with h5py.File(p["root_ds"], "w") as f:
        f.attrs["format"] = "cellshapes.sdf"
        f.create_dataset("sdf", data=good)
    p["no_sdf"] = root / "no_sdf.h5"
    with h5py.File(p["no_sdf"], "w") as f:
        f.attrs["format"] = "cellshapes.sdf"
        f.create_group("seq_0000").create_dataset("masks", data=good)
    p["sdf3d"] = root / "sdf3d.h5"
    with h5py.File(p["sdf3d"], "w") as f:
        f.attrs["format"] = "cellshapes.sdf"
        f.create_group("seq_0000").create_dataset("sdf", data=good[0])
    p["foreign_h5"] = root / "foreign.h5"
    with h5py.File(p["foreign_h5"], "w") as f:
        f.create_dataset("volume", data=good)
    p["ref3d"] = root / "ref2d.h5"  # reference file with a 2D sdf_vid
    with h5py.File(p["ref3d"], "w") as f:
        f.create_dataset("sdf_vid", data=good[0, 0])
    # --- runs
    run = root / "run"
    train(p["data"], run,
          model_config("smoke", hidden=16, layers=2, latent_dim=4, latent_layers=(0,)),
          train_config("smoke", epochs=1, points_per_frame=256), device="cpu",
          progress=False)
    p["run"] = run
    p["run_noconfig"] = shutil.copytree(run, root / "run_noconfig")
    (p["run_noconfig"] / "config.json").unlink()
    p["run_badjson"] = shutil.copytree(run, root / "run_badjson")
    (p["run_badjson"] / "config.json").write_text('{"model": {"hidden": 16,')
    p["run_escape"] = shutil.copytree(run, root / "run_escape")
    cfg = json.loads((run / "config.json").read_text())
    cfg["data"]["names"] = ["../../escaped", "seq_0001"]
    (p["run_escape"] / "config.json").write_text(json.dumps(cfg))
    p["run_abs"] = shutil.copytree(run, root / "run_abs")
    cfg["data"]["names"] = [str(root / "abs_escaped"), "seq_0001"]
    (p["run_abs"] / "config.json").write_text(json.dumps(cfg))
    p["run_nonames"] = shutil.copytree(run, root / "run_nonames")
    cfg["data"] = {"size": 16}
    (p["run_nonames"] / "config.json").write_text(json.dumps(cfg))
    for key, change in (("run_badmodel", {"hidden": "wide"}), ("run_mismatch", {"latent_dim": 3})):
        p[key] = shutil.copytree(run, root / key)
        bad_cfg = json.loads((run / "config.json").read_text())
        bad_cfg["model"].update(change)
        (p[key] / "config.json").write_text(json.dumps(bad_cfg))
    p["run_nockpt"] = shutil.copytree(run, root / "run_nockpt")
    shutil.rmtree(p["run_nockpt"] / "checkpoints")
    p["run_pickle"] = shutil.copytree(run, root / "run_pickle")
    state = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)
    p["marker"] = root / "PWNED"
    state["payload"] = _Evil(p["marker"])
    for f in (p["run_pickle"] / "checkpoints").glob("*.pt"):
        torch.save(state, f)
    p["run_corrupt"] = shutil.copytree(run, root / "run_corrupt")
    for f in (p["run_corrupt"] / "checkpoints").glob("*.pt"):
        f.write_bytes(f.read_bytes()[:100])
    # --- existing outputs
    p["exists_h5"] = root / "exists.h5"
    p["exists_h5"].write_bytes(b"precious")
    p["exists_dir"] = root / "exists_dir"
    p["exists_dir"].mkdir()
    (p["exists_dir"] / "keep.txt").write_text("precious")
    p["exists_ply"] = root / "exists.ply"
    p["exists_ply"].write_text("precious")
    p["exists_csv"] = root / "exists.csv"
    p["exists_csv"].write_text("precious")
    p["exists_json"] = root / "exists.json"
    p["exists_json"].write_text("precious")
    yield p
    if not IS_ROOT:
        p["unreadable"].chmod(0o644)


# (id, argv with {placeholders}, substring expected in the message)
# {out} is a fresh path under the case's own folder that must not exist afterwards.
CASES = [
    # ------------------------------------------------------------------ prepare
    ("prepare-missing", "prepare {root}/nope.tif --out {out}.h5", "does not exist"),
    ("prepare-empty-dir", "prepare {empty_dir} --out {out}.h5", "no .tif"),
    ("prepare-unreadable", "prepare {unreadable} --out {out}.h5", "cannot be read"),
    ("prepare-2d", "prepare {img2d} --out {out}.h5", "3D"),
    ("prepare-5d", "prepare {img5d} --out {out}.h5", "3D"),
    ("prepare-empty-mask", "prepare {empty} --out {out}.h5", "empty"),
    ("prepare-all-foreground", "prepare {full} --out {out}.h5", "all foreground"),
    ("prepare-float-garbage", "prepare {floaty} --out {out}.h5", "non-integer"),
    ("prepare-nan-tiff", "prepare {nan_tif} --out {out}.h5", "NaN"),
    ("prepare-not-a-tiff", "prepare {garbage_tif} --out {out}.h5", "not a readable TIFF"),
    ("prepare-truncated-h5", "prepare {truncated} --out {out}.h5", "truncated"),
    ("prepare-foreign-h5", "prepare {foreign_h5} --out {out}.h5", "sdf_vid"),
    ("prepare-reference-2d", "prepare {ref3d} --out {out}.h5", "3D or 4D"),
    ("prepare-spacing-mismatch", "prepare {mask} {mask_sp2} --out {out}.h5",
     "different voxel spacings"),
    ("prepare-bad-spacing", "prepare {mask} --spacing 1 -1 1 --out {out}.h5", "positive"),
    ("prepare-unknown-label", "prepare {labels} --label 3 --out {out}.h5", "label 3"),
    ("prepare-exists", "prepare {mask} --out {exists_h5}", "already exists"),
    ("prepare-size-negative", "prepare {mask} --size -5 --out {out}.h5", "--size"),
    ("prepare-size-3", "prepare {mask} --size 3 --out {out}.h5", ">= 4"),
    ("prepare-size-huge", "prepare {mask} --size 4000 --out {out}.h5", "GiB"),
    # --------------------------------------------------------- export-reference
    ("export-missing", "export-reference {root}/nope.h5 --out {out}", "does not exist"),
    ("export-dir", "export-reference {empty_dir} --out {out}", "folder"),
    ("export-truncated", "export-reference {truncated} --out {out}", "truncated"),
    ("export-nan", "export-reference {nan} --out {out}", "NaN"),
    ("export-inf", "export-reference {inf} --out {out}", "NaN or inf"),
    ("export-root-dataset", "export-reference {root_ds} --out {out}", "no 'sdf'"),
    ("export-group-without-sdf", "export-reference {no_sdf} --out {out}", "no 'sdf'"),
    ("export-sdf-3d", "export-reference {sdf3d} --out {out}", "(T, S, S, S)"),
    ("export-tiff-given", "export-reference {mask} --out {out}", "HDF5"),
    ("export-exists", "export-reference {data} --out {exists_dir}", "already exists"),
    # ---------------------------------------------------------------- describe
    ("describe-missing", "describe {root}/nope.tif", "does not exist"),
    ("describe-empty-dir", "describe {empty_dir}", "no .tif"),
    ("describe-2d", "describe {img2d}", "3D"),
    ("describe-5d", "describe {img5d}", "3D"),
    ("describe-empty-mask", "describe {empty}", "empty"),
    ("describe-float-garbage", "describe {floaty}", "non-integer"),
    ("describe-nan-h5", "describe {nan}", "NaN"),
    ("describe-truncated", "describe {truncated}", "truncated"),
    ("describe-wrong-layout", "describe {root_ds}", "no 'sdf'"),
    ("describe-bad-spacing", "describe {mask} --spacing 0 1 1", "positive"),
    ("describe-csv-exists", "describe {mask} --csv {exists_csv}", "already exists"),
    # -------------------------------------------------------------------- mesh
    ("mesh-missing", "mesh {root}/nope.tif --out {out}.ply", "does not exist"),
    ("mesh-2d", "mesh {img2d} --out {out}.ply", "3D"),
    ("mesh-empty-mask", "mesh {empty} --out {out}.ply", "empty"),
    ("mesh-all-foreground", "mesh {full} --out {out}.ply", "surface"),
    ("mesh-nan-h5", "mesh {nan} --out {out}.ply", "NaN"),
    ("mesh-truncated", "mesh {truncated} --out {out}.ply", "truncated"),
    ("mesh-bad-format", "mesh {mask} --out {out}.xyz", "mesh format"),
    ("mesh-frame-out-of-range", "mesh {mask} --frame 7 --out {out}.ply", "out of range"),
    ("mesh-frame-negative", "mesh {mask} --frame -1 --out {out}.ply", "frame"),
    ("mesh-exists", "mesh {mask} --out {exists_ply}", "already exists"),
    # ------------------------------------------------------------------- train
    ("train-missing", "train {root}/nope.h5 --out {out} --profile smoke", "does not exist"),
    ("train-dir", "train {empty_dir} --out {out} --profile smoke", "folder"),
    ("train-truncated", "train {truncated} --out {out} --profile smoke", "truncated"),
    ("train-nan", "train {nan} --out {out} --profile smoke", "NaN"),
    ("train-inf", "train {inf} --out {out} --profile smoke", "NaN or inf"),
    ("train-root-dataset", "train {root_ds} --out {out} --profile smoke", "no 'sdf'"),
    ("train-no-sdf", "train {no_sdf} --out {out} --profile smoke", "no 'sdf'"),
    ("train-sdf-3d", "train {sdf3d} --out {out} --profile smoke", "(T, S, S, S)"),
    ("train-foreign-h5", "train {foreign_h5} --out {out} --profile smoke", "format"),
    ("train-tiff-given", "train {mask} --out {out} --profile smoke", "HDF5"),
    ("train-exists", "train {data} --out {exists_dir} --profile smoke", "exists"),
    ("train-epochs-0", "train {data} --out {out} --profile smoke --epochs 0", "--epochs"),
    ("train-points-negative", "train {data} --out {out} --profile smoke --points -3",
     "--points"),
    ("train-resume-bad-config", "train {data} --out {run_badjson} --resume", "JSON"),
    ("train-resume-pickled", "train {data} --out {run_pickle} --resume --profile smoke",
     "pickled"),
    # ------------------------------------------------------------- reconstruct
    ("reconstruct-missing-run", "reconstruct {root}/nope --out {out}", "does not exist"),
    ("reconstruct-run-is-file", "reconstruct {mask} --out {out}", "not a run directory"),
    ("reconstruct-no-config", "reconstruct {run_noconfig} --out {out}", "config.json"),
    ("reconstruct-bad-json", "reconstruct {run_badjson} --out {out}", "JSON"),
    ("reconstruct-escape", "reconstruct {run_escape} --out {out}", "escape"),
    ("reconstruct-escape-abs", "reconstruct {run_abs} --out {out}", "escape"),
    ("reconstruct-config-no-names", "reconstruct {run_nonames} --out {out}", "data.names"),
    ("reconstruct-config-bad-model", "reconstruct {run_badmodel} --out {out}", "'model'"),
    ("reconstruct-config-checkpoint-mismatch", "reconstruct {run_mismatch} --out {out}",
     "does not match"),
    ("reconstruct-no-checkpoint", "reconstruct {run_nockpt} --out {out}", "no checkpoint"),
    ("reconstruct-pickled", "reconstruct {run_pickle} --out {out}", "pickled"),
    ("reconstruct-corrupt", "reconstruct {run_corrupt} --out {out}", "corrupt"),
    ("reconstruct-exists", "reconstruct {run} --out {exists_dir}", "already exists"),
    ("reconstruct-size-negative", "reconstruct {run} --out {out} --size -4", "--size"),
    ("reconstruct-frames-0", "reconstruct {run} --out {out} --frames 0", "--frames"),
    ("reconstruct-huge", "reconstruct {run} --out {out} --size 5000 --frames 100", "GiB"),
    ("reconstruct-bad-sequences", "reconstruct {run} --out {out} --sequences 9",
     "out of range"),
    ("reconstruct-sequences-garbage", "reconstruct {run} --out {out} --sequences a,b",
     "comma-separated"),
    # ---------------------------------------------------------------- evaluate
    ("evaluate-missing-run", "evaluate {root}/nope {data}", "does not exist"),
    ("evaluate-missing-data", "evaluate {run} {root}/nope.h5", "does not exist"),
    ("evaluate-truncated", "evaluate {run} {truncated}", "truncated"),
    ("evaluate-nan", "evaluate {run} {nan}", "NaN"),
    ("evaluate-spacing-mismatch", "evaluate {run} {data_other}", "scale"),
    ("evaluate-size-0", "evaluate {run} {data} --size 0", "--size"),
    ("evaluate-json-exists", "evaluate {run} {data} --json {exists_json}", "already exists"),
    ("evaluate-pickled", "evaluate {run_pickle} {data}", "pickled"),
    # --------------------------------------------------------------------- fit
    ("fit-missing-run", "fit {root}/nope {data} --out {out}", "does not exist"),
    ("fit-truncated", "fit {run} {truncated} --out {out}", "truncated"),
    ("fit-wrong-layout", "fit {run} {no_sdf} --out {out}", "no 'sdf'"),
    ("fit-exists", "fit {run} {data} --out {exists_dir}", "already exists"),
    ("fit-steps-0", "fit {run} {data} --out {out} --steps 0", "--steps"),
    ("fit-escape", "fit {run_escape} {data} --out {out}", "escape"),
    # ---------------------------------------------------------------- generate
    ("generate-n-0", "generate {run} --out {out} --n 0", "--n"),
    ("generate-n-negative", "generate {run} --out {out} --n -2", "--n"),
    ("generate-size-negative", "generate {run} --out {out} --size -1", "--size"),
    ("generate-frames-0", "generate {run} --out {out} --frames 0", "--frames"),
    ("generate-huge", "generate {run} --out {out} --size 5000 --frames 100", "GiB"),
    ("generate-exists", "generate {run} --out {exists_dir}", "already exists"),
    ("generate-pickled", "generate {run_pickle} --out {out}", "pickled"),
    ("generate-no-config", "generate {run_noconfig} --out {out}", "config.json"),
    # ---------------------------------------------------------------- phantoms
    ("phantoms-exists", "phantoms growing --out {exists_dir}", "already exists"),
    ("phantoms-size-negative", "phantoms growing --out {out} --size -3", "size"),
    ("phantoms-frames-0", "phantoms growing --out {out} --frames 0", "frames"),
    ("phantoms-sequences-0", "phantoms growing --out {out} --sequences 0", "sequences"),
    ("phantoms-huge", "phantoms growing --out {out} --size 20000", "GiB"),
    ("phantoms-bad-kind", "phantoms spiky --out {out}", "invalid choice"),
    # -------------------------------------------------------------- quickstart
    ("quickstart-exists", "quickstart --out {exists_dir}", "already exists"),
    ("quickstart-epochs-0", "quickstart --out {out} --epochs 0", "--epochs"),
]
PROGRESS_FREE = {"describe", "mesh"}  # commands without -q


def _argv(template: str, env: dict, out: Path) -> list[str]:
    fmt = {k: str(v) for k, v in env.items()}
    fmt["out"] = str(out)
    argv = template.format(**fmt).split()
    if argv[0] not in PROGRESS_FREE:
        argv.append("-q")
    return argv


def _snapshot(root: Path) -> dict[str, str]:
    """sha256 of every file under root (paths relative to it)."""
    out = {}
    for f in sorted(root.rglob("*")):
        if f.is_file() and not f.is_symlink():
            try:
                out[str(f.relative_to(root))] = hashlib.sha256(f.read_bytes()).hexdigest()
            except PermissionError:
                out[str(f.relative_to(root))] = "unreadable"
    return out


def _check_one_line(err: str) -> None:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("cellshapes: error:"), err
    assert "Traceback" not in err


@pytest.mark.parametrize("case_id,template,needle", CASES, ids=[c[0] for c in CASES])
def test_bad_input(case_id, template, needle, env, tmp_path, capsys):
    if case_id == "prepare-unreadable" and IS_ROOT:
        pytest.skip("running as root: chmod 000 does not block reading")
    out = tmp_path / "out"
    argv = _argv(template, env, out)
    before = _snapshot(env["root"])
    capsys.readouterr()
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse usage errors
        rc = exc.code
    err = capsys.readouterr().err
    assert rc == 2, (rc, err)
    _check_one_line(err)
    assert needle.lower() in err.lower(), err
    # no partial output, no stray temporaries, no input changed
    assert not any(tmp_path.iterdir()), list(tmp_path.iterdir())
    assert not [f for f in env["root"].rglob("*") if f.name.endswith(".tmp")]
    assert not (env["root"].parent / "escaped.tif").exists()
    assert not Path(str(env["root"] / "abs_escaped") + ".tif").exists()
    assert not env["marker"].exists(), "a pickled payload was executed"
    assert _snapshot(env["root"]) == before


def test_label_image_with_many_cells_says_which_label(env, tmp_path, capsys):
    """Not an error: prepare uses the largest label and says so on stderr (even with -q)."""
    out = tmp_path / "labels.h5"
    before = _snapshot(env["root"])
    rc = main(["prepare", str(env["labels"]), "--out", str(out), "--size", "8", "-q"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "label 10" in captured.err and "4 labels" in captured.err, captured.err
    summary = json.loads(captured.out)
    assert summary["sources"] == [f"{env['labels']}#label=10"]
    assert _snapshot(env["root"]) == before


SUBPROCESS_CASES = [
    "prepare-missing", "prepare-2d", "train-truncated", "reconstruct-pickled",
    "reconstruct-huge", "generate-n-0",
]


def test_console_script_prints_no_traceback(env, tmp_path):
    """The real ``cellshapes`` entry point: one line, exit 2, for a few cases."""
    exe = shutil.which("cellshapes") or str(Path(sys.executable).parent / "cellshapes")
    assert Path(exe).exists(), exe
    environ = {**os.environ, "OMP_NUM_THREADS": "1"}
    by_id = {c[0]: c for c in CASES}
    before = _snapshot(env["root"])
    for i, case_id in enumerate(SUBPROCESS_CASES):
        _, template, needle = by_id[case_id]
        out = tmp_path / f"case{i}" / "out"
        out.parent.mkdir()
        argv = _argv(template, env, out)
        res = subprocess.run([exe, *argv], capture_output=True, text=True, env=environ,
                             timeout=120)
        assert res.returncode == 2, (case_id, res.stderr)
        _check_one_line(res.stderr)
        assert needle.lower() in res.stderr.lower(), res.stderr
        assert not any(out.parent.iterdir())
    assert not env["marker"].exists()
    assert _snapshot(env["root"]) == before


def test_pickled_checkpoint_refused_by_api(env):
    from cellshapes.errors import CheckpointError
    from cellshapes.training.checkpoint import load_checkpoint

    with pytest.raises(CheckpointError, match="pickled"):
        load_checkpoint(env["run_pickle"])
    assert not env["marker"].exists()
    # and the payload really is a pickled object (plain pickle would run it)
    raw = (env["run_pickle"] / "checkpoints" / "latest.pt").read_bytes()
    assert b"system" in raw


def _api_cases():
    from cellshapes import errors as E
    from cellshapes.config import train_config
    from cellshapes.inference.evaluate import evaluate_run
    from cellshapes.inference.fit import fit_run
    from cellshapes.inference.generate import generate_run
    from cellshapes.inference.reconstruct import reconstruct_run
    from cellshapes.io import read_dataset, read_masks
    from cellshapes.phantoms import write_phantoms
    from cellshapes.prepare import prepare_dataset
    from cellshapes.training.checkpoint import load_checkpoint, read_config, run_path

    def prep(e, out, *inputs, **kw):
        return prepare_dataset([e[i] for i in inputs], out / "d.h5", progress=False, **kw)

    return [
        ("read_masks-missing", lambda e, o: read_masks(e["root"] / "nope.tif"),
         E.InputFileNotFoundError),
        ("read_masks-2d", lambda e, o: read_masks(e["img2d"]), E.InputError),
        ("read_masks-5d", lambda e, o: read_masks(e["img5d"]), E.InputError),
        ("read_masks-not-tiff", lambda e, o: read_masks(e["garbage_tif"]), E.DatasetFormatError),
        ("read_masks-nan", lambda e, o: read_masks(e["nan_tif"]), E.InputError),
        ("read_dataset-truncated", lambda e, o: read_dataset(e["truncated"]),
         E.DatasetFormatError),
        ("read_dataset-nan", lambda e, o: read_dataset(e["nan"]), E.DatasetFormatError),
        ("read_dataset-layout", lambda e, o: read_dataset(e["root_ds"]), E.DatasetFormatError),
        ("prepare-size-3", lambda e, o: prep(e, o, "mask", size=3), E.InputError),
        ("prepare-empty", lambda e, o: prep(e, o, "empty"), E.InputError),
        ("prepare-full", lambda e, o: prep(e, o, "full"), E.InputError),
        ("prepare-huge", lambda e, o: prep(e, o, "mask", size=4000), E.ResourceError),
        ("prepare-spacing", lambda e, o: prep(e, o, "mask", "mask_sp2"), E.InputError),
        ("prepare-exists", lambda e, o: prepare_dataset([e["mask"]], e["exists_h5"]),
         E.OutputExistsError),
        ("train_config-epochs-0", lambda e, o: train_config("smoke", epochs=0), E.InputError),
        ("reconstruct-size-0", lambda e, o: reconstruct_run(e["run"], o / "r", size=0,
                                                            device="cpu"), E.InputError),
        ("reconstruct-huge", lambda e, o: reconstruct_run(e["run"], o / "r", size=5000,
                                                          frames=100, device="cpu"),
         E.ResourceError),
        ("generate-n-0", lambda e, o: generate_run(e["run"], o / "g", n=0, device="cpu"),
         E.InputError),
        ("fit-steps-0", lambda e, o: fit_run(e["run"], e["data"], o / "f", steps=0,
                                             device="cpu"), E.InputError),
        ("evaluate-scale", lambda e, o: evaluate_run(e["run"], e["data_other"], device="cpu",
                                                     progress=False), E.InputError),
        ("read_config-escape", lambda e, o: read_config(e["run_escape"]), E.DatasetFormatError),
        ("read_config-file", lambda e, o: read_config(e["mask"]), E.DatasetFormatError),
        ("run_path-dotdot", lambda e, o: run_path(e["run"], "../x"), E.DatasetFormatError),
        ("run_path-absolute", lambda e, o: run_path(e["run"], "/etc/passwd"),
         E.DatasetFormatError),
        ("checkpoint-pickled", lambda e, o: load_checkpoint(e["run_pickle"]), E.CheckpointError),
        ("checkpoint-corrupt", lambda e, o: load_checkpoint(e["run_corrupt"]),
         E.CheckpointError),
        ("checkpoint-missing", lambda e, o: load_checkpoint(e["run_nockpt"]),
         E.InputFileNotFoundError),
        ("phantoms-huge", lambda e, o: write_phantoms("growing", o / "p", size=20000,
                                                      progress=False), E.ResourceError),
    ]


_API = _api_cases()


@pytest.mark.parametrize("case_id,call,exc", _API, ids=[c[0] for c in _API])
def test_api_raises_specific_class(case_id, call, exc, env, tmp_path):
    """The API raises the documented CellshapesError subclass, and writes nothing."""
    from cellshapes.errors import CellshapesError

    before = _snapshot(env["root"])
    with pytest.raises(exc) as info:
        call(env, tmp_path)
    assert isinstance(info.value, CellshapesError)
    assert "\n" not in str(info.value).strip()
    assert not any(tmp_path.iterdir())
    assert _snapshot(env["root"]) == before
    assert not env["marker"].exists()


def test_run_path_accepts_plain_names(env):
    from cellshapes.training.checkpoint import run_path

    assert run_path(env["run"], "seq_0000.tif") == env["run"] / "seq_0000.tif"
    assert run_path(env["run"], "masks/a.tif") == env["run"] / "masks" / "a.tif"


def test_atomic_outputs_get_ordinary_permissions(tmp_path):
    """atomic_path's temporary (mkstemp: 0600) must not leave outputs unreadable to others."""
    from cellshapes.atomic import atomic_path

    umask = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "a.txt") as tmp:
            tmp.write_text("x")
    finally:
        os.umask(umask)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644
