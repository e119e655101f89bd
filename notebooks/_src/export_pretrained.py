"""Export the three study-profile base models (training seed 0) as shipped pretrained models.

Run after ``cellshapes notebooks --profile study --only 02`` (which trains them):
``python notebooks/_src/export_pretrained.py``. The runs are read from where the runner
put them (``workflow.base_run_dir`` at ``study``, the folder its run spec names).
Each checkpoint must stay under 1 MB, and the phantoms it learnt must be of the current
generator (``cellshapes.phantoms.GENERATOR_VERSION``).
"""
from __future__ import annotations

from cellshapes import pretrained
from cellshapes.phantoms import GENERATOR_VERSION, KINDS, STANDS_IN_FOR
from cellshapes.repro.presets import base_settings
from cellshapes.repro.workflow import base_run_dir, paths, run_is_complete

PROFILE = "study"
COMMAND = ("cellshapes notebooks --profile study --only 02 (notebook 02_reconstruction, "
           "training seed 0), exported by python notebooks/_src/export_pretrained.py")

if __name__ == "__main__":
    base = base_settings(PROFILE)
    for kind in KINDS:
        where = paths(PROFILE)
        run = base_run_dir(where.runs, where.data, PROFILE, kind, seed=0, train_seed=0)
        if not run_is_complete(run):
            raise SystemExit(f"{run} is missing or unfinished: run notebook 02 at study first")
        what = (f"equivariant SIREN (9 x 128, latent 64), study profile: {base.sequences} "
                f"{kind} phantom sequences x {base.frames} frames at 64^3, up to "
                f"{base.train['epochs']} epochs ({STANDS_IN_FOR[kind]} stand-in)")
        dest = pretrained.export(run, f"{kind}_{PROFILE}", what, COMMAND)
        meta = pretrained.available()[dest.name]
        size = meta["size_bytes"]
        assert size < 1_000_000, f"{dest} is {size} bytes"
        version = (meta["phantoms"] or {}).get("generator_version")
        assert version == GENERATOR_VERSION, f"{dest}: phantom generator {version}"
        print(f"{dest.name}: {size / 1e3:.0f} kB, {meta['epochs']} epochs, "
              f"phantom generator {version}")
