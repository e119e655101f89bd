"""Does starting from a shipped decoder help? DSC after K epochs, pretrained vs from scratch.

Held-out phantoms: 4 growing cells x 6 frames at 48^3 drawn with seed 7 (the shipped
``growing_study`` model was trained on other cells: seed 0, 4 x 5 frames at 64^3). Both arms have the shipped model's architecture (128 x 9 sine decoder, latent
64, equivariant) and the ``quick`` training settings; "pretrained" starts the decoder from
``growing_study`` (``TrainConfig.init_decoder``, new codes and angles), "scratch" from the
SIREN initialisation. Each run is evaluated (``evaluate_run``: mean DSC of every training
frame, reconstructed on the training grid) after 10, 30 and 100 epochs of one continued
run (exact resume). 3 training seeds per arm. About 8 minutes on 2 CPU cores.

    python benchmarks/finetune.py --out benchmarks/finetune.json
"""
from __future__ import annotations

import json
from pathlib import Path

from cellshapes.config import train_config
from cellshapes.inference.evaluate import evaluate_run
from cellshapes.training.warmstart import source_model_config

try:
    from benchmarks.studies import continued_run, out_argument, phantom_data
except ImportError:  # run as a script: benchmarks/ is the first entry of sys.path
    from studies import continued_run, out_argument, phantom_data

SOURCE = "pretrained:growing_study"
EPOCHS = (10, 30, 100)
SEEDS = (0, 1, 2)


def one_arm(ds: Path, work: Path, pretrained: bool, seed: int) -> dict:
    run = work / f"{'pre' if pretrained else 'scratch'}_seed{seed}"
    first = train_config("quick", seed=seed, checkpoint_every=10,
                         init_decoder=SOURCE if pretrained else None)
    rows, seconds = continued_run(ds, run, source_model_config(SOURCE), first, EPOCHS, "quick",
                                  lambda n: {"dsc": float(evaluate_run(
                                      run, ds, device="cpu", progress=False)["dsc_mean"])})
    return {"seed": seed, "dsc": {r["epochs"]: r["dsc"] for r in rows}, "train_s": seconds}


def main() -> None:
    out = out_argument(__doc__, "finetune.json")
    with phantom_data("growing", "quick", 7, sequences=4, frames=6, size=48) as (ds, work):
        results = {}
        for arm, pre in (("pretrained", True), ("scratch", False)):
            results[arm] = [one_arm(ds, work, pre, s) for s in SEEDS]
            print(arm, json.dumps(results[arm]), flush=True)
    out.write_text(json.dumps({"setup": __doc__.split("\n\n")[1], "source": SOURCE,
                               "epochs": list(EPOCHS), "seeds": list(SEEDS),
                               "results": results}, indent=1))


if __name__ == "__main__":
    main()
