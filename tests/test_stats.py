"""Statistics written once: KS tests that respect the dependence of frames
(cellshapes.measure.ks), and the per-seed summaries, verdicts and results files of
cellshapes.repro.stats."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from cellshapes.errors import InputError, OutputExistsError
from cellshapes.measure.ks import ks_tests, min_pvalue
from cellshapes.repro import results as R
from cellshapes.repro import stats as S


# ------------------------------------------------------------------------------- KS
def _arm(rng, n_seq: int, n_frames: int, shift: float = 0.0, prefix: str = "s",
         repeats: int = 1) -> pd.DataFrame:
    """Descriptor table of sequences whose values share a per-sequence offset (strongly
    dependent frames): offset ~ N(shift, 1), a slow random walk and a common trend."""
    rows = []
    for s in range(n_seq):
        off = rng.normal() + shift
        walk = np.cumsum(rng.normal(scale=0.05, size=n_frames))
        for f in range(n_frames):
            for _ in range(repeats):
                rows.append({"sequence": f"{prefix}{s}", "frame": f,
                             "sphericity": off + walk[f] + 0.02 * f})
    return pd.DataFrame(rows)


def _p(a, b, scheme):
    return float(ks_tests(a, b, columns=["sphericity"], scheme=scheme)["pvalue"].iloc[0])


def test_ks_identical_tables_give_p_one():
    a = _arm(np.random.default_rng(0), 5, 8)
    for scheme in ("per_time", "sequence_mean"):
        out = ks_tests(a, a.copy(), columns=["sphericity"], scheme=scheme)
        assert out["pvalue"].iloc[0] == pytest.approx(1.0)
        assert out["statistic"].iloc[0] == pytest.approx(0.0)
    out = ks_tests(a, a.copy(), columns=["sphericity"])
    assert list(out.columns) == ["descriptor", "statistic", "pvalue", "n_a", "n_b",
                                 "n_times", "scheme"]
    assert (out["n_a"].iloc[0], out["n_b"].iloc[0], out["n_times"].iloc[0]) == (5, 5, 8)


def test_ks_per_time_exact_permutation_p():
    """6 vs 6 sequences, arm b entirely above arm a at every time point: D_t = 1 for
    every t; only the observed split and its mirror reach it, p = 2 / C(12, 6)."""
    rng = np.random.default_rng(1)
    a = _arm(rng, 6, 10)
    b = _arm(rng, 6, 10, shift=20.0, prefix="t")
    out = ks_tests(a, b, columns=["sphericity"])
    assert out["statistic"].iloc[0] == pytest.approx(1.0)
    assert out["pvalue"].iloc[0] == pytest.approx(2 / math.comb(12, 6))
    assert _p(a, b, "sequence_mean") < 0.01


def test_ks_pooling_is_wrong_for_dependent_frames():
    """Both arms from the same distribution of sequences (4 x 20 frames each). Pooling
    the 80 rows treats them as independent and rejects nearly always; one value per
    sequence and time point keeps the false-positive rate near the nominal 5 %."""
    rng = np.random.default_rng(1)
    n, rejected = 30, {"pooled": 0, "per_time": 0, "sequence_mean": 0}
    for _ in range(n):
        a, b = _arm(rng, 4, 20), _arm(rng, 4, 20, prefix="t")
        for scheme in rejected:
            rejected[scheme] += _p(a, b, scheme) < 0.05
    assert rejected["pooled"] >= 25, rejected        # measured: 30 of 30
    assert rejected["per_time"] <= 4, rejected       # expected 30 * 2/70 = 0.9
    assert rejected["sequence_mean"] <= 4, rejected


def test_ks_shifted_arms_detected_per_time():
    rng = np.random.default_rng(2)
    hits = sum(_p(_arm(rng, 6, 12), _arm(rng, 6, 12, shift=3.0, prefix="t"), "per_time")
               < 0.05 for _ in range(5))
    assert hits == 5


def test_ks_repeats_are_averaged_not_counted():
    """Three seeds per (sequence, frame) are one value, not three samples."""
    rng = np.random.default_rng(3)
    a = _arm(rng, 4, 6, repeats=3)
    b = _arm(rng, 4, 6, prefix="t")
    out = ks_tests(a, b, columns=["sphericity"])
    assert (out["n_a"].iloc[0], out["n_b"].iloc[0]) == (4, 4)


def test_ks_random_permutations_above_the_exact_limit():
    rng = np.random.default_rng(4)
    a, b = _arm(rng, 8, 5), _arm(rng, 8, 5, shift=5.0, prefix="t")
    # C(16, 8) = 12870 > 500: 500 seeded random splits, p >= 1 / 501
    p1 = float(ks_tests(a, b, ["sphericity"], n_permutations=500, seed=7)["pvalue"].iloc[0])
    p2 = float(ks_tests(a, b, ["sphericity"], n_permutations=500, seed=7)["pvalue"].iloc[0])
    assert p1 == p2 == pytest.approx(1 / 501)


def test_ks_min_pvalue_is_reached_by_separated_arms():
    """The floor of the per-time test is the p of arms separated at every time point."""
    rng = np.random.default_rng(6)
    for n_a, n_b in ((4, 4), (3, 5)):
        a, b = _arm(rng, n_a, 6), _arm(rng, n_b, 6, shift=30.0, prefix="t")
        assert _p(a, b, "per_time") == pytest.approx(min_pvalue(n_a, n_b))
    assert min_pvalue(4, 4) == pytest.approx(2 / 70)   # 4 + 4 sequences: never below 0.029
    assert min_pvalue(3, 5) == pytest.approx(2 / 56)
    assert min_pvalue(8, 8, n_permutations=500) == pytest.approx(1 / 501)
    with pytest.raises(InputError, match="sequences"):
        min_pvalue(0, 4)


def test_ks_bad_input():
    a = _arm(np.random.default_rng(5), 3, 4)
    with pytest.raises(InputError, match="scheme"):
        ks_tests(a, a, ["sphericity"], scheme="pool")
    with pytest.raises(InputError, match="volume_um3"):
        ks_tests(a, a, ["volume_um3"])
    with pytest.raises(InputError, match="frame"):
        ks_tests(a.drop(columns="frame"), a, ["sphericity"])
    later = a.assign(frame=a["frame"] + 100)
    with pytest.raises(InputError, match="share no time point"):
        ks_tests(a, later, ["sphericity"])
    # sequences of different lengths: the per-sequence means still work
    assert 0 <= _p(a, later, "sequence_mean") <= 1


# ------------------------------------------------------------------- summary, verdict
def test_summarise_known_values():
    assert S.summarise([1.0, 2.0, 3.0, 4.0]) == {"mean": 2.5, "sd": pytest.approx(
        math.sqrt(5 / 3)), "n": 4}
    assert S.summarise([2.0]) == {"mean": 2.0, "sd": None, "n": 1}
    for bad in ([], [1.0, float("nan")], ["x"]):
        with pytest.raises(InputError):
            S.summarise(bad)


@pytest.mark.parametrize("a, b, direction, expected", [
    ([0.93, 0.95, 0.94], [0.90, 0.91, 0.92], "greater", "reproduced"),   # p = 0.018
    ([0.93, 0.95, 0.94], [0.90, 0.91, 0.92], "less", "contradicted"),
    ([0.90, 0.91, 0.92], [0.93, 0.95, 0.94], "less", "reproduced"),
    ([0.93, 0.89, 0.94], [0.90, 0.91, 0.92], "greater", "not settled"),  # 2 of 3, p > .05
    ([0.93, 0.95], [0.90, 0.91], "greater", "not settled"),              # too few seeds
])
def test_verdict_direction(a, b, direction, expected):
    v = S.verdict(a, b, direction)
    assert v == expected and isinstance(v, str)
    assert v.reason


def test_verdict_t_test_known_p():
    """d = (1, 2, 3) against 0: t = 2 / (1 / sqrt 3) = sqrt 12 with 2 df, whose upper
    tail is 1/2 - t / (2 sqrt(t^2 + 2)) = 1/2 - sqrt(12) / (2 sqrt 14)."""
    v = S.verdict([1.0, 2.0, 3.0], 0.0, "greater")
    assert v.pvalue == pytest.approx(0.5 - math.sqrt(12) / (2 * math.sqrt(14)), rel=1e-9)
    assert v == "reproduced" and "t-test" in v.reason


def test_verdict_three_of_three_seeds_is_not_enough():
    """Every seed in the claimed direction is a sign test at p = 1/8: the old rule
    called it reproduced whatever the effect; the t-test weighs size against spread."""
    v = S.verdict([0.01, 0.5, 0.02], 0.0, "greater")
    assert v == "not settled" and v.pvalue > 0.05
    assert S.verdict([0.01, 0.5, 0.02], 0.0, "less") == "not settled"


def test_verdict_paired_test_settles_a_mixed_sign():
    """9 of 10 seeds with a > b by about 1, one seed slightly below: not every seed, but
    the one-sided paired t-test gives p < 0.05."""
    d = np.array([1.0, 1.2, 0.8, 1.1, 0.9, 1.3, 0.7, 1.0, 1.1, -0.1])
    v = S.verdict(d, np.zeros(10), "greater")
    assert v == "reproduced" and "t-test" in v.reason and v.pvalue < 0.05
    assert S.verdict(-d, np.zeros(10), "greater") == "contradicted"


def test_verdict_no_spread_is_the_limit_of_the_t_test():
    v = S.verdict([1.0, 1.0, 1.0], 0.9, "greater")
    assert v == "reproduced" and v.pvalue == 0.0 and "no spread" in v.reason
    assert S.verdict([0.9, 0.9, 0.9], 0.9, "greater") == "not settled"
    assert S.verdict([0.8, 0.8, 0.8], 0.9, "greater") == "contradicted"


def test_verdict_no_gain_is_one_sided_non_inferiority():
    """Notebook 08's case: w0 = 60 is *worse* than w0 = 30 by 0.03-0.08 DSC. "No gain"
    (a - b below the margin 0.01) holds; two-sided equivalence calls it contradicted."""
    d = [-0.071, -0.032, -0.079]
    v = S.verdict(d, 0.0, "not greater", tol=0.01)
    # t = (mean - 0.01) / (sd / sqrt 3), lower tail with 2 df
    m, sd = np.mean(d), np.std(d, ddof=1)
    t = (m - 0.01) / (sd / math.sqrt(3))
    assert v == "reproduced" and v.pvalue == pytest.approx(0.5 + t / (2 * math.sqrt(t * t + 2)))
    assert S.verdict(d, 0.0, "equal", tol=0.01) == "contradicted"
    # a clear gain beyond the margin contradicts it; one within the margin does not
    assert S.verdict([0.05, 0.06, 0.055], 0.0, "not greater", tol=0.01) == "contradicted"
    assert S.verdict([0.002, 0.004, 0.003], 0.0, "not greater", tol=0.01) == "reproduced"
    # the mirror: an error that is no smaller (a - b above -margin)
    assert S.verdict([0.34, 0.02, 0.03], 0.0, "not less", tol=0.01) == "not settled"
    assert S.verdict([0.04, 0.02, 0.03], 0.0, "not less", tol=0.01) == "reproduced"
    assert S.verdict([-0.04, -0.05, -0.03], 0.0, "not less", tol=0.01) == "contradicted"
    for direction in ("not greater", "not less", "equal"):
        with pytest.raises(InputError, match="margin"):
            S.verdict([1, 2, 3], [1, 2, 3], direction)


def test_verdict_a_test_that_cannot_reach_alpha_is_not_settled():
    v = S.verdict([0.9, 0.95, 0.97], 0.0, "greater", min_p=0.125)
    assert v == "not settled" and "0.125" in v.reason
    rec = S.claim_record("x", "y", [0.9, 0.95, 0.97], 0.0, "greater", min_p=0.125)
    assert "cannot reach" in rec["power"]["note"]
    assert S.verdict([0.9, 0.95, 0.97], 0.0, "greater", min_p=0.01) == "reproduced"


def test_a_floor_below_alpha_is_stated_and_kept_by_rejudge():
    """4 + 4 sequences: p never below 2/70; the claim can pass, and its power says so."""
    rec = S.claim_record("x", "y", [0.2, 0.4, 0.6], 0.05, "greater", min_p=2 / 70)
    assert rec["verdict"] == "reproduced" and rec["power"]["min_p"] == pytest.approx(2 / 70)
    assert rec["power"]["note"].endswith("cannot give p below 0.029")
    flat = S.claim_record("x", "y", [0.5, 0.5, 0.5], 0.05, "greater", min_p=2 / 70)
    assert "without spread" in flat["power"]["note"] and "0.029" in flat["power"]["note"]
    old = S.claim_record("x", "y", [0.2, 0.4, 0.6], 0.05, "greater")
    assert "cannot give" not in old["power"]["note"]
    old["power"]["min_p"] = 2 / 70  # what a results file is given to be judged again
    assert S.rejudge(old) == rec


def test_verdict_against_a_fixed_value_and_equal():
    assert S.verdict([0.95, 0.96, 0.94], 0.9, "greater") == "reproduced"
    # "no gain" within a margin of 0.01
    assert S.verdict([0.951, 0.949, 0.950], [0.950, 0.950, 0.952], "equal",
                     tol=0.01) == "reproduced"
    assert S.verdict([0.97, 0.98, 0.975], [0.95, 0.95, 0.95], "equal",
                     tol=0.01) == "contradicted"
    assert S.verdict([0.95, 0.97, 0.95], [0.95, 0.95, 0.96], "equal",
                     tol=0.01) == "not settled"
    with pytest.raises(InputError, match="margin"):
        S.verdict([1, 2, 3], [1, 2, 3], "equal")
    with pytest.raises(InputError, match="direction"):
        S.verdict([1, 2, 3], [1, 2, 3], "up")
    with pytest.raises(InputError, match="one value per seed"):
        S.verdict([1, 2, 3], [1, 2], "greater")


def test_effect_size_interval_matches_the_decision():
    """d = (1, 2, 3): mean 2, sd 1; the 90 % interval is 2 -+ t(0.95, 2) / sqrt 3 and its
    lower bound is above 0 exactly as the one-sided test at 0.05 rejects."""
    e = S.effect_size([1.0, 2.0, 3.0])
    half = 2.919985580355516 / math.sqrt(3)
    assert e["ci"] == pytest.approx([2 - half, 2 + half]) and e["ci_level"] == pytest.approx(0.9)
    assert e["dz"] == pytest.approx(2.0) and e["mean"] == 2.0 and e["sd"] == 1.0
    rng = np.random.default_rng(0)
    for _ in range(50):
        d = rng.normal(0.3, 0.5, 3)
        lo = S.effect_size(d)["ci"][0]
        assert (lo > 0) == (S.verdict(d, 0.0, "greater") == "reproduced")
    assert S.effect_size([2.0])["ci"] is None


def test_power_line_known_answers():
    # large n: the t-test is the z-test, mde = (z_0.95 + z_0.8) sd / sqrt n
    d = np.random.default_rng(1).normal(0, 1, 1000)
    sd = np.std(d, ddof=1)
    p = S.power_line(d, "greater")
    assert p["mde80"] == pytest.approx((1.6448536 + 0.8416212) * sd / math.sqrt(1000), rel=0.01)
    # n = 3: scale invariance, and simulated power at the mde is 80 %
    p3 = S.power_line([0.0, 1.0, 2.0], "greater")
    assert S.power_line([0.0, 0.01, 0.02], "greater")["mde80"] == pytest.approx(
        p3["mde80"] / 100, rel=1e-4)
    rng = np.random.default_rng(2)
    sims = rng.normal(p3["mde80"], 1.0, size=(20000, 3))
    t = sims.mean(1) / (sims.std(1, ddof=1) / math.sqrt(3))
    assert np.mean(t > 2.919985580355516) == pytest.approx(0.8, abs=0.015)
    assert "80 % power" in p3["note"] and p3["n"] == 3
    # margin directions also state the power when a = b
    nz = S.power_line([-0.01, 0.0, 0.01], "not greater", tol=0.01)
    assert 0 < nz["power_at_zero"] < 1 and "margin 0.01" in nz["note"]
    assert S.power_line([1.0], "greater")["mde80"] is None
    # rounding noise (sd ~ 1e-16 around 0.5) is no spread: no shift of 1e-16 is promised
    noise = S.power_line([0.5, 0.5 + 1.1e-16, 0.5 - 1.1e-16], "greater")
    assert noise["mde80"] == 0.0 and "without spread" in noise["note"]


def test_claim_record_states_test_effect_and_power():
    c = S.claim_record("w0 = 60 brings no DSC gain over w0 = 30", "Sec 5.6",
                       [0.80, 0.85, 0.81], [0.871, 0.882, 0.889], "not greater", tol=0.01,
                       labels=("w0=60", "w0=30"))
    assert c["verdict"] == "reproduced" and "non-inferior" in c["test"]
    assert "H1: mean(a - b) < 0.01" in c["test"]
    assert c["effect"]["ci"][1] < 0.01 and c["power"]["mde80"] > 0
    json.dumps(c)


def test_rejudge_applies_the_current_rule_to_a_stored_claim():
    old = S.claim_record("a > b", "Fig 7", [1.01, 1.5, 1.02], [1.0, 1.0, 1.0], "greater")
    stale = {**old, "verdict": "reproduced", "reason": "a > b for all 3 seeds",
             "extra": "kept"}
    for key in ("effect", "power", "test", "alpha"):
        stale.pop(key)
    new = S.rejudge(stale)
    assert new["verdict"] == "not settled" and new["extra"] == "kept"
    assert new["per_seed"] == old["per_seed"] and new["effect"] == old["effect"]
    assert S.rejudge(new) == new
    fixed = S.claim_record("DSC > 0.9", 0.93, [0.92, 0.94, 0.95], 0.9, "greater")
    assert S.rejudge(fixed) == fixed
    with pytest.raises(InputError, match="arms"):
        S.rejudge({"claim": "x", "paper": "y"})


def test_claim_record_layout():
    c = S.claim_record("sine closer to the real sphericity than DeepSDF", "Tab 3: yes",
                       [0.02, 0.03, 0.01], [0.05, 0.06, 0.04], "less",
                       labels=("sine", "deepsdf"))
    assert {"claim", "paper", "per_seed", "mean", "sd", "verdict"} <= set(c)
    np.testing.assert_allclose(c["per_seed"], [-0.03, -0.03, -0.03])
    assert c["mean"] == pytest.approx(-0.03) and c["sd"] == pytest.approx(0.0, abs=1e-12)
    assert c["verdict"] == "reproduced"
    assert c["arms"]["sine"]["per_seed"] == [0.02, 0.03, 0.01]
    assert c["arms"]["deepsdf"]["mean"] == pytest.approx(0.05)
    json.dumps(c)  # plain JSON types only
    fixed = S.claim_record("DSC above 0.9", 0.93, [0.92, 0.94, 0.95], 0.9, "greater")
    assert fixed["per_seed"] == [0.92, 0.94, 0.95] and fixed["arms"]["b"] == {"value": 0.9}


# -------------------------------------------------------------------------- results
def _claims():
    return [S.claim_record("a > b", "Fig 7", [2.0, 3.0, 4.0], [1.0, 1.0, 1.0], "greater"),
            S.claim_record("a < 1", "Tab 1", [3.0, 4.0, 5.0], 1.0, "less")]


def test_write_results_schema_and_atomic(tmp_path):
    path = tmp_path / "results" / "08_omega_sweep.json"
    R.write_results(path, "08_omega_sweep", "study", [0, 1, 2], _claims())
    doc = json.loads(path.read_text())
    assert set(doc) == {"notebook", "profile", "seeds", "date", "versions", "claims"}
    assert doc["notebook"] == "08_omega_sweep" and doc["profile"] == "study"
    assert doc["seeds"] == [0, 1, 2]
    assert set(doc["versions"]) == {"cellshapes", "torch", "numpy", "python"}
    assert doc["versions"]["numpy"] == np.__version__
    assert [c["verdict"] for c in doc["claims"]] == ["reproduced", "contradicted"]
    assert doc["claims"][0]["per_seed"] == [1.0, 2.0, 3.0]
    assert R.read_results(path)["claims"] == doc["claims"]
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left
    with pytest.raises(OutputExistsError):
        R.write_results(path, "08_omega_sweep", "study", [0, 1, 2], _claims(),
                        overwrite=False)


def test_write_results_records_where_the_models_came_from(tmp_path):
    path = tmp_path / "02.json"
    src = {"growing, seed 0": "pretrained model 'growing_study' (checksum ok)",
           "growing, seed 1": "trained study/growing_n4_t5_s64_e400_seed1"}
    R.write_results(path, "02_reconstruction", "study", [0, 1, 2], _claims(), models=src)
    assert R.read_results(path)["models"] == src


def test_write_results_same_inputs_same_numbers(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    for p in (a, b):
        R.write_results(p, "07_grid", "study", [0, 1, 2], _claims())
    da, db = (json.loads(p.read_text()) for p in (a, b))
    da.pop("date"), db.pop("date")
    assert da == db


def test_write_results_rejects_bad_documents(tmp_path):
    c = _claims()
    with pytest.raises(InputError, match="2 per-seed values for 3 seeds"):
        R.write_results(tmp_path / "x.json", "nb", "study", [0, 1, 2],
                        [S.claim_record("x", "y", [1.0, 2.0], [0.0, 0.0], "greater")])
    with pytest.raises(InputError, match="distinct"):
        R.write_results(tmp_path / "x.json", "nb", "study", [0, 0, 1], c)
    with pytest.raises(InputError, match="verdict"):
        R.write_results(tmp_path / "x.json", "nb", "study", [0, 1, 2],
                        [{**c[0], "verdict": "confirmed"}])
    with pytest.raises(InputError, match="keys"):
        R.write_results(tmp_path / "x.json", "nb", "study", [0, 1, 2], [{"claim": "x"}])
    assert not (tmp_path / "x.json").exists()
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="cannot read"):
        R.read_results(bad)


def test_per_seed_means_use_the_sequences_defined_for_every_arm_and_seed():
    import pandas as pd

    from cellshapes.repro.stats import per_seed_means

    rows = [("s1", "a", 0, 1.0), ("s1", "a", 1, 2.0), ("s1", "b", 0, 3.0), ("s1", "b", 1, 4.0),
            ("s2", "a", 0, 10.0), ("s2", "a", 1, 20.0), ("s2", "b", 0, float("nan")),
            ("s2", "b", 1, 40.0), ("s3", "a", 0, 5.0), ("s3", "a", 1, 7.0),
            ("s3", "b", 0, 6.0), ("s3", "b", 1, 8.0)]
    table = pd.DataFrame(rows, columns=["sequence", "arm", "train_seed", "dsc"])
    # s2 is NaN for arm b, seed 0: left out of both arms and both seeds
    assert per_seed_means(table, "dsc", "arm", "a", [0, 1]) == [3.0, 4.5]
    assert per_seed_means(table, "dsc", "arm", "b", [1, 0]) == [6.0, 4.5]
    table.loc[table["sequence"] != "s2", "dsc"] = float("nan")
    out = per_seed_means(table, "dsc", "arm", "a", [0, 1])
    assert len(out) == 2 and all(v != v for v in out)  # nothing defined everywhere: NaN
