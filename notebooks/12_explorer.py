# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 12 · Explorer: turn a latent code and time, watch a 3D cell change
#
# The paper explores its latent space with static figures (Sec 5.3, Fig 8: linear paths
# between codes, neighbourhoods coloured by descriptors). Here a trained model is a live
# object: in a running JupyterLab kernel the cell below shows sliders for **time** and for
# the first **principal components** of the learned codes (in standard deviations of the
# codes along each), and a **random cell** button; every change re-evaluates the model on
# a coarse grid and updates a turnable 3D view (pyvista's trame viewer, vtk.js in the
# browser) and the cell's volume, surface and sphericity.
#
# Under papermill (`cellshapes notebooks`) there is no one to move a slider: the notebook
# renders the same views for a grid of times and first-component values instead, and
# measures how long one update takes.
#
# **What to look at:** how the cell changes along time and along the first component, and
# whether the read-outs move smoothly. Not a paper claim: nothing here is scored.
#
# *Profiles* set the preview grid (smoke 24^3, quick and study 32^3, paper 48^3); the model
# is a shipped one (`cellshapes.pretrained`) unless `run` names a run directory.

# %% tags=["parameters"]
profile = "smoke"          # smoke | quick | study | paper (what each runs: cellshapes.config)
device = "auto"            # auto | cpu | cuda | cuda:N
seed = 0
train = False              # nothing is trained here: the explorer loads a model
model_name = "growing_study"  # a shipped model (cellshapes.pretrained) ...
run = None                 # ... or a run directory of yours (cellshapes train / model)
data_dir = None            # None: git-ignored folders under <repo>/out/<profile>/
runs_dir = None            #   from any working directory; only `cellshapes notebooks
figures_dir = None         #   --publish` writes the committed figures/ and results/
results_dir = None

# %%
# Checked before any work (the device, the output folders); this notebook's sizes.
from cellshapes.repro import workflow

nb = workflow.setup("12_explorer", profile, device, seed,
                    data_dir, runs_dir, figures_dir, results_dir)

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display

from cellshapes import pretrained
from cellshapes.plot import interactive
from cellshapes.plot.explorer import Explorer, explorer_grid, explorer_widget
from cellshapes.resources import resolve_device

source = run if run is not None else pretrained.load(model_name)
explorer = Explorer.from_run(source, size=nb.settings.size,
                             components=nb.settings.components,
                             device=str(resolve_device(device)))
print(f"{source}: {explorer.model.n_sequences} learned codes of size {explorer.mean.size}; "
      f"first {explorer.components} principal components, std "
      + ", ".join(f"{s:.3g}" for s in explorer.std)
      + f"; previews at {explorer.size}^3 ({explorer.voxel_um:.2f} um voxels)")

# %% [markdown]
# ## 1 · The explorer
#
# Live kernel: move the sliders (each release re-evaluates the model), or press *random
# cell* (each component drawn from N(0, 1)). Elsewhere: the static grid of section 2.

# %%
if interactive.wants_interactive():
    display(explorer_widget(explorer, seed=seed))
else:
    print("not a live JupyterLab kernel: the static views follow (set "
          "CELLSHAPES_INTERACTIVE=1 to force the widget)")

# %% [markdown]
# ## 2 · The same views, static: time x first principal component

# %%
times = nb.settings.times
values = nb.settings.values
image, rows = explorer_grid(explorer, times=times, values=values, component=0)
fig, ax = plt.subplots(figsize=(2.6 * len(times), 2.6 * len(values)))
ax.imshow(image)
ax.set_axis_off()
ax.set_title("columns: time; rows: first principal component (std of the codes)")
fig.savefig(nb.figure("grid"), dpi=110, bbox_inches="tight")
plt.show()
table = pd.DataFrame(rows)
display(table.pivot_table(index="value", columns="t", values="volume_um3").round(0))

# %% [markdown]
# ## 3 · How long one update takes
#
# One slider release = one evaluation of the model on the preview grid, its surface and
# its descriptors (the 3D view's own redraw in the browser comes on top). The goal is
# about a second per change on a CPU.

# %%
rng = np.random.default_rng(seed)
seconds = []
for _ in range(nb.settings.timed_updates):
    t0 = time.perf_counter()
    sdf = explorer.volume(float(rng.uniform(-1, 1)), explorer.random_pcs(rng))
    explorer.describe(sdf)
    seconds.append(time.perf_counter() - t0)
print(f"one update at {explorer.size}^3 on {resolve_device(device)}: median "
      f"{sorted(seconds)[len(seconds) // 2]:.2f} s (min {min(seconds):.2f}, max "
      f"{max(seconds):.2f}; {len(seconds)} random cells)")
