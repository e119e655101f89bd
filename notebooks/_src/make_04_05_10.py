"""Generate notebooks 04, 05 and 10 (stored without outputs):
``python notebooks/_src/make_04_05_10.py``."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from nb_common import code, md, params, write  # noqa: E402

NB_DIR = Path(__file__).resolve().parent.parent

PROFILE_NOTE = """\
*Profiles*: `smoke` only proves that every step runs (seconds; its numbers mean nothing),
`quick` reproduces the direction of the claim on a CPU in minutes, `paper` uses the
paper's settings on a GPU. The closing table names the profile of every number."""

SMOKE_NOTE = """\
if profile == "smoke":
    for r in rows:
        r["note"] = "smoke profile: proves the path runs, not a reproduction"
"""


# --------------------------------------------------------------------------------- 04
def nb04() -> list:
    return [
        md("""
# 04 · Latent space compactness: equivariant vs non-equivariant model

**Claim (Sec 5.2, Fig 6, Fig 7, Tab 2):** trained on randomly rotated copies of the same
cells (25 DS_Plat sequences x 4 random rotations = 100 sequences, one rotation per
sequence, latent size 64), the SO(3)-equivariant model learns the rotation separately, so
its latent codes do not have to encode it:

* **Fig 6 (t-SNE):** rotated copies of one cell lie close together in the latent space of
  the equivariant model only;
* **Fig 7a (PCA):** the first 20 principal components hold **99.9 %** of the variance of
  the equivariant model's codes but only **61.2 %** of the non-equivariant model's;
* **Tab 2 / Fig 7b (DSC at t = 30 vs latent size 4 / 8 / 16 / 32 / 64 / 128):**
  equivariant 0.780 / 0.867 / 0.924 / 0.954 / 0.958 / 0.959, non-equivariant
  0.684 / 0.789 / 0.872 / 0.934 / 0.959 / 0.958: DSC rises with latent size, and the
  equivariant model reaches a high DSC with fewer dimensions.

**What we do:** growing-cell phantoms (stand-in for DS_Plat), each turned by
`latent.random_rotation_dataset` into randomly rotated copies (uniform on SO(3)); one
equivariant and one non-equivariant model per latent size, all with the same settings;
PCA and t-SNE of the codes (`latent`), a clustering score for "rotated copies lie
together", DSC of the last frame per latent size.

**What to look at:** the PCA curves (equivariant above non-equivariant?), the t-SNE
panels (copies of one cell together?), the nearest-neighbour score, and the DSC table.

""" + PROFILE_NOTE),
        params(),
        code("""
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from IPython.display import display

from cellshapes import grid, io, latent, metrics, plots, reconstruct
from cellshapes.repro import workflow
from cellshapes.sampling import frame_times

NB = "04_latent_compactness"
# Sizes per profile. The paper trained with 20 frames per step and 250k points per
# epoch; quick uses a smaller decoder (64 x 5) and two latent sizes so that its 4 models
# fit in minutes on two CPU cores (stated in the closing table).
SETTINGS = {
    "smoke": dict(sequences=2, copies=2, frames=3, size=16, latent_sizes=[4, 16], main=16,
                  model={}, train=dict(epochs=5, frames_per_batch=4, points_per_frame=1024)),
    "quick": dict(sequences=6, copies=4, frames=5, size=32, latent_sizes=[4, 64], main=64,
                  model=dict(hidden=64, layers=5, latent_layers=(0, 3)),
                  train=dict(epochs=60, frames_per_batch=20, points_per_frame=1024)),
    "paper": dict(sequences=25, copies=4, frames=30, size=256,
                  latent_sizes=[4, 8, 16, 32, 64, 128], main=64, model={},
                  train=dict(frames_per_batch=20, points_per_frame=250_000)),
}[profile]
VARIANTS = {"equivariant": True, "non-equivariant": False}
PAPER_TAB2 = {"equivariant": {4: 0.780, 8: 0.867, 16: 0.924, 32: 0.954, 64: 0.958, 128: 0.959},
              "non-equivariant": {4: 0.684, 8: 0.789, 16: 0.872, 32: 0.934, 64: 0.959, 128: 0.958}}


def fig_path(what):
    return workflow.figure_path(NB, what, figures_dir)


SETTINGS
"""),
        md("""
## 1 · Randomly rotated training set

Each phantom sequence gets `copies` rotations drawn uniformly on SO(3), the same rotation
for all its frames (as in the paper). Rotation is about the cube centre; voxels that come
from outside the cube get the SDF clamp value.
"""),
        code("""
source = workflow.phantom_dataset("growing", data_dir, profile, seed,
                                  sequences=SETTINGS["sequences"], frames=SETTINGS["frames"],
                                  size=SETTINGS["size"])
dataset = workflow.rotated_dataset(source, copies=SETTINGS["copies"], seed=seed)
seqs = io.read_dataset(dataset)
groups = np.array([s.attrs["source_sequence"] for s in seqs])
voxel = float(seqs[0].attrs["voxel_um"])
print(f"{len(seqs)} sequences = {len(set(groups))} cells x {SETTINGS['copies']} rotations, "
      f"{seqs[0].sdf.shape[0]} frames, {SETTINGS['size']}^3")
copies0 = [s for s in seqs if s.attrs["source_sequence"] == groups[0]]
fig = plots.slice_grid({s.name: s.sdf for s in copies0}, frames=[seqs[0].sdf.shape[0] - 1],
                       title="rotated copies of one cell, last frame (central z-slice)")
plots.save_figure(fig, fig_path("rotated_copies"))
"""),
        md("""
## 2 · Training: equivariant and non-equivariant models, every latent size

All models share data, settings and seed; only `equivariant` and `latent_dim` differ.
Finished runs are reused from `runs_dir`.
"""),
        code("""
runs = {}
for dim in SETTINGS["latent_sizes"]:
    for variant, eq in VARIANTS.items():
        run = Path(runs_dir) / profile / f"{NB}_{variant}_z{dim}"
        runs[variant, dim] = workflow.train_or_load(
            dataset, run, profile, device, seed, progress=False,
            model={**SETTINGS["model"], "equivariant": eq, "latent_dim": dim},
            **SETTINGS["train"])
codes = {v: latent.run_codes(runs[v, SETTINGS["main"]])[0] for v in VARIANTS}
print({k: str(r) for k, r in runs.items()})
"""),
        md("""
## 3 · PCA of the latent codes (Fig 7a)

Cumulative explained variance of the codes' principal components. The paper compares the
first 20 components of 100 codes; with fewer codes the number of components is at most
N - 1, so we also report how many components hold 90 % and 99 % of the variance.
"""),
        code("""
cum = {v: latent.pca_explained_variance(c) for v, c in codes.items()}
n_codes = len(groups)
k20 = min(20, n_codes - 1)
k_small = max(1, min(3, n_codes - 2))
fig, ax = plt.subplots(figsize=(5, 3.4))
for v, c in cum.items():
    ax.plot(np.arange(1, len(c) + 1), 100 * c, marker="o", ms=3, label=v)
ax.axvline(k_small, color="grey", lw=0.8, ls=":")
ax.set_xlabel("principal components")
ax.set_ylabel("cumulative explained variance [%]")
ax.set_title(f"PCA of {n_codes} latent codes (latent size {SETTINGS['main']})")
ax.legend()
plots.save_figure(fig, fig_path("pca"))
pca_table = pd.DataFrame({v: {f"variance in first {k_small} PCs [%]": 100 * c[k_small - 1],
                              f"variance in first {k20} PCs [%]": 100 * c[k20 - 1],
                              "PCs for 90 %": latent.components_for(c, 0.90),
                              "PCs for 99 %": latent.components_for(c, 0.99)}
                          for v, c in cum.items()})
pca_table.round(2)
"""),
        md("""
## 4 · t-SNE of the codes, coloured by source cell (Fig 6)

One colour per phantom cell, one marker per rotated copy. The score below the plot makes
"copies lie together" measurable: `nn_accuracy` is the fraction of codes whose nearest
other code (in the full latent space) is a rotated copy of the same cell (chance:
`nn_chance`), `ratio` the mean distance between copies over the mean distance between
different cells (1: no clustering).
"""),
        code("""
emb = {v: latent.tsne_embedding(c, seed=seed) for v, c in codes.items()}
cells = sorted(set(groups))
copy_idx = np.array([int(s.attrs["rotation_copy"]) for s in seqs])
palette = sns.color_palette("tab20", len(cells))
markers = "osD^v<>P*X"
fig, axes = plt.subplots(1, 2, figsize=(9, 4))
for ax, (v, e) in zip(axes, emb.items()):
    for i, g in enumerate(groups):
        ax.scatter(e[i, 0], e[i, 1], color=palette[cells.index(g)],
                   marker=markers[copy_idx[i] % len(markers)], s=40, edgecolor="k", lw=0.3)
    ax.set_title(f"{v} model")
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle("t-SNE of latent codes: colour = cell, marker = rotated copy")
fig.tight_layout()
plots.save_figure(fig, fig_path("tsne"))
scores = pd.DataFrame({v: latent.rotation_invariance_scores(c, groups)
                       for v, c in codes.items()})
scores.round(3)
"""),
        md("""
## 5 · DSC of the last frame vs latent size (Tab 2, Fig 7b)

Each model reconstructs its training sequences (`grid.sequence_sdf`) at the last frame,
the fully grown cell (the paper's t = 30); DSC against the prepared truth
(`metrics.dice`).
"""),
        code("""
last_t = frame_times(SETTINGS["frames"])[-1:]
lip = grid.lipschitz_bound(seqs[0].attrs)  # narrow band
dsc_rows = []
for (variant, dim), run in runs.items():
    model, _ = reconstruct.load_run(run, device)
    for i, s in enumerate(seqs):
        rec, _ = grid.sequence_sdf(model, last_t, SETTINGS["size"], seq=i, lipschitz=lip)
        dsc_rows.append({"model": variant, "latent size": dim, "sequence": s.name,
                         "DSC": metrics.dice(rec[0] <= 0, s.sdf[-1] <= 0)})
dsc = pd.DataFrame(dsc_rows)
tab2 = dsc.groupby(["model", "latent size"])["DSC"].agg(["mean", "std"]).unstack(0)
fig, ax = plt.subplots(figsize=(5, 3.4))
for v in VARIANTS:
    m, sd = tab2["mean"][v], tab2["std"][v]
    line, = ax.plot(m.index, m.values, marker="o", label=f"{v} (this run)")
    ax.fill_between(m.index, m - sd, m + sd, color=line.get_color(), alpha=0.2)
    paper = PAPER_TAB2[v]
    ax.plot(list(paper), list(paper.values()), ls="--", color=line.get_color(), alpha=0.6,
            label=f"{v} (paper, DS_Plat)")
ax.set_xscale("log", base=2)
ax.set_xlabel("latent size")
ax.set_ylabel("DSC, last frame")
ax.legend(fontsize=7)
plots.save_figure(fig, fig_path("dsc_vs_latent"))
table2 = pd.DataFrame({
    f"{v} (this run)": [f"{tab2['mean'][v][d]:.3f} ± {tab2['std'][v][d]:.3f}"
                        for d in SETTINGS["latent_sizes"]] for v in VARIANTS})
for v in VARIANTS:
    table2[f"{v} (paper)"] = [PAPER_TAB2[v].get(d, "") for d in SETTINGS["latent_sizes"]]
table2.index = pd.Index(SETTINGS["latent_sizes"], name="latent size")
table2
"""),
        md("""
## 6 · 3D render: rotated copies of one cell and their reconstructions

Top: the prepared copies (last frame); then the reconstructions of the equivariant and
the non-equivariant model (latent size as in sections 3-4).
"""),
        code("""
idx = [i for i, g in enumerate(groups) if g == groups[0]]
recs = {}
for v in VARIANTS:
    model, _ = reconstruct.load_run(runs[v, SETTINGS["main"]], device)
    recs[v] = [grid.sequence_sdf(model, last_t, SETTINGS["size"], seq=i, lipschitz=lip)[0][0]
               for i in idx]
labels = [f"copy {copy_idx[i]}" for i in idx]
plots.show_volumes([seqs[i].sdf[-1] for i in idx], (voxel,) * 3,
                   labels=[f"truth, {lab}" for lab in labels], path=fig_path("render_truth"));
for v in VARIANTS:
    plots.show_volumes(recs[v], (voxel,) * 3, labels=[f"{v}, {lab}" for lab in labels],
                       path=fig_path(f"render_{v}"));
"""),
        md("""
## Paper vs this run
"""),
        code("""
eq, ne = "equivariant", "non-equivariant"
dims = SETTINGS["latent_sizes"]
m = tab2["mean"]
compact = cum[eq][k_small - 1] > cum[ne][k_small - 1]
together = scores[eq]["nn_accuracy"] > scores[ne]["nn_accuracy"]
rises = {v: m[v][dims[-1]] > m[v][dims[0]] for v in VARIANTS}
small_better = m[eq][dims[0]] > m[ne][dims[0]]
model_note = ("quick: decoder 64 x 5 instead of 128 x 9, "
              f"{SETTINGS['train']['epochs']} epochs, latent sizes {dims} only"
              if profile == "quick" else "")
rows = [
    {"quantity": f"PCA: variance in first {k20} PCs, equivariant / non-equivariant",
     "paper": "99.9 % / 61.2 % (first 20 of 100 codes, Fig 7a)",
     "ours": f"{100 * cum[eq][k20 - 1]:.1f} % / {100 * cum[ne][k20 - 1]:.1f} % "
             f"(of {n_codes} codes)",
     "note": "first 20 PCs of few codes hold almost all variance: see next row"},
    {"quantity": f"PCA: variance in first {k_small} PCs, equivariant / non-equivariant",
     "paper": "equivariant more compact",
     "ours": f"{100 * cum[eq][k_small - 1]:.1f} % / {100 * cum[ne][k_small - 1]:.1f} %",
     "note": "direction reproduced" if compact else "NOT reproduced: equivariant not more compact"},
    {"quantity": "rotated copies cluster (nearest-neighbour same cell), eq / non-eq",
     "paper": "copies together for the equivariant model only (Fig 6, visual)",
     "ours": f"{scores[eq]['nn_accuracy']:.2f} / {scores[ne]['nn_accuracy']:.2f} "
             f"(chance {scores[eq]['nn_chance']:.2f})",
     "note": "direction reproduced" if together else "NOT reproduced"},
    {"quantity": f"DSC last frame, latent {dims[0]} -> {dims[-1]}, equivariant",
     "paper": f"{PAPER_TAB2[eq].get(dims[0], '')} -> {PAPER_TAB2[eq].get(dims[-1], '')} (Tab 2)",
     "ours": f"{m[eq][dims[0]]:.3f} -> {m[eq][dims[-1]]:.3f}",
     "note": ("rises with latent size" if rises[eq] else "NOT reproduced: does not rise")
             + (f"; {model_note}" if model_note else "")},
    {"quantity": f"DSC last frame, latent {dims[0]} -> {dims[-1]}, non-equivariant",
     "paper": f"{PAPER_TAB2[ne].get(dims[0], '')} -> {PAPER_TAB2[ne].get(dims[-1], '')} (Tab 2)",
     "ours": f"{m[ne][dims[0]]:.3f} -> {m[ne][dims[-1]]:.3f}",
     "note": "rises with latent size" if rises[ne] else "NOT reproduced: does not rise"},
    {"quantity": f"DSC at the smallest latent size ({dims[0]}): equivariant vs non-equivariant",
     "paper": f"{PAPER_TAB2[eq].get(dims[0], '')} vs {PAPER_TAB2[ne].get(dims[0], '')}",
     "ours": f"{m[eq][dims[0]]:.3f} vs {m[ne][dims[0]]:.3f}",
     "note": "equivariant better, as in the paper" if small_better
             else "NOT reproduced: equivariant not better"},
]
""" + SMOKE_NOTE + """workflow.comparison_table(rows, profile)
"""),
    ]


# --------------------------------------------------------------------------------- 05
def nb05() -> list:
    return [
        md("""
# 05 · Latent space exploration: descriptors across the latent space, linear paths

**Claim (Sec 5.3, Fig 8):** in the latent space of the equivariant model trained on
DS_Plat (33 codes of size 64, standard deviation 0.0008), a t-SNE map coloured by each
cell's mean surface, volume and sphericity shows that different regions correspond to
different shape characteristics (Fig 8a-c). Codes sampled along linear paths between
learned codes (a triangle through the cells with the lowest mean volume, 586.5 um^3, the
highest, 5719.9 um^3, and an average one, 3324.0 um^3) give plausible shapes whose
volume changes gradually along the path (Fig 8d). No number is reported beyond these.

**What we do:** the shared `growing_base` model (growing phantoms, stand-in for
DS_Plat): descriptors of every reconstructed sequence (`metrics.describe_sequence`),
t-SNE of the codes (`latent.tsne_embedding`) coloured by them; the same triangle of
linear paths (`generate.interpolate_codes`, decoded with `grid.sequence_sdf`), with the
descriptors along the path and the largest change per step as a smoothness check.

**What to look at:** do neighbouring codes have similar colours; does the volume along
the path change gradually (no jump much larger than the average step), and do the
intermediate shapes look like cells?

""" + PROFILE_NOTE),
        params(),
        code("""
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import display

from cellshapes import generate, grid, latent, metrics, plots, reconstruct
from cellshapes.repro import workflow
from cellshapes.repro.workflow import base_run
from cellshapes.sampling import frame_times

NB = "05_latent_exploration"
kind = "growing"
steps = {"smoke": 2, "quick": 4, "paper": 8}[profile]   # points per path segment (ends excluded)
DESCRIPTORS = ["surface_um2", "volume_um3", "sphericity"]


def fig_path(what):
    return workflow.figure_path(NB, what, figures_dir)
"""),
        md("""
## 1 · The model and its codes
"""),
        code("""
dataset, run, how = base_run(kind, data_dir, runs_dir, profile, device, seed, train)
print(how)
model, config = reconstruct.load_run(run, device)
codes = model.codes.detach().cpu().numpy()
names = config["data"]["names"]
attrs = config["data"]["attrs"][0]
voxel, size = float(attrs["voxel_um"]), int(config["data"]["size"])
times = frame_times(int(config["data"]["frames"][0]))
print(f"{codes.shape[0]} codes of size {codes.shape[1]}, std {codes.std():.4f} "
      "(paper: 33 x 64, std 0.0008)")
"""),
        md("""
## 2 · Descriptors of every reconstructed sequence (mean over frames, as in Fig 8)
"""),
        code("""
def describe_code(code=None, seq=None):
    \"\"\"Descriptors per frame of one decoded sequence (canonical pose for explicit codes).\"\"\"
    z = None if code is None else torch.as_tensor(code, device=next(model.parameters()).device)
    sdf, _ = grid.sequence_sdf(model, times, size, seq=seq, code=z,
                               lipschitz=grid.lipschitz_bound(attrs))
    return sdf, metrics.describe_sequence(sdf, (voxel,) * 3, is_sdf=True)


per_seq = pd.DataFrame([describe_code(seq=i)[1][DESCRIPTORS].mean() for i in range(len(names))],
                       index=names)
per_seq.round(3)
"""),
        md("""
## 3 · t-SNE of the codes coloured by descriptors (Fig 8a-c)
"""),
        code("""
emb = latent.tsne_embedding(codes, seed=seed)
fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
for ax, col in zip(axes, DESCRIPTORS):
    sc = ax.scatter(emb[:, 0], emb[:, 1], c=per_seq[col], cmap="viridis", s=60, edgecolor="k",
                    lw=0.4)
    fig.colorbar(sc, ax=ax, label=plots.DESCRIPTOR_LABELS[col])
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"mean {col.split('_')[0]}")
fig.suptitle(f"t-SNE of {len(names)} latent codes ({kind} phantoms), coloured by descriptors")
fig.tight_layout()
plots.save_figure(fig, fig_path("tsne_descriptors"))
# How local is the colouring? Rank correlation of descriptor differences with code distance.
from scipy.spatial.distance import pdist
from scipy.stats import spearmanr

locality = {col: spearmanr(pdist(codes), pdist(per_seq[[col]].to_numpy())).statistic
            for col in DESCRIPTORS}
pd.Series(locality, name="Spearman(code distance, |descriptor difference|)").round(3)
"""),
        md("""
## 4 · Linear paths between codes (Fig 8d)

A triangle through the learned codes of the cells with the lowest (1), highest (3) and
median (5) mean volume; `steps` codes are interpolated on every side. Explicit codes are
decoded in the model's canonical pose (no learned rotation).
"""),
        code("""
vol = per_seq["volume_um3"].to_numpy()
corners = [int(np.argmin(vol)), int(np.argmax(vol)), int(np.argsort(vol)[len(vol) // 2])]
path, learned = [], []
for a, b in zip(corners, corners[1:] + corners[:1]):
    seg = generate.interpolate_codes(codes[a], codes[b], steps + 2)[:-1]
    path.extend(seg)
    learned.extend([True] + [False] * (len(seg) - 1))
path.append(codes[corners[0]])
learned.append(True)
decoded = [describe_code(code=z) for z in path]
along = pd.DataFrame([d[1][DESCRIPTORS].mean() for d in decoded])
along["learned code"] = learned
fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
for ax, col in zip(axes, DESCRIPTORS):
    ax.plot(along.index, along[col], marker="o", ms=3)
    ax.scatter(along.index[along["learned code"]], along[col][along["learned code"]],
               color="red", zorder=3, label="learned code")
    ax.set_xlabel("position along the path")
    ax.set_ylabel(plots.DESCRIPTOR_LABELS[col])
axes[0].legend(fontsize=8)
fig.suptitle("descriptors (mean over frames) along the triangle 1 -> 3 -> 5 -> 1")
fig.tight_layout()
plots.save_figure(fig, fig_path("path_descriptors"))
step = along[DESCRIPTORS].diff().abs().iloc[1:]
smooth = pd.DataFrame({"mean |change| per step": step.mean(), "max |change| per step": step.max(),
                       "max / mean": step.max() / step.mean()})
smooth.round(3)
"""),
        md("""
## 5 · 3D render of the shapes along the first side of the path (last frame)
"""),
        code("""
first_side = list(range(steps + 2))
tag = {0: "(1) ", steps + 1: "(3) "}
labels = [tag.get(i, "") + f"{along['volume_um3'][i]:.0f} um3" for i in first_side]
plots.show_volumes([decoded[i][0][-1] for i in first_side], (voxel,) * 3, labels=labels,
                   path=fig_path("path_render"));
"""),
        md("""
## Paper vs this run
"""),
        code("""
ratio = smooth["max / mean"]["volume_um3"]
non_empty = sum(bool((d[0] <= 0).any(axis=(1, 2, 3)).all()) for d in decoded)
v_lo, v_hi, v_mid = (per_seq["volume_um3"].iloc[c] for c in corners)
rows = [
    {"quantity": "codes: number x size, standard deviation",
     "paper": "33 x 64, std 0.0008 (DS_Plat)",
     "ours": f"{codes.shape[0]} x {codes.shape[1]}, std {codes.std():.4f}", "note": ""},
    {"quantity": "mean volume of path corners (1) lowest / (3) highest / (5) median",
     "paper": "586.5 / 5719.9 / 3324.0 um^3",
     "ours": f"{v_lo:.0f} / {v_hi:.0f} / {v_mid:.0f} um^3",
     "note": "phantom scale differs from DS_Plat"},
    {"quantity": "neighbouring codes have similar descriptors (Spearman, volume)",
     "paper": "regions of the t-SNE map differ by descriptor (Fig 8a-c, visual)",
     "ours": f"{locality['volume_um3']:.2f}",
     "note": "positive: reproduced" if locality["volume_um3"] > 0 else "NOT reproduced"},
    {"quantity": "volume changes gradually along linear paths (max / mean step)",
     "paper": "gradual change, plausible shapes (Fig 8d, visual)",
     "ours": f"{ratio:.2f}",
     "note": "smooth (no step > 3x the mean)" if ratio <= 3
             else "NOT smooth: a step > 3x the mean"},
    {"quantity": "decoded path shapes non-empty",
     "paper": "plausible intermediate shapes",
     "ours": f"{non_empty} of {len(decoded)}",
     "note": ""},
]
""" + SMOKE_NOTE + """workflow.comparison_table(rows, profile)
"""),
    ]


# --------------------------------------------------------------------------------- 10
def nb10() -> list:
    return [
        md("""
# 10 · Cell classification from latent codes

**Claim (Sec 5.8, Fig 13):** one equivariant model trained on all three data sets
(DS_Plat, DS_Cele, DS_Filo: 3 x 33 = 99 sequences) puts the codes of each cell line in a
distinct cluster of the t-SNE map, so cells could be labelled by their position in the
latent space. The paper reports no accuracy; **we add one**: a linear classifier
(standardisation + logistic regression, scikit-learn) on the codes, scored with stratified
cross-validation.

**What we do:** the three phantom kinds (growing / dividing / filopodial, stand-ins for
Plat / Cele / Filo) combined into one dataset (`workflow.combined_dataset`), one model,
t-SNE of its codes coloured by kind (`latent.tsne_embedding`), cross-validated accuracy
and confusion matrix (`latent.classify_codes`).

**What to look at:** three separate groups in the t-SNE map, accuracy well above chance.

""" + PROFILE_NOTE),
        params(),
        code("""
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from IPython.display import display

from cellshapes import grid, io, latent, plots, reconstruct
from cellshapes.repro import workflow
from cellshapes.phantoms import KINDS

NB = "10_classification"
# The combined model sees 3x the sequences of one base model. At quick it uses the same
# small decoder (64 x 5) and large frame batches as notebook 04, on every 2nd frame, so
# it trains in minutes on two CPU cores; the closing table says so.
SETTINGS = {
    "smoke": dict(model={}, train=dict(epochs=6)),
    "quick": dict(model=dict(hidden=64, layers=5, latent_layers=(0, 3)),
                  train=dict(epochs=100, frames_per_batch=20, points_per_frame=1024,
                             frames_every=2)),
    "paper": dict(model={}, train={}),
}[profile]


def fig_path(what):
    return workflow.figure_path(NB, what, figures_dir)
"""),
        md("""
## 1 · One dataset with all three kinds
"""),
        code("""
parts = [workflow.phantom_dataset(k, data_dir, profile, seed) for k in KINDS]
dataset = workflow.combined_dataset(parts, Path(data_dir) / f"all_kinds_{parts[0].stem}.h5",
                                    prefixes=list(KINDS))
info = io.dataset_info(dataset)
kinds = np.array([d["attrs"]["cell_type"] for d in info])
print(f"{len(info)} sequences:", pd.Series(kinds).value_counts().to_dict())
"""),
        md("""
## 2 · Train one model on all of them
"""),
        code("""
run = workflow.train_or_load(dataset, Path(runs_dir) / profile / f"{NB}_all_kinds", profile,
                             device, seed, progress=False, model=SETTINGS["model"],
                             **SETTINGS["train"])
codes, names = latent.run_codes(run)
print(f"{codes.shape[0]} codes of size {codes.shape[1]}")
"""),
        md("""
## 3 · t-SNE of the codes coloured by cell kind (Fig 13)
"""),
        code("""
emb = latent.tsne_embedding(codes, seed=seed)
fig, ax = plt.subplots(figsize=(5, 4))
sns.scatterplot(x=emb[:, 0], y=emb[:, 1], hue=kinds, style=kinds, s=70, ax=ax)
ax.set_xticks([])
ax.set_yticks([])
ax.set_title(f"t-SNE of {len(kinds)} latent codes, one model for all kinds")
plots.save_figure(fig, fig_path("tsne"))
scores = latent.rotation_invariance_scores(codes, kinds)   # same-kind clustering score
pd.Series(scores).round(3)
"""),
        md("""
## 4 · Cross-validated classification from the codes

Stratified K-fold (up to 5 folds, fewer when a kind has fewer sequences); the confusion
matrix sums the out-of-fold predictions.
"""),
        code("""
clf = latent.classify_codes(codes, kinds, folds=5, seed=seed)
print(f"accuracy {clf['accuracy_mean']:.3f} ± {clf['accuracy_std']:.3f} over {clf['folds']} folds "
      f"(chance {clf['chance']:.3f}); per fold {np.round(clf['per_fold'], 3).tolist()}")
fig, ax = plt.subplots(figsize=(4, 3.4))
sns.heatmap(pd.DataFrame(clf["confusion"], index=clf["classes"], columns=clf["classes"]),
            annot=True, fmt="d", cmap="Blues", cbar=False, ax=ax)
ax.set_xlabel("predicted")
ax.set_ylabel("true")
ax.set_title("out-of-fold confusion matrix")
plots.save_figure(fig, fig_path("confusion"))
"""),
        md("""
## 5 · 3D render: one reconstructed cell per kind (last frame)

The quick profile's small decoder (64 x 5, few epochs) may not resolve thin filopodia;
notebook 02 shows what the full-size model reconstructs.
"""),
        code("""
model, config = reconstruct.load_run(run, device)
first = [int(np.flatnonzero(kinds == k)[0]) for k in KINDS]
vols, labels = [], []
for i in first:
    a = config["data"]["attrs"][i]
    sdf, _ = grid.sequence_sdf(model, [1.0], int(config["data"]["size"]), seq=i,
                               lipschitz=grid.lipschitz_bound(a))
    vols.append(sdf[0])
    labels.append(kinds[i])
voxel = float(config["data"]["attrs"][first[0]]["voxel_um"])
plots.show_volumes(vols, (voxel,) * 3, labels=labels, path=fig_path("render"));
"""),
        md("""
## Paper vs this run
"""),
        code("""
acc = clf["accuracy_mean"]
if acc >= 0.9:
    acc_note = "classes separable (>= 0.9)"
elif acc > clf["chance"] + 0.5 * (1 - clf["chance"]):
    acc_note = "above chance but NOT clearly separable (< 0.9)"
else:
    acc_note = "NOT reproduced: near chance"
if scores["nn_accuracy"] >= 0.8 and scores["silhouette"] > 0.25:
    cluster_note = "distinct clusters"
elif scores["nn_accuracy"] >= 0.8:
    cluster_note = ("grouped by kind (nearest neighbours), but not well separated in "
                    "distance (silhouette <= 0.25)")
else:
    cluster_note = "NOT reproduced: kinds overlap (nearest code of another kind)"
rows = [
    {"quantity": "codes cluster by cell kind: nearest code same kind / silhouette",
     "paper": "three distinct clusters (Fig 13, visual)",
     "ours": f"{scores['nn_accuracy']:.2f} (chance {scores['nn_chance']:.2f}) / "
             f"{scores['silhouette']:.2f}",
     "note": cluster_note},
    {"quantity": "cross-validated accuracy, linear classifier on codes",
     "paper": "not reported (added here)",
     "ours": f"{acc:.3f} ± {clf['accuracy_std']:.3f} "
             f"({clf['folds']}-fold, chance {clf['chance']:.2f})",
     "note": acc_note},
    {"quantity": "sequences", "paper": "3 x 33 = 99 (Plat, Cele, Filo)",
     "ours": f"{len(kinds)} ({', '.join(f'{k}: {int((kinds == k).sum())}' for k in KINDS)})",
     "note": "phantoms, not the paper's data"
             + ("; quick: decoder 64 x 5, every 2nd frame" if profile == "quick" else "")},
]
""" + SMOKE_NOTE + """workflow.comparison_table(rows, profile)
"""),
    ]


def main() -> None:
    write(nb04(), NB_DIR / "04_latent_compactness.ipynb")
    write(nb05(), NB_DIR / "05_latent_exploration.ipynb")
    write(nb10(), NB_DIR / "10_classification.ipynb")


if __name__ == "__main__":
    main()
