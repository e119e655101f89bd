"""latent: PCA, t-SNE, clustering scores and classification against known answers;
the rotated and combined datasets."""
from __future__ import annotations

import numpy as np
import pytest

from cellshapes import latent
from cellshapes.errors import InputError
from cellshapes.io import dataset_info, read_dataset, write_dataset
from cellshapes.repro import workflow
from cellshapes.repro.cache import StaleOutputError

from .conftest import ellipsoid_sequences


def _clusters(n_per: int, k: int, d: int = 8, spread: float = 0.05, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (k, d)) * 3
    codes = np.concatenate([c + spread * rng.normal(0, 1, (n_per, d)) for c in centres])
    return codes, np.repeat(np.arange(k), n_per)


# ------------------------------------------------------------------------------ PCA
def test_pca_rank_two_codes_in_two_components():
    rng = np.random.default_rng(1)
    codes = rng.normal(size=(30, 2)) @ rng.normal(size=(2, 16)) + 5.0
    cum = latent.pca_explained_variance(codes)
    assert cum.shape == (16,)
    assert cum[1] == pytest.approx(1.0, abs=1e-9)
    assert cum[0] < 0.999
    assert np.all(np.diff(cum) >= -1e-12)
    assert latent.components_for(cum, 0.999) == 2


def test_pca_isotropic_codes_spread_evenly():
    codes = np.random.default_rng(2).normal(size=(4000, 8))
    cum = latent.pca_explained_variance(codes, n=4)
    assert cum.shape == (4,)
    assert cum[3] == pytest.approx(0.5, abs=0.03)


def test_pca_identical_codes_and_bad_n():
    assert np.all(latent.pca_explained_variance(np.ones((5, 3))) == 1.0)
    with pytest.raises(InputError):
        latent.pca_explained_variance(np.zeros((5, 3)), n=4)
    with pytest.raises(InputError):
        latent.pca_explained_variance(np.zeros(5))


# ----------------------------------------------------------------------------- t-SNE
def test_tsne_shape_seeded_and_separates_clusters():
    codes, groups = _clusters(6, 3)
    a = latent.tsne_embedding(codes, seed=3)
    b = latent.tsne_embedding(codes, seed=3)
    assert a.shape == (18, 2) and np.allclose(a, b)
    assert latent.rotation_invariance_scores(a, groups)["nn_accuracy"] == 1.0


def test_tsne_tiny_n_falls_back_to_pca():
    out = latent.tsne_embedding(np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 1.0]]))
    assert out.shape == (2, 2)
    assert abs(out[0, 0] - out[1, 0]) == pytest.approx(1.0)
    with pytest.raises(InputError):
        latent.tsne_embedding(np.zeros((10, 3)), perplexity=10)


# ------------------------------------------------------------------- clustering scores
def test_rotation_scores_tight_groups_vs_random():
    codes, groups = _clusters(4, 6)
    s = latent.rotation_invariance_scores(codes, groups)
    assert s["nn_accuracy"] == 1.0 and s["ratio"] < 0.1 and s["silhouette"] > 0.8
    assert s["nn_chance"] == pytest.approx(3 / 23)
    rnd = np.random.default_rng(0).normal(size=(24, 8))
    r = latent.rotation_invariance_scores(rnd, groups)
    assert 0.8 < r["ratio"] < 1.2 and r["silhouette"] < 0.2


def test_rotation_scores_need_pairs():
    with pytest.raises(InputError):
        latent.rotation_invariance_scores(np.zeros((3, 2)), [0, 0, 1])
    with pytest.raises(InputError):
        latent.rotation_invariance_scores(np.zeros((3, 2)), [0, 0])


# ------------------------------------------------------------------------ classifier
def test_classifier_separable_clusters_perfect():
    codes, labels = _clusters(10, 3, spread=0.1)
    res = latent.classify_codes(codes, np.array(["a", "b", "c"])[labels], folds=5)
    assert res["accuracy_mean"] == 1.0 and res["folds"] == 5
    assert res["classes"] == ["a", "b", "c"]
    assert np.array_equal(res["confusion"], np.diag([10, 10, 10]))
    assert res["chance"] == pytest.approx(1 / 3)


def test_classifier_random_labels_near_chance():
    rng = np.random.default_rng(4)
    codes = rng.normal(size=(300, 16))
    labels = rng.integers(0, 3, 300)
    res = latent.classify_codes(codes, labels, folds=5, seed=1)
    assert abs(res["accuracy_mean"] - 1 / 3) < 0.1
    assert res["confusion"].sum() == 300
    # the out-of-fold accuracy is the confusion matrix's diagonal; its 95 % interval
    # (Wilson) holds chance and is about +-1.96 sqrt(p (1 - p) / n) wide
    assert res["accuracy"] == pytest.approx(np.trace(res["confusion"]) / 300)
    lo, hi = res["accuracy_ci95"]
    assert lo < 1 / 3 < hi and lo < res["accuracy"] < hi
    assert hi - lo == pytest.approx(2 * 1.96 * np.sqrt(res["accuracy"] * (1 - res["accuracy"]) / 300),
                                    rel=0.05)


def test_classifier_reduces_folds_and_rejects_singletons():
    codes, labels = _clusters(3, 2)
    assert latent.classify_codes(codes, labels, folds=5)["folds"] == 3
    with pytest.raises(InputError):
        latent.classify_codes(codes[:5], [0, 0, 0, 0, 1])
    with pytest.raises(InputError):
        latent.classify_codes(codes, [0] * 6)


def test_cluster_scores_known_answers():
    codes, labels = _clusters(10, 3, spread=0.1)
    res = latent.cluster_scores(codes, labels, seed=0)
    assert res["ari"] == pytest.approx(1.0) and res["k"] == 3
    assert res["silhouette"] > 0.9 and res["clusters"].shape == (30,)


def test_cluster_scores_separable_is_not_clustered():
    """Two kinds, each split into a far-apart pair of blobs, side by side: a linear
    classifier tells them apart perfectly, but k-means (k = 2) splits along the blobs,
    ARI about 0, and the silhouette of the kinds is about 0."""
    rng = np.random.default_rng(5)
    centres = [(0.0, -10.0), (0.0, 10.0), (1.0, -10.0), (1.0, 10.0)]
    codes = np.concatenate([rng.normal(c, 0.1, size=(10, 2)) for c in centres])
    kinds = np.repeat(["a", "a", "b", "b"], 10)
    assert latent.classify_codes(codes, kinds, folds=5)["accuracy"] == 1.0
    res = latent.cluster_scores(codes, kinds)
    assert abs(res["ari"]) < 0.05 and abs(res["silhouette"]) < 0.1
    with pytest.raises(InputError):
        latent.cluster_scores(codes, kinds[:-1])
    with pytest.raises(InputError):
        latent.cluster_scores(codes, ["a"] * 40)


def test_random_rotation_dataset(tmp_path):
    src = write_dataset(tmp_path / "src.h5", ellipsoid_sequences(n=2, frames=3, size=16))
    out = latent.random_rotation_dataset(src, tmp_path / "rot.h5", copies=3, seed=5)
    seqs = read_dataset(out)
    assert [s.name for s in seqs] == [f"seq_000{i}_rot{k}" for i in range(2) for k in range(3)]
    orig = {s.name: s for s in read_dataset(src)}
    for s in seqs:
        r = np.asarray(s.attrs["rotation"])
        assert np.allclose(r @ r.T, np.eye(3), atol=1e-6)
        o = orig[s.attrs["source_sequence"]]
        assert s.sdf.shape == o.sdf.shape and s.sdf.max() <= o.sdf.max() + 1e-6
        # The ellipsoids fit inside the inscribed sphere: rotation keeps their volume.
        assert abs(int((s.sdf <= 0).sum()) - int((o.sdf <= 0).sum())) < 0.06 * (o.sdf <= 0).sum()
    rs = [np.asarray(s.attrs["rotation"]) for s in seqs]
    assert not np.allclose(rs[0], rs[1])
    again = latent.random_rotation_dataset(src, tmp_path / "rot2.h5", copies=3, seed=5)
    assert np.allclose(read_dataset(again)[4].sdf, seqs[4].sdf)


def test_combined_dataset_prefixes_and_reuse(tmp_path):
    a = write_dataset(tmp_path / "a.h5", ellipsoid_sequences(n=2, frames=2, size=12))
    b = write_dataset(tmp_path / "b.h5", ellipsoid_sequences(n=1, frames=2, size=12, seed=1))
    out = workflow.combined_dataset([a, b], tmp_path / "ab.h5", prefixes=["x", "y"])
    names = [d["name"] for d in dataset_info(out)]
    assert names == ["x_seq_0000", "x_seq_0001", "y_seq_0000"]
    mtime = out.stat().st_mtime_ns
    assert workflow.combined_dataset([a, b], out, prefixes=["x", "y"]) == out  # reused
    assert out.stat().st_mtime_ns == mtime
    with pytest.raises(StaleOutputError, match="rebuild=True"):  # other inputs: kept
        workflow.combined_dataset([a], out)
    assert workflow.combined_dataset([a], out, rebuild=True) == out  # asked for: rebuilt
    assert len(dataset_info(out)) == 2  # a alone
    with pytest.raises(InputError):
        workflow.combined_dataset([a, b], tmp_path / "c.h5", prefixes=["x"])
