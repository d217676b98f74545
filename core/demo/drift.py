"""A demo "new batch" of real data for the drift checks: census income rows the demo never used, optionally
with a planted shift so a reviewer can watch drift detection work."""
from __future__ import annotations

import numpy as np
import pandas as pd

from core.demo import DEMO_COLUMNS, DEMO_ROWS, DEMO_SEED, census_income

NEW_CATEGORY = "Gig economy"
PLANTED_SHIFT = (
    "age +12 years (about half a standard deviation); 8% of class_of_worker in a new category "
    f"'{NEW_CATEGORY}'; 15% of wage_per_hour missing"
)


def unused_census_rows(
    census: pd.DataFrame | None = None, rows: int = DEMO_ROWS, seed: int = DEMO_SEED
) -> pd.DataFrame:
    """The census income rows (demo columns) that the demo's sample of `rows` rows with `seed` did not take."""
    census = (census_income() if census is None else census)[DEMO_COLUMNS]
    used = census.sample(rows, random_state=seed).index
    return census.drop(used)


def plant_shift(batch: pd.DataFrame, seed: int) -> pd.DataFrame:
    """A copy of the batch with the PLANTED_SHIFT applied (seeded choice of the rows changed)."""
    out = batch.copy()
    rng = np.random.default_rng(seed)
    out["age"] = out["age"] + 12
    worker = rng.random(len(out)) < 0.08
    out["class_of_worker"] = out["class_of_worker"].astype(object).where(~worker, NEW_CATEGORY)
    gone = rng.random(len(out)) < 0.15
    out["wage_per_hour"] = out["wage_per_hour"].astype(float).where(~gone)
    return out


def demo_new_batch(
    rows: int = 5000, seed: int = 1, shift: bool = False, unused: pd.DataFrame | None = None
) -> pd.DataFrame:
    """`rows` census rows the demo never used (seeded), with the planted shift when `shift`."""
    pool = unused_census_rows() if unused is None else unused
    batch = pool.sample(min(rows, len(pool)), random_state=seed).reset_index(drop=True)
    return plant_shift(batch, seed) if shift else batch
