# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 · Latent space exploration: descriptors across the latent space, linear paths
#
# **Claim (Sec 5.3, Fig 8):** in the latent space of the equivariant model trained on
# DS_Plat (33 codes of size 64, standard deviation 0.0008), a t-SNE map coloured by each
# cell's mean surface, volume and sphericity shows that different regions correspond to
# different shape characteristics (Fig 8a-c). Codes sampled along linear paths between
# learned codes (a triangle through the cells with the lowest mean volume, 586.5 um^3, the
# highest, 5719.9 um^3, and an average one, 3324.0 um^3) give plausible shapes whose
# volume changes gradually along the path (Fig 8d). No number is reported beyond these.
#
# **What we do:** the shared `growing_base` model (growing phantoms, stand-in for
# DS_Plat): descriptors of every reconstructed sequence (`metrics.describe_sequence`),
# t-SNE of the codes (`latent.tsne_embedding`) coloured by them; the same triangle of
# linear paths (`generate.interpolate_codes`, decoded with `grid.sequence_sdf`), with the
# descriptors along the path and the largest change per step as a smoothness check.
#
# **What to look at:** do neighbouring codes have similar colours; does the volume along
# the path change gradually (no jump much larger than the average step), and do the
# intermediate shapes look like cells?
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

nb = workflow.setup("05_latent_exploration", profile, device, seed,
                    data_dir, runs_dir, figures_dir, results_dir)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from cellshapes import latent, plot
from cellshapes.inference import generate, grid, reconstruct
from cellshapes.measure import metrics
from cellshapes.repro.workflow import base_run
from cellshapes.training.sampling import frame_times

steps = {"smoke": 2, "quick": 4, "paper": 8}[profile]   # points per path segment (ends excluded)
kind = "growing"
DESCRIPTORS = ["surface_um2", "volume_um3", "sphericity"]



# %% [markdown]
# ## 1 · The model and its codes

# %%
dataset, run, how = base_run(kind, nb.data, nb.runs, profile, device, seed, train)
print(how)
model, config = reconstruct.load_run(run, device)
codes = model.codes.detach().cpu().numpy()
names = config["data"]["names"]
attrs = config["data"]["attrs"][0]
voxel, size = float(attrs["voxel_um"]), int(config["data"]["size"])
times = frame_times(int(config["data"]["frames"][0]))
print(f"{codes.shape[0]} codes of size {codes.shape[1]}, std {codes.std():.4f} "
      "(paper: 33 x 64, std 0.0008)")


# %% [markdown]
# ## 2 · Descriptors of every reconstructed sequence (mean over frames, as in Fig 8)

# %%
def describe_code(code=None, seq=None):
    """Descriptors per frame of one decoded sequence (canonical pose for explicit codes)."""
    z = None if code is None else torch.as_tensor(code, device=next(model.parameters()).device)
    sdf, _ = grid.sequence_sdf(model, times, size, seq=seq, code=z,
                               lipschitz=grid.lipschitz_bound(attrs))
    return sdf, metrics.describe_sequence(sdf, (voxel,) * 3, is_sdf=True)


per_seq = pd.DataFrame([describe_code(seq=i)[1][DESCRIPTORS].mean() for i in range(len(names))],
                       index=names)
per_seq.round(3)

# %% [markdown]
# ## 3 · t-SNE of the codes coloured by descriptors (Fig 8a-c)

# %%
emb = latent.tsne_embedding(codes, seed=seed)
fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
for ax, col in zip(axes, DESCRIPTORS):
    sc = ax.scatter(emb[:, 0], emb[:, 1], c=per_seq[col], cmap="viridis", s=60, edgecolor="k",
                    lw=0.4)
    fig.colorbar(sc, ax=ax, label=plot.DESCRIPTOR_LABELS[col])
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"mean {col.split('_')[0]}")
fig.suptitle(f"t-SNE of {len(names)} latent codes ({kind} phantoms), coloured by descriptors")
fig.tight_layout()
plot.save_figure(fig, nb.figure("tsne_descriptors"))
# How local is the colouring? Rank correlation of descriptor differences with code distance.
from scipy.spatial.distance import pdist
from scipy.stats import spearmanr

locality = {col: spearmanr(pdist(codes), pdist(per_seq[[col]].to_numpy())).statistic
            for col in DESCRIPTORS}
pd.Series(locality, name="Spearman(code distance, |descriptor difference|)").round(3)

# %% [markdown]
# ## 4 · Linear paths between codes (Fig 8d)
#
# A triangle through the learned codes of the cells with the lowest (1), highest (3) and
# median (5) mean volume; `steps` codes are interpolated on every side. Explicit codes are
# decoded in the model's canonical pose (no learned rotation).

# %%
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
    ax.set_ylabel(plot.DESCRIPTOR_LABELS[col])
axes[0].legend(fontsize=8)
fig.suptitle("descriptors (mean over frames) along the triangle 1 -> 3 -> 5 -> 1")
fig.tight_layout()
plot.save_figure(fig, nb.figure("path_descriptors"))
step = along[DESCRIPTORS].diff().abs().iloc[1:]
smooth = pd.DataFrame({"mean |change| per step": step.mean(), "max |change| per step": step.max(),
                       "max / mean": step.max() / step.mean()})
smooth.round(3)

# %% [markdown]
# ## 5 · 3D render of the shapes along the first side of the path (last frame)

# %%
first_side = list(range(steps + 2))
tag = {0: "(1) ", steps + 1: "(3) "}
labels = [tag.get(i, "") + f"{along['volume_um3'][i]:.0f} um3" for i in first_side]
plot.show_volumes([decoded[i][0][-1] for i in first_side], (voxel,) * 3, labels=labels,
                   path=nb.figure("path_render"));

# %% [markdown]
# ## Paper vs this run

# %%
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
workflow.comparison_table(rows, profile)
