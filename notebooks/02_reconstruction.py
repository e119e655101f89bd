# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · Reconstruction of three cell kinds (Sec 5.1, Fig 4, Tab 1)
#
# **Claim:** one equivariant model per data set reconstructs the training sequences so that
# surface, volume and sphericity follow the real shapes at every time point (Fig 4). Tab 1
# gives the two-sample Kolmogorov-Smirnov p-values real vs reconstructed
# (surface / volume / sphericity):
#
# | data set | surface | volume | sphericity |
# |---|---|---|---|
# | *Platynereis dumerilii* (DS_Plat) | 0.634 | 0.252 | 0.387 |
# | *C. elegans* (DS_Cele) | 0.077 | 0.472 | < 0.001 |
# | A549 filopodial (DS_Filo) | 0.064 | 0.230 | < 0.001 |
#
# p > 0.05 means the test finds no difference. The table's caption says "real and
# reconstructed"; the text says the two rejections concern the *synthetic* C. elegans and
# A549 cells. Tab 1 has no DSC; the paper's DSC of reconstructions at the last time point
# (t = 30) are 0.958 +- 0.012 for DS_Plat (Tab 2, latent 64, rotated DS_Plat) and
# 0.950 +- 0.007 for DS_Filo (Sec 5.7); none is given for DS_Cele. Dividing cells are
# described per daughter after the division (Sec 4.4).
#
# **What we do:** for each procedural kind (growing ≈ DS_Plat, dividing ≈ DS_Cele,
# filopodial ≈ DS_Filo) we train one model per training seed (`workflow.seeds`: three at
# `study`), reconstruct every training sequence and score it: DSC per frame, surface
# metrics at the last frame (HD95, ASSD, surface Dice, protrusion recall, as
# `experiments.frame_scores(..., surface=True)` computes them), descriptor curves and KS
# tests real vs reconstructed per seed. For the first seed we also synthesize as many new
# sequences as there are training sequences, the paper's way (z ~ N(0, 0.001 I) for
# growing and dividing, learned codes + N(0, 0.0005 I) for filopodial), and show their
# curves; the synthesis claims are tested in notebook 03.
#
# **What to look at:** the overlap of the curves per kind, the per-seed KS and DSC tables,
# and the claims table at the end.
#
# *Profiles*: `smoke` only proves that every step runs (its numbers mean nothing),
# `quick` reproduces the direction on a CPU (one seed), `study` runs three training seeds
# per kind on a CPU, `paper` uses the paper's settings on a GPU. Smoke and quick have one seed, so their verdicts are always
# "not settled".

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

nb = workflow.setup("02_reconstruction", profile, device, seed,
                    data_dir, runs_dir, figures_dir, results_dir)

# %% [markdown]
# ## Settings
#
# Phantom data stay fixed (seed `seed`); only the training seed changes between the runs of
# a kind. `sequences` / `frames` of None mean the profile's defaults
# (`config.PROFILES[profile]["data"]`); epochs, model and grid are always the profile's.
#
# **study** (3 kinds x 3 seeds = 9 models, 128 x 9 sine, latent 64, 4096 points per
# frame, 64^3, bf16): 4 sequences x 5 frames per kind (the dividing phantoms divide at the
# third frame, so three frames show two daughters; the paper: 33 x 30 at 256^3, 2000
# epochs). **400 epochs, chosen from the measured convergence curve** of the study
# filopodial model (`benchmarks/convergence_seed0.log`: last-frame DSC 0.758 / 0.902 /
# 0.967 / 0.980 after 50 / 100 / 200 / 400 epochs, island fraction 0.025 at 100 epochs and
# 0 from 200 on): the earlier 100 epochs left the filopodia in fragments. The plateau rule
# (`plateau_epochs=50`, 1 %) would stop a converged run before the cap; at 400 it had not
# yet. In all 9 models (3 kinds x 3 seeds), 9 reconstructions and 3 synthesized sets: the
# study's budget goes to fewer, converged runs rather than more kinds or seeds.
#
# **gpu** (one H100): the study's runs at 128^3 with 32768 points per frame (the paper's
# decoder, 3 seeds, 9 models); its cost is estimated by
# `python benchmarks/gpu_profile_estimate.py`.

# %%

import pandas as pd
from IPython.display import display

from cellshapes import io, plot
from cellshapes.inference import generate, reconstruct, samplers
from cellshapes.measure import compare, metrics
from cellshapes.measure.ks import min_pvalue
from cellshapes.phantoms import KINDS, STANDS_IN_FOR
from cellshapes.repro import paper
from cellshapes.repro.stats import claim_record

#: New cells come from the package's default sampler (notebook 03 compares it with the
#: paper's gaussian / near sampling).
METHOD = {k: samplers.DEFAULT_SAMPLER for k in ("growing", "dividing", "filopodial")}
COLS = ["surface_um2", "volume_um3", "sphericity"]
PAPER_P = {k: tuple(paper.TAB1_KS_P[k][c] for c in COLS) for k in paper.TAB1_KS_P}  # Tab 1
PAPER_DSC = {"growing": (paper.DSC_PLAT.mean,
                         f"{paper.DSC_PLAT.text()} at t = 30 (DS_Plat, Tab 2, latent 64)"),
             "filopodial": (paper.DSC_FILO.mean,
                            f"{paper.DSC_FILO.text()} at t = 30 (DS_Filo, Sec 5.7)")}
SURFACE = ["hd95_um", "assd_um", "surface_dice", "protrusion_recall", "components",
           "island_fraction", "connected_protrusion_recall"]  # topology: measure.topology
work = nb.work()
print(f"profile {profile}: training seeds {nb.seeds}, settings {nb.settings}")

# %% [markdown]
# ## 1 · Data and one model per kind and training seed

# %%
datasets, runs, sources = {}, {}, {}
for kind in KINDS:
    for s in nb.seeds:  # the shared base models (workflow.base_run; study: BASE_RUNS)
        datasets[kind], runs[kind, s], how = workflow.base_run(
            kind, nb.data, nb.runs, profile, device, seed, train, train_seed=s)
        sources[f"{kind}, seed {s}"] = how
        print(f"{kind}, seed {s}: {how}")

# %% [markdown]
# ## 2 · Reconstructions and their scores, per seed
#
# Every training sequence is rebuilt on its training grid (`reconstruct.reconstruct_run`).
# Per sequence: DSC of every frame (mean over frames and at the last frame, the paper's
# t = 30) and, at the last frame, the surface metrics of `compare.compare_shapes`
# (HD95 and ASSD in um, surface Dice and protrusion recall with a tolerance of one voxel
# diagonal; protrusion recall is NaN where the truth has no protrusion).

# %%
rows, desc, left_out = [], {}, {}
for kind in KINDS:
    per_daughter = kind == "dividing"
    real_seqs = {q.name: q for q in io.read_dataset(datasets[kind])}
    desc[kind, "real"], _ = workflow.describe_dataset(datasets[kind], per_daughter)
    for s in nb.seeds:
        rec_dir = work / kind / f"reconstruction_seed{s}"
        reconstruct.reconstruct_run(runs[kind, s], rec_dir, device=device, overwrite=True,
                                    progress=False)
        for q in io.read_dataset(rec_dir / "sdf.h5"):
            r = real_seqs[q.name]
            voxel = float(r.attrs["voxel_um"])
            dsc = metrics.dice_per_frame(q.sdf <= 0, r.sdf <= 0)
            row = {"kind": kind, "seed": s, "sequence": q.name, "DSC mean": float(dsc.mean()),
                   "DSC last": float(dsc[-1])}
            if 0.0 < float((q.sdf[-1] <= 0).mean()) < 1.0:
                cmp = compare.compare_shapes(r.sdf[-1], q.sdf[-1], (voxel,) * 3,
                                             is_sdf_truth=True, is_sdf_other=True)
                row.update({k: float(cmp[k]) for k in SURFACE})
            else:  # nothing rebuilt at the last frame: no surface to compare
                row.update({k: float("nan") for k in SURFACE})
            rows.append(row)
        desc[kind, s], left_out[kind, s] = workflow.describe_dataset(rec_dir / "sdf.h5",
                                                                     per_daughter)
        if left_out[kind, s]:
            print(f"{kind}, seed {s}: sequences with an empty frame, left out of the "
                  f"descriptors: {left_out[kind, s]}")
scores = pd.DataFrame(rows)
per_seed = scores.groupby(["kind", "seed"])[["DSC mean", "DSC last", *SURFACE]].mean()
display(per_seed.round(3))
if "dividing" in KINDS:
    cells = desc["dividing", "real"].groupby("frame")["cells"].mean()
    print("dividing, real: mean number of cells per frame (2 = divided):",
          cells.round(2).to_dict())
    for s in nb.seeds:
        c = desc["dividing", s].groupby("frame")["cells"].mean()
        print(f"dividing, reconstructed seed {s}: mean number of cells per frame:",
              c.round(2).to_dict())

# %% [markdown]
# ## 3 · Descriptor curves per time point (Fig 4), with synthesized sequences
#
# Mean (line) and interquartile range (band) over all sequences at each time point: real,
# reconstructed by each seed's model, and synthesized by the first seed's model (as many
# sequences as in training, each with a uniformly random rotation, `generate.generate_run`).
# Dividing cells: one curve point per daughter (section 1's split).

# %%
for kind in KINDS:
    s0 = nb.seeds[0]
    gen_dir = work / kind / f"synthesized_{METHOD[kind]}_seed{s0}"
    n_train = len(io.dataset_info(datasets[kind]))
    generate.generate_run(runs[kind, s0], gen_dir, n=n_train, method=METHOD[kind], seed=seed,
                          device=device, overwrite=True, progress=False)
    desc[kind, "synthesized"], gone = workflow.describe_dataset(gen_dir / "sdf.h5",
                                                                kind == "dividing")
    if gone:
        print(f"{kind}: synthesized sequences with an empty frame, left out: {gone}")
    curves = {"real": desc[kind, "real"],
              **{f"reconstructed (seed {s})": desc[kind, s] for s in nb.seeds},
              f"synthesized (seed {s0})": desc[kind, "synthesized"]}
    fig = plot.descriptor_curves(curves, columns=COLS,
                                  title=f"{kind} cells ({STANDS_IN_FOR[kind]} stand-in), "
                                        f"{profile} profile")
    plot.save_figure(fig, nb.figure(f"{kind}_descriptors"))

# %% [markdown]
# ## 4 · KS tests real vs reconstructed, per seed, next to Tab 1
#
# `ks.ks_tests` with its default `per_time` scheme: the KS statistic at each time point
# averaged over time, with a permutation test that exchanges whole sequences (frames of a
# sequence are not independent draws). With n sequences per arm the smallest attainable
# p-value is 2 / C(2n, n) (`ks.min_pvalue`; 4 sequences: 2/70 = 0.029), so the paper's
# "p < 0.001" cannot be reached here; we test its direction at the 5 % level. This is the
# claims' power line: p < 0.05 needs the 4 real and the 4 reconstructed sequences to be
# completely separated at (nearly) every time point, so "difference found" passes only for
# a gross difference and "no difference found" can hardly fail. Real vs synthesized
# (first seed) is shown for reference only.

# %%
ks_rows = []
for kind in KINDS:
    for arm in [*nb.seeds, "synthesized"]:
        ks = metrics.ks_tests(desc[kind, "real"], desc[kind, arm], columns=COLS)
        ks = ks.set_index("descriptor")
        for col, quoted in zip(COLS, PAPER_P[kind]):
            ks_rows.append({"kind": kind,
                            "comparison": ("real vs synthesized" if arm == "synthesized"
                                           else "real vs reconstructed"),
                            "seed": nb.seeds[0] if arm == "synthesized" else arm,
                            "descriptor": col, "paper p (Tab 1)": quoted,
                            "our p": float(ks.loc[col, "pvalue"]),
                            "KS statistic": float(ks.loc[col, "statistic"]),
                            "n real": int(ks.loc[col, "n_a"]),
                            "n other": int(ks.loc[col, "n_b"])})
ks_table = pd.DataFrame(ks_rows)
ks_table["smallest p"] = [min_pvalue(a, b) for a, b in zip(ks_table["n real"],
                                                            ks_table["n other"])]
display(ks_table.pivot_table(index=["kind", "comparison", "seed"], columns="descriptor",
                             values="our p")[COLS].round(3))
print("smallest attainable p (real vs reconstructed): " + ", ".join(
    f"{k} {v:.3g}" for k, v in ks_table[ks_table.comparison == "real vs reconstructed"]
    .groupby("kind")["smallest p"].max().items()))

# %% [markdown]
# ## 5 · 3D renders: real, reconstructed, synthesized (first sequence, last frame)

# %%
for kind in KINDS:
    s0 = nb.seeds[0]
    real = io.read_dataset(datasets[kind])[0]
    rec = io.read_dataset(work / kind / f"reconstruction_seed{s0}" / "sdf.h5", [real.name])[0]
    syn = io.read_dataset(work / kind / f"synthesized_{METHOD[kind]}_seed{s0}" / "sdf.h5")[0]
    voxel = float(real.attrs["voxel_um"])
    plot.show_volumes([real.sdf[-1], rec.sdf[-1], syn.sdf[-1]], (voxel,) * 3,
                       labels=[f"{kind}: real", f"reconstructed (seed {s0})",
                               f"synthesized ({METHOD[kind]})"],
                       path=nb.figure(f"{kind}_render"), window=(780, 260));

# %% [markdown]
# ## Claims: paper vs this run
#
# Each claim compares a per-seed value (one model per training seed, phantom data fixed)
# with a fixed reference, by `stats.claim_record` (rule in `cellshapes.repro.stats`):
#
# * **DSC** (growing, filopodial; the paper gives none for DS_Cele): the mean over training
#   sequences of the DSC at the last frame, direction **"equal"** to the paper's value with
#   **tol 0.05**: reproduced when |ours - paper| <= 0.05 for every seed (or an equivalence
#   test over seeds says so), contradicted when it lies beyond the margin on one side for
#   every seed (or a one-sided test says so).
# * **Islands** (per kind): the mean island fraction of the last-frame reconstructions,
#   direction **"less"** than 0.01: a body with loose fragments fails, whatever its DSC.
# * **KS, Tab 1** (per kind and descriptor, real vs reconstructed): the per-seed
#   permutation p-value. Where the paper's p > 0.05 (no difference found) the direction is
#   **"greater"** than 0.05: reproduced when p > 0.05 for every seed. Where the paper gives
#   p < 0.001 (sphericity of DS_Cele and DS_Filo; its text attributes these rejections to
#   the synthetic cells) the direction is **"less"** than 0.05, the strongest rejection
#   our sample size can show. Each KS claim carries the test's floor (`min_p`, the
#   smallest p of 4 + 4 sequences) in its power line.
#
# The verdict is the one-sided t-test over seeds of `stats` (TOST for "equal"; three of
# three seeds in the claimed direction alone is not enough); with one seed (`smoke`,
# `quick`) every verdict is "not settled".

# %%
claims = []
last = scores.groupby(["kind", "seed"])["DSC last"].mean()
for kind, (value, text) in PAPER_DSC.items():
    if kind in KINDS:
        claims.append(claim_record(
            f"{kind} ({STANDS_IN_FOR[kind]} stand-in): DSC of the reconstructions at the last "
            "frame equals the paper's within 0.05", text,
            [last[kind, s] for s in nb.seeds], value, "equal", tol=0.05,
            labels=("this run", "paper")))
islands = scores.groupby(["kind", "seed"])["island_fraction"].mean()
for kind in KINDS:
    claims.append(claim_record(
        f"{kind} ({STANDS_IN_FOR[kind]} stand-in): the reconstructions are whole cells at the "
        "last frame: mean island fraction < 0.01 (foreground outside the components that "
        "match a true cell, measure.topology)",
        "connected cells in the renders of Fig 4-5 (no island measure reported)",
        [islands[kind, s] for s in nb.seeds], 0.01, "less",
        labels=("island fraction", "threshold")))
for kind in KINDS:
    sub = ks_table[(ks_table.kind == kind) & (ks_table.comparison == "real vs reconstructed")]
    for col, quoted in zip(COLS, PAPER_P[kind]):
        p = [float(sub[(sub.seed == s) & (sub.descriptor == col)]["our p"].iloc[0])
             for s in nb.seeds]
        floor = float(sub[sub.descriptor == col]["smallest p"].max())
        rejects = isinstance(quoted, str)
        claims.append(claim_record(
            f"{kind} ({STANDS_IN_FOR[kind]} stand-in): KS real vs reconstructed {col}: "
            + ("difference found (p < 0.05)" if rejects else "no difference found (p > 0.05)"),
            (f"p {quoted}" if rejects else f"p = {quoted}") + " (Tab 1)", p, 0.05,
            "less" if rejects else "greater",
            labels=("KS p-value", "level 0.05"), min_p=floor))
workflow.write_claims(nb.name, profile, nb.seeds, claims, nb.results, models=sources)
