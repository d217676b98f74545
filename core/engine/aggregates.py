"""The SQL the checks send through an `Engine` (DuckDB, Spark or in memory): value counts, sums, projections.

Written only against core/engine/base.Engine, in the SQL subset DuckDB and Spark SQL share (GROUP BY,
COUNT, SUM, CASE, CAST, ABS, GROUPING SETS; no window functions); identifiers go through `engine.quote`. Every
aggregate's result is small (distinct values with counts, a handful of sums); the projection's rows are streamed
through a tally (core/engine/tally.py), which counts pair cells and sums moments in one scan per table.
"""

from __future__ import annotations

import math

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


def value_counts(engine: Engine, table: str, exprs: dict[str, str], continuous: set[str] | None = None,
                 limit: int | None = None) -> tuple[int, dict[str, pa.Table]]:
    """The table's rows and every distinct value of each named expression with its row count (NULL one of
    them): name -> Arrow table (value, n). At most two queries, whatever the number of columns:

    - the `continuous` names (DOUBLE expressions): one UNION ALL of a GROUP BY per column, narrow rows
      (name, value, n); each keeps at most `limit` + 1 values, so a column with more says so without its
      values filling this process's memory (an engine with `stack` set groups stack()ed rows (k, v) once, and
      one with `arrow_capped` caps each column's values after the GROUP BY instead),
    - the others (typed as the engine reads them): one GROUPING SETS query, one scan, with the row count (an
      engine with `grouping_sets` False: a UNION ALL of a GROUP BY per column).
    """
    continuous = continuous or set()
    discrete = [k for k in exprs if k not in continuous]
    out: dict[str, pa.Table] = {}
    rows = None
    if discrete and getattr(engine, "grouping_sets", True):
        projected = ", ".join(f"{exprs[k]} AS {k}" for k in discrete)
        flags = ", ".join(f"GROUPING({k}) AS g_{k}" for k in discrete)
        grouping = ", ".join([f"({k})" for k in discrete] + ["()"])
        result = engine.arrow(f"SELECT {', '.join(discrete)}, {flags}, COUNT(*) AS n FROM (SELECT {projected} FROM "
                              f"{engine.quote(table)}) AS p GROUP BY GROUPING SETS ({grouping})")
        grand = pc.equal(result.column(f"g_{discrete[0]}"), 1)
        for k in discrete[1:]:
            grand = pc.and_(grand, pc.equal(result.column(f"g_{k}"), 1))
        rows = int(pc.sum(result.filter(grand).column("n")).as_py() or 0)
        out |= {k: result.filter(pc.equal(result.column(f"g_{k}"), 0)).select([k, "n"]) for k in discrete}
    elif discrete:
        # Spark: GROUPING SETS copies every row once per set; a GROUP BY per column (one column of each
        # branch holds its values, typed as read; NULL in the others) costs about half as much.
        branches = " UNION ALL ".join(
            f"(SELECT {i} AS i, {', '.join(f'{exprs[k]} AS {k}' if k == name else f'NULL AS {k}' for k in discrete)}, "
            f"COUNT(*) AS n FROM {engine.quote(table)} GROUP BY {exprs[name]})" for i, name in enumerate(discrete))
        result = engine.arrow(f"SELECT * FROM ({branches}) AS u")
        out |= {name: result.filter(pc.equal(result.column("i"), i)).select([name, "n"])
                for i, name in enumerate(discrete)}
    numeric = [k for k in exprs if k in continuous]
    if numeric:
        capped = limit is not None and hasattr(engine, "arrow_capped")
        cut = f" LIMIT {int(limit) + 1}" if limit is not None and not capped else ""
        if getattr(engine, "stack", False):
            # Spark: one GROUP BY (k, v) over stack()ed rows compiles (and JIT-compiles) one aggregate, not one
            # per column: about a quarter less CPU than the UNION ALL
            body = ", ".join(f"{i}, {exprs[name]}" for i, name in enumerate(numeric))
            query = (f"SELECT k, v, COUNT(*) AS n FROM (SELECT stack({len(numeric)}, {body}) AS (k, v) FROM "
                     f"{engine.quote(table)}) AS s GROUP BY k, v")
        else:
            branches = " UNION ALL ".join(
                f"(SELECT {i} AS k, v, COUNT(*) AS n FROM (SELECT {exprs[name]} AS v FROM {engine.quote(table)}) "
                f"AS p{i} GROUP BY v{cut})" for i, name in enumerate(numeric))
            query = f"SELECT k, v, n FROM ({branches}) AS u"
        # a LIMIT per branch costs Spark a stage per column: it caps the result per column after the fact
        result = engine.arrow_capped(query, "k", int(limit) + 1) if capped else engine.arrow(query)
        for i, name in enumerate(numeric):
            out[name] = result.filter(pc.equal(result.column("k"), i)).select(["v", "n"])
    if rows is None:
        rows = engine.row_count(table)
    return rows, {k: out[k] for k in exprs}


def projection(engine: Engine, table: str, exprs: dict[str, str]) -> str:
    """The query selecting each named expression once per row (the rows a Tally streams)."""
    return f"SELECT {', '.join(f'{expr} AS {name}' for name, expr in exprs.items())} FROM {engine.quote(table)}"


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
