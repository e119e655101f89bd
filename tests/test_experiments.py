"""Experiment scoring helpers: nearest resampling, re-gridded phantoms, per-frame scores."""
from __future__ import annotations

import numpy as np
import pytest

from cellshapes.errors import InputError
from cellshapes.io import dataset_info
from cellshapes.measure.metrics import dice
from cellshapes.repro.experiments import frame_scores, regrid_dataset, resample_nearest


def _ball(size: int, radius: float = 0.6) -> np.ndarray:
    g = np.linspace(-1, 1, size)
    z, y, x = np.meshgrid(g, g, g, indexing="ij")
    return np.sqrt(z ** 2 + y ** 2 + x ** 2) - radius


def test_resample_nearest_identity_and_corners():
    vol = np.random.default_rng(0).normal(size=(2, 5, 5, 5)).astype(np.float32)
    assert np.array_equal(resample_nearest(vol, 5), vol)
    up = resample_nearest(vol, 9)  # every other output voxel is an input voxel
    assert up.shape == (2, 9, 9, 9) and up.dtype == vol.dtype
    assert np.array_equal(up[:, ::2, ::2, ::2], vol)
    assert np.array_equal(resample_nearest(up, 5), vol)


def test_resample_nearest_keeps_shape_of_a_ball():
    """A coarse ball upsampled by nearest neighbour matches the fine ball closely."""
    fine = _ball(96) <= 0
    d24, d48 = (dice(resample_nearest(_ball(s) <= 0, 96), fine) for s in (24, 48))
    assert 0.93 < d24 < d48  # half a coarse voxel of error on the surface


@pytest.mark.parametrize("shape,size", [((4, 4), 8), ((4, 5, 5), 8), ((4, 4, 4), 1)])
def test_resample_nearest_rejects_bad_input(shape, size):
    with pytest.raises(InputError):
        resample_nearest(np.zeros(shape), size)


def test_regrid_dataset_keeps_cells_and_scale(tmp_path):
    from cellshapes.repro.workflow import phantom_dataset

    ds = phantom_dataset("growing", tmp_path, "smoke", 0, sequences=2, frames=2, size=16)
    out = regrid_dataset(ds, 20)
    a, b = dataset_info(ds), dataset_info(out)
    assert [i["name"] for i in a] == [i["name"] for i in b]
    assert b[0]["shape"] == (2, 20, 20, 20)
    assert b[0]["attrs"]["scale_um"] == pytest.approx(a[0]["attrs"]["scale_um"])
    assert b[0]["attrs"]["cell_type"] == "growing"
    mtime = out.stat().st_mtime_ns
    assert regrid_dataset(ds, 20) == out and out.stat().st_mtime_ns == mtime  # cached


def test_regrid_dataset_needs_masks(ellipsoid_dataset):
    with pytest.raises(InputError, match="masks"):
        regrid_dataset(ellipsoid_dataset, 16)


def test_frame_scores_match_evaluate(trained_run, ellipsoid_dataset):
    from cellshapes.inference.evaluate import evaluate_run

    df = frame_scores(trained_run, ellipsoid_dataset, device="cpu")
    assert len(df) == 6 * 4 and df["trained"].all() and (df["size"] == 24).all()
    ev = evaluate_run(trained_run, ellipsoid_dataset, device="cpu", progress=False)
    per = np.array([ev["per_sequence"][n] for n in sorted(ev["per_sequence"])])
    ours = df.sort_values(["sequence", "frame"])["dsc"].to_numpy().reshape(per.shape)
    np.testing.assert_allclose(ours, per, atol=1e-4)
    assert df["real_sphericity"].between(0.5, 1.01).all()
    assert (df["sphericity"] - df["real_sphericity"]).abs().max() < 0.2


def test_epoch_curves_score_kept_checkpoints(trained_run, ellipsoid_dataset):
    """The smoke run keeps epochs 145 and 150: the curve at 150 is the latest model's
    last-frame DSC; the loss is the log's; an epoch without a checkpoint is an error."""
    import pandas as pd

    from cellshapes.errors import InputFileNotFoundError
    from cellshapes.repro.experiments import epoch_curves

    curves = epoch_curves({("sine", 0): trained_run}, ellipsoid_dataset, "model", [145, 150],
                          device="cpu")
    assert list(curves["epoch"]) == [145, 150] and (curves["model"] == "sine").all()
    latest = frame_scores(trained_run, ellipsoid_dataset, frames=[-1], device="cpu",
                          describe=False)["dsc"].mean()
    assert curves["dsc"].iloc[1] == pytest.approx(latest)
    assert curves["dsc"].iloc[0] != curves["dsc"].iloc[1]  # another model
    log = pd.read_csv(trained_run / "log.csv").set_index("epoch")
    assert curves["rec_loss"].tolist() == pytest.approx(log.loc[[145, 150], "rec_loss"].tolist())
    with pytest.raises(InputFileNotFoundError, match="epoch 10"):
        epoch_curves({("sine", 0): trained_run}, ellipsoid_dataset, "model", [10],
                     device="cpu")


def test_frame_scores_sizes_frames_and_heldout(trained_run, ellipsoid_dataset, tmp_path):
    df = frame_scores(trained_run, ellipsoid_dataset, frames=[-1], sizes=[12, 24, 48],
                      sequences=["seq_0000", "seq_0001"], device="cpu", describe=False)
    assert sorted(df["size"].unique()) == [12, 24, 48] and (df["frame"] == 3).all()
    assert len(df) == 2 * 3 and "sphericity" not in df
    by = df.groupby("size")["dsc"].mean()
    assert by[24] > 0.85 and by[12] < by[48]  # coarse grids lose accuracy on upsampling

    from cellshapes.config import model_config, train_config
    from cellshapes.training.loop import train

    run = tmp_path / "every2"
    train(ellipsoid_dataset, run, model_config("smoke"),
          train_config("smoke", epochs=2, frames_every=2), device="cpu", progress=False)
    held = frame_scores(run, ellipsoid_dataset, sequences=["seq_0000"], device="cpu",
                        describe=False)
    assert held["trained"].tolist() == [True, False, True, False]
    with pytest.raises(InputError, match="frames"):
        frame_scores(run, ellipsoid_dataset, frames=[4], device="cpu")


def test_islands_count_a_detached_ball():
    """A ball with a small ball beside it: two components, the small one the island."""
    from cellshapes.repro.experiments import _islands

    g = np.linspace(-1, 1, 48)
    z, y, x = np.meshgrid(g, g, g, indexing="ij")
    truth = _ball(48, 0.5)
    small = np.sqrt(z ** 2 + y ** 2 + (x - 0.8) ** 2) - 0.12
    rec = np.minimum(truth, small)
    share = (small <= 0).sum() / (rec <= 0).sum()
    assert _islands(truth, rec) == {"components": 2.0,
                                    "island_fraction": pytest.approx(share)}
    assert _islands(truth, truth) == {"components": 1.0, "island_fraction": 0.0}
    assert _islands(truth, np.ones_like(truth)) == {"components": 0.0, "island_fraction": 0.0}


def test_frame_scores_islands_equal_the_surface_topology(trained_run, ellipsoid_dataset):
    kw = dict(frames=[0, -1], sequences=["seq_0000"], device="cpu", describe=False)
    fast = frame_scores(trained_run, ellipsoid_dataset, islands=True, **kw)
    full = frame_scores(trained_run, ellipsoid_dataset, surface=True, **kw)
    assert "hd95_um" not in fast and (fast["components"] >= 1).all()
    for col in ("components", "island_fraction"):
        np.testing.assert_allclose(fast[col], full[col])


def test_run_dir_shares_defaults_and_names_changes(tmp_path):
    from cellshapes.repro.runs import run_dir

    data = tmp_path / "filopodial_quick_n4_t4_s48_seed0_g2.h5"
    where = tmp_path / "runs" / "quick" / data.stem
    assert run_dir(tmp_path / "runs", data, "quick") == where / "base_seed0"
    assert run_dir(tmp_path / "runs", data, "quick", model={"omega0": 30.0},
                   epochs=100) == where / "base_seed0"  # the profile's values: no change
    a = run_dir(tmp_path / "runs", data, "quick", 0, model={"omega0": 10}, epochs=60)
    assert a == where / "omega0-10_epochs-60_seed0"
    b = run_dir(tmp_path / "runs", data, "quick", 2, model={"arch": "deepsdf", "hidden": 128})
    assert b.name == "arch-deepsdf_hidden-128_seed2"
    assert run_dir(tmp_path / "runs", data, "quick", frames_every=4).name == "frames_every-4_seed0"


def test_continue_run_equals_one_longer_run(ellipsoid_dataset, tmp_path):
    import pandas as pd

    from cellshapes.config import model_config, train_config
    from cellshapes.repro.runs import continue_run
    from cellshapes.training.loop import train

    def run(out, epochs):
        train(ellipsoid_dataset, out, model_config("smoke"),
              train_config("smoke", epochs=epochs, checkpoint_every=1), device="cpu",
              progress=False)
        return out

    short = run(tmp_path / "short", 2)
    long = continue_run(short, tmp_path / "long", 4, device="cpu")
    direct = run(tmp_path / "direct", 4)
    assert len(pd.read_csv(short / "log.csv")) == 2
    np.testing.assert_allclose(pd.read_csv(long / "log.csv")["loss"],
                               pd.read_csv(direct / "log.csv")["loss"], rtol=1e-5)
    with pytest.raises(InputError, match="not a finished run"):
        continue_run(tmp_path / "nothing", tmp_path / "x", 4)


def test_describe_frames_nan_without_surface():
    from cellshapes.repro.experiments import describe_frames

    ball = _ball(24)
    df = describe_frames(np.stack([ball, np.ones_like(ball), -np.ones_like(ball)]), 0.5)
    assert df["frame"].tolist() == [0, 1, 2]
    assert 0.9 < df["sphericity"][0] < 1.1 and df[["volume_um3", "sphericity"]][1:].isna().all().all()
