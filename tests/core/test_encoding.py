"""The tables of an evaluation are encoded once (core.data.encoding.EncodedTables) and every family reads that one
encoding; what each family derives from it equals what its own encoder computed before the bundle existed.

The "before" encoders are kept below as reference implementations (as they were in core/ before the bundle:
detection's factorisation, PCA's value_counts one-hot, privacy's text row hashes and attack matrix, utility's
text categories, the Records page's own distance encoding), run on the census demo's columns and on penguins.
"""
from __future__ import annotations

import pickle
import threading
from collections import Counter

import numpy as np
import pandas as pd
import pytest

import core.data.encoding as encoding_module
from core.data.encoding import EncodedTables, continuous_values, encode_tables, encoded_for
from core.data.io import prepare_inputs, table_from_frame
from core.data.metadata import CONTINUOUS_SDTYPES, DISCRETE_SDTYPES
from core.stats.distances import MISSING, DistanceEncoding, category_keys, numeric_values
from tests.conftest import three_way_split

TABLES = {"census": ("census", "income_gt_50k", 3_000), "penguins": ("penguins", "species", None)}


def _inputs(frame: pd.DataFrame, rows: int | None = None, seed: int = 3):
    """Train, holdout and a synthetic table: a fresh real sample with planted copies and 1e-9 near-copies."""
    frame = frame.head(rows) if rows else frame
    train, holdout, fresh = three_way_split(frame, seed=seed)
    synthetic = fresh.copy()
    k = max(len(synthetic) // 20, 2)
    synthetic.iloc[:k] = train.iloc[:k].to_numpy()  # copies of training rows
    number = next(c for c in synthetic.columns if pd.api.types.is_float_dtype(synthetic[c]) or
                  pd.api.types.is_integer_dtype(synthetic[c]))
    near = train.iloc[k:2 * k].copy()
    near[number] = near[number].astype(float) * (1 + 1e-9)
    synthetic.iloc[k:2 * k] = near.to_numpy()
    synthetic = synthetic.infer_objects()
    return prepare_inputs(*(table_from_frame(f, f"{role}.csv") for role, f in
                            (("real", train), ("synthetic", synthetic), ("holdout", holdout))))


@pytest.fixture(scope="module", params=list(TABLES))
def table(request):
    fixture, target, rows = TABLES[request.param]
    return request.param, _inputs(request.getfixturevalue(fixture), rows), target


# --- built once ---------------------------------------------------------------------------------------------------


def _count(monkeypatch) -> Counter:
    """Count column encodings (per column), distance fits and level-code passes (per table) from here on."""
    counts: Counter = Counter()
    for name in ("_encode_discrete", "_encode_continuous"):
        original = getattr(encoding_module, name)

        def counted(column, sdtype, tables, _original=original):
            counts[("column", column)] += 1
            return _original(column, sdtype, tables)

        monkeypatch.setattr(encoding_module, name, counted)
    fit, level_codes = DistanceEncoding.fit.__func__, DistanceEncoding.level_codes

    def counted_fit(cls, real, metadata, others=()):
        counts["distance fit"] += 1
        return fit(cls, real, metadata, others)

    def counted_codes(self, frame):
        counts[("level codes", len(frame))] += 1
        return level_codes(self, frame)

    monkeypatch.setattr(DistanceEncoding, "fit", classmethod(counted_fit))
    monkeypatch.setattr(DistanceEncoding, "level_codes", counted_codes)
    return counts


def test_an_evaluation_encodes_each_table_once(penguins, monkeypatch):
    from core.policy import load_policy
    from core.report import evaluate

    inputs = _inputs(penguins)
    counts = _count(monkeypatch)
    evaluation = evaluate(inputs, load_policy(), target="species", structure=True,
                          manifest={"differential_privacy": {"epsilon": 3.0}})
    report = evaluation.to_dict()
    assert {"privacy", "utility", "structure"} <= set(report) and "empirical_epsilon" in report["privacy"]
    scored = [c for c, t in inputs.metadata.items() if t in CONTINUOUS_SDTYPES + DISCRETE_SDTYPES]
    assert {key[1]: n for key, n in counts.items() if key[0] == "column"} == {c: 1 for c in scored}
    assert counts["distance fit"] == 1
    sizes = sorted(len(f) for f in inputs.frames.values())
    assert sorted(key[1] for key in counts if key[0] == "level codes") == sizes  # one pass per table
    assert all(n == 1 for key, n in counts.items() if key[0] == "level codes")


def test_a_family_called_alone_encodes_for_itself_and_a_foreign_bundle_is_not_used(penguins, monkeypatch):
    from core.checks.privacy import evaluate_privacy

    inputs = _inputs(penguins)
    other = _inputs(penguins, seed=4)
    frames = inputs.frames
    bundle = encode_tables(frames, inputs.metadata)
    assert encoded_for(frames, inputs.metadata, bundle) is bundle
    assert encoded_for({"real": frames["real"], "synthetic": frames["synthetic"]}, inputs.metadata, bundle) is bundle
    assert encoded_for(other.frames, other.metadata, bundle) is not bundle  # built from other frames: rebuilt
    counts = _count(monkeypatch)
    alone = evaluate_privacy(frames["real"], frames["synthetic"], frames["holdout"], inputs.metadata, seed=0)
    assert counts["distance fit"] == 1 and not any(k[0] == "column" for k in counts)  # only what privacy reads
    shared = evaluate_privacy(frames["real"], frames["synthetic"], frames["holdout"], inputs.metadata, seed=0,
                              encoded=bundle)
    assert counts["distance fit"] == 2  # the bundle's own, once
    assert alone.to_dict() == shared.to_dict()


def test_the_bundle_is_shared_safely_between_threads_and_pickles(penguins):
    inputs = _inputs(penguins)
    bundle = encode_tables(inputs.frames, inputs.metadata)
    results = []
    threads = [threading.Thread(target=lambda: results.append(bundle.coordinates("real"))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r is results[0] for r in results)  # computed once, the same array for every thread
    assert not results[0].flags.writeable  # nobody changes the shared coordinates in place
    copy = pickle.loads(pickle.dumps(bundle))
    np.testing.assert_array_equal(copy.coordinates("real"), results[0])
    assert isinstance(copy, EncodedTables) and set(copy) == set(bundle)


# --- equal to the encoders each family had before -------------------------------------------------------------------


def _old_frequency_codes(frames: dict, name: str, max_categories: int) -> dict[str, np.ndarray]:
    joined = pd.concat([frames[r][name] for r in frames], ignore_index=True)
    codes, uniques = pd.factorize(joined, use_na_sentinel=True)
    real = codes[: len(frames["real"])]
    frequency = np.bincount(real[real >= 0], minlength=len(uniques))
    order = np.argsort(-frequency, kind="stable")
    top = order[: min(max_categories - 1, int(np.count_nonzero(frequency >= 2)))]  # levels seen once share a code
    lookup = np.full(len(uniques) + 1, float(len(top)))
    lookup[top] = np.arange(len(top), dtype=float)
    lookup[-1] = np.nan
    mapped = lookup[codes]
    out, start = {}, 0
    for role in frames:
        out[role] = mapped[start: start + len(frames[role])]
        start += len(frames[role])
    return out


def test_detection_features_equal_its_own_factorisation(table):
    from core.checks.structure.detection import MAX_CATEGORIES, feature_matrix

    _, inputs, _ = table
    frames, metadata = inputs.frames, inputs.metadata
    x, columns, categorical, _ = feature_matrix(frames, metadata, encode_tables(frames, metadata))
    for j, (name, is_category) in enumerate(zip(columns, categorical)):
        old = (_old_frequency_codes(frames, name, MAX_CATEGORIES) if is_category else
               {r: continuous_values(f[name]) for r, f in frames.items()})
        for role in frames:
            np.testing.assert_array_equal(x[role][:, j], old[role])


def _old_encode_for_pca(frames: dict, metadata: dict) -> dict[str, np.ndarray]:
    parts = {r: [] for r in frames}
    for name, sdtype in metadata.items():
        if sdtype in CONTINUOUS_SDTYPES:
            vals = {r: continuous_values(f[name]) for r, f in frames.items()}
            real = vals["real"]
            mean = np.nanmean(real) if np.isfinite(real).any() else 0.0
            sd = np.nanstd(real) if np.isfinite(real).any() else 1.0
            sd = sd if sd > 0 else 1.0
            any_missing = any(np.isnan(v).any() for v in vals.values())
            for r, v in vals.items():
                parts[r].append(np.nan_to_num((v - mean) / sd, nan=0.0))
                if any_missing:
                    parts[r].append(np.isnan(v).astype(float))
        elif sdtype in DISCRETE_SDTYPES:
            top = list(frames["real"][name].value_counts().index[:10])
            for r, f in frames.items():
                s = f[name]
                onehot = [(s == level).to_numpy(dtype=float) for level in top] + [(~s.isin(top)).to_numpy(dtype=float)]
                parts[r].extend(o / np.sqrt(2.0) for o in onehot)
    return {r: np.column_stack(p) for r, p in parts.items()}


def test_pca_encoding_equals_its_own_one_hot(table):
    from core.checks.structure.pca import encode_for_pca

    _, inputs, _ = table
    frames, metadata = inputs.frames, inputs.metadata
    bundle = encode_tables(frames, metadata)
    rng = np.random.default_rng(0)
    positions = {r: np.sort(rng.choice(len(f), len(f) // 2, replace=False)) for r, f in frames.items()}
    new = encode_for_pca(frames, metadata, bundle, positions)
    old = _old_encode_for_pca({r: f.iloc[positions[r]] for r, f in frames.items()}, metadata)
    for role in frames:
        np.testing.assert_array_equal(new[role], old[role])


def _old_row_hashes(frame: pd.DataFrame, columns) -> np.ndarray:
    parts = {}
    for column in columns:
        series = frame[column]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_datetime64_any_dtype(series):
            parts[column] = pd.Series(numeric_values(series))
        else:
            parts[column] = pd.Series(category_keys(series))
    return pd.util.hash_pandas_object(pd.DataFrame(parts), index=False).to_numpy()


def _old_attack_matrix(frame: pd.DataFrame, encoding: DistanceEncoding) -> np.ndarray:
    out = np.empty((len(frame), len(encoding.columns)))
    for j, column in enumerate(encoding.columns):
        if encoding.sdtypes[column] in ("numerical", "datetime"):
            out[:, j] = numeric_values(frame[column])
        else:
            keys = category_keys(frame[column])
            codes = pd.Index(encoding.levels[column]).get_indexer(keys).astype(float)
            codes[keys == MISSING] = np.nan
            out[:, j] = codes
    return out


def _groups(hashes: np.ndarray) -> np.ndarray:
    """Which rows hash equal: the partition, whatever the hash values."""
    return pd.factorize(pd.Series(hashes))[0]


def test_privacy_encodings_equal_its_own_text_encodings(table):
    from core.checks.privacy.copies import row_hashes
    from core.checks.privacy.risks import attack_matrix

    _, inputs, _ = table
    frames, metadata = inputs.frames, inputs.metadata
    bundle = encode_tables(frames, metadata)
    encoding = bundle.distance_encoding()
    old_encoding = DistanceEncoding.fit(frames["real"], metadata, others=[frames["synthetic"], frames["holdout"]])
    assert encoding == old_encoding
    columns = list(encoding.columns)
    joined_new = np.concatenate([row_hashes(f, columns, bundle.level_codes(r)) for r, f in frames.items()])
    joined_old = np.concatenate([_old_row_hashes(f, columns) for f in frames.values()])
    np.testing.assert_array_equal(_groups(joined_new), _groups(joined_old))  # the same rows are equal
    for role, frame in frames.items():
        np.testing.assert_array_equal(bundle.coordinates(role), old_encoding.transform(frame))
        np.testing.assert_array_equal(attack_matrix(frame, encoding, bundle.level_codes(role)),
                                      _old_attack_matrix(frame, old_encoding))


def test_utility_categories_equal_its_own_text_categories(table):
    from core.checks.utility import _prepare

    _, inputs, target = table
    frames, metadata = inputs.frames, inputs.metadata
    args = (frames["real"], frames["synthetic"], frames["holdout"], metadata, target)
    own, shared = _prepare(*args), _prepare(*args, encode_tables(frames, metadata))
    for name in ("X_real", "X_synthetic", "X_holdout"):
        pd.testing.assert_frame_equal(getattr(own, name), getattr(shared, name))


def test_records_nearest_and_suspicion_equal_their_own_encoding(table):
    from core.review.records import nearest_real_records, nearest_real_rows, suspicion_scores

    _, inputs, _ = table
    frames, metadata = inputs.frames, inputs.metadata
    real, synthetic = frames["real"], frames["synthetic"]
    bundle = encode_tables(frames, metadata)
    positions = np.arange(0, len(synthetic), 3)
    old = nearest_real_records(real, synthetic.iloc[positions], metadata, others=(synthetic,))
    new = nearest_real_rows(bundle, positions)
    np.testing.assert_array_equal(new.positions, old.positions)
    np.testing.assert_array_equal(new.distances, old.distances)
    assert (new.distances == 0).any() and ((new.distances > 0) & (new.distances < 1e-6)).any()  # copies, 1e-9 ones
    distance = np.full(len(synthetic), np.nan)
    distance[positions] = new.distances
    own = suspicion_scores(real, synthetic, metadata, distance)
    shared = suspicion_scores(real, synthetic, metadata, distance, encoded=bundle)
    np.testing.assert_array_equal(own.score, shared.score)
    pd.testing.assert_frame_equal(own.cells, shared.cells)


def test_a_holdout_level_does_not_change_which_columns_records_combines():
    """Records counts a column's levels in the real and synthetic tables only, as before the bundle held the holdout."""
    from core.review.records import MAX_COMBINATION_LEVELS, suspicion_scores

    rng = np.random.default_rng(0)
    n = 2_000
    a = np.where(np.arange(n) < n // 2, "0", rng.integers(1, MAX_COMBINATION_LEVELS, n).astype(str))
    b = np.where(a == "0", "x", rng.choice(["x", "y"], n))  # ("0", "y") never occurs in the real table
    real = pd.DataFrame({"a": a, "b": b})
    synthetic = real.sample(frac=1.0, random_state=1).reset_index(drop=True)
    synthetic.loc[0, ["a", "b"]] = ["0", "y"]
    holdout = real.head(50).copy()
    holdout.loc[0, "a"] = "a level only the holdout has"  # the 61st level of the bundle
    metadata = {"a": "categorical", "b": "categorical"}
    frames = {"real": real, "synthetic": synthetic, "holdout": holdout}
    own = suspicion_scores(real, synthetic, metadata)
    shared = suspicion_scores(real, synthetic, metadata, encoded=encode_tables(frames, metadata))
    assert own.row_reasons["unseen_combination"].iloc[0]
    np.testing.assert_array_equal(own.score, shared.score)
    pd.testing.assert_frame_equal(own.cells, shared.cells)
