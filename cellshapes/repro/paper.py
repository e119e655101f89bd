"""The paper's numbers, in one place: every notebook's "paper vs this run" reads them here.

Wiesner et al., *Generative modeling of living cells with SO(3)-equivariant implicit
neural representations*, Medical Image Analysis 91, 2024. Data sets: DS_Plat
(*Platynereis dumerilii*, our ``growing`` phantoms), DS_Cele (*C. elegans* with mitosis,
``dividing``), DS_Filo (synthetic filopodial A549 cells, ``filopodial``); 33 sequences x
30 frames at 256^3 each. Sphericity is the paper's 36 pi V^2 / A^3
(:func:`cellshapes.measure.metrics.describe_volume`). :func:`markdown_table` writes
them as a table (the source of ``docs/paper_numbers.md``).
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Reported", "DSC_PLAT", "DSC_FILO", "DSC_DEEPSDF_2000", "DSC_DEEPSDF_4000",
           "TAB1_KS_P", "TAB2_DSC", "PCA_VARIANCE_20", "SPHERICITY_FILO", "TEMPORAL_LOWEST_DSC",
           "DECODER_PARAMETERS", "ks_words", "markdown_table"]


@dataclass(frozen=True)
class Reported:
    """One number the paper reports: mean, spread where given, and where it stands."""

    mean: float
    sd: float | None = None
    where: str = ""

    def text(self, sep: str = "+-") -> str:
        """``"0.950 +- 0.007"`` (three decimals; the sd only where the paper gives one)."""
        return f"{self.mean:.3f}" + (f" {sep} {self.sd:.3f}" if self.sd is not None else "")


#: DSC at the last time point (t = 30), equivariant model, latent 64: DS_Plat (Tab 2).
DSC_PLAT = Reported(0.958, 0.012, "Tab 2, latent 64, t = 30")
#: DSC at t = 30 on DS_Filo, the sine model at 2000 epochs (Sec 5.7).
DSC_FILO = Reported(0.950, 0.007, "Sec 5.7, t = 30, 2000 epochs")
#: DeepSDF (ReLU, 8 x 512, latent 256) on DS_Filo at 2000 and at 4000 epochs (Sec 5.7).
DSC_DEEPSDF_2000 = Reported(0.909, 0.008, "Sec 5.7, t = 30, 2000 epochs")
DSC_DEEPSDF_4000 = Reported(0.928, 0.004, "Sec 5.7, t = 30, 4000 epochs")
#: Sphericity at t = 30 on DS_Filo: real cells, the sine model, DeepSDF (Sec 5.7).
SPHERICITY_FILO = {"real": Reported(0.021, 0.004, "Sec 5.7"),
                   "sine": Reported(0.029, 0.009, "Sec 5.7"),
                   "DeepSDF": Reported(0.042, 0.008, "Sec 5.7")}
#: KS p-values real vs reconstructed per data set and descriptor (Tab 1); a string where
#: the paper gives a bound.
TAB1_KS_P: dict[str, dict[str, float | str]] = {
    "growing": {"surface_um2": 0.634, "volume_um3": 0.252, "sphericity": 0.387},
    "dividing": {"surface_um2": 0.077, "volume_um3": 0.472, "sphericity": "< 0.001"},
    "filopodial": {"surface_um2": 0.064, "volume_um3": 0.230, "sphericity": "< 0.001"},
}
#: DSC at t = 30 vs latent size, rotated DS_Plat (Tab 2).
TAB2_DSC: dict[str, dict[int, float]] = {
    "equivariant": {4: 0.780, 8: 0.867, 16: 0.924, 32: 0.954, 64: 0.958, 128: 0.959},
    "non-equivariant": {4: 0.684, 8: 0.789, 16: 0.872, 32: 0.934, 64: 0.959, 128: 0.958},
}
#: Share (%) of the codes' variance in the first 20 principal components (Fig 7a).
PCA_VARIANCE_20 = {"equivariant": 99.9, "non-equivariant": 61.2}
#: Lowest per-frame DSC when training on every 4th frame of DS_Filo (Sec 5.4, Fig 9).
TEMPORAL_LOWEST_DSC = Reported(0.858, 0.012, "Sec 5.4, time point 27")
#: Decoder parameters the paper reports (9 x 128, latent 64).
DECODER_PARAMETERS = 168_500


def ks_words(kind: str, columns: tuple[str, ...] = ("surface_um2", "volume_um3",
                                                      "sphericity")) -> str:
    """Tab 1's p-values of ``kind`` as ``"0.077 / 0.472 / < 0.001"``."""
    return " / ".join(str(TAB1_KS_P[kind][c]) for c in columns)


def markdown_table() -> str:
    """The numbers above as a Markdown table (quantity, paper's value, where)."""
    rows = [("DSC, DS_Plat", DSC_PLAT), ("DSC, DS_Filo (sine)", DSC_FILO),
            ("DSC, DS_Filo (DeepSDF, 2000 epochs)", DSC_DEEPSDF_2000),
            ("DSC, DS_Filo (DeepSDF, 4000 epochs)", DSC_DEEPSDF_4000),
            ("lowest DSC, temporal interpolation", TEMPORAL_LOWEST_DSC),
            *((f"sphericity t = 30, DS_Filo, {k}", v) for k, v in SPHERICITY_FILO.items())]
    lines = ["| quantity | paper | where |", "|---|---|---|"]
    lines += [f"| {q} | {v.text()} | {v.where} |" for q, v in rows]
    for kind in TAB1_KS_P:
        lines.append(f"| KS p surface / volume / sphericity, {kind} | {ks_words(kind)} | Tab 1 |")
    for arm, dsc in TAB2_DSC.items():
        sizes = " / ".join(f"{v:.3f}" for v in dsc.values())
        lines.append(f"| DSC vs latent {'/'.join(map(str, dsc))}, {arm} | {sizes} | Tab 2 |")
    pca = PCA_VARIANCE_20
    lines.append(f"| variance in 20 PCs, equivariant / not | {pca['equivariant']} % / "
                 f"{pca['non-equivariant']} % | Fig 7a |")
    lines.append(f"| decoder parameters | {DECODER_PARAMETERS / 1000:.1f}k | Sec 5 |")
    return "\n".join(lines) + "\n"
