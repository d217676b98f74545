"""The locked holdout: seeded, stratified when asked, and identified by hashes."""
from __future__ import annotations

import pytest

from core.errors import UsageError
from core.data.holdout import split_holdout
from core.data.io import sha256_frame


def test_split_is_reproducible_and_disjoint(census):
    a = split_holdout(census, 0.25, seed=3)
    b = split_holdout(census, 0.25, seed=3)
    c = split_holdout(census, 0.25, seed=4)
    assert a.holdout_sha256 == b.holdout_sha256 and a.train_sha256 == b.train_sha256
    assert a.holdout_sha256 != c.holdout_sha256
    assert len(a.holdout) == 3000 and len(a.train) == 9000
    assert a.holdout_sha256 == sha256_frame(a.holdout)
    assert a.source_sha256 == sha256_frame(census)
    keys = lambda f: set(map(tuple, f.astype(str).to_numpy()))
    # every real row lands on exactly one side (duplicates in the source aside)
    assert len(a.train) + len(a.holdout) == len(census)
    assert a.manifest()["seed"] == 3 and a.manifest()["holdout_rows"] == 3000
    assert keys(a.holdout) <= keys(census)


def test_stratified_split_keeps_class_shares(census):
    split = split_holdout(census, 0.2, seed=1, stratify="income_gt_50k")
    real = census["income_gt_50k"].value_counts(normalize=True)
    held = split.holdout["income_gt_50k"].value_counts(normalize=True)
    for label in real.index:
        assert held[label] == pytest.approx(real[label], abs=1.0 / len(split.holdout) * 2)


def test_bad_requests(census):
    with pytest.raises(UsageError, match="between 0 and 1"):
        split_holdout(census, 1.5)
    with pytest.raises(UsageError, match="column 'nope'"):
        split_holdout(census, 0.2, stratify="nope")


def test_stratifying_on_a_unique_column_is_refused(census):
    frame = census.head(50).assign(row=range(50))
    with pytest.raises(UsageError, match="column 'row': stratifying 50 rows on 50 value"):
        split_holdout(frame, 0.2, stratify="row")


def test_group_split_deals_whole_sequences_whatever_the_row_order():
    import numpy as np
    import pandas as pd

    from core.data.holdout import split_holdout

    frame = pd.DataFrame({"plane": np.repeat([f"N{i}" for i in range(40)], 5), "t": np.tile(range(5), 40)})
    split = split_holdout(frame, 0.25, seed=3, group="plane")
    assert not set(split.train["plane"]) & set(split.holdout["plane"])
    assert split.holdout["plane"].nunique() == 10 and len(split.holdout) == 50
    assert split.manifest()["group"] == "plane" and split.manifest()["stratify"] is None
    shuffled = split_holdout(frame.sample(frac=1, random_state=1), 0.25, seed=3, group="plane")
    assert set(shuffled.holdout["plane"]) == set(split.holdout["plane"])
    with pytest.raises(UsageError, match="'tail'"):
        split_holdout(frame, 0.25, seed=3, group="tail")
