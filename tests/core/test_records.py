"""Records sampling: planted suspicious rows come first, samples are reproducible, nearest rows are exact."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import cdist

from core.errors import UsageError
from core.data.metadata import coerce_to_metadata
from core.review.records import (
    differing_cells,
    nearest_real_records,
    row_hashes,
    sample_records,
    suspicion_scores,
)

METADATA = {"x": "numerical", "colour": "categorical", "size": "categorical"}


def _tables(seed: int = 0, n: int = 400) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    colour = rng.choice(["red", "blue"], n)
    # size is tied to colour in the real data: red is always small, blue always large
    real = pd.DataFrame({"x": rng.normal(0, 1, n), "colour": colour,
                         "size": np.where(colour == "red", "small", "large")})
    synthetic = pd.DataFrame({"x": rng.normal(0, 1, n), "colour": rng.choice(["red", "blue"], n)})
    synthetic["size"] = np.where(synthetic["colour"] == "red", "small", "large")
    return coerce_to_metadata(real, METADATA, "real"), coerce_to_metadata(synthetic, METADATA, "synthetic")


def _planted() -> tuple[pd.DataFrame, pd.DataFrame]:
    real, synthetic = _tables()
    synthetic.loc[5, "x"] = 50.0  # out of range
    synthetic.loc[6, "colour"] = "green"  # unseen category
    synthetic.loc[7, ["colour", "size"]] = ["red", "large"]  # unseen combination of two common categories
    synthetic.loc[8] = real.loc[3]  # exact copy
    return real, synthetic


def test_planted_rows_are_flagged_with_their_reason_and_cell():
    real, synthetic = _planted()
    suspicion = suspicion_scores(real, synthetic, METADATA)
    assert suspicion.reasons(5) == ["out_of_range"]
    assert suspicion.cells.loc[5, "x"] == "out_of_range"
    assert suspicion.reasons(6) == ["unseen_category"]
    assert suspicion.cells.loc[6, "colour"] == "unseen_category"
    assert suspicion.reasons(7) == ["unseen_combination"]
    assert suspicion.cells.loc[7, "size"] == "unseen_combination"


def test_clean_control_has_no_out_of_range_unseen_or_combination_flags():
    real, synthetic = _tables(seed=1)
    synthetic["x"] = synthetic["x"].clip(real["x"].min(), real["x"].max())
    suspicion = suspicion_scores(real, synthetic, METADATA)
    assert not suspicion.row_reasons[["out_of_range", "unseen_category", "unseen_combination"]].any().any()


def test_suspicious_first_puts_the_planted_rows_first_and_copies_need_distances():
    real, synthetic = _planted()
    nearest = nearest_real_records(real, synthetic, METADATA)
    assert nearest.distances[8] == 0.0 and nearest.positions[8] == 3
    suspicion = suspicion_scores(real, synthetic, METADATA, nearest.distances)
    assert "exact_copy" in suspicion.reasons(8)
    near = int(suspicion.row_reasons["near_copy"].sum())  # natural near copies tie with the combination
    sample = sample_records(suspicion, 4 + near, seed=0, method="suspicious")
    assert sample.positions[0] == 8  # an exact copy weighs most
    assert set(sample.positions[1:3].tolist()) == {5, 6}
    assert 7 in sample.positions.tolist()
    assert sample.reasons[0][0] == "exact_copy"


def test_nearest_real_records_matches_brute_force():
    real, synthetic = _tables(seed=2, n=60)
    nearest = nearest_real_records(real, synthetic, METADATA)
    x = lambda f: np.column_stack([(f["x"] - real["x"].min()) / (real["x"].max() - real["x"].min()),
                                   (f["colour"] == "red") / np.sqrt(2), (f["size"] == "small") / np.sqrt(2)])
    brute = cdist(x(synthetic).astype(float), x(real).astype(float))
    np.testing.assert_allclose(nearest.distances, brute.min(axis=1), atol=1e-6)


def test_samples_are_reproducible_from_the_seed_and_stratified_covers_every_stratum():
    real, synthetic = _tables()
    suspicion = suspicion_scores(real, synthetic, METADATA)
    a = sample_records(suspicion, 50, seed=3, method="random")
    b = sample_records(suspicion, 50, seed=3, method="random")
    c = sample_records(suspicion, 50, seed=4, method="random")
    assert a.seed == 3 and np.array_equal(a.positions, b.positions) and not np.array_equal(a.positions, c.positions)
    assert len(set(a.positions.tolist())) == 50
    strata = pd.Series(np.where(np.arange(len(synthetic)) < 5, "rare", "common"), name="group")
    s = sample_records(suspicion, 20, seed=0, method="stratified", strata=strata)
    assert len(s.positions) == 20 and s.stratify == "group"
    assert (strata.iloc[s.positions] == "rare").sum() >= 1
    with pytest.raises(UsageError):
        sample_records(suspicion, 5, seed=0, method="stratified")
    with pytest.raises(UsageError):
        sample_records(suspicion, 5, seed=0, method="alphabetical")


def test_differing_cells_and_row_hashes():
    s = pd.DataFrame({"x": [1.0, 2.0, np.nan], "c": ["a", None, "b"]})
    r = pd.DataFrame({"x": [1.0, 2.5, np.nan], "c": ["a", None, "c"]})
    diff = differing_cells(s, r, {"x": "numerical", "c": "categorical"})
    assert diff.to_numpy().tolist() == [[False, False], [True, False], [False, True]]
    hashes = row_hashes(s)
    assert len(hashes) == 3 and hashes[0] != hashes[1] and row_hashes(s.iloc[[0]])[0] == hashes[0]


def test_noticed_is_the_same_with_or_without_the_full_distance_pass():
    from core.review.records import noticed_reasons, reason_label

    real, synthetic = _planted()
    quick = suspicion_scores(real, synthetic, METADATA)  # no distances (what a row opened from Privacy had)
    nearest = nearest_real_records(real, synthetic, METADATA)
    full = suspicion_scores(real, synthetic, METADATA, nearest_distance=nearest.distances)
    assert quick.reasons(8) == []  # the old "Noticed: nothing" for an exact copy
    for row in range(len(synthetic)):
        assert noticed_reasons(quick, row, nearest.distances[row]) == full.reasons(row), row
    assert noticed_reasons(quick, 8, 0.0) == ["exact_copy"]
    assert reason_label(quick, 7, "unseen_combination").endswith("(colour × size)")
    assert reason_label(quick, 5, "out_of_range") == "value outside the real range"


def test_flag_vocabulary_is_one_list():
    from core.review.records import FLAG_REASONS, flag_key
    from core.store.models import NOTE_FLAGS

    assert tuple(FLAG_REASONS) == NOTE_FLAGS
    assert flag_key("privacy risk") == flag_key("privacy_risk") == "privacy_risk"
    with pytest.raises(UsageError, match="not one of implausible, privacy risk"):
        flag_key("ugly")
