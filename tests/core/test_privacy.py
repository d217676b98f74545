"""Privacy checks: known answers (brute force, sdmetrics), planted leaks caught, clean control passes."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import cdist

from core.gates import spec
from core.errors import UsageError
from core.data.metadata import coerce_to_metadata
from core.checks.privacy import (
    DistanceEncoding,
    auc_score,
    evaluate_privacy,
    nearest_records,
    privacy_gate_values,
    wilson_rate,
)


def _metadata(frame: pd.DataFrame, categorical: tuple[str, ...] = ()) -> dict[str, str]:
    return {
        c: "numerical" if pd.api.types.is_numeric_dtype(frame[c]) and c not in categorical else "categorical"
        for c in frame.columns
    }


def _split3(frame: pd.DataFrame, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    order = np.random.default_rng(seed).permutation(len(frame))
    return tuple(frame.iloc[order[i::3]].reset_index(drop=True) for i in range(3))


@pytest.fixture(scope="module")
def penguins():
    from palmerpenguins import load_penguins

    frame = load_penguins()
    metadata = _metadata(frame, categorical=("year",))
    return coerce_to_metadata(frame, metadata, "penguins"), metadata


@pytest.fixture(scope="module")
def cancer():
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    metadata = _metadata(frame, categorical=("target",))
    return coerce_to_metadata(frame, metadata, "breast_cancer"), metadata


def _explicit_distance(a: pd.DataFrame, b: pd.DataFrame, real: pd.DataFrame, metadata: dict, circular: set) -> np.ndarray:
    """The documented per-column formula, pair by pair (broadcast), independent of the encoder."""
    total = np.zeros((len(a), len(b)))
    for column, sdtype in metadata.items():
        if sdtype == "numerical":
            span = real[column].max() - real[column].min()
            x = ((a[column] - real[column].min()) / span).to_numpy()[:, None]
            y = ((b[column] - real[column].min()) / span).to_numpy()[None, :]
            if column in circular:  # column with missing values: chord on the unit circle
                diff = 2 * np.sin(np.abs(np.clip(x, -1, 2) - np.clip(y, -1, 2)) / 2)
                diff = np.where(np.isnan(x) & np.isnan(y), 0.0, np.where(np.isnan(x) | np.isnan(y), 1.0, diff))
            else:
                diff = np.abs(x - y)
        else:
            x = a[column].astype(str).where(a[column].notna(), "<NA>").to_numpy()[:, None]
            y = b[column].astype(str).where(b[column].notna(), "<NA>").to_numpy()[None, :]
            diff = (x != y).astype(float)
        total += diff**2
    return np.sqrt(total)


def test_dcr_equals_brute_force_on_penguins_with_missing_values(penguins):
    frame, metadata = penguins
    train, holdout, synthetic = _split3(frame)
    found = nearest_records(train, synthetic, metadata)
    circular = {c for c in metadata if metadata[c] == "numerical" and frame[c].isna().any()}
    brute = _explicit_distance(synthetic, train, train, metadata, circular)
    np.testing.assert_allclose(found.distance, brute.min(axis=1), atol=1e-5)
    np.testing.assert_allclose(found.second_distance, np.sort(brute, axis=1)[:, 1], atol=1e-5)
    np.testing.assert_allclose(brute[np.arange(len(brute)), found.nearest_position], found.distance, atol=1e-5)
    # and scipy's cdist on the encoded matrix
    encoding = DistanceEncoding.fit(train, metadata, others=[synthetic])
    matrix = cdist(encoding.transform(synthetic).astype(float), encoding.transform(train).astype(float))
    np.testing.assert_allclose(found.distance, matrix.min(axis=1), atol=1e-5)


def test_dcr_equals_brute_force_on_wine():
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame
    metadata = _metadata(frame, categorical=("target",))
    frame = coerce_to_metadata(frame, metadata, "wine")
    train, holdout, synthetic = _split3(frame, seed=1)
    result = evaluate_privacy(train, synthetic, holdout, metadata, seed=0, n_attacks=50)
    brute_syn = _explicit_distance(synthetic, train, train, metadata, set())
    brute_hold = _explicit_distance(holdout, train, train, metadata, set())
    dcr = result.distance_to_closest_record
    np.testing.assert_allclose(dcr.synthetic_to_train, brute_syn.min(axis=1), atol=1e-5)
    np.testing.assert_allclose(dcr.holdout_to_train, brute_hold.min(axis=1), atol=1e-5)
    nndr = brute_syn.min(axis=1) / np.sort(brute_syn, axis=1)[:, 1]
    np.testing.assert_allclose(dcr.nndr_synthetic, nndr, atol=1e-5)
    # share closer to train than holdout (train and holdout both 59 rows here), ties counted half
    to_holdout = _explicit_distance(synthetic, holdout, train, metadata, set()).min(axis=1)
    to_train = brute_syn.min(axis=1)
    expected = np.mean((to_train < to_holdout) + 0.5 * (to_train == to_holdout))
    assert dcr.share_closer_to_train == pytest.approx(expected)
    assert dcr.median_distance_ratio == pytest.approx(np.median(to_train) / np.median(brute_hold.min(axis=1)))


def _gates(result) -> dict[str, bool]:
    return {name: gate["passed"] for name, gate in privacy_gate_values(result).items()}


def test_clean_control_passes_all_gates(cancer, penguins):
    for frame, metadata in (cancer, penguins):
        train, holdout, fresh = _split3(frame, seed=3)
        result = evaluate_privacy(train, fresh, holdout, metadata, seed=0, n_attacks=200)
        gates = privacy_gate_values(result)
        assert all(g["passed"] for g in gates.values()), gates
        assert 0.35 < result.distance_to_closest_record.share_closer_to_train < 0.65
        json.dumps(result.to_dict())  # the report section is plain JSON


def test_planted_exact_copies_fail_the_gate(cancer):
    frame, metadata = cancer
    train, holdout, fresh = _split3(frame, seed=3)
    synthetic = fresh.copy()
    rng = np.random.default_rng(0)
    rows = rng.choice(len(synthetic), int(0.05 * len(synthetic)) + 1, replace=False)
    sources = rng.choice(len(train), len(rows), replace=False)
    synthetic.iloc[rows] = train.iloc[sources].to_numpy()
    result = evaluate_privacy(train, synthetic, holdout, metadata, seed=0, n_attacks=50)
    assert result.exact_copies.synthetic_rate == pytest.approx(len(rows) / len(synthetic))
    assert result.exact_copies.holdout_rate == 0.0
    assert sorted(result.exact_copies.synthetic_positions) == sorted(rows)
    gate = privacy_gate_values(result)["exact_copies"]
    assert gate["value"] > spec("exact_copies").threshold and not gate["passed"]
    pairs = dict((s, t) for s, t, d in result.near_copies.pairs() if d == 0.0)
    assert {int(r): int(s) for r, s in zip(rows, sources)}.items() <= pairs.items()


def test_planted_near_copies_fail_the_dcr_gate(cancer):
    frame, metadata = cancer
    train, holdout, fresh = _split3(frame, seed=3)
    synthetic = fresh.copy()
    rng = np.random.default_rng(1)
    rows = rng.choice(len(synthetic), int(0.10 * len(synthetic)), replace=False)
    copied = train.iloc[rng.choice(len(train), len(rows), replace=False)].reset_index(drop=True)
    numeric = [c for c, s in metadata.items() if s == "numerical"]
    spans = (train[numeric].max() - train[numeric].min()).to_numpy()
    copied[numeric] = copied[numeric].to_numpy() + rng.normal(scale=0.001, size=(len(rows), len(numeric))) * spans
    synthetic.iloc[rows] = copied.to_numpy()
    result = evaluate_privacy(train, synthetic, holdout, metadata, seed=0, n_attacks=50)
    assert result.exact_copies.synthetic_rate == 0.0  # noise defeats hashing ...
    gate = privacy_gate_values(result)["distance_to_closest_record"]
    assert gate["value"] > spec("distance_to_closest_record").threshold and not gate["passed"]  # ... but not the DCR
    assert set(rows) <= set(result.near_copies.synthetic_positions)


def test_membership_auc_high_when_synthetic_is_training_data(cancer):
    frame, metadata = cancer
    train, holdout, _ = _split3(frame, seed=3)
    result = evaluate_privacy(train, train.copy(), holdout, metadata, seed=0, n_attacks=100)
    mia = result.membership_inference
    assert mia.auc > 0.95 and mia.ci_low > 0.5
    assert not privacy_gate_values(result)["membership_inference"]["passed"]
    assert result.singling_out.risk > 0.5 and result.linkability.risk > 0.5
    assert spec("membership_inference").threshold < mia.auc


def test_auc_and_wilson_known_answers():
    assert auc_score(np.array([3.0, 2.0]), np.array([1.0, 2.0])) == pytest.approx((1 + 1 + 1 + 0.5) / 4)
    # anonymeter.stats.confidence.success_rate(100, 30, 0.95): rate (30 + z^2/2) / (100 + z^2)
    z = 1.959963984540054
    rate, error = wilson_rate(30, 100)
    assert rate == pytest.approx((30 + z * z / 2) / (100 + z * z))
    assert error == pytest.approx(z / (100 + z * z) * np.sqrt(30 * 70 / 100 + z * z / 4))


# --- agreement with sdmetrics 0.32 where the definitions agree --------------------------------------
# sdmetrics' calculate_dcr (single_table/privacy/dcr_utils.py) uses the MEAN over columns of per-column
# differences (numeric |a-b|/range of the reference, capped at 1; category mismatch 1), an L1/Gower
# distance. Ours is Euclidean: sqrt(sum of squared per-column differences). They coincide exactly for one
# numerical column (inside the real range), and for categorical-only tables ours = sqrt(n_columns * theirs)
# (each term is 0 or 1), so nearest neighbours and "closer to train than holdout" agree. For mixed tables
# the two rank neighbours differently; the benchmark prints the values side by side.
def _sdmetrics_dcr(data, reference, metadata):
    from sdmetrics.single_table.privacy.dcr_utils import calculate_dcr

    sdv_meta = {"columns": {c: {"sdtype": s} for c, s in metadata.items()}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return calculate_dcr(data, reference, sdv_meta).to_numpy()


def test_agrees_with_sdmetrics_on_one_numerical_column(penguins):
    from sdmetrics.single_table import DCRBaselineProtection

    frame, _ = penguins
    table = frame[["flipper_length_mm"]].dropna().reset_index(drop=True)
    metadata = {"flipper_length_mm": "numerical"}
    train, holdout, synthetic = _split3(table, seed=2)
    ours = nearest_records(train, synthetic, metadata).distance
    theirs = _sdmetrics_dcr(synthetic, train, metadata)
    np.testing.assert_allclose(ours, np.minimum(theirs, 1.0), atol=1e-6)
    sdv_meta = {"columns": {"flipper_length_mm": {"sdtype": "numerical"}}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        breakdown = DCRBaselineProtection.compute_breakdown(train, synthetic, sdv_meta, None, None, 1)
    assert breakdown["median_DCR_to_real_data"]["synthetic_data"] == pytest.approx(np.median(ours))


def test_agrees_with_sdmetrics_on_categorical_only_table(penguins):
    from sdmetrics.single_table import DCROverfittingProtection

    frame, metadata = penguins
    columns = ["species", "island", "sex", "year"]
    table, meta = frame[columns], {c: metadata[c] for c in columns}
    order = np.random.default_rng(4).permutation(len(table))
    train, holdout, synthetic = (table.iloc[order[i * 100 : (i + 1) * 100]].reset_index(drop=True) for i in range(3))
    result = evaluate_privacy(train, synthetic, holdout, meta, seed=0, n_attacks=50)
    dcr = result.distance_to_closest_record
    theirs = _sdmetrics_dcr(synthetic, train, meta)
    np.testing.assert_allclose(dcr.synthetic_to_train, np.sqrt(len(columns) * theirs), atol=1e-6)
    sdv_meta = {"columns": {c: {"sdtype": s} for c, s in meta.items()}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        breakdown = DCROverfittingProtection.compute_breakdown(train, synthetic, holdout, sdv_meta, None, None, 1)
    # sdmetrics counts strict "<" only; ours counts ties half (many ties in categorical-only data)
    strict = float(np.mean(dcr.synthetic_to_train < dcr.synthetic_to_holdout))
    assert breakdown["synthetic_data_percentages"]["closer_to_training"] == pytest.approx(strict)


# --- robustness -----------------------------------------------------------------------------------
def test_missing_constant_id_text_and_single_kind_tables_do_not_crash():
    rng = np.random.default_rng(0)
    n = 60
    frame = pd.DataFrame({
        "id": np.arange(n),
        "note": [f"text {i}" for i in range(n)],
        "x": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
        "constant": np.ones(n),
        "all_missing": np.full(n, np.nan),
        "when": pd.to_datetime("2021-01-01") + pd.to_timedelta(rng.integers(0, 100, n), unit="D"),
        "colour": rng.choice(["red", "blue", None], n),
        "flag": rng.choice([True, False], n),
        "single_level": ["a"] * n,
    })
    metadata = {"id": "id", "note": "text", "x": "numerical", "constant": "numerical", "all_missing": "numerical",
                "when": "datetime", "colour": "categorical", "flag": "boolean", "single_level": "categorical"}
    frame = coerce_to_metadata(frame, metadata, "edge")
    train, holdout, synthetic = _split3(frame)
    synthetic.loc[0, "constant"] = 2.0  # differs from the constant: that column contributes 1
    calls = []
    result = evaluate_privacy(train, synthetic, holdout, metadata, seed=0, n_attacks=30,
                              progress=lambda f, m: calls.append(f))
    assert set(result.skipped) == {"id", "note"}
    assert calls and calls[-1] == 1.0 and all(0.0 <= f <= 1.0 for f in calls)
    json.dumps(result.to_dict())
    assert np.isfinite(result.distance_to_closest_record.synthetic_to_train).all()
    assert result.distance_to_closest_record.synthetic_to_train[0] >= 1.0
    for kinds in (["x", "constant", "when"], ["colour", "flag", "single_level"], ["x"], ["colour"]):
        sub = {c: metadata[c] for c in kinds}
        result = evaluate_privacy(train[kinds], synthetic[kinds], holdout[kinds], sub, seed=0, n_attacks=30)
        json.dumps(result.to_dict())
        assert set(privacy_gate_values(result)) == {"exact_copies", "distance_to_closest_record", "membership_inference"}


def test_missing_versus_present_contributes_one():
    metadata = {"x": "numerical", "y": "numerical"}
    train = pd.DataFrame({"x": [0.0, 10.0], "y": [0.0, 1.0]})
    query = pd.DataFrame({"x": [np.nan, 5.0], "y": [0.0, 0.5]})
    found = nearest_records(train, query, metadata)
    assert found.distance[0] == pytest.approx(1.0)  # x missing vs present = 1, y equal
    assert found.distance[1] == pytest.approx(np.hypot(2 * np.sin(0.25), 0.5))


def test_unusable_inputs_raise_usage_errors():
    frame = pd.DataFrame({"id": [1, 2, 3]})
    with pytest.raises(UsageError):
        evaluate_privacy(frame, frame, frame, {"id": "id"})
    ok = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    with pytest.raises(UsageError):
        evaluate_privacy(ok, ok, None, {"x": "numerical"})


def test_near_copies_caught_where_real_rows_repeat(census):
    """A third of census rows repeat exactly, so the holdout's low DCR tail is all zeros; near copies
    (training rows with a nudged age) must still fail the DCR gate, and a fresh sample must not."""
    from core.data.metadata import detect_metadata
    from tests.conftest import three_way_split

    train, holdout, fresh = three_way_split(census, seed=4)
    metadata = detect_metadata(train)
    frames = [coerce_to_metadata(t, metadata, n) for t, n in ((train, "t"), (fresh, "s"), (holdout, "h"))]
    clean = privacy_gate_values(evaluate_privacy(*frames, metadata, seed=0, n_attacks=50))
    assert clean["distance_to_closest_record"]["passed"]
    rng = np.random.default_rng(0)
    synthetic = frames[1].copy()
    rows = rng.choice(len(synthetic), len(synthetic) // 10, replace=False)
    copied = frames[0].iloc[rng.choice(len(frames[0]), len(rows), replace=False)].reset_index(drop=True)
    copied["age"] = copied["age"] + 0.3
    synthetic.iloc[rows] = copied.to_numpy()
    planted = privacy_gate_values(evaluate_privacy(frames[0], synthetic, frames[2], metadata, seed=0, n_attacks=50))
    assert not planted["distance_to_closest_record"]["passed"]
    assert planted["exact_copies"]["passed"]  # nudged rows are not exact copies


def test_repeated_query_rows_get_the_brute_force_answer(census):
    """Queries with repeated rows (searched once each) get exactly the brute-force nearest distances."""
    from core.data.metadata import detect_metadata
    from core.checks.privacy import DistanceEncoding, nearest_records

    metadata = detect_metadata(census)
    frame = coerce_to_metadata(census, metadata, "census")
    reference, query = frame.iloc[:1500].reset_index(drop=True), frame.iloc[1500:4500].reset_index(drop=True)
    encoding = DistanceEncoding.fit(reference, metadata, others=(query,))
    encoded_query = encoding.transform(query)
    assert len(np.unique(encoded_query, axis=0)) < 0.9 * len(query)  # the de-duplicated path is taken
    result = nearest_records(reference, query, metadata, encoding=encoding, n_neighbors=2)
    brute = np.sort(cdist(encoded_query.astype(float), encoding.transform(reference).astype(float)), axis=1)[:, :2]
    np.testing.assert_allclose(result.distances, brute, atol=1e-6)


# --- calibrated gates (issue 10): planted defects caught by the named gate, clean controls pass ------------------
def _with_natural_duplicates(frame: pd.DataFrame, share: float = 0.15, seed: int = 0) -> pd.DataFrame:
    """`share` of the rows replaced by copies of a few template rows (each repeated ~8x), as natural duplicates."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    rows = rng.choice(len(frame), int(share * len(frame)), replace=False)
    templates = rng.choice(np.setdiff1d(np.arange(len(frame)), rows), max(len(rows) // 8, 1), replace=False)
    out.iloc[rows] = frame.iloc[rng.choice(templates, len(rows))].to_numpy()
    return out


def _unique_train_positions(train: pd.DataFrame, holdout: pd.DataFrame) -> np.ndarray:
    """Training rows whose values occur once in train and never in the holdout (pandas, independent of the module)."""
    both = pd.concat([train, holdout], ignore_index=True).astype(str)
    keys = both.apply(lambda r: "\x1f".join(r), axis=1)
    tally = keys.value_counts()
    return np.flatnonzero((keys.iloc[: len(train)].map(tally) == 1).to_numpy())


@pytest.fixture(scope="module")
def census_small(census):
    from core.data.metadata import detect_metadata

    frame = census.iloc[:6000].reset_index(drop=True)
    metadata = detect_metadata(frame)
    return coerce_to_metadata(frame, metadata, "census"), metadata


@pytest.fixture(scope="module", params=["breast_cancer", "census"])
def duplicated_table(request, cancer, census_small):
    """A real table where real rows repeat: breast cancer with 15% natural duplicates planted, and census
    (a third of its rows repeat by nature)."""
    if request.param == "census":
        return census_small
    frame, metadata = cancer
    return _with_natural_duplicates(frame, 0.15, seed=5), metadata


def test_one_in_a_billion_near_copies_fail_dcr_not_exact_copies(cancer, census_small):
    """20% of synthetic rows are one-of-a-kind training rows with one number x (1 + 1e-9): in float64 they are
    at distance ~1e-9, not 0, not exact copies, and distance_to_closest_record catches them."""
    for frame, metadata in (cancer, census_small):
        train, holdout, fresh = _split3(frame, seed=2)
        rng = np.random.default_rng(0)
        rows = rng.choice(len(fresh), len(fresh) // 5, replace=False)
        unique = _unique_train_positions(train, holdout)
        copied = train.iloc[rng.choice(unique, len(rows), replace=False)].reset_index(drop=True)
        column = next(c for c, s in metadata.items() if s == "numerical" and (copied[c].abs() > 0).all()) \
            if any(s == "numerical" and (copied[c].abs() > 0).all() for c, s in metadata.items()) else None
        if column is None:  # census: age is positive for most rows; nudge rows where it is
            column = "age"
            copied = copied[copied["age"] > 0].reset_index(drop=True)
            rows = rows[: len(copied)]
        copied[column] = copied[column].astype(float) * (1 + 1e-9)
        synthetic = fresh.copy()
        synthetic[column] = synthetic[column].astype(float)
        synthetic.iloc[rows] = copied.to_numpy()
        result = evaluate_privacy(train, synthetic, holdout, metadata, seed=0, n_attacks=30)
        dcr = result.distance_to_closest_record
        assert len(np.intersect1d(result.exact_copies.synthetic_positions, rows)) == 0  # not exact copies
        assert (dcr.synthetic_to_train[rows] > 0).all() and (dcr.synthetic_to_train[rows] < 1e-6).all()
        gates = privacy_gate_values(result)
        assert gates["exact_copies"]["passed"]
        gate = gates["distance_to_closest_record"]
        assert not gate["passed"] and gate["value"] > gate["floor"] > gate["null_median"], gate
        assert gate["tail_probability"] < 0.01


def test_memorised_copies_among_natural_duplicates_fail_exact_copies(duplicated_table):
    """5% of synthetic rows copy training rows unique in train; the table's natural duplicates (also hitting
    training rows in a fresh sample) must not mask them, nor count as memorised in the clean control."""
    frame, metadata = duplicated_table
    train, holdout, fresh = _split3(frame, seed=1)
    clean = evaluate_privacy(train, fresh, holdout, metadata, seed=0, n_attacks=30)
    clean_gates = privacy_gate_values(clean)
    assert all(g["passed"] for g in clean_gates.values()), clean_gates
    assert clean.exact_copies.synthetic_rate > 0.05  # fresh real rows do hit training rows: natural duplicates
    rng = np.random.default_rng(0)
    rows = rng.choice(len(fresh), int(0.05 * len(fresh)) + 1, replace=False)
    unique = _unique_train_positions(train, holdout)
    sources = rng.choice(unique, len(rows), replace=False)
    synthetic = fresh.copy()
    synthetic.iloc[rows] = train.iloc[sources].to_numpy()
    result = evaluate_privacy(train, synthetic, holdout, metadata, seed=0, n_attacks=30)
    assert set(rows) <= set(result.exact_copies.memorised_positions)
    gate = privacy_gate_values(result)["exact_copies"]
    assert not gate["passed"] and gate["value"] >= 0.05 > gate["floor"], gate
    assert gate["null_median"] == pytest.approx(result.exact_copies.holdout_memorised_rate, abs=0.01)


def test_holdout_rows_with_tiny_noise_pass_every_gate(duplicated_table):
    """Non-members (holdout rows) with a little noise on their numbers are no leak: the natural duplicates
    among them sit close to training rows, but so do the holdout's own, so no privacy gate fails."""
    frame, metadata = duplicated_table
    train, holdout, _ = _split3(frame, seed=1)
    rng = np.random.default_rng(3)
    noisy = holdout.copy()
    numeric = [c for c, s in metadata.items() if s == "numerical"]
    spans = (train[numeric].max() - train[numeric].min()).to_numpy(dtype=float)
    noisy[numeric] = noisy[numeric].to_numpy(dtype=float) + rng.normal(scale=1e-4, size=(len(noisy), len(numeric))) * spans
    result = evaluate_privacy(train, noisy, holdout, metadata, seed=0, n_attacks=30)
    gates = privacy_gate_values(result)
    assert all(g["passed"] and g["judgeable"] for g in gates.values()), gates
    assert all(g["floor"] is not None and g["null_median"] is not None for g in gates.values())


def test_signed_zeros_are_one_value():
    from core.checks.privacy.copies import row_hashes
    from core.stats.distances import category_keys

    a = pd.DataFrame({"x": [0.0, 1.0], "c": pd.Series([0.0, 2.0])})
    b = pd.DataFrame({"x": [-0.0, 1.0], "c": pd.Series([-0.0, 2.0])})
    assert (row_hashes(a, ["x", "c"]) == row_hashes(b, ["x", "c"])).all()
    assert list(category_keys(b["c"])) == list(category_keys(a["c"]))
    metadata = {"x": "numerical", "c": "categorical"}
    train = pd.DataFrame({"x": np.arange(50, dtype=float), "c": np.tile([0.0, 2.0], 25)})
    synthetic = train.copy()
    synthetic.loc[0, "x"] = -0.0
    result = evaluate_privacy(train, synthetic, train.iloc[::-1].reset_index(drop=True) + 0.5, metadata,
                              n_attacks=10)
    assert 0 in result.exact_copies.synthetic_positions and result.distance_to_closest_record.synthetic_to_train[0] == 0.0


def test_distances_are_float64_exact_for_tiny_differences():
    reference = pd.DataFrame({"x": [0.0, 10.0, 20.0], "y": [1.0, 5.0, 9.0]})
    query = reference.copy()
    query["x"] = query["x"] * (1 + 1e-9) + np.array([0.0, 0.0, 0.0])
    query.loc[0, "y"] = 1.0 + 8e-9
    found = nearest_records(reference, query, {"x": "numerical", "y": "numerical"}, n_neighbors=1)
    expected = np.array([1e-9, 10e-9 / 20, 20e-9 / 20])  # |dy| / span(y) = 8e-9 / 8; |dx| / span(x)
    np.testing.assert_allclose(found.distance, expected, rtol=1e-4)
    assert (found.distance > 0).all()


def test_report_gates_carry_the_measured_null(penguins):
    from core.data.io import PreparedInputs
    from core.policy import load_policy
    from core.report import Evaluation, with_results

    frame, metadata = penguins
    train, holdout, fresh = _split3(frame, seed=3)
    result = evaluate_privacy(train, fresh, holdout, metadata, seed=0, n_attacks=30)
    inputs = PreparedInputs({}, {"real": train, "synthetic": fresh, "holdout": holdout}, metadata)
    evaluation = with_results(Evaluation(inputs, load_policy(), None, None, []), result, None)
    gates = {g.name: g.to_dict() for g in evaluation.gates}
    assert set(gates) == {"exact_copies", "distance_to_closest_record", "membership_inference"}
    for gate in gates.values():
        assert gate["passed"] and gate["null_median"] is not None and gate["threshold"] == gate["floor"]
        assert 0.0 < gate["tail_probability"] <= 1.0
    json.dumps(evaluation.sections["privacy"])


def test_membership_null_holds_its_false_alarm_rate_on_a_tied_table_at_the_synthetic_size():
    """The membership null is the attack with real rows posing as a synthetic table OF ITS SIZE, members varying as
    the real attack's do: clean synthetic samples exceed its bound at about the false-alarm rate. (A null posing half
    the holdout with members from a fixed pool of 2n rows let 4% of clean 300-row samples fail at the 1% rate here,
    and 3 of 30 clean 300-row census samples.)"""
    from core.checks.privacy.membership import auc_score, membership_inference
    from core.gates import judge

    def table(rng, n):  # coordinates of a discrete, heavily tied table: two categories and a coarse number
        a = np.eye(6)[rng.choice(6, n, p=[.5, .2, .1, .1, .05, .05])] / np.sqrt(2)
        b = np.eye(4)[rng.choice(4, n, p=[.7, .1, .1, .1])] / np.sqrt(2)
        return np.hstack([a, b, (rng.integers(0, 30, n) / 30.0)[:, None]])

    rng = np.random.default_rng(0)
    train, holdout, m = table(rng, 3000), table(rng, 1000), 300
    result = membership_inference(train, table(rng, m), holdout, seed=0)
    n = result.candidates_per_group
    bound = judge("membership_inference", result.auc, result.null, alpha=0.01).bound
    clean = []
    for _ in range(300):  # the real attack, by brute force, on fresh samples from the same population
        synthetic = table(rng, m)
        candidates = np.vstack([train[rng.choice(len(train), n, replace=False)],
                                holdout[rng.choice(len(holdout), n, replace=False)]])
        nearest = cdist(candidates, synthetic).min(axis=1)
        clean.append(auc_score(-nearest[:n], -nearest[n:]))
    assert np.mean(np.array(clean) > bound) <= 0.02
    assert abs(np.median(result.null) - np.mean(clean)) < 0.006


def test_judge_floors_the_null_spread_at_min_sd_in_the_failing_direction():
    """A null resampled from one finite set can spread less than fresh draws do: with min_sd the bound is at
    least median + z(level) x min_sd ("max") or median - z x min_sd ("min"), and the tail probability agrees."""
    from scipy.stats import norm

    from core.gates import judge

    null = np.random.default_rng(0).normal(0.5, 0.005, 400)  # a too-narrow null
    z = norm.ppf(0.99)
    narrow = judge("membership_inference", 0.53, null, alpha=0.01)
    floored = judge("membership_inference", 0.53, null, alpha=0.01, min_sd=0.0167)
    assert not narrow.passed and floored.passed
    assert floored.bound == pytest.approx(np.median(null) + z * 0.0167)
    assert floored.tail_probability == pytest.approx(norm.sf((0.53 - np.median(null)) / 0.0167))
    assert not judge("membership_inference", 0.55, null, alpha=0.01, min_sd=0.0167).passed
    ratio_null = np.random.default_rng(1).normal(1.0, 0.001, 400)  # a "min" gate mirrors it
    low = judge("utility", 0.9, ratio_null, alpha=0.01, min_sd=0.05)
    assert low.passed and low.bound == pytest.approx(np.median(ratio_null) - z * 0.05)


def test_membership_gate_bound_is_at_least_a_chance_classifiers_spread():
    """The membership gate's bound sits at least z(1 - alpha) chance-classifier sds above the null's median, so
    clean samples whose attack spreads as a chance classifier's (measured: census, weather) pass at the rate."""
    from scipy.stats import norm

    from core.checks.privacy import privacy_gate_values
    from core.stats.null import chance_auc_sd

    rng = np.random.default_rng(3)
    train, holdout = rng.normal(size=(900, 3)), rng.normal(size=(300, 3))
    metadata = {c: "numerical" for c in "abc"}
    frames = [pd.DataFrame(x, columns=list("abc")) for x in (train, rng.normal(size=(300, 3)), holdout)]
    result = evaluate_privacy(*frames, metadata, seed=0, n_attacks=20)
    gate = privacy_gate_values(result, alpha=0.01)["membership_inference"]
    k = result.membership_inference.candidates_per_group
    assert k == 100  # a third of the holdout
    assert gate["threshold"] >= gate["null_median"] + norm.ppf(0.99) * chance_auc_sd(k) - 1e-12
    assert "chance classifier" in gate["detail"]
