# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 09 Sine vs ReLU: comparison with DeepSDF (paper Sec 5.7, Fig 12)
#
# **Paper's claim.** On DS_Filo, the proposed model (sine, 9 x 128, latent 64) vs DeepSDF
# extended to 3D+t (ReLU, 8 layers of 512, latent 256), same training. DSC at time point
# 30: **ours 0.950 +- 0.007 at 2000 epochs; DeepSDF 0.909 +- 0.008 at 2000 and
# 0.928 +- 0.004 at 4000 epochs.** Sphericity at time point 30: **real 0.021 +- 0.004,
# ours 0.029 +- 0.009, DeepSDF 0.042 +- 0.008** (DeepSDF: thicker protrusions with round
# tips, higher volume; Fig 12b-e).
#
# **Here.** Filopodial phantoms, the sine model vs a DeepSDF decoder extended to 3D+t on
# the same data with the same sampling, points per step, learning rates and **the same
# stopping rule** (the loss plateau rule of the shared base models, `config.BASE_RUNS`:
# stop when the epoch loss of the last 50 epochs is less than 1 % below the best before
# them, with the notebook's epochs as the cap), each trained with every training seed. DeepSDF is built as in Park et al.
# (2019) and their reference decoder: ReLU, weight normalisation on every hidden layer,
# dropout p = 0.2 after each hidden ReLU during training (none in evaluation), the input
# [x, t, z] re-injected at the middle layer (layer 4 of 8), tanh on the output. The tanh
# bounds the predicted SDF to (-1, 1) in cube units (the cube is [-1, 1]^3): only points
# far out in the cube corners have |SDF| > 1, so the surface is unaffected.

# %% tags=["parameters"]
profile = "smoke"          # smoke | quick | study | gpu | paper (cellshapes.config)
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

nb = workflow.setup("09_deepsdf_comparison", profile, device, seed,
                    data_dir, runs_dir, figures_dir, results_dir)

# %%

import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from cellshapes import plot
from cellshapes.io import read_dataset
from cellshapes.repro import experiments, stats

# %% [markdown]
# ## Settings per profile
# Both arms are trained with each training seed of `workflow.seeds(profile, seed)` (study
# and paper: 3 seeds; smoke and quick: 1); the phantom data stay those of `seed`. Runs
# are this notebook's own (names end in `_nb09`): no model is shared with 07 or 08.
#
# **Deviations from the paper** (all for CPU time): `paper` uses the paper's DeepSDF
# (8 x 512, latent 256). On CPU that network costs about sixteen times the sine model per
# point in its hidden layers, so `smoke`, `quick` and `study` **scale DeepSDF to the sine
# model's width and code size** (8 x 128, latent 64 at `quick`/`study`): equal width, equal
# epochs, same data and points; the parameter counts are printed below. The paper's second
# DeepSDF arm (twice the epochs, 4000) is not run here: it would not fit the study budget.
# At 8 x 128 the ReLU decoder is a round body without filopodia when the rule stops it
# (the table below gives how many epochs each model trained and whether the rule stopped
# it). `python benchmarks/deepsdf_width.py` (3 training seeds per arm, on a smaller set of
# the same phantoms: 2 sequences x 3 frames at 64^3; README "Why the DeepSDF baseline
# stays round") measured why. The sine model reaches DSC 0.983-0.984 with every filopodium
# (connected protrusion recall 1.0); DeepSDF 8 x 128 stops at 203-298 epochs with DSC
# 0.78-0.80 and recall 0.11-0.16; at the paper's width (8 x 512, latent 256; 5-6x the
# training time) it stops as early, DSC 0.84-0.86, recall 0.04-0.06; on the `paper`
# profile's schedule (lr halved every 350 epochs, cap 2000) it stops at 281-334 epochs,
# DSC 0.84-0.86. Trained on without the rule to the paper's 2000 epochs its DSC still
# rises (0.875-0.904) and in two seeds of three the filopodia begin to come, partly
# detached (connected recall 0.07 / 0.51 / 0.34): the rule's stop means "less than 1 %
# better in 50 epochs", not DeepSDF's convergence; with five times the sine model's
# epochs it still stays below the sine model at 400. So the DeepSDF below, stopped by the
# same rule as the sine model, is not converged, and the verdicts below hold at the
# budget they name, not for the paper's DeepSDF (DSC 0.909 at 2000 epochs).
#
# - `smoke`: 2 sequences x 4 frames at 24^3, 20 epochs, DeepSDF 4 x 64: proves the path.
# - `quick`: 4 sequences x 4 frames at 48^3, 80 epochs.
# - `study`: 4 sequences x 6 frames at 64^3, **the plateau rule with a cap of 400 epochs
#   for both arms** (the cap: where the study filopodial sine model's convergence curve
#   flattens, README "Training to convergence"), the study sine model (9 x 128,
#   latent 64, 4096 points per frame, bf16) vs DeepSDF 8 x 128, latent 64; 2 arms x 3 seeds
#   = 6 models. **Estimate on 2 idle CPU cores: about 20 minutes** (sine ~140 s per
#   model: 24 frames x 4096 points x 400 epochs = 39M points at the measured ~280k bf16
#   points/s; DeepSDF about 1.3x that per point (dropout masks, weight norm; measured under
#   load, so approximate): ~16 min for 6 models; surface scoring ~3.5 s per sequence and
#   model, ~1.5 min; phantoms and renders under a minute).
# - `gpu` (one H100): 4 x 6 frames at 128^3, 32768 points per frame, the same rule and
#   cap, the paper's sine model vs **the paper's DeepSDF (8 x 512, latent 256)**; about
#   4-9 min if both arms ran to the cap (estimated, not measured:
#   `python benchmarks/gpu_profile_estimate.py`).

# %%
from cellshapes.config import base_stop_rule

E = nb.settings["epochs"]  # the cap
# the stopping rule of the shared base models (none at smoke and quick: E epochs)
STOP = base_stop_rule(profile)
cfg = nb.settings  # sizes: cellshapes.config.NOTEBOOK_PRESETS
deepsdf = {"arch": "deepsdf", **cfg["deepsdf"]}
seeds = nb.seeds

# %%
# No pretrained model is shipped for this experiment: every model below is trained
# (once; a finished run on disk is reused), whatever `train` says.
ds = workflow.phantom_dataset("filopodial", nb.data, profile, seed, sequences=cfg["sequences"],
                              frames=cfg["frames"], size=cfg["size"])
point = dict(runs_dir=nb.runs, profile=profile, kind="filopodial", sequences=cfg["sequences"],
             frames=cfg["frames"], size=cfg["size"], epochs=E)
ARMS = {"sine": None, "DeepSDF": deepsdf}
runs = {}  # (arm, training seed) -> run directory
for s in seeds:
    for arm, model in ARMS.items():
        run = workflow.run_dir(**point, model=model, seed=s)
        run = run.with_name(run.name + "_nb09")  # this notebook's own runs
        runs[arm, s] = workflow.train_or_load(ds, run, profile, device, s, progress=False,
                                              model=model, epochs=E, **STOP)
configs = {arm: json.loads((runs[arm, seeds[0]] / "config.json").read_text()) for arm in ARMS}
params = {arm: c["decoder_parameters"] for arm, c in configs.items()}
# the decoder of each arm in words, e.g. "8 x 128, latent 64"
sizes = {arm: "{layers} x {hidden}, latent {latent_dim}".format(**c["model"])
         for arm, c in configs.items()}
# epochs each model trained before the rule stopped it (E: it ran to the cap)
trained = {key: workflow.epochs_trained(run) for key, run in runs.items()}
stopped = pd.DataFrame([dict(model=arm, seed=s, epochs=n,
                             plateau=workflow.stopped_on_plateau(runs[arm, s]))
                        for (arm, s), n in trained.items()])
print(pd.DataFrame({"decoder": sizes, "parameters": params}).to_string())
stopped


# %%
def epoch_range(arm):
    """The epochs the arm's models trained, e.g. ``"400"`` or ``"180-230"``."""
    n = sorted(trained[arm, s] for s in seeds)
    return str(n[0]) if n[0] == n[-1] else f"{n[0]}-{n[-1]}"


def budget_words():
    """The training budget of both arms, in words for the claims and the figure."""
    rule = f"the plateau rule, cap {E} epochs" if STOP else f"{E} epochs"
    return (f"trained with {rule}: sine {sizes['sine']}, {epoch_range('sine')} epochs; "
            f"DeepSDF {sizes['DeepSDF']}, {epoch_range('DeepSDF')} epochs")

# %% [markdown]
# ## DSC, sphericity and surface distances at the last frame
# `frame_scores(..., surface=True)` also compares the surfaces: `protrusion_recall` is the
# fraction of the real shape's protrusion surface that the reconstruction reaches (NaN
# where the real shape has no protrusion), `hd95_um` the 95th-percentile surface distance.

# %%
scores = experiments.score_arms(runs, ds, "model", device)  # + sph_error; warns on empty
real = scores.drop_duplicates("sequence")[["real_sphericity", "real_volume_um3"]]
table = scores.groupby("model", sort=False).agg(
    dsc=("dsc", "mean"), dsc_sd=("dsc", "std"), sphericity=("sphericity", "mean"),
    sphericity_sd=("sphericity", "std"), sph_error=("sph_error", "mean"),
    protrusion_recall=("protrusion_recall", "mean"), hd95_um=("hd95_um", "mean"),
    volume_um3=("volume_um3", "mean"), island_fraction=("island_fraction", "mean"),
    connected_recall=("connected_protrusion_recall", "mean"))
table

# %%
fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
order = list(ARMS)
sns.pointplot(data=scores, x="model", y="dsc", order=order, errorbar="sd", ax=axes[0],
              linestyle="none", capsize=0.2)
axes[0].set(ylabel="DSC, last frame", xlabel="")
sns.pointplot(data=scores, x="model", y="sphericity", order=order, errorbar="sd", ax=axes[1],
              linestyle="none", capsize=0.2, color="C1")
axes[1].axhline(real["real_sphericity"].mean(), color="k", ls="--", label="real")
axes[1].set(ylabel="sphericity (36$\\pi$V$^2$/A$^3$), last frame", xlabel="")
axes[1].legend()
sns.pointplot(data=scores, x="model", y="protrusion_recall", order=order, errorbar="sd",
              ax=axes[2], linestyle="none", capsize=0.2, color="C3")
axes[2].set(ylabel="protrusion recall, last frame", xlabel="")
for arm in ARMS:
    log = pd.read_csv(runs[arm, seeds[0]] / "log.csv")
    axes[3].plot(log["epoch"], log["rec_loss"], label=f"{arm} ({trained[arm, seeds[0]]} ep)")
axes[3].set(yscale="log", xlabel="epoch",
            ylabel=f"training L1 loss (SDF units), seed {seeds[0]}")
axes[3].legend()
fig.suptitle(f"Sine vs ReLU (DeepSDF), {scores['sequence'].nunique()} sequences x "
             f"{len(seeds)} training seed(s), {budget_words()} ({profile} profile)",
             fontsize=10)
fig.tight_layout()
plot.save_figure(fig, nb.figure("dsc_sphericity_loss"))

# %% [markdown]
# ## Renders: the sequence with the lowest real sphericity, last frame (first seed)

# %%
name = scores.drop_duplicates("sequence").sort_values("real_sphericity")["sequence"].iloc[0]
truth = read_dataset(ds, [name])[0]
vols, labels = [truth.sdf[-1]], ["real"]
for arm in ARMS:
    vol = experiments.rebuild(runs[arm, seeds[0]], name, [1.0], cfg["size"])[0][0]
    ok = 0 < (vol <= 0).mean() < 1  # an untrained smoke model may have no surface
    vols.append(vol if ok else np.zeros(vol.shape, np.uint8))
    labels.append(f"{arm}, {trained[arm, seeds[0]]} ep" if ok else f"{arm}: no surface")
_ = plot.show_volumes(vols, spacing=(truth.attrs["voxel_um"],) * 3, labels=labels,
                   path=nb.figure("render"))


# %% [markdown]
# ## Claims and verdicts
# The paper's claim is that **the sine model is closer to the real shapes than DeepSDF**
# (not that DeepSDF is rounder: a model could be rounder and still closer). Per training
# seed, each quantity is the mean over the sequences of the last frame; the arms are
# paired by seed and :func:`cellshapes.repro.stats.claim_record` decides (d = sine -
# DeepSDF per seed; at least 3 seeds; "reproduced" when the claimed direction holds for
# every seed or a one-sided paired t-test gives p < 0.05, "contradicted" likewise for the
# opposite, otherwise "not settled"):
#
# 1. sphericity error |sphericity - real sphericity|: sine vs DeepSDF, direction "less";
# 2. DSC: direction "greater" (paper: 0.950 vs 0.909 at 2000 epochs);
# 3. protrusion recall (DeepSDF: "thicker protrusions with round tips"): "greater";
# 4. HD95 surface distance [um]: "less".
#
# With one seed (`smoke`, `quick`) every verdict is "not settled" by rule. Each quantity is
# averaged over the sequences where it is defined for every arm and seed, so both arms are
# measured on the same shapes (protrusion recall is undefined where the real shape has no
# protrusion; every shape quantity where a model rebuilt no surface, which the scores cell
# warns about); a claim with no such sequence is left out with a printed note.

# %%
def per_seed(col, arm):
    """Mean of ``col`` at the last frame per training seed, over the sequences defined for
    every arm and seed (:func:`cellshapes.repro.stats.per_seed_means`)."""
    return stats.per_seed_means(scores, col, "model", arm, seeds)


CLAIMS = [
    ("the sine model is closer to the real sphericity than DeepSDF (|sph - real|)",
     "real 0.021 +- 0.004, ours 0.029 +- 0.009, DeepSDF 0.042 +- 0.008 (Sec 5.7)",
     "sph_error", "less"),
    ("the sine model has a higher DSC than DeepSDF",
     "0.950 +- 0.007 vs 0.909 +- 0.008 at 2000 epochs (Sec 5.7)", "dsc", "greater"),
    ("the sine model rebuilds more of the protrusions than DeepSDF (protrusion recall)",
     "DeepSDF: thicker protrusions with round tips (Fig 12b-e)", "protrusion_recall",
     "greater"),
    ("the sine model's surface is closer to the real one than DeepSDF's (HD95)",
     "not reported (Fig 12: DeepSDF protrusions thicker, round tips)", "hd95_um", "less"),
]
claims = []
for claim, paper, col, direction in CLAIMS:
    a, b = per_seed(col, "sine"), per_seed(col, "DeepSDF")
    if not np.all(np.isfinite(a + b)):
        print(f"left out: {claim!r} ({col} undefined for every sequence: {a} vs {b})")
        continue
    budget = f" (both {budget_words()}; same points, {profile} profile)"
    claims.append(stats.claim_record(claim + budget, paper, a, b, direction,
                                     labels=("sine", "DeepSDF")))
workflow.write_claims(nb.name, profile, seeds, claims, nb.results)

# %% [markdown]
# ## Paper vs this run (numbers)

# %%
def ms(col, arm):
    sub = scores[scores["model"] == arm][col]
    return f"{sub.mean():.3f} +- {sub.std():.3f}"


rs = real["real_sphericity"]
rows = [
    dict(quantity=f"DSC last frame, sine ({epoch_range('sine')} epochs)",
         paper="0.950 +- 0.007 (2000 epochs)",
         ours=ms("dsc", "sine"), note=""),
    dict(quantity=f"DSC last frame, DeepSDF ({epoch_range('DeepSDF')} epochs)",
         paper="0.909 +- 0.008 (2000)",
         ours=ms("dsc", "DeepSDF"), note=""),
    dict(quantity="sphericity last frame, real", paper="0.021 +- 0.004",
         ours=f"{rs.mean():.3f} +- {rs.std():.3f}", note="phantoms, not DS_Filo"),
    dict(quantity="sphericity last frame, sine", paper="0.029 +- 0.009",
         ours=ms("sphericity", "sine"), note=""),
    dict(quantity="sphericity last frame, DeepSDF", paper="0.042 +- 0.008",
         ours=ms("sphericity", "DeepSDF"), note=""),
    dict(quantity="protrusion recall last frame, sine / DeepSDF", paper="not reported",
         ours=f"{ms('protrusion_recall', 'sine')} / {ms('protrusion_recall', 'DeepSDF')}",
         note=""),
    dict(quantity="decoder parameters sine / DeepSDF", paper="168.5k / about 1.9M",
         ours=f"{params['sine'] / 1e3:.1f}k / {params['DeepSDF'] / 1e3:.1f}k",
         note="" if not cfg["deepsdf"] else "DeepSDF scaled to the sine model's width"),
]
workflow.comparison_table(rows, profile)
