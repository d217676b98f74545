"""Spark local[N] against DuckDB on the same Parquet files: the fidelity and validity aggregates, timed.

Each size writes a real and a synthetic Parquet file of ROWS x 20 columns (14 numeric on a 0.1 grid, 6
categorical; a seeded generator, the synthetic one slightly shifted), then runs on each engine what
`python -m core evaluate --engine ...` runs: column profiles of both tables, validity (with duplicate rows)
and fidelity on a fixed sample of 10 pairs (numeric-numeric, numeric-categorical, categorical-categorical).
The Spark session's start-up is timed apart (a cluster pays it once). The scores of the two engines are
checked equal (1e-9) so the race is between equal answers.

    python benchmarks/engine_spark.py                      # 1M and 10M rows
    python benchmarks/engine_spark.py --rows 1000000       # one size

Not a timed test: it prints both times, the ratio Spark / DuckDB and the machine's load, and exits 0.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.engine import checks as engine_checks  # noqa: E402
from core.engine.base import make_engine  # noqa: E402
from core.policy import load_policy  # noqa: E402
from core.report import null_settings  # noqa: E402

NUMERIC, CATEGORICAL = 14, 6
CHUNK = 1_000_000
PAIRS = [("x0", "x1"), ("x2", "x3"), ("x4", "x5"), ("x6", "x7"), ("x8", "x9"),
         ("x10", "c0"), ("x11", "c1"), ("x12", "c2"), ("c3", "c4"), ("c4", "c5")]


def metadata() -> dict[str, str]:
    """The benchmark tables' sdtypes."""
    return {**{f"x{i}": "numerical" for i in range(NUMERIC)}, **{f"c{i}": "categorical" for i in range(CATEGORICAL)}}


def write_table(path: Path, rows: int, seed: int, shift: float) -> None:
    """ROWS x 20 columns of seeded data in row groups of CHUNK rows (correlated numeric pairs, skewed categories)."""
    rng = np.random.default_rng(seed)
    tmp = path.with_suffix(".partial")
    writer = None
    for start in range(0, rows, CHUNK):
        n = min(CHUNK, rows - start)
        base = rng.standard_normal((n, NUMERIC))
        base[:, 1::2] = 0.6 * base[:, ::2] + 0.8 * base[:, 1::2]  # pairs (x0, x1), (x2, x3), ... correlated
        columns = {f"x{i}": np.round(base[:, i] * 10 + shift, 1) for i in range(NUMERIC)}
        for i in range(CATEGORICAL):
            levels = 5 + 5 * i
            weights = 1.0 / np.arange(1, levels + 1)
            codes = rng.choice(levels, size=n, p=weights / weights.sum())
            columns[f"c{i}"] = np.array([f"level_{k}" for k in range(levels)], dtype=object)[codes]
        batch = pa.Table.from_pandas(pd.DataFrame(columns), preserve_index=False)
        writer = writer or pq.ParquetWriter(tmp, batch.schema)
        writer.write_table(batch)
    writer.close()
    tmp.rename(path)


def tables_for(rows: int, folder: Path) -> dict[str, Path]:
    """The real and synthetic files of one size (written once, then reused)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"real": folder / f"real-{rows}.parquet", "synthetic": folder / f"synthetic-{rows}.parquet"}
    for role, path in paths.items():
        if not path.exists():
            write_table(path, rows, seed=1 if role == "real" else 2, shift=0.0 if role == "real" else 0.3)
    return paths


def tree_cpu(root: int | None = None) -> float:
    """CPU seconds (user + system, finished children included) of this process and every descendant: the
    driver, DuckDB's threads, Spark's JVM and its Python workers (read from /proc; Linux)."""
    root = root or os.getpid()
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = (int(fields[1]), sum(int(f) for f in fields[11:15]))
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in stats.items():
        children.setdefault(parent, []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += stats.get(pid, (0, 0))[1]
        todo.extend(children.get(pid, []))
    return total / os.sysconf("SC_CLK_TCK")


def jit_cpu(root: int | None = None) -> float:
    """CPU seconds of the JIT compiler threads (C1, C2) of the java processes this process started (Linux)."""
    root = root or os.getpid()
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) != root:
                continue
            threads = list((entry / "task").iterdir())
        except OSError:
            continue
        for thread in threads:
            try:
                stat = (thread / "stat").read_text()
            except OSError:
                continue
            if "CompilerThre" in stat[stat.index("(") + 1:stat.rindex(")")]:
                total += sum(int(f) for f in stat.rsplit(")", 1)[1].split()[11:13])
    return total / os.sysconf("SC_CLK_TCK")


def run_checks(engine, paths: dict[str, Path]):
    """What `evaluate --engine` computes: profiles, fidelity on PAIRS, validity; the elapsed seconds."""
    settings = null_settings(load_policy())
    start = time.perf_counter()
    for role, path in paths.items():
        engine.register(role, path)
    tables = {role: role for role in paths}
    md = metadata()
    profiles = engine_checks.profile_columns(engine, tables, md)
    tallies = engine_checks.tally_tables(engine, tables, profiles, PAIRS)
    fidelity = engine_checks.evaluate_fidelity(engine, tables, md, profiles, pairs=PAIRS, settings=settings,
                                               tallies=tallies)
    validity = engine_checks.evaluate_validity(engine, tables, md, profiles, settings=settings, tallies=tallies)
    return time.perf_counter() - start, fidelity, validity


def scores(fidelity, validity) -> dict[str, float]:
    """Every score of a run, by name, for the equality check."""
    out = {f"shape {c.column}": c.score for c in fidelity.column_shapes}
    out |= {f"pair {p.columns}": p.score for p in fidelity.pair_trends}
    out |= {f"validity {k} {f}": getattr(v, f) for k, v in validity.columns.items()
            for f in ("out_of_range_share", "unseen_category_share", "category_coverage", "range_coverage")}
    out["duplicates"] = validity.duplicate_rows_share_synthetic
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, action="append", help="rows of each table (repeatable); default 1M and 10M")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", default="4g")
    parser.add_argument("--folder", default=None, help="where the Parquet files go (default $REVIEW_DESK_CACHE "
                                                       "or .cache, engine-spark-bench/)")
    args = parser.parse_args()
    folder = Path(args.folder or Path(os.environ.get("REVIEW_DESK_CACHE", ".cache")) / "engine-spark-bench")
    sizes = args.rows or [1_000_000, 10_000_000]
    print(f"load before: {os.getloadavg()}", flush=True)
    started = time.perf_counter()
    spark = make_engine("spark", master=args.master, driver_memory=args.driver_memory)
    startup = time.perf_counter() - started
    print(f"Spark {args.master} session start-up: {startup:.1f} s", flush=True)
    lines = ["| rows x 20 columns | DuckDB s (CPU s) | Spark local[2] s (CPU s) | Spark / DuckDB | scores equal | "
             "load (1 min) |", "|---|---|---|---|---|---|"]
    try:
        for rows in sizes:
            t = time.perf_counter()
            paths = tables_for(rows, folder)
            print(f"{rows:,} rows: files ready in {time.perf_counter() - t:.1f} s", flush=True)
            duck = make_engine("duckdb")
            cpu = tree_cpu()
            duck_seconds, duck_f, duck_v = run_checks(duck, paths)
            duck_cpu = tree_cpu() - cpu
            duck.close()
            print(f"  duckdb {duck_seconds:.1f} s, CPU {duck_cpu:.1f} s (load {os.getloadavg()[0]:.1f})", flush=True)
            cpu, jit = tree_cpu(), jit_cpu()
            spark_seconds, spark_f, spark_v = run_checks(spark, paths)
            spark_cpu, spark_jit = tree_cpu() - cpu, jit_cpu() - jit
            load = os.getloadavg()[0]
            print(f"  spark  {spark_seconds:.1f} s, CPU {spark_cpu:.1f} s, of which the JVM's JIT compiler "
                  f"{spark_jit:.1f} s (load {load:.1f})", flush=True)
            a, b = scores(duck_f, duck_v), scores(spark_f, spark_v)
            equal = a.keys() == b.keys() and all(
                (np.isnan(a[k]) and np.isnan(b[k])) or abs(a[k] - b[k]) <= 1e-9 for k in a)
            ratio = spark_seconds / duck_seconds
            print(f"  ratio spark/duckdb {ratio:.2f}; {len(a)} scores equal: {equal}", flush=True)
            lines.append(f"| {rows:,} | {duck_seconds:.1f} ({duck_cpu:.1f}) | {spark_seconds:.1f} ({spark_cpu:.1f}) | "
                         f"{ratio:.2f} | {equal} | {load:.1f} |")
    finally:
        spark.close()
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
