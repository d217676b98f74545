"""The counts and sums the checks need, computed by SQL through an `Engine` (DuckDB, Spark or in memory).

Written only against core/engine/base.Engine, in the SQL subset DuckDB and Spark SQL share (GROUP BY,
COUNT, SUM, CASE, CAST, ABS, GROUPING SETS; no window functions); identifiers go through `engine.quote`. Every result is
small: distinct values with counts, contingency cells, or a handful of sums per pair.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

import pyarrow as pa
import pyarrow.compute as pc

from core.engine.base import Engine


def double_literal(value: float) -> str:
    """A double literal both dialects read exactly (repr round-trips; a bare 1.5 would be a DECIMAL)."""
    if math.isinf(value):
        return "CAST('Infinity' AS DOUBLE)" if value > 0 else "CAST('-Infinity' AS DOUBLE)"
    return f"CAST('{float(value)!r}' AS DOUBLE)"


def value_expr(engine: Engine, column: str, sdtype: str) -> str:
    """A continuous column as a DOUBLE expression, NULL where missing or not finite (as the coerced frame's NaN).

    Numbers as they are, datetimes as nanoseconds since 1970. `ABS(x) < Infinity` is false for NaN in both
    dialects (NaN sorts above every number), so NaN and +-inf become NULL, and every aggregate below simply
    skips NULLs.
    """
    quoted = engine.quote(column)
    if sdtype == "datetime":
        micros = f"unix_micros({quoted})" if engine.name == "spark" else f"epoch_us({quoted})"
        return f"(CAST({micros} AS DOUBLE) * 1000.0)"
    value = f"CAST({quoted} AS DOUBLE)"
    return f"(CASE WHEN ABS({value}) < {double_literal(math.inf)} THEN {value} END)"


def present_expr(expr: str) -> str:
    """SQL truth of a value_expr being present."""
    return f"({expr} IS NOT NULL)"


def value_counts(engine: Engine, table: str, exprs: dict[str, str]) -> tuple[int, dict[str, pa.Table]]:
    """The table's rows and, in ONE scan (GROUPING SETS), every distinct value of each named expression with
    its row count, NULL one of them: name -> Arrow table (the name's column as the engine typed it, n)."""
    names = list(exprs)
    if not names:
        return engine.row_count(table), {}
    projected = ", ".join(f"{exprs[k]} AS {k}" for k in names)
    flags = ", ".join(f"GROUPING({k}) AS g_{k}" for k in names)
    grouping = ", ".join([f"({k})" for k in names] + ["()"])
    result = engine.arrow(f"SELECT {', '.join(names)}, {flags}, COUNT(*) AS n FROM (SELECT {projected} FROM "
                          f"{engine.quote(table)}) AS p GROUP BY GROUPING SETS ({grouping})")
    grand = pc.equal(result.column(f"g_{names[0]}"), 1)
    for k in names[1:]:
        grand = pc.and_(grand, pc.equal(result.column(f"g_{k}"), 1))
    rows = int(pc.sum(result.filter(grand).column("n")).as_py() or 0)
    return rows, {k: result.filter(pc.equal(result.column(f"g_{k}"), 0)).select([k, "n"]) for k in names}


def projection(engine: Engine, table: str, exprs: dict[str, str]) -> str:
    """The query selecting each named expression once per row (the rows a Tally streams)."""
    return f"SELECT {', '.join(f'{expr} AS {name}' for name, expr in exprs.items())} FROM {engine.quote(table)}"


def bin_expr(expr: str, inner_edges: Sequence[float], missing_code: int) -> str:
    """The bin code np.digitize(x, [-inf, *inner_edges, inf]) - 1 gives a value_expr, missing (NULL) as `missing_code`."""
    cases = " ".join(f"WHEN {expr} < {double_literal(e)} THEN {i}" for i, e in enumerate(inner_edges))
    return f"(CASE WHEN {expr} IS NULL THEN {missing_code} {cases} ELSE {len(inner_edges)} END)"


def joint_counts(engine: Engine, table: str, a_expr: str, b_expr: str) -> pd.DataFrame:
    """Counts of every (a, b) cell present in the table: columns a, b, n (NULLs are groups of their own)."""
    return engine.sql(f"SELECT {a_expr} AS a, {b_expr} AS b, COUNT(*) AS n FROM {engine.quote(table)} "
                      f"GROUP BY {a_expr}, {b_expr}")


def _projected(engine: Engine, table: str, pairs: Sequence[tuple[str, str]]) -> tuple[str, list[tuple[str, str]]]:
    """A subquery computing each distinct expression once (as c0, c1, ...), and the pairs in those names."""
    names: dict[str, str] = {}
    for pair in pairs:
        for expr in pair:
            names.setdefault(expr, f"c{len(names)}")
    select = ", ".join(f"{expr} AS {name}" for expr, name in names.items())
    return f"(SELECT {select} FROM {engine.quote(table)}) AS p", [(names[x], names[y]) for x, y in pairs]


def pair_means(engine: Engine, table: str, pairs: Sequence[tuple[str, str]]) -> pd.DataFrame:
    """For each pair of value_exprs: rows where both are present, and both sums over those rows."""
    if not pairs:
        return pd.DataFrame(columns=["n", "sx", "sy"])
    source, named = _projected(engine, table, pairs)
    parts = []
    for i, (x, y) in enumerate(named):
        # x + 0.0 * y is x exactly where y is present (finite) and NULL where it is not: a complete-pair sum.
        parts += [f"COUNT({x} + {y}) AS n{i}", f"SUM({x} + 0.0 * {y}) AS sx{i}", f"SUM({y} + 0.0 * {x}) AS sy{i}"]
    row = engine.sql(f"SELECT {', '.join(parts)} FROM {source}").iloc[0]
    return pd.DataFrame([{"n": int(row[f"n{i}"] or 0), "sx": float(row[f"sx{i}"] or 0.0),
                          "sy": float(row[f"sy{i}"] or 0.0)} for i in range(len(pairs))])


def pair_moments(engine: Engine, table: str, pairs: Sequence[tuple[str, str]]) -> pd.DataFrame:
    """Pearson moments of each pair over its complete rows, two-pass (centred on the complete rows' means).

    Columns n, sxx, syy, sxy (centred sums). Two passes keep dates in nanoseconds (1e18) well conditioned.
    """
    means = pair_means(engine, table, pairs)
    if means.empty:
        return pd.DataFrame(columns=["n", "sxx", "syy", "sxy"])
    source, named = _projected(engine, table, pairs)
    parts = []
    for i, (x, y) in enumerate(named):
        n = int(means.loc[i, "n"])
        mx = means.loc[i, "sx"] / n if n else 0.0
        my = means.loc[i, "sy"] / n if n else 0.0
        dx, dy = f"({x} - {double_literal(mx)})", f"({y} - {double_literal(my)})"
        parts += [f"SUM({dx} * {dx} + 0.0 * {y}) AS xx{i}", f"SUM({dy} * {dy} + 0.0 * {x}) AS yy{i}",
                  f"SUM({dx} * {dy}) AS xy{i}"]
    row = engine.sql(f"SELECT {', '.join(parts)} FROM {source}").iloc[0]
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
    return engine.sql(
        f"SELECT a, COUNT(v) AS n, COALESCE(SUM(v), 0.0) AS s, COALESCE(SUM(v * v), 0.0) AS ss "
        f"FROM (SELECT {category} AS a, {value} AS v FROM {engine.quote(table)}) AS p GROUP BY a")


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
        return f"({value_expr(engine, column, sdtype)} IS NULL)"
    return f"({engine.quote(column)} IS NULL)"


def grouped_counts(engine: Engine, table: str, exprs: dict[str, str], sets: Sequence[tuple[str, ...]]) -> dict:
    """Row counts of every group of several GROUP BY sets in ONE scan (GROUPING SETS): set -> frame (keys..., n).

    `exprs` names each grouping expression (k0, k1, ...); GROUPING() tells a real NULL from a column left out.
    """
    if not sets:
        return {}
    names = list(exprs)
    projected = ", ".join(f"{exprs[k]} AS {k}" for k in names)
    flags = ", ".join(f"GROUPING({k}) AS g_{k}" for k in names)
    grouping = ", ".join("(" + ", ".join(s) + ")" for s in sets)
    frame = engine.sql(f"SELECT {', '.join(names)}, {flags}, COUNT(*) AS n FROM (SELECT {projected} FROM "
                       f"{engine.quote(table)}) AS p GROUP BY GROUPING SETS ({grouping})")
    out = {}
    for s in sets:
        inside = np.ones(len(frame), dtype=bool)
        for k in names:
            inside &= (frame[f"g_{k}"].to_numpy() == 0) == (k in s)
        out[tuple(s)] = frame.loc[inside, [*s, "n"]].reset_index(drop=True)
    return out


def grouped_sums(engine: Engine, table: str, groups: dict[str, str], values: dict[str, str]) -> dict:
    """Per group value of each grouping expression, ONE scan: count, sum and sum of squares of every value.

    Returns group name -> frame (key, n_v, s_v, ss_v for each value name v); NULL keys are a group.
    """
    if not groups or not values:
        return {}
    names = list(groups)
    projected = ", ".join([f"{groups[k]} AS {k}" for k in names] + [f"{values[v]} AS {v}" for v in values])
    parts = []
    for v in values:
        parts += [f"COUNT({v}) AS n_{v}", f"COALESCE(SUM({v}), 0.0) AS s_{v}", f"COALESCE(SUM({v} * {v}), 0.0) AS ss_{v}"]
    flags = ", ".join(f"GROUPING({k}) AS g_{k}" for k in names)
    grouping = ", ".join(f"({k})" for k in names)
    frame = engine.sql(f"SELECT {', '.join(names)}, {flags}, {', '.join(parts)} FROM (SELECT {projected} FROM "
                       f"{engine.quote(table)}) AS p GROUP BY GROUPING SETS ({grouping})")
    out = {}
    for k in names:
        inside = np.ones(len(frame), dtype=bool)
        for other in names:
            inside &= (frame[f"g_{other}"].to_numpy() == 0) == (other == k)
        keep = [k] + [c for v in values for c in (f"n_{v}", f"s_{v}", f"ss_{v}")]
        out[k] = frame.loc[inside, keep].reset_index(drop=True)
    return out
