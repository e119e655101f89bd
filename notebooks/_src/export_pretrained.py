"""Export the three quick-profile ``<kind>_base`` runs as shipped pretrained models.

Run after ``cellshapes notebooks --profile quick --only 02`` (which trains them):
``python notebooks/_src/export_pretrained.py``. The runs are read from where the runner
put them (``workflow.paths("quick").runs``, i.e. ``out/quick/runs/quick/<kind>_base``).
Each checkpoint must stay under 1 MB.
"""
from __future__ import annotations

from cellshapes import pretrained
from cellshapes.repro.workflow import paths, run_is_complete

KINDS = {"growing": "growing/deforming phantom cells (DS_Plat stand-in)",
         "dividing": "dividing phantom cells (DS_Cele stand-in)",
         "filopodial": "filopodial phantom cells (DS_Filo stand-in)"}
COMMAND = "cellshapes notebooks --profile quick --only 02 (notebook 02_reconstruction, seed 0)"

if __name__ == "__main__":
    for kind, what in KINDS.items():
        run = paths("quick").runs / "quick" / f"{kind}_base"
        if not run_is_complete(run):
            raise SystemExit(f"{run} is missing or unfinished: run notebook 02 at quick first")
        dest = pretrained.export(run, f"{kind}_quick", f"equivariant SIREN, quick profile, {what}",
                                 COMMAND)
        size = (dest / "checkpoints" / "latest.pt").stat().st_size
        assert size < 1_000_000, f"{dest} is {size} bytes"
        print(f"{dest.name}: {size / 1e3:.0f} kB")
