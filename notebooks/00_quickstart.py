# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 00 · Quickstart: from cell masks to a shape model and back
#
# The paper (Wiesner et al. 2024) represents a whole set of 3D+t cell shape sequences with
# one neural implicit function f(x, t, z): every sequence has a latent code z (and, in the
# SO(3)-equivariant model, a learned rotation), and the zero level set of f is the cell
# surface at time t.
#
# **Claim (Sec 5.1, Fig 4; Tab 2; Sec 5.7):** the trained model reconstructs its training
# shapes closely. The paper reports a Dice similarity coefficient (DSC) of **0.958** at
# t = 30 for the equivariant model with latent size 64 on DS_Plat (Tab 2), and
# **0.950 ± 0.007** on DS_Filo (Sec 5.7).
#
# **What we do:** the pipeline one step at a time on procedural *dividing* cells (a stand-in
# for the C. elegans data): phantom masks → prepared SDF cubes → training → reconstruction →
# evaluation (DSC) → shape descriptors. Every step is one `cellshapes` call.
#
# **What to look at:** the real vs reconstructed slices and 3D render, the DSC table, and
# whether the descriptor curves of real and reconstructed shapes overlap.
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

nb = workflow.setup("00_quickstart", profile, device, seed,
                    data_dir, runs_dir, figures_dir, results_dir)

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from cellshapes import io, plot
from cellshapes.inference import evaluate, reconstruct
from cellshapes.measure import metrics
from cellshapes.repro import paper
from cellshapes.repro.workflow import base_run, describe_dataset
from cellshapes.training.checkpoint import read_config

kind = "dividing"
work = nb.work()          # this notebook's own outputs



# %% [markdown]
# ## 1 · Phantom masks
#
# `workflow.phantom_dataset` draws seeded procedural cells (`phantoms.write_phantoms`: a
# cell grows, pinches at a cleavage furrow and splits into two daughters at mid-sequence)
# and prepares them (`prepare.prepare_dataset`). Both results are cached on disk, so other
# notebooks reuse them. Here are the raw binary masks of the first sequence.

# %%
dataset = workflow.phantom_dataset(kind, nb.data, profile, seed)
mask_files = sorted(dataset.with_name(dataset.stem + "_masks").glob("*.tif"))
masks, mask_info = io.read_masks(mask_files[0])
print(f"{len(mask_files)} sequences; sequence 0 has shape {masks.shape} (T, Z, Y, X), "
      f"voxel size {mask_info.get('spacing_um')} um")
fig = plot.slice_grid({"mask": masks}, title=f"{kind} phantom, sequence 0: central z-slices")
plot.save_figure(fig, nb.figure("masks"))

# %% [markdown]
# ## 2 · Prepared dataset: signed distance cubes
#
# `prepare_dataset` centres every cell, picks **one** physical scale for the whole data set
# (so relative cell sizes are kept) and turns each mask into a signed distance function
# (SDF, negative inside) on an S³ grid spanning [-1, 1]³. The model regresses these values;
# the black zero contour is the cell surface.

# %%
real = io.read_dataset(dataset)
attrs = real[0].attrs
print(f"{len(real)} sequences of shape {real[0].sdf.shape}; cube side {2 * attrs['scale_um']:.1f} um, "
      f"grid spacing {attrs['voxel_um']:.3f} um, SDF unit {attrs['sdf_unit_um']:.2f} um")
fig = plot.slice_grid({"SDF": real[0].sdf}, title="prepared SDF, sequence 0 (zero contour = surface)")
plot.save_figure(fig, nb.figure("sdf"))

# %% [markdown]
# ## 3 · Train (or load) the model
#
# `base_run` trains the shared base run of the profile's settings (or reuses it
# if a previous notebook already did; with `train = False` it loads the shipped pretrained
# model of this profile when there is one).

# %%
dataset, run, how = base_run(kind, nb.data, nb.runs, profile, device, seed, train, progress=True)
print(how)
config = read_config(run)
print("model:", {k: config["model"][k] for k in ("hidden", "layers", "latent_dim", "omega0", "equivariant")},
      "| epochs:", config["train"]["epochs"])
log_file = run / "log.csv"
if log_file.exists():
    log = pd.read_csv(log_file)
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.semilogy(log["epoch"], log["loss"], label="total loss")
    ax.semilogy(log["epoch"], log["rec_loss"], label="reconstruction loss")
    ax.set_xlabel("epoch")
    ax.legend()
    ax.set_title(f"training, {profile} profile ({log['time_s'].sum():.0f} s)")
    plot.save_figure(fig, nb.figure("loss"))
else:
    print("pretrained model: the training log is not shipped, only the weights")

# %% [markdown]
# ## 4 · Reconstruct
#
# `reconstruct.reconstruct_run` evaluates f on the training grid for every sequence's learned code
# and rotation, and writes masks (TIFF) and SDFs (HDF5).

# %%
reconstruct.reconstruct_run(run, work / "reconstruction", device=device, overwrite=True, progress=False)
rec = io.read_dataset(work / "reconstruction" / "sdf.h5")
fig = plot.slice_grid({"real": real[0].sdf <= 0, "reconstructed": rec[0].sdf <= 0},
                       title="sequence 0: real vs reconstructed (central z-slices)")
plot.save_figure(fig, nb.figure("slices"))

# %% [markdown]
# ## 5 · Evaluate: Dice similarity per sequence and frame

# %%
report = evaluate.evaluate_run(run, dataset, device=device, progress=False)
dsc = pd.DataFrame(report["per_sequence"])
dsc.index.name = "frame"
print(f"DSC over all sequences and frames: {report['dsc_mean']:.3f} ± {report['dsc_std']:.3f}")
display(dsc.round(3))

# %% [markdown]
# ## 6 · Shape descriptors (the paper's Fig 4 quantities)
#
# Volume, surface area and sphericity (the paper's 36πV²/A³) per frame; the curves show the
# mean and interquartile range over sequences at each time point.

# %%
real_df, _ = describe_dataset(dataset)
rec_df, skipped = describe_dataset(work / "reconstruction" / "sdf.h5")
if skipped:
    print(f"reconstructed sequences with an empty frame, left out: {skipped}")
fig = plot.descriptor_curves({"real": real_df, "reconstructed": rec_df},
                              title=f"{kind} cells: descriptors per time point (mean, IQR)")
plot.save_figure(fig, nb.figure("descriptors"))
ks = metrics.ks_tests(real_df, rec_df)
display(ks.round(4))

# %% [markdown]
# ## 7 · 3D render: real vs reconstructed (last frame, two daughter cells)

# %%
voxel = float(attrs["voxel_um"])
plot.show_volumes([real[0].sdf[-1], rec[0].sdf[-1]], (voxel,) * 3,
                   labels=["real", "reconstructed"], path=nb.figure("render"));

# %% [markdown]
# ## Paper vs this run

# %%
pval = ks.set_index("descriptor")["pvalue"]
good = report["dsc_mean"] >= 0.9
rows = [
    {"quantity": "DSC, equivariant model, latent 64",
     "paper": f"{paper.DSC_PLAT.mean:.3f} (DS_Plat, t=30, Tab 2); "
              f"{paper.DSC_FILO.text('±')} (DS_Filo, Sec 5.7)",
     "ours": f"{report['dsc_mean']:.3f} ± {report['dsc_std']:.3f} ({kind} phantoms, all frames)",
     "note": "high DSC reproduced (>= 0.9)" if good else "DSC below 0.9: not reproduced at this profile"},
    {"quantity": "KS p-value real vs reconstructed: surface / volume / sphericity",
     "paper": f"C. elegans: {paper.ks_words('dividing')} (Tab 1)",
     "ours": " / ".join(f"{pval[c]:.3f}" for c in ("surface_um2", "volume_um3", "sphericity")),
     "note": "p > 0.05: no significant difference"},
]
workflow.comparison_table(rows, profile)
