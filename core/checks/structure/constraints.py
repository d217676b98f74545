"""Constraints (sdmetrics 0.32's ConstraintAdherence and Data Validity): rules every real training row keeps,
inferred from the training data or declared by the user, and the share of synthetic rows breaking each.

Inferred rules (each must hold in every training row where its columns are present):
* `a <= b` between two numerical or datetime columns whose ranges overlap (else the range check covers it)
  and that are not equal in every row;
* integer-only, or at most k decimal places (k <= 4), for a numerical column;
* non-negative for a numerical column whose real minimum is >= 0;
* fixed category combinations for two categorical/boolean columns: the combinations absent from the real
  rows although independence predicts at least MIN_EXPECTED real rows for them are forbidden;
* a format for an id or text column: each value's shape (letter runs as `a`, digit runs as `9`, other
  characters kept, so `jane.doe@mail.com` is `a.a@a.a`), when the real values have at most MAX_SHAPES shapes.
Declared rules: `column op column` or `column op number`, op one of < <= > >= == !=.
Each rule's breaking share in the synthetic table is judged against what real rows show: the holdout's own
breaking count, as a Jeffreys-smoothed binomial at the synthetic size, its quantile read exactly
(common.judge_binomial_items).
"""
from __future__ import annotations

import itertools
import operator
import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from core.checks.structure.common import Item, items_gate, judge_binomial_items
from core.data.encoding import continuous_values
from core.data.metadata import CONTINUOUS_SDTYPES, DISCRETE_SDTYPES
from core.errors import UsageError
from core.gates import Gate

MIN_EXPECTED = 5.0
MAX_COMBINATION_LEVELS = 50
MAX_SHAPES = 10
MAX_DECIMALS = 4
MIN_ROWS = 20
RESAMPLES = 200
ROWS_KEPT = 1_000  # breaking synthetic rows kept per rule for the Records page
_OPS: dict[str, Callable] = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt,
                             "==": operator.eq, "!=": operator.ne}
_DECLARED = re.compile(r"^\s*(.+?)\s*(<=|>=|==|!=|<|>)\s*(.+?)\s*$")


@dataclass
class Rule:
    """One rule: its text, kind, columns and a vectorized test giving True where a row breaks it."""

    text: str
    kind: str  # inequality | integer | decimals | non_negative | combination | format | declared
    columns: tuple[str, ...]
    breaks: Callable[[pd.DataFrame], np.ndarray] = field(repr=False)


@dataclass
class ConstraintsResult:
    """The rules, each one's breaking share in synthetic and holdout, the breaking rows and the gate."""

    rules: list[Rule]
    items: list[Item]
    breaking_rows: dict[str, np.ndarray]  # rule text -> synthetic row positions breaking it (first ROWS_KEPT)
    breaking_count: np.ndarray  # per synthetic row: how many rules it breaks
    gate: Gate | None
    skipped: str | None = None

    def to_dict(self) -> dict:
        """The report's `structure.constraints` section."""
        by = {i.label: i for i in self.items}
        return {"skipped": self.skipped, "rules": [
            {"rule": r.text, "kind": r.kind, "columns": list(r.columns), **(by[r.text].to_dict() if r.text in by else {}),
             "breaking_rows": [int(p) for p in self.breaking_rows.get(r.text, [])[:20]]} for r in self.rules]}


def _num(frame: pd.DataFrame, column: str) -> np.ndarray:
    return continuous_values(frame[column])


def _inequality(a: str, b: str) -> Rule:
    def breaks(frame: pd.DataFrame) -> np.ndarray:
        x, y = _num(frame, a), _num(frame, b)
        with np.errstate(invalid="ignore"):
            return x > y
    return Rule(f"{a} <= {b}", "inequality", (a, b), breaks)


def _decimals(values: np.ndarray) -> int | None:
    """Fewest decimal places (0..MAX_DECIMALS) every value has, or None."""
    for d in range(MAX_DECIMALS + 1):
        scaled = values * 10.0 ** d
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-6 * np.maximum(1.0, np.abs(scaled))):
            return d
    return None


def _decimal_rule(column: str, d: int) -> Rule:
    def breaks(frame: pd.DataFrame) -> np.ndarray:
        scaled = _num(frame, column) * 10.0 ** d
        with np.errstate(invalid="ignore"):
            return np.abs(scaled - np.round(scaled)) > 1e-6 * np.maximum(1.0, np.abs(scaled))
    text = f"{column} is a whole number" if d == 0 else f"{column} has at most {d} decimal places"
    return Rule(text, "integer" if d == 0 else "decimals", (column,), breaks)


def _non_negative(column: str) -> Rule:
    def breaks(frame: pd.DataFrame) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return _num(frame, column) < 0
    return Rule(f"{column} >= 0", "non_negative", (column,), breaks)


def _combination(a: str, b: str, forbidden: set) -> Rule:
    def breaks(frame: pd.DataFrame) -> np.ndarray:
        pairs = pd.MultiIndex.from_arrays([frame[a].astype(object), frame[b].astype(object)])
        return np.asarray(pairs.isin(list(forbidden)), dtype=bool) & frame[a].notna().to_numpy() & frame[b].notna().to_numpy()
    return Rule(f"only the real combinations of {a} and {b} ({len(forbidden)} forbidden)", "combination",
                (a, b), breaks)


def value_shapes(series: pd.Series) -> pd.Series:
    """Each value's shape: letter runs as 'a', digit runs as '9', other characters kept."""
    text = series.dropna().astype(str)
    return text.str.replace(r"[^\W\d_]+", "a", regex=True).str.replace(r"\d+", "9", regex=True)


def _format(column: str, shapes: set[str]) -> Rule:
    def breaks(frame: pd.DataFrame) -> np.ndarray:
        out = np.zeros(len(frame), dtype=bool)
        s = frame[column]
        present = s.notna().to_numpy()
        out[present] = ~value_shapes(s).isin(shapes).to_numpy()
        return out
    shown = ", ".join(sorted(shapes)[:3]) + (" ..." if len(shapes) > 3 else "")
    return Rule(f"{column} has a real format ({shown})", "format", (column,), breaks)


def parse_declared(text: str, metadata: dict[str, str]) -> Rule:
    """A declared rule 'column op column' or 'column op number' (UsageError names what is wrong)."""
    match = _DECLARED.match(text)
    if not match:
        raise UsageError(f"declared constraint {text!r}: expected 'column op column' or 'column op number'")
    left, op, right = match.groups()
    if left not in metadata:
        raise UsageError(f"declared constraint {text!r}: column {left!r} is not in the tables")
    try:
        number: float | None = float(right)
    except ValueError:
        number = None
        if right not in metadata:
            raise UsageError(f"declared constraint {text!r}: {right!r} is neither a column nor a number") from None
    compare = _OPS[op]

    def breaks(frame: pd.DataFrame) -> np.ndarray:
        x = _num(frame, left) if metadata[left] in CONTINUOUS_SDTYPES else frame[left].to_numpy()
        y = number if number is not None else (_num(frame, right) if metadata[right] in CONTINUOUS_SDTYPES
                                               else frame[right].to_numpy())
        present = ~pd.isna(x) & (True if number is not None else ~pd.isna(y))
        with np.errstate(invalid="ignore"):
            ok = np.asarray(compare(x, y), dtype=bool)
        return present & ~ok
    return Rule(text.strip(), "declared", (left,) if number is not None else (left, right), breaks)


def infer_rules(train: pd.DataFrame, metadata: dict[str, str]) -> list[Rule]:
    """Every rule of the kinds above that holds in each training row."""
    rules: list[Rule] = []
    continuous = [c for c, t in metadata.items() if t in CONTINUOUS_SDTYPES]
    values = {c: _num(train, c) for c in continuous}
    for a, b in itertools.permutations(continuous, 2):
        x, y = values[a], values[b]
        both = ~np.isnan(x) & ~np.isnan(y)
        if both.sum() < MIN_ROWS or metadata[a] != metadata[b]:
            continue
        x, y = x[both], y[both]
        if np.all(x <= y) and np.any(x < y) and np.nanmax(values[a]) > np.nanmin(values[b]):
            rules.append(_inequality(a, b))
    for c in continuous:
        present = values[c][~np.isnan(values[c])]
        if metadata[c] != "numerical" or present.size < MIN_ROWS:
            continue
        d = _decimals(present)
        if d is not None:
            rules.append(_decimal_rule(c, d))
        if present.min() >= 0:
            rules.append(_non_negative(c))
    discrete = [c for c, t in metadata.items() if t in DISCRETE_SDTYPES]
    for a, b in itertools.combinations(discrete, 2):
        both = train[[a, b]].dropna()
        ca, cb = both[a].value_counts(), both[b].value_counts()
        if len(both) < MIN_ROWS or not (2 <= len(ca) <= MAX_COMBINATION_LEVELS and 2 <= len(cb) <= MAX_COMBINATION_LEVELS):
            continue
        seen = set(map(tuple, both.drop_duplicates().astype(object).to_numpy()))
        expected = np.outer(ca.to_numpy(), cb.to_numpy()) / len(both)
        forbidden = {(va, vb) for i, va in enumerate(ca.index) for j, vb in enumerate(cb.index)
                     if expected[i, j] >= MIN_EXPECTED and (va, vb) not in seen}
        if forbidden:
            rules.append(_combination(a, b, forbidden))
    for c, t in metadata.items():
        if t not in ("id", "text"):
            continue
        shapes = value_shapes(train[c])
        distinct = set(shapes.unique())
        if len(shapes) >= MIN_ROWS and len(distinct) <= MAX_SHAPES:
            rules.append(_format(c, distinct))
    return rules


def evaluate_constraints(train: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame | None,
                         metadata: dict[str, str], *, declared: list[str] | tuple[str, ...] = (), alpha: float = 0.01,
                         seed: int = 0, resamples: int = RESAMPLES) -> ConstraintsResult:
    """Infer the training data's rules, add the declared ones, and judge each synthetic breaking share."""
    rules = [parse_declared(text, metadata) for text in declared] + infer_rules(train, metadata)
    counts = np.zeros(len(synthetic), dtype=np.int64)
    rows: dict[str, np.ndarray] = {}
    synthetic_breaks = {}
    for rule in rules:
        broken = rule.breaks(synthetic)
        counts += broken
        synthetic_breaks[rule.text] = broken
        rows[rule.text] = np.flatnonzero(broken)[:ROWS_KEPT]
    if holdout is None:
        return ConstraintsResult(rules, [], rows, counts, None, "no holdout: the null needs real rows not trained on")
    values = []
    for rule in rules:
        hold = int(rule.breaks(holdout).sum())
        share = float(synthetic_breaks[rule.text].mean()) if len(synthetic) else 0.0
        values.append((rule.text, share, hold, len(holdout), len(synthetic), hold / max(len(holdout), 1), share))
    items = judge_binomial_items("constraints", values, alpha)
    return ConstraintsResult(rules, items, rows, counts,
                             items_gate("constraints", items, "rules", "no rule holds in every training row"))
