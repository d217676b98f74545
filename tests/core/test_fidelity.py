"""Fidelity scores equal sdmetrics' own values on real tables that ship with installed packages."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats.contingency import association
from sdmetrics.column_pairs import ContingencySimilarity, CorrelationSimilarity
from sdmetrics.single_column import KSComplement, TVComplement

from core.stats.association import correlation_ratio, cramers_v
from core.checks.fidelity import (association_matrices, contingency_similarity, evaluate_fidelity, joint_distribution,
                                  marginal_distribution, tv_complement_counts)
from core.data.metadata import coerce_to_metadata, detect_metadata
from tests.conftest import three_way_split

TABLES = ["penguins", "wine", "census", "gapminder"]


def _table(name, request):
    if name == "gapminder":
        import plotly.express as px

        frame = px.data.gapminder()
        frame["year"] = pd.to_datetime(frame["year"].astype(str) + "-07-01")  # a real datetime column
        return frame.drop(columns=["iso_num"])
    return request.getfixturevalue(name)


def _shifted(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """A stand-in synthetic table: other real rows, one numeric column shuffled, so scores vary."""
    out = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    numeric = out.select_dtypes("number").columns
    if len(numeric):
        out[numeric[0]] = out[numeric[0]].sample(frac=1.0, random_state=seed + 1).to_numpy()
    return out


@pytest.mark.parametrize("name", TABLES)
def test_every_score_equals_sdmetrics(name, request):
    frame = _table(name, request)
    real, _, other = three_way_split(frame, seed=3, fractions=(0.5, 0.0))
    synthetic = _shifted(other, seed=5)
    metadata = detect_metadata(real)
    frames = {"real": coerce_to_metadata(real, metadata, "real"),
              "synthetic": coerce_to_metadata(synthetic, metadata, "synthetic")}
    result = evaluate_fidelity(frames, metadata)
    assert result.column_shapes, "no column scored"
    for shape in result.column_shapes:
        metric = KSComplement if shape.metric == "KSComplement" else TVComplement
        expected = metric.compute(frames["real"][shape.column], frames["synthetic"][shape.column])
        assert shape.score == pytest.approx(expected, abs=1e-6), shape.column
    continuous = [c for c, t in metadata.items() if t in ("numerical", "datetime")]
    assert result.pair_trends
    for pair in result.pair_trends:
        cols = list(pair.columns)
        r, s = frames["real"][cols], frames["synthetic"][cols]
        if pair.metric == "CorrelationSimilarity":
            ref = CorrelationSimilarity.compute_breakdown(r, s)
            assert pair.score == pytest.approx(ref["score"], abs=1e-6)
            assert pair.real == pytest.approx(ref["real"], abs=1e-6)
            assert pair.synthetic == pytest.approx(ref["synthetic"], abs=1e-6)
        else:
            # Mixed pairs: sdmetrics' ContingencySimilarity bins the numeric column on the real values'
            # edges; its QualityReport instead bins each table on its own edges, which hides a synthetic
            # range that shrank or shifted. We follow the metric, not the report (see test below).
            # Dates as nanoseconds, as sdmetrics' report converts them before this metric.
            r, s = (t.apply(lambda c: c.astype("int64") if c.dtype.kind == "M" else c) for t in (r, s))
            ref = ContingencySimilarity.compute(r, s, continuous_column_names=[c for c in cols if c in continuous] or None)
            assert pair.score == pytest.approx(ref, abs=1e-6), cols


def test_quality_report_agrees_where_definitions_agree(penguins):
    from sdmetrics.reports.single_table import QualityReport

    real, _, other = three_way_split(penguins.dropna(), seed=1, fractions=(0.5, 0.0))
    synthetic = _shifted(other, seed=2)
    metadata = detect_metadata(real)
    frames = {"real": coerce_to_metadata(real, metadata, "r"), "synthetic": coerce_to_metadata(synthetic, metadata, "s")}
    ours = evaluate_fidelity(frames, metadata)
    report = QualityReport()
    report.real_correlation_threshold = 0  # sdmetrics 0.32 averages only strongly associated pairs by default
    report.real_association_threshold = 0
    report.generate(frames["real"], frames["synthetic"], {"columns": {c: {"sdtype": t} for c, t in metadata.items()}},
                    verbose=False)
    shapes = report.get_details("Column Shapes").set_index("Column")["Score"]
    for shape in ours.column_shapes:
        assert shape.score == pytest.approx(shapes[shape.column], abs=1e-6)
    assert ours.column_shapes_score == pytest.approx(report.get_properties().set_index("Property").loc["Column Shapes", "Score"], abs=1e-6)
    pairs = report.get_details("Column Pair Trends")
    continuous = {c for c, t in metadata.items() if t == "numerical"}
    for pair in ours.pair_trends:
        row = pairs[(pairs["Column 1"] == pair.columns[0]) & (pairs["Column 2"] == pair.columns[1])].iloc[0]
        mixed = len(continuous & set(pair.columns)) == 1
        if not mixed:  # mixed pairs: per-table bin edges in the report, real edges here (see above)
            assert pair.score == pytest.approx(row["Score"], abs=1e-6)


def test_association_measures_equal_reference_formulas(penguins):
    frame = penguins.dropna().reset_index(drop=True)
    metadata = detect_metadata(frame)
    frames = {"real": coerce_to_metadata(frame, metadata, "r"), "synthetic": coerce_to_metadata(frame, metadata, "s")}
    matrices = association_matrices(frames, metadata)
    real = matrices["real"]
    # Pearson for numbers
    assert real.loc["bill_length_mm", "body_mass_g"] == pytest.approx(
        np.corrcoef(frame["bill_length_mm"], frame["body_mass_g"])[0, 1], abs=1e-9)
    # Cramer's V for categories, as scipy computes it
    table = pd.crosstab(frame["species"], frame["island"]).to_numpy()
    assert real.loc["species", "island"] == pytest.approx(association(table, method="cramer"), abs=1e-9)
    assert cramers_v(table) == pytest.approx(association(table, method="cramer"), abs=1e-12)
    # Correlation ratio, brute force: sqrt(between-group / total sum of squares)
    x, g = frame["flipper_length_mm"].to_numpy(float), frame["species"]
    between = sum(len(x[g == k]) * (x[g == k].mean() - x.mean()) ** 2 for k in g.unique())
    eta = np.sqrt(between / ((x - x.mean()) ** 2).sum())
    assert real.loc["species", "flipper_length_mm"] == pytest.approx(eta, abs=1e-9)
    codes, _ = pd.factorize(g)
    assert correlation_ratio(np.asarray(codes, dtype=np.int32), x, codes.max() + 2) == pytest.approx(eta, abs=1e-12)
    # identical tables: zero difference everywhere
    assert np.nanmax(np.abs(matrices["difference"].to_numpy())) == pytest.approx(0.0, abs=1e-12)


def test_expected_scores_come_from_the_holdout(census):
    train, holdout, fresh = three_way_split(census, seed=2)
    metadata = detect_metadata(train)
    frames = {"real": coerce_to_metadata(train, metadata, "t"), "synthetic": coerce_to_metadata(fresh, metadata, "f"),
              "holdout": coerce_to_metadata(holdout, metadata, "h")}
    with_holdout = evaluate_fidelity(frames, metadata)
    as_synthetic = evaluate_fidelity({"real": frames["real"], "synthetic": frames["holdout"]}, metadata)
    by_column = {c.column: c.score for c in as_synthetic.column_shapes}
    for shape in with_holdout.column_shapes:
        assert shape.expected == pytest.approx(by_column[shape.column], abs=1e-12)
    by_pair = {p.columns: p.score for p in as_synthetic.pair_trends}
    for pair in with_holdout.pair_trends:
        assert pair.expected == pytest.approx(by_pair[pair.columns], abs=1e-12)


def test_joint_and_marginal_share_bins(penguins):
    metadata = detect_metadata(penguins)
    real = coerce_to_metadata(penguins, metadata, "r")
    synthetic = real.assign(body_mass_g=real["body_mass_g"] * 1.5)
    joint = joint_distribution(real, synthetic, "body_mass_g", "species", metadata, bins=8)
    assert joint.real.shape == joint.synthetic.shape
    assert joint.real.sum() == pytest.approx(1.0) and joint.synthetic.sum() == pytest.approx(1.0)
    marginal = marginal_distribution(real["body_mass_g"], synthetic["body_mass_g"], "numerical", bins=10)
    assert len(marginal.edges) == 11
    assert marginal.edges[-1] == pytest.approx(np.nanmax(synthetic["body_mass_g"]))  # axis spans both tables
    assert marginal.real.sum() == pytest.approx(1.0) and marginal.synthetic.sum() == pytest.approx(1.0)
    # the brute-force count of the first bin
    first = ((real["body_mass_g"] >= marginal.edges[0]) & (real["body_mass_g"] < marginal.edges[1])).sum()
    assert marginal.real[0] == pytest.approx(first / len(real))


def test_missing_constant_and_wide_columns_are_reported_not_dropped(penguins):
    frame = penguins.copy()
    frame["constant"] = 1.0
    frame["empty"] = np.nan
    frame["wide"] = [f"id-{i}" for i in range(len(frame))]
    metadata = detect_metadata(frame) | {"empty": "numerical", "wide": "categorical", "constant": "numerical"}
    frames = {"real": coerce_to_metadata(frame, metadata, "r"), "synthetic": coerce_to_metadata(frame, metadata, "s")}
    import core.checks.fidelity as fidelity

    original = fidelity.MAX_PAIR_CATEGORIES
    fidelity.MAX_PAIR_CATEGORIES = 100
    try:
        result = evaluate_fidelity(frames, metadata)
    finally:
        fidelity.MAX_PAIR_CATEGORIES = original
    skipped: dict[str, str] = {}
    for s in result.skipped:
        skipped[s.item] = skipped.get(s.item, "") + s.reason + "; "
    assert "empty" in skipped and "no non-missing values" in skipped["empty"]
    assert "constant" in skipped and "constant" in skipped["constant"]
    assert "wide" in skipped and "categories" in skipped["wide"]
    assert {c.column for c in result.column_shapes} >= {"constant", "wide", "species"}


def test_sdmetrics_binning_option_equals_quality_report_on_mixed_pairs(penguins):
    """With pair_binning = "sdmetrics" mixed pairs equal sdmetrics' QualityReport; the default differs by design."""
    from sdmetrics.reports.single_table import QualityReport

    from core.stats.null import NullSettings

    real, _, synthetic = three_way_split(penguins, seed=3, fractions=(0.5, 0.0))
    synthetic = synthetic.copy()
    synthetic["body_mass_g"] = synthetic["body_mass_g"].clip(3500, 5000)  # a range the synthetic data shrank
    metadata = detect_metadata(real)
    frames = {"real": coerce_to_metadata(real, metadata, "real"),
              "synthetic": coerce_to_metadata(synthetic, metadata, "synthetic")}
    shared = evaluate_fidelity(frames, metadata, settings=NullSettings(resamples=20))
    report_binned = evaluate_fidelity(frames, metadata, settings=NullSettings(resamples=20, pair_binning="sdmetrics"))
    report = QualityReport()
    report.generate(frames["real"], frames["synthetic"],
                    {"columns": {c: {"sdtype": t} for c, t in metadata.items()}}, verbose=False)
    scores = {(r["Column 1"], r["Column 2"]): r["Score"] for _, r in report.get_details("Column Pair Trends").iterrows()}
    numeric = lambda c: metadata[c] in ("numerical", "datetime")
    gaps = []
    for ours, theirs in zip(shared.pair_trends, report_binned.pair_trends):
        if numeric(ours.columns[0]) == numeric(ours.columns[1]):
            continue
        expected = scores.get(ours.columns, scores.get(ours.columns[::-1]))
        if expected is None or not np.isfinite(expected):
            continue  # sdmetrics leaves some pairs unscored (NaN)
        assert theirs.score == pytest.approx(expected, abs=1e-9), ours.columns
        gaps.append(abs(ours.score - expected))
    assert max(gaps) > 0.1  # the shrunk range shows under shared bins and hides under per-table bins


@pytest.mark.parametrize("rows", [2, 3, 50])
def test_constant_huge_and_signed_zero_columns_score_without_crashing(rows):
    from core.report import evaluate
    from core.data.io import prepare_inputs, table_from_frame

    rng = np.random.default_rng(rows)

    def frame(n):
        return pd.DataFrame({"date": pd.to_datetime(["2020-01-01"] * n), "big": [1e15] * n, "huge": [3e17] * n,
                             "near": 1e15 + rng.integers(0, 2, n), "tiny_step": 1.0 + rng.integers(0, 2, n) * 1e-13,
                             "zero": rng.choice([0.0, -0.0], n), "label": ["a"] * n, "flag": [True] * n,
                             "x": rng.normal(size=n), "k": rng.choice(list("pqr"), n)})
    inputs = prepare_inputs(table_from_frame(frame(rows), "real.csv"), table_from_frame(frame(rows), "synthetic.csv"),
                            table_from_frame(frame(rows), "holdout.csv"))
    evaluation = evaluate(inputs, privacy=False)
    evaluation.to_dict()
    shapes = {c.column: c.score for c in evaluation.fidelity.column_shapes}
    assert shapes["zero"] == 1.0  # -0.0 and 0.0 are one value
    assert shapes["date"] == shapes["big"] == shapes["huge"] == 1.0


def test_disjoint_categories_score_exactly_zero_not_below():
    # Ten categories each side, none shared: the shares' absolute differences sum to 2 plus a rounding residue,
    # and an unclipped -2.2e-16 failed planes' sparse `speed` against an analytic floor of exactly 0.
    p, q = np.array([1.0] * 2 + [0.0] * 10), np.array([0.0] * 2 + [1.0] * 10)
    assert 1.0 - 0.5 * np.abs(p / p.sum() - q / q.sum()).sum() < 0  # the residue this guards against
    assert tv_complement_counts(p, q)[0] == 0.0
    assert contingency_similarity(p.reshape(3, 4), q.reshape(3, 4)) == 0.0
