"""The counts and sums the checks need, computed by SQL through an `Engine` (DuckDB, Spark or in memory).

Written only against core/engine/base.Engine, in the SQL subset DuckDB and Spark SQL share (GROUP BY,
COUNT, SUM, CASE, CAST, isnan; no window functions); identifiers go through `engine.quote`. Every result is
small: distinct values with counts, contingency cells, or a handful of sums per pair.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from core.engine.base import Engine


def _float_literal(value: float) -> str:
    """A double literal both dialects read exactly (repr round-trips; a bare 1.5 would be a DECIMAL)."""
    if math.isinf(value):
        return "CAST('Infinity' AS DOUBLE)" if value > 0 else "CAST('-Infinity' AS DOUBLE)"
    return f"CAST('{float(value)!r}' AS DOUBLE)"


def value_expr(engine: Engine, column: str, sdtype: str) -> str:
    """A continuous column as a DOUBLE expression: numbers as they are, datetimes as nanoseconds since 1970."""
    quoted = engine.quote(column)
    if sdtype == "datetime":
        micros = f"unix_micros({quoted})" if engine.name == "spark" else f"epoch_us({quoted})"
        return f"(CAST({micros} AS DOUBLE) * 1000.0)"
    return f"CAST({quoted} AS DOUBLE)"


def present_expr(expr: str) -> str:
    """SQL truth of a DOUBLE expression being present (not NULL and not NaN, as the in-memory NaN is)."""
    return f"({expr} IS NOT NULL AND NOT isnan({expr}))"


def distinct_values(engine: Engine, table: str, expr: str) -> pd.DataFrame:
    """Every distinct value of `expr` with its row count (NULL included as one row): columns v, n."""
    return engine.sql(f"SELECT {expr} AS v, COUNT(*) AS n FROM {engine.quote(table)} GROUP BY {expr}")


def bin_expr(expr: str, inner_edges: Sequence[float], missing_code: int) -> str:
    """The bin code np.digitize(x, [-inf, *inner_edges, inf]) - 1 gives, missing (NULL/NaN) as `missing_code`."""
    cases = " ".join(f"WHEN {expr} < {_float_literal(e)} THEN {i}" for i, e in enumerate(inner_edges))
    return (f"(CASE WHEN {expr} IS NULL OR isnan({expr}) THEN {missing_code} {cases} "
            f"ELSE {len(inner_edges)} END)")


def joint_counts(engine: Engine, table: str, a_expr: str, b_expr: str) -> pd.DataFrame:
    """Counts of every (a, b) cell present in the table: columns a, b, n (NULLs are groups of their own)."""
    return engine.sql(f"SELECT {a_expr} AS a, {b_expr} AS b, COUNT(*) AS n FROM {engine.quote(table)} "
                      f"GROUP BY {a_expr}, {b_expr}")


def pair_means(engine: Engine, table: str, pairs: Sequence[tuple[str, str]]) -> pd.DataFrame:
    """For each pair of DOUBLE expressions: rows where both are present, and both sums over those rows."""
    if not pairs:
        return pd.DataFrame(columns=["n", "sx", "sy"])
    parts = []
    for i, (x, y) in enumerate(pairs):
        both = f"{present_expr(x)} AND {present_expr(y)}"
        parts += [f"SUM(CASE WHEN {both} THEN 1 ELSE 0 END) AS n{i}",
                  f"SUM(CASE WHEN {both} THEN {x} ELSE 0.0 END) AS sx{i}",
                  f"SUM(CASE WHEN {both} THEN {y} ELSE 0.0 END) AS sy{i}"]
    row = engine.sql(f"SELECT {', '.join(parts)} FROM {engine.quote(table)}").iloc[0]
    return pd.DataFrame([{"n": int(row[f"n{i}"] or 0), "sx": float(row[f"sx{i}"] or 0.0),
                          "sy": float(row[f"sy{i}"] or 0.0)} for i in range(len(pairs))])


def pair_moments(engine: Engine, table: str, pairs: Sequence[tuple[str, str]]) -> pd.DataFrame:
    """Pearson moments of each pair over its complete rows, two-pass (centred on the complete rows' means).

    Columns n, sxx, syy, sxy (centred sums). Two passes keep dates in nanoseconds (1e18) well conditioned.
    """
    means = pair_means(engine, table, pairs)
    if means.empty:
        return pd.DataFrame(columns=["n", "sxx", "syy", "sxy"])
    parts = []
    for i, (x, y) in enumerate(pairs):
        n = int(means.loc[i, "n"])
        mx = means.loc[i, "sx"] / n if n else 0.0
        my = means.loc[i, "sy"] / n if n else 0.0
        both = f"{present_expr(x)} AND {present_expr(y)}"
        dx, dy = f"({x} - {_float_literal(mx)})", f"({y} - {_float_literal(my)})"
        parts += [f"SUM(CASE WHEN {both} THEN {dx} * {dx} ELSE 0.0 END) AS xx{i}",
                  f"SUM(CASE WHEN {both} THEN {dy} * {dy} ELSE 0.0 END) AS yy{i}",
                  f"SUM(CASE WHEN {both} THEN {dx} * {dy} ELSE 0.0 END) AS xy{i}"]
    row = engine.sql(f"SELECT {', '.join(parts)} FROM {engine.quote(table)}").iloc[0]
    return pd.DataFrame([{"n": int(means.loc[i, "n"]), "sxx": float(row[f"xx{i}"] or 0.0),
                          "syy": float(row[f"yy{i}"] or 0.0), "sxy": float(row[f"xy{i}"] or 0.0)}
                         for i in range(len(pairs))])


def pearson_from_moments(moments: pd.DataFrame) -> np.ndarray:
    """Pearson r of each row of pair_moments; NaN with fewer than 2 rows or a constant side."""
    n = moments["n"].to_numpy(dtype=float)
    sxx, syy, sxy = (moments[c].to_numpy(dtype=float) for c in ("sxx", "syy", "sxy"))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = sxy / np.sqrt(sxx * syy)
    r[(n < 2) | ~(sxx > 0) | ~(syy > 0)] = np.nan
    return np.clip(r, -1.0, 1.0)


def category_sums(engine: Engine, table: str, category: str, value: str) -> pd.DataFrame:
    """Per category value (NULL a group): rows where `value` is present, their sum and sum of squares."""
    ok = present_expr(value)
    return engine.sql(
        f"SELECT {category} AS a, SUM(CASE WHEN {ok} THEN 1 ELSE 0 END) AS n, "
        f"SUM(CASE WHEN {ok} THEN {value} ELSE 0.0 END) AS s, "
        f"SUM(CASE WHEN {ok} THEN {value} * {value} ELSE 0.0 END) AS ss "
        f"FROM {engine.quote(table)} GROUP BY {category}")


def missing_counts(engine: Engine, table: str, missing: dict[str, str]) -> tuple[int, pd.DataFrame]:
    """Rows, and for every two columns the rows where both are missing (diagonal: missing per column).

    `missing` maps a column name to the SQL truth of its value being missing.
    """
    names = list(missing)
    parts = ["COUNT(*) AS total"]
    for i, a in enumerate(names):
        for j in range(i, len(names)):
            both = missing[a] if i == j else f"({missing[a]}) AND ({missing[names[j]]})"
            parts.append(f"SUM(CASE WHEN {both} THEN 1 ELSE 0 END) AS m{i}_{j}")
    row = engine.sql(f"SELECT {', '.join(parts)} FROM {engine.quote(table)}").iloc[0]
    matrix = np.zeros((len(names), len(names)), dtype=np.int64)
    for i in range(len(names)):
        for j in range(i, len(names)):
            matrix[i, j] = matrix[j, i] = int(row[f"m{i}_{j}"] or 0)
    return int(row["total"]), pd.DataFrame(matrix, index=names, columns=names)


def missing_expr(engine: Engine, column: str, sdtype: str) -> str:
    """SQL truth of a column's value being missing (NULL, or NaN for numbers)."""
    if sdtype == "numerical":
        expr = value_expr(engine, column, sdtype)
        return f"({expr} IS NULL OR isnan({expr}))"
    return f"({engine.quote(column)} IS NULL)"
