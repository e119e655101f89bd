"""Does starting from a shipped decoder help? DSC after K epochs, pretrained vs from scratch.

Held-out phantoms: 4 growing cells x 6 frames at 48^3 drawn with seed 7 (the shipped
``growing_quick`` model was trained on other cells: seed 0, and the phantom generator of
release 1). Both arms have the shipped model's architecture (128 x 9 sine decoder, latent
64, equivariant) and the ``quick`` training settings; "pretrained" starts the decoder from
``growing_quick`` (``TrainConfig.init_decoder``, new codes and angles), "scratch" from the
SIREN initialisation. Each run is evaluated (``evaluate_run``: mean DSC of every training
frame, reconstructed on the training grid) after 10, 30 and 100 epochs of one continued
run (exact resume). 3 training seeds per arm. About 8 minutes on 2 CPU cores.

    python benchmarks/finetune.py --out benchmarks/finetune.json
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from cellshapes.config import train_config
from cellshapes.inference.evaluate import evaluate_run
from cellshapes.repro import workflow
from cellshapes.training.loop import train
from cellshapes.training.warmstart import source_model_config

SOURCE = "pretrained:growing_quick"
EPOCHS = (10, 30, 100)
SEEDS = (0, 1, 2)


def one_arm(ds: Path, work: Path, pretrained: bool, seed: int) -> dict:
    mcfg = source_model_config(SOURCE)
    run = work / f"{'pre' if pretrained else 'scratch'}_seed{seed}"
    dsc, seconds = {}, 0.0
    for k, epochs in enumerate(EPOCHS):
        t0 = time.perf_counter()
        if k == 0:
            tcfg = train_config("quick", epochs=epochs, seed=seed, checkpoint_every=10,
                                init_decoder=SOURCE if pretrained else None)
            train(ds, run, mcfg, tcfg, device="cpu", progress=False, profile="quick")
        else:
            train(ds, run, device="cpu", resume=True, epochs=epochs, progress=False)
        seconds += time.perf_counter() - t0
        dsc[epochs] = float(evaluate_run(run, ds, device="cpu", progress=False)["dsc_mean"])
    return {"seed": seed, "dsc": dsc, "train_s": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("finetune.json"))
    a = parser.parse_args()
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ds = workflow.phantom_dataset("growing", work / "data", "quick", 7, sequences=4,
                                      frames=6, size=48)
        results = {}
        for arm, pre in (("pretrained", True), ("scratch", False)):
            results[arm] = [one_arm(ds, work, pre, s) for s in SEEDS]
            print(arm, json.dumps(results[arm]), flush=True)
    a.out.write_text(json.dumps({"setup": __doc__.split("\n\n")[1], "source": SOURCE,
                                 "epochs": list(EPOCHS), "seeds": list(SEEDS),
                                 "results": results}, indent=1))


if __name__ == "__main__":
    main()
