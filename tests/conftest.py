"""Shared fixtures: real tables that ship inside installed packages, split three ways."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent


def three_way_split(frame: pd.DataFrame, seed: int = 0, fractions=(0.6, 0.2)) -> tuple[pd.DataFrame, ...]:
    """Train, holdout and a fresh real sample that neither contains (the clean control)."""
    order = np.random.default_rng(seed).permutation(len(frame))
    a = int(len(frame) * fractions[0])
    b = a + int(len(frame) * fractions[1])
    parts = (order[:a], order[a:b], order[b:])
    return tuple(frame.iloc[p].reset_index(drop=True) for p in parts)


@pytest.fixture(scope="session")
def census() -> pd.DataFrame:
    """12,000 rows of the census income table, the demo's columns."""
    from core.demo import DEMO_COLUMNS, census_income

    return census_income()[DEMO_COLUMNS].sample(12_000, random_state=1).reset_index(drop=True)


@pytest.fixture(scope="session")
def penguins() -> pd.DataFrame:
    """Palmer penguins, 344 rows, mixed types with missing values."""
    from palmerpenguins import load_penguins

    return load_penguins()


@pytest.fixture(scope="session")
def wine() -> pd.DataFrame:
    """scikit-learn's wine table, numeric with a class column."""
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame
    frame["target"] = frame["target"].map({0: "class_0", 1: "class_1", 2: "class_2"})
    return frame


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        yield


def skip_or_fail(reason: str) -> None:
    """Skip a test whose service is absent, but fail it in CI, where every service must be there."""
    import os

    if os.environ.get("REVIEW_DESK_REQUIRE_SERVICES") == "1":
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)
