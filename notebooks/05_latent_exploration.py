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
# **What we do:** the shared growing base model (`workflow.base_run`; growing phantoms,
# stand-in for DS_Plat), one per training seed: descriptors of every reconstructed
# sequence (`metrics.describe_sequence`); the latent neighbourhood of the codes as a map:
# a grid of codes in the plane of the codes' first two principal components, each decoded
# and coloured by its descriptors (Fig 8a-c; with few codes a t-SNE of the codes alone
# has nothing to show), and the rank correlation of code distance with descriptor
# difference over that grid; linear paths between pairs of learned codes
# (`generate.interpolate_codes`, decoded with `grid.sequence_sdf`) with the descriptors
# along each path, judged by a stated smoothness rule.
#
# **What to look at:** do neighbouring codes have similar colours; does the volume along
# each path change gradually (no step much larger than the average step), and do the
# intermediate shapes look like whole cells?
#
# *Profiles*: `smoke` only proves that every step runs (seconds; its numbers mean nothing),
# `quick` shows the direction on a CPU in minutes (one seed), `study` runs three training
# seeds (the base models of notebook 02), `paper` uses the paper's settings on a GPU. With
# one seed every verdict is "not settled".

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

# %% [markdown]
# ## Settings
#
# `steps` codes are interpolated between the ends of each path, on at most `paths` pairs
# of learned codes (in the order of `itertools.combinations`); the latent map decodes a
# `grid` x `grid` lattice. **study**: the growing study base models (4 sequences x 5
# frames at 64^3, 400 epochs, 128 x 9 sine, latent 64) of training seeds 0, 1, 2: all 6
# pairs of its 4 codes, 6 steps, a 5 x 5 map.

# %%
from itertools import combinations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import display
from scipy.spatial.distance import pdist
from scipy.stats import spearmanr
from sklearn.decomposition import PCA

from cellshapes import plot
from cellshapes.inference import generate, grid, reconstruct
from cellshapes.measure import metrics
from cellshapes.measure.topology import whole_sequence
from cellshapes.phantoms import STANDS_IN_FOR
from cellshapes.repro.stats import claim_record
from cellshapes.repro.workflow import base_run
from cellshapes.training.sampling import frame_times

settings = nb.settings  # steps, paths, grid (cellshapes.repro.presets.LatentExploration)
kind = "growing"
DESCRIPTORS = ["surface_um2", "volume_um3", "sphericity"]
RATIO = 3.0  # smoothness rule: the largest step along a path at most 3x its mean step
print(f"profile {profile}: training seeds {nb.seeds}, {settings}")


def describe_code(model, attrs, times, size, code=None, seq=None):
    """SDF and descriptors per frame of one decoded sequence (model frame for a code)."""
    z = None if code is None else torch.as_tensor(code, device=next(model.parameters()).device)
    sdf, _ = grid.sequence_sdf(model, times, size, seq=seq, code=z,
                               lipschitz=grid.lipschitz_bound(attrs))
    voxel = float(attrs["voxel_um"])
    if not (sdf <= 0).any(axis=(1, 2, 3)).all():  # an empty frame: nothing to describe
        return sdf, None
    return sdf, metrics.describe_sequence(sdf, (voxel,) * 3, is_sdf=True)


def step_ratio(values):
    """Largest |change| between neighbouring points of a path over the mean |change|."""
    d = np.abs(np.diff(np.asarray(values, float)))
    return float(d.max() / d.mean()) if d.mean() > 0 else 1.0


# %% [markdown]
# ## 1 · The models and their codes; descriptors of every reconstructed sequence
#
# Mean over frames, as in Fig 8.

# %%
models, sources = {}, {}
for s in nb.seeds:
    dataset, run, how = base_run(kind, nb.data, nb.runs, profile, device, seed, train,
                                 train_seed=s)
    sources[f"{kind}, seed {s}"] = how
    print(f"seed {s}: {how}")
    model, config = reconstruct.load_run(run, device)
    attrs = config["data"]["attrs"][0]
    models[s] = dict(model=model, codes=model.codes.detach().cpu().numpy(),
                     names=config["data"]["names"], attrs=attrs,
                     size=int(config["data"]["size"]),
                     times=frame_times(int(config["data"]["frames"][0])))
per_seq = {}
for s, m in models.items():
    rows = [describe_code(m["model"], m["attrs"], m["times"], m["size"], seq=i)[1][DESCRIPTORS].mean()
            for i in range(len(m["names"]))]
    per_seq[s] = pd.DataFrame(rows, index=m["names"])
    print(f"seed {s}: {m['codes'].shape[0]} codes of size {m['codes'].shape[1]}, "
          f"std {m['codes'].std():.4f} (paper: 33 x 64, std 0.0008)")
display(pd.concat(per_seq, names=["seed", "sequence"]).round(3))

# %% [markdown]
# ## 2 · The latent neighbourhood coloured by descriptors (Fig 8a-c)
#
# A `grid` x `grid` lattice of codes in the plane through the mean code spanned by the
# codes' first two principal components, reaching 1.2x the farthest code on each axis;
# each lattice code is decoded (all frames, model frame) and coloured by its mean
# descriptors; the learned codes are marked. Per seed: Spearman's rank correlation of the
# code distance with the |descriptor difference| over all lattice pairs (positive: nearby
# codes have similar shapes).

# %%
maps, locality = {}, []
for s, m in models.items():
    pca = PCA(n_components=2).fit(m["codes"])
    xy = pca.transform(m["codes"])
    reach = np.abs(xy).max(axis=0) * 1.2
    reach[reach <= 0] = reach.max()  # two codes span a line: square the lattice
    ticks = [np.linspace(-r, r, settings.grid) for r in reach]
    lattice = np.array([[a, b] for b in ticks[1] for a in ticks[0]])
    codes = pca.inverse_transform(lattice).astype(np.float32)
    rows = []
    for z in codes:
        sdf, desc = describe_code(m["model"], m["attrs"], m["times"], m["size"], code=z)
        rows.append(desc[DESCRIPTORS].mean() if desc is not None
                    else pd.Series(np.nan, index=DESCRIPTORS))
    table = pd.DataFrame(rows)
    maps[s] = dict(xy=xy, lattice=lattice, table=table)
    ok = table["volume_um3"].notna().to_numpy()
    row = {"seed": s, "decoded non-empty": f"{int(ok.sum())} of {len(ok)}"}
    for col in DESCRIPTORS:
        row[col] = float(spearmanr(pdist(codes[ok]), pdist(table.loc[ok, [col]].to_numpy())).statistic)
    locality.append(row)
locality = pd.DataFrame(locality).set_index("seed")
display(locality.round(3))

s0 = nb.seeds[0]
fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
for ax, col in zip(axes, DESCRIPTORS):
    mp = maps[s0]
    sc = ax.scatter(mp["lattice"][:, 0], mp["lattice"][:, 1], c=mp["table"][col], cmap="viridis",
                    s=160, marker="s")
    ax.scatter(mp["xy"][:, 0], mp["xy"][:, 1], facecolor="none", edgecolor="red", s=90, lw=1.5,
               label="learned code")
    fig.colorbar(sc, ax=ax, label=plot.DESCRIPTOR_LABELS[col])
    ax.set(xlabel="PC 1", ylabel="PC 2", title=f"mean {col.split('_')[0]}")
axes[0].legend(fontsize=8, loc="lower left")
fig.suptitle(f"latent plane of the {kind} codes (seed {s0}), decoded and coloured by descriptors")
fig.tight_layout()
plot.save_figure(fig, nb.figure("latent_map"))

# %% [markdown]
# ## 3 · Linear paths between learned codes (Fig 8d)
#
# Codes decoded in the model's own frame (no learned rotation). Smoothness rule per path
# and descriptor: the largest |change| between neighbouring points at most 3x the mean
# |change| (a linear trend gives 1; a jump concentrated in one of the n steps gives up
# to n). Per seed: the worst path.

# %%
path_rows, decoded_first = [], {}
for s, m in models.items():
    pairs = list(combinations(range(len(m["codes"])), 2))[:settings.paths]
    for a, b in pairs:
        path = generate.interpolate_codes(m["codes"][a], m["codes"][b], settings.steps + 2)
        decoded = [describe_code(m["model"], m["attrs"], m["times"], m["size"], code=z)
                   for z in path]
        if s == s0 and (a, b) == pairs[0]:
            decoded_first = {"path": path, "decoded": decoded, "pair": (a, b)}
        full = all(d[1] is not None for d in decoded)
        row = {"seed": s, "path": f"{m['names'][a]} -> {m['names'][b]}",
               "whole shapes": sum(whole_sequence(d[0] <= 0)[0] for d in decoded),
               "points": len(decoded)}
        for col in DESCRIPTORS:
            row[f"ratio {col}"] = (step_ratio([d[1][col].mean() for d in decoded]) if full
                                   else float("inf"))
        path_rows.append(row)
paths = pd.DataFrame(path_rows)
display(paths.set_index(["seed", "path"]).round(2))

first = pd.DataFrame([d[1][DESCRIPTORS].mean() for d in decoded_first["decoded"]])
fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
for ax, col in zip(axes, DESCRIPTORS):
    ax.plot(np.linspace(0, 1, len(first)), first[col], marker="o", ms=3)
    ax.set(xlabel="w (0: first code, 1: second)", ylabel=plot.DESCRIPTOR_LABELS[col])
a, b = decoded_first["pair"]
fig.suptitle(f"descriptors (mean over frames) along the path {models[s0]['names'][a]} -> "
             f"{models[s0]['names'][b]} (seed {s0})")
fig.tight_layout()
plot.save_figure(fig, nb.figure("path_descriptors"))

# %% [markdown]
# ## 4 · 3D render of the shapes along that path (last frame)

# %%
voxel = float(models[s0]["attrs"]["voxel_um"])
labels = [f"w = {w:.2f}" for w in np.linspace(0, 1, len(first))]
plot.show_volumes([d[0][-1] for d in decoded_first["decoded"]], (voxel,) * 3, labels=labels,
                  path=nb.figure("path_render"), window=(190 * len(labels), 230));

# %% [markdown]
# ## Claims: paper vs this run
#
# One value per training seed, judged by `stats.claim_record` (rule in
# `cellshapes.repro.stats`; with one seed every verdict is "not settled"):
#
# * **Smooth paths** (volume; surface): the worst path's largest-step / mean-step ratio
#   **"less"** than 3.
# * **Plausible intermediate shapes**: the share of decoded path shapes that are whole
#   cells (no empty frame, < 1 % of the foreground outside the largest component)
#   **"greater"** than 0.9.
# * **Latent neighbourhoods**: Spearman's correlation of code distance with |volume
#   difference| over the latent lattice **"greater"** than 0.

# %%
worst = paths.groupby("seed")[["ratio volume_um3", "ratio surface_um2"]].max()
share = paths.groupby("seed")["whole shapes"].sum() / paths.groupby("seed")["points"].sum()
who = f"{kind} ({STANDS_IN_FOR[kind]} stand-in)"
claims = [
    claim_record(f"{who}: volume changes gradually along linear code paths: largest step "
                 f"< {RATIO:g}x the mean step (worst of {settings.paths} paths)",
                 "gradual change along the path (Fig 8d, visual)",
                 worst.loc[nb.seeds, "ratio volume_um3"].tolist(), RATIO, "less",
                 labels=("largest / mean step", "threshold")),
    claim_record(f"{who}: surface changes gradually along linear code paths: largest step "
                 f"< {RATIO:g}x the mean step (worst of {settings.paths} paths)",
                 "gradual change along the path (Fig 8d, visual)",
                 worst.loc[nb.seeds, "ratio surface_um2"].tolist(), RATIO, "less",
                 labels=("largest / mean step", "threshold")),
    claim_record(f"{who}: the shapes along linear code paths are whole cells (share > 0.9)",
                 "plausible intermediate shapes (Fig 8d)",
                 share.loc[nb.seeds].tolist(), 0.9, "greater",
                 labels=("whole share", "threshold")),
    claim_record(f"{who}: nearby codes have similar volumes: Spearman(code distance, |volume "
                 "difference|) over a decoded latent lattice > 0",
                 "regions of the t-SNE map differ by descriptor (Fig 8a-c, visual)",
                 locality.loc[nb.seeds, "volume_um3"].tolist(), 0.0, "greater",
                 labels=("Spearman", "zero")),
]
workflow.write_claims(nb.name, profile, nb.seeds, claims, nb.results, models=sources)
