"""Our relational scores equal sdmetrics' multi-table QualityReport and DiagnosticReport on the same data.

Where definitions differ it is said at the comparison. The synthetic side is real data with planted changes
(a shuffled foreign key, shifted columns, orphans), so the scores are far from 1 and any mismatch shows.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from core.checks.relational import evaluate_relational, relational_review
from core.data.relational import DataError, modechoice_tables, nycflights_tables, read_uploaded_tables, split_relational
from core.policy import parse_policy

TOL = 1e-6


def _perturbed(dataset: str):
    if dataset == "flights":
        tables, metadata = nycflights_tables(flights=1200, seed=3)
        child, fk, shift = "flights", "tailnum", "dep_delay"
    else:
        tables, metadata = modechoice_tables()
        child, fk, shift = "modes", "individual", "invc"
    split = split_relational(tables, metadata, 0.5, seed=4)
    real, synthetic = split.train, dict(split.holdout)
    frame = synthetic[child].copy()
    rng = np.random.default_rng(5)
    frame[fk] = rng.permutation(frame[fk].to_numpy())  # wrong parents for half the children's associations
    frame[shift] = frame[shift] * 1.3 + 5  # a shifted marginal
    synthetic[child] = frame
    return real, synthetic, metadata


def _sdmetrics_reports(real, synthetic, metadata):
    from sdmetrics.reports.multi_table import DiagnosticReport, QualityReport

    sdv = metadata.to_sdv_dict()
    quality = QualityReport()
    # sdmetrics 0.32 averages only pairs whose real association passes a threshold; every pair's own score is
    # what we compare, so the thresholds are off (the single-table agreement test does the same)
    quality.real_correlation_threshold = 0
    quality.real_association_threshold = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quality.generate(real, synthetic, sdv, verbose=False)
        diagnostic = DiagnosticReport()
        diagnostic.generate(real, synthetic, sdv, verbose=False)
    return quality, diagnostic


@pytest.fixture(scope="module", params=["flights", "modechoice"])
def compared(request):
    real, synthetic, metadata = _perturbed(request.param)
    policy = parse_policy('[calibration]\nresamples = 30\n[fidelity]\npair_binning = "sdmetrics"\n', "test.toml")
    ours = evaluate_relational(real, synthetic, metadata, policy=policy, privacy=False)
    quality, diagnostic = _sdmetrics_reports(real, synthetic, metadata)
    return ours, quality, diagnostic, metadata


def test_cardinality_equals_cardinality_shape_similarity(compared):
    ours, quality, _, _ = compared
    details = quality.get_details("Cardinality")
    assert len(details) == len(ours.relationships)
    for result, (_, row) in zip(ours.relationships, details.iterrows()):
        assert (row["Parent Table"], row["Child Table"], row["Foreign Key"]) == (
            result.relationship.parent_table, result.relationship.child_table, result.relationship.child_foreign_key)
        assert result.cardinality.score == pytest.approx(row["Score"], abs=TOL)
    assert any(r.cardinality.score < 0.999 for r in ours.relationships) or len(ours.relationships) == 1


def test_intertable_pairs_equal_intertable_trends(compared):
    ours, quality, _, metadata = compared
    details = quality.get_details("Intertable Trends")
    theirs = {(r["Parent Table"], r["Child Table"], r["Foreign Key"], r["Column 1"], r["Column 2"]): r
              for _, r in details.iterrows()}
    matched = 0
    for result in ours.relationships:
        rel = result.relationship
        for pair in result.intertable:
            row = theirs[(rel.parent_table, rel.child_table, rel.child_foreign_key, pair.parent_column,
                          pair.child_column)]
            assert pair.metric == row["Metric"]
            if np.isnan(row["Score"]):
                assert pair.score is None or not np.isfinite(pair.score)  # constant column: undefined on both sides
                continue
            assert pair.score == pytest.approx(row["Score"], abs=TOL), (rel.label, pair.parent_column, pair.child_column)
            matched += 1
    # sdmetrics also scores the columns our metadata calls free text (to_sdv_dict writes them as categorical);
    # we leave free text out of every comparison, so those rows alone are unmatched
    text = {(t, c) for t, cols in metadata.tables.items() for c, s in cols.items() if s == "text"}
    unmatched = [k for k in theirs if (k[0], k[3]) not in text and (k[1], k[4]) not in text]
    assert matched == sum(1 for k in unmatched if np.isfinite(theirs[k]["Score"]))
    assert min(p.score for r in ours.relationships for p in r.intertable if p.score == p.score) < 0.9


def test_per_table_column_shapes_and_pair_trends_equal_quality_report(compared):
    ours, quality, _, metadata = compared
    shapes = {(r["Table"], r["Column"]): r["Score"] for _, r in quality.get_details("Column Shapes").iterrows()}
    pairs = {(r["Table"], r["Column 1"], r["Column 2"]): r["Score"]
             for _, r in quality.get_details("Column Pair Trends").iterrows()}
    checked = 0
    for table, evaluation in ours.tables.items():
        for column in evaluation.fidelity.column_shapes:
            assert column.score == pytest.approx(shapes[(table, column.column)], abs=TOL), (table, column.column)
            checked += 1
        for pair in evaluation.fidelity.pair_trends:
            a, b = pair.columns
            expected = pairs.get((table, a, b), pairs.get((table, b, a)))
            if expected is None or not np.isfinite(expected):
                continue  # sdmetrics leaves constant pairs unscored
            assert pair.score == pytest.approx(expected, abs=TOL), (table, a, b)
            checked += 1
    assert checked > 10


def test_relationship_validity_equals_diagnostic_report(compared):
    ours, _, diagnostic, _ = compared
    details = diagnostic.get_details("Relationship Validity")
    for result in ours.relationships:
        rel = result.relationship
        rows = details[(details["Parent Table"] == rel.parent_table) & (details["Child Table"] == rel.child_table)
                       & (details["Foreign Key"] == rel.child_foreign_key)]
        scores = dict(zip(rows["Metric"], rows["Score"]))
        assert result.integrity.referential_integrity_score == pytest.approx(scores["ReferentialIntegrity"], abs=TOL)
        assert result.cardinality.boundary_adherence == pytest.approx(scores["CardinalityBoundaryAdherence"], abs=TOL)


def test_orphans_lower_referential_integrity_as_sdmetrics_does():
    tables, metadata = modechoice_tables()
    split = split_relational(tables, metadata, 0.5, seed=4)
    synthetic = dict(split.holdout)
    modes = synthetic["modes"].copy()
    modes.loc[modes.index[:40], "individual"] = 100_000 + np.arange(40)
    synthetic["modes"] = modes
    results, _ = relational_review(split.train, synthetic, metadata)
    _, diagnostic = _sdmetrics_reports(split.train, synthetic, metadata)
    details = diagnostic.get_details("Relationship Validity")
    theirs = details.loc[details["Metric"] == "ReferentialIntegrity", "Score"].item()
    assert results[0].integrity.referential_integrity_score == pytest.approx(theirs, abs=TOL)
    assert theirs == pytest.approx(1 - 40 / len(modes))


def test_data_structure_an_extra_column_is_refused_where_sdmetrics_scores_it_below_one():
    """DiagnosticReport's Data Structure scores a table whose columns differ from the real one below 1 (and
    sdmetrics fails outright on a missing column); our loader refuses either (a DataError naming file, table
    and column), so every table we review scores 1 there."""
    tables, metadata = modechoice_tables()
    extra = tables["modes"].assign(bogus=1)
    _, diagnostic = _sdmetrics_reports(tables, {**tables, "modes": extra}, metadata)
    assert diagnostic.get_properties().set_index("Property").loc["Data Structure", "Score"] < 1
    _, clean = _sdmetrics_reports(tables, tables, metadata)
    assert clean.get_properties().set_index("Property").loc["Data Structure", "Score"] == 1
    files = {f"{name}.csv": frame.to_csv(index=False).encode() for name, frame in tables.items()}
    read_uploaded_tables(files, metadata)  # the clean tables load
    for changed, column in ((extra, "bogus"), (tables["modes"].drop(columns=["gc"]), "gc")):
        files["modes.csv"] = changed.to_csv(index=False).encode()
        with pytest.raises(DataError, match=rf"file modes\.csv, table 'modes', column '{column}'"):
            read_uploaded_tables(files, metadata)
