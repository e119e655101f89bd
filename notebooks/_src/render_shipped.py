"""Re-render two published renders from the shipped study models, without their notebooks.

    python notebooks/_src/render_shipped.py 02 [--kinds growing dividing filopodial]
    python notebooks/_src/render_shipped.py 03

``02``: ``figures/02_reconstruction_<kind>_render.png`` as notebook 02's section 5 draws
it (first sequence, last frame: real, reconstructed by the training-seed-0 model, and the
first of as many new sequences as training ones from the default sampler, sampling seed
0), from the shipped ``<kind>_study`` model, which is notebook 02's training-seed-0 model
(``notebooks/_src/export_pretrained.py``), and the study phantoms it was trained on. For
when the sampler changed but the models did not: rerunning 02 at study retrains 9 models.

``03``: ``figures/03_synthesis_time_course_dividing.png`` as notebook 03's section 8 draws
it (the first new dividing sequence of the default sampler, sampling seed 0, 10 new
sequences at 48^3, every frame) with the camera across the daughters' axis
(``view="division"``), instead of rerunning 03 at study.

Both print the validity of the sequence they show. Data go to ``out/study/render_shipped``.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
KINDS = ("growing", "dividing", "filopodial")


def render_02(kinds: list[str], work: Path) -> None:
    """Notebook 02's render of each kind: real, reconstructed, synthesized (default)."""
    from cellshapes import io, plot, pretrained
    from cellshapes.inference import generate, grid, reconstruct, samplers
    from cellshapes.repro.workflow import phantom_dataset
    from cellshapes.training.sampling import frame_times

    for kind in kinds:
        run = pretrained.load(f"{kind}_study")
        model, config = reconstruct.load_run(run, "cpu")
        data = phantom_dataset(kind, work / "data", "study", 0,
                               sequences=len(config["data"]["names"]),
                               frames=int(max(config["data"]["frames"])),
                               size=int(config["data"]["size"]))
        real = io.read_dataset(data)[0]
        i = config["data"]["names"].index(real.name)
        t_last = frame_times(len(real.sdf))[-1:]
        rec = grid.sequence_sdf(model, t_last, real.sdf.shape[-1], seq=i)[0][0]
        with tempfile.TemporaryDirectory() as tmp:
            rep = generate.generate_run(run, Path(tmp) / "g", n=len(io.dataset_info(data)),
                                        method=samplers.DEFAULT_SAMPLER, seed=0, device="cpu",
                                        progress=False)
            syn = io.read_dataset(Path(tmp) / "g" / "sdf.h5")[0]
        print(f"{kind}: synthesized {syn.name} valid: {rep['sequences'][syn.name]['valid']} "
              f"({rep['method']} {rep['scale']:.3g}); whole sequences {rep['valid_share']:.2f}")
        voxel = float(real.attrs["voxel_um"])
        plot.show_volumes([real.sdf[-1], rec, syn.sdf[-1]], (voxel,) * 3,
                          labels=[f"{kind}: real", "reconstructed (seed 0)",
                                  f"synthesized ({rep['method']})"],
                          path=REPO / "figures" / f"02_reconstruction_{kind}_render.png",
                          window=(780, 260))


def render_03() -> None:
    """Notebook 03's dividing time course, seen across the daughters' axis."""
    from cellshapes import io, plot, pretrained
    from cellshapes.inference import generate

    with tempfile.TemporaryDirectory() as tmp:
        rep = generate.generate_run(pretrained.load("dividing_study"), Path(tmp) / "g", n=10,
                                    seed=0, size=48, device="cpu", progress=False)
        q = io.read_dataset(Path(tmp) / "g" / "sdf.h5")[0]
    print(f"dividing: {q.name} valid: {rep['sequences'][q.name]['valid']} "
          f"({rep['method']} {rep['scale']:.3g})")
    plot.show_volumes(list(q.sdf), (float(q.attrs["voxel_um"]),) * 3,
                      labels=[f"dividing t{t}" for t in range(len(q.sdf))],
                      path=REPO / "figures" / "03_synthesis_time_course_dividing.png",
                      window=(200 * len(q.sdf), 230), view="division")


def main() -> None:
    import torch

    torch.set_num_threads(1)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("figure", choices=["02", "03"])
    ap.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    a = ap.parse_args()
    if a.figure == "02":
        render_02(a.kinds, REPO / "out" / "study" / "render_shipped")
    else:
        render_03()


if __name__ == "__main__":
    main()
