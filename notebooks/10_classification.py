# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 10 · Cell classification from latent codes
#
# **Claim (Sec 5.8, Fig 13):** one equivariant model trained on all three data sets
# (DS_Plat, DS_Cele, DS_Filo: 3 x 33 = 99 sequences) puts the codes of each cell line in a
# distinct cluster of the t-SNE map, so cells could be labelled by their position in the
# latent space. The paper reports no accuracy; **we add one**: a linear classifier
# (standardisation + logistic regression, scikit-learn) on the codes, scored with stratified
# cross-validation.
#
# **What we do:** the three phantom kinds (growing / dividing / filopodial, stand-ins for
# Plat / Cele / Filo) combined into one dataset (`workflow.combined_dataset`), one model,
# t-SNE of its codes coloured by kind (`latent.tsne_embedding`), cross-validated accuracy
# and confusion matrix (`latent.classify_codes`).
#
# **What to look at:** three separate groups in the t-SNE map, accuracy well above chance.
#
# *Profiles*: `smoke` only proves that every step runs (seconds; its numbers mean nothing),
# `quick` reproduces the direction of the claim on a CPU in minutes, `paper` uses the
# paper's settings on a GPU. The closing table names the profile of every number.

# %% tags=["parameters"]
profile = "smoke"          # smoke | quick | study | paper (what each runs: cellshapes.config)
device = "auto"            # auto | cpu | cuda | cuda:N
seed = 0
train = True               # False: shipped pretrained models where available
data_dir = None            # None: git-ignored folders under <repo>/out/<profile>/
runs_dir = None            #   from any working directory; only `cellshapes notebooks
figures_dir = None         #   --publish` writes the committed figures/ and results/
results_dir = None

# %%
# Checked before any work (the device, the output folders); this notebook's sizes.
from cellshapes.repro import workflow

nb = workflow.setup("10_classification", profile, device, seed,
                    data_dir, runs_dir, figures_dir, results_dir)

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from cellshapes import io, latent, plot
from cellshapes.inference import grid, reconstruct
from cellshapes.phantoms import KINDS

# The combined model sees 3x the sequences of one base model. At quick it uses the same
# small decoder (64 x 5) and large frame batches as notebook 04, on every 2nd frame, so
# it trains in minutes on two CPU cores; the closing table says so.



# %% [markdown]
# ## 1 · One dataset with all three kinds

# %%
parts = [workflow.phantom_dataset(k, nb.data, profile, seed) for k in KINDS]
dataset = workflow.combined_dataset(parts, Path(nb.data) / f"all_kinds_{parts[0].stem}.h5",
                                    prefixes=list(KINDS))
info = io.dataset_info(dataset)
kinds = np.array([d["attrs"]["cell_type"] for d in info])
print(f"{len(info)} sequences:", pd.Series(kinds).value_counts().to_dict())

# %% [markdown]
# ## 2 · Train one model on all of them

# %%
run = workflow.train_or_load(dataset, nb.run(f"all_kinds"), profile,
                             device, seed, progress=False, model=nb.settings["model"],
                             **nb.settings["train"])
codes, names = latent.run_codes(run)
print(f"{codes.shape[0]} codes of size {codes.shape[1]}")

# %% [markdown]
# ## 3 · t-SNE of the codes coloured by cell kind (Fig 13)

# %%
emb = latent.tsne_embedding(codes, seed=seed)
fig, ax = plt.subplots(figsize=(5, 4))
sns.scatterplot(x=emb[:, 0], y=emb[:, 1], hue=kinds, style=kinds, s=70, ax=ax)
ax.set_xticks([])
ax.set_yticks([])
ax.set_title(f"t-SNE of {len(kinds)} latent codes, one model for all kinds")
plot.save_figure(fig, nb.figure("tsne"))
scores = latent.rotation_invariance_scores(codes, kinds)   # same-kind clustering score
pd.Series(scores).round(3)

# %% [markdown]
# ## 4 · Cross-validated classification from the codes
#
# Stratified K-fold (up to 5 folds, fewer when a kind has fewer sequences); the confusion
# matrix sums the out-of-fold predictions.

# %%
clf = latent.classify_codes(codes, kinds, folds=5, seed=seed)
print(f"accuracy {clf['accuracy_mean']:.3f} ± {clf['accuracy_std']:.3f} over {clf['folds']} folds "
      f"(chance {clf['chance']:.3f}); per fold {np.round(clf['per_fold'], 3).tolist()}")
fig, ax = plt.subplots(figsize=(4, 3.4))
sns.heatmap(pd.DataFrame(clf["confusion"], index=clf["classes"], columns=clf["classes"]),
            annot=True, fmt="d", cmap="Blues", cbar=False, ax=ax)
ax.set_xlabel("predicted")
ax.set_ylabel("true")
ax.set_title("out-of-fold confusion matrix")
plot.save_figure(fig, nb.figure("confusion"))

# %% [markdown]
# ## 5 · 3D render: one reconstructed cell per kind (last frame)
#
# The quick profile's small decoder (64 x 5, few epochs) may not resolve thin filopodia;
# notebook 02 shows what the full-size model reconstructs.

# %%
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
plot.show_volumes(vols, (voxel,) * 3, labels=labels, path=nb.figure("render"));

# %% [markdown]
# ## Paper vs this run

# %%
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
workflow.comparison_table(rows, profile)
