"""smartnoise column transformer for the declared bins of core/generate/bins.py (MST and AIM)."""
from __future__ import annotations

import math

import numpy as np
from snsql.sql._mechanisms.approx_bounds import approx_bounds
from snsql.sql.privacy import Privacy
from snsynth.transform.base import CachingColumnTransformer
from snsynth.transform.definitions import ColumnType

from core.generate.bins import BinDeclaration, Binning, plan_binning


class DeclaredBinTransformer(CachingColumnTransformer):
    """Bins a numeric column as `plan_binning` declares and decodes by its DECODE_RULE; without public bounds it
    estimates them with smartnoise's approx_bounds on its share of the preprocessing epsilon (as BinTransformer)."""

    def __init__(self, *, declaration: BinDeclaration | None, bins: int, max_bins: int,
                 lower: float | None = None, upper: float | None = None, nullable: bool = False,
                 seed: int | list[int] = 0, odometer=None):
        self.declaration = declaration
        self.bins = bins
        self.max_bins = max_bins
        self.lower = lower
        self.upper = upper
        self.nullable = nullable
        self.epsilon = 0.0
        self.odometer = odometer
        self.budget_spent: list[float] = []
        self.binning: Binning | None = None
        self.rng = np.random.default_rng(seed)
        super().__init__()

    @property
    def output_type(self):
        return ColumnType.CATEGORICAL

    @property
    def needs_epsilon(self) -> bool:
        return self.lower is None or self.upper is None

    @property
    def cardinality(self) -> list[int]:
        size = self.binning.size if self.binning is not None else 0
        return [size, 2] if self.nullable else [size]

    def allocate_privacy_budget(self, epsilon, odometer):
        self.epsilon = epsilon
        self.odometer = odometer

    def _clear_fit(self):
        self._reset_fit()
        self.fit_lower, self.fit_upper = self.lower, self.upper
        self.binning = None

    def _fit_finish(self):
        if self.needs_epsilon:
            if not self.epsilon > 0.0:
                raise ValueError("DeclaredBinTransformer requires either epsilon or min and max.")
            values = [v for v in self._fit_vals if v is not None and not (isinstance(v, float) and np.isnan(v))]
            self.fit_lower, self.fit_upper = approx_bounds(values, self.epsilon)
            if self.odometer is not None:
                self.odometer.spend(Privacy(epsilon=self.epsilon, delta=0.0))
            self.budget_spent.append(self.epsilon)
            if self.fit_lower is None or self.fit_upper is None:
                raise ValueError("BinTransformer could not find bounds.")
        self.binning = plan_binning(float(self.fit_lower), float(self.fit_upper), self.declaration, self.bins,
                                    self.max_bins)
        self._fit_vals = []
        self._fit_complete = True
        self.output_width = 2 if self.nullable else 1

    @staticmethod
    def _missing(value) -> bool:
        return value is None or (isinstance(value, float) and math.isnan(value))

    def _transform(self, val):
        if self._missing(val):
            if not self.nullable:
                raise ValueError("Cannot transform None or NaN.  Consider setting nullable=True.")
            return (0, 1)
        code = self.binning.code(float(val))
        return (code, 0) if self.nullable else code

    def _inverse_transform(self, val):
        if self.nullable:
            val, missing = val
            if missing == 1 or self._missing(val):
                return None
        return self.binning.value(int(val), float(self.rng.random()))
