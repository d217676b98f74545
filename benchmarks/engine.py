"""Fidelity + validity out-of-core on DuckDB: time and peak resident memory against rows, and equality with pandas.

    REVIEW_DESK_CACHE=/work/wt/cache /work/main/.venv/bin/python benchmarks/engine.py --rows 1000000 10000000

Generates (seeded) a real and a synthetic Parquet table of N rows x 20 columns each (12 numerical, some with
missing values, 8 categorical of 2-60 levels), written in row groups so generation never holds a table. Each
size runs in a child process, so its peak resident memory (getrusage ru_maxrss) and CPU time (user + system, all
threads) are its own; "load" is the 1-minute load average when it ends. At the first size
(1M) the in-memory path (pandas read + core.checks) runs too, as the reference for time and memory, and the
two paths' scores are compared (largest absolute difference of every column-shape and pair-trend score).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHUNK = 1_000_000
LEVELS = (2, 3, 5, 8, 12, 20, 40, 60)


def _chunk(rng: np.random.Generator, rows: int, shift: float):
    """One row group: 12 numerical and 8 categorical columns (as measured data: a few decimals each)."""
    import pandas as pd

    base = rng.normal(size=rows)
    out = {}
    for i in range(12):
        noise = rng.normal(size=rows)
        x = (0.5 * base + noise) * (1 + i) * 10 + shift
        if i % 3 == 1:
            x = np.exp(x / (40 * (1 + i)))  # skewed
        values = np.round(x, 2 if i % 2 else 1)
        if i % 4 == 3:
            values[rng.random(rows) < 0.05] = np.nan  # 5 % missing
        out[f"num_{i:02d}"] = values
    for j, levels in enumerate(LEVELS):
        weights = np.arange(1, levels + 1, dtype=float) ** -1.0
        codes = rng.choice(levels, size=rows, p=weights / weights.sum())
        codes = np.where(base > 1.5, (codes + 1) % levels, codes)  # tied to the numbers a little
        out[f"cat_{j}"] = pd.Categorical.from_codes(codes, [f"level_{k:02d}" for k in range(levels)]).astype(str)
    return pd.DataFrame(out)


def generate(path: Path, rows: int, seed: int, shift: float = 0.0) -> Path:
    """A seeded Parquet table of `rows` x 20 columns, written chunk by chunk (kept when it exists)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    tmp = path.with_suffix(".tmp")
    writer = None
    for start in range(0, rows, CHUNK):
        table = pa.Table.from_pandas(_chunk(rng, min(CHUNK, rows - start), shift), preserve_index=False)
        writer = writer or pq.ParquetWriter(tmp, table.schema)
        writer.write_table(table)
    writer.close()
    tmp.replace(path)
    return path


def _metadata() -> dict:
    return {**{f"num_{i:02d}": "numerical" for i in range(12)}, **{f"cat_{j}": "categorical" for j in range(8)}}


def run_one(engine_name: str, real: str, synthetic: str, out: str) -> None:
    """Child process: fidelity + validity on one engine; writes time, peak memory and scores as JSON."""
    from core.policy import load_policy
    from core.report import null_settings

    settings = null_settings(load_policy())
    metadata = _metadata()
    start = time.perf_counter()
    if engine_name == "pandas":
        import pandas as pd

        from core.checks.fidelity import evaluate_fidelity
        from core.checks.validity import evaluate_validity
        from core.data.encoding import encode_columns

        tables = {"real": pd.read_parquet(real), "synthetic": pd.read_parquet(synthetic)}
        encoded = encode_columns(tables, metadata)
        fidelity = evaluate_fidelity(tables, metadata, encoded, settings=settings)
        validity = evaluate_validity(tables, metadata, encoded, settings)
    else:
        from core.engine import checks, make_engine

        engine = make_engine(engine_name, **({"memory_limit": "3GB"} if engine_name == "duckdb" else {}))
        engine.register("real", real)
        engine.register("synthetic", synthetic)
        names = {"real": "real", "synthetic": "synthetic"}
        profiles = checks.profile_columns(engine, names, metadata)
        tallies = checks.tally_tables(engine, names, profiles)
        fidelity = checks.evaluate_fidelity(engine, names, metadata, profiles, settings=settings, tallies=tallies)
        validity = checks.evaluate_validity(engine, names, metadata, profiles, settings=settings, tallies=tallies)
        engine.close()
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    Path(out).write_text(json.dumps({
        "seconds": seconds, "peak_mb": usage.ru_maxrss / 1024, "cpu": usage.ru_utime + usage.ru_stime,
        "load": os.getloadavg()[0],
        "shapes": {c.column: c.score for c in fidelity.column_shapes},
        "pairs": {" / ".join(p.columns): p.score for p in fidelity.pair_trends},
        "validity": {n: [v.out_of_range_share, v.unseen_category_share, v.missing_share_synthetic]
                     for n, v in validity.columns.items()},
    }))


def _child(engine_name: str, real: Path, synthetic: Path, folder: Path) -> dict:
    out = folder / f"result-{engine_name}-{real.stem}.json"
    subprocess.run([sys.executable, __file__, "--child", engine_name, str(real), str(synthetic), str(out)], check=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})
    return json.loads(out.read_text())


def _largest_difference(a: dict, b: dict) -> float:
    diffs = [abs(a["shapes"][k] - b["shapes"][k]) for k in a["shapes"]]
    diffs += [abs(a["pairs"][k] - b["pairs"][k]) for k in a["pairs"]]
    diffs += [abs(x - y) for k in a["validity"] for x, y in zip(a["validity"][k], b["validity"][k])]
    return max(diffs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--folder", default=os.environ.get("REVIEW_DESK_CACHE", str(ROOT / ".cache")) + "/engine-bench")
    parser.add_argument("--no-pandas", action="store_true", help="skip the in-memory reference at the first size")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_one(*args.child)
        return
    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    print(f"load: {os.getloadavg()} on {os.cpu_count()} cores")
    print(f"{'rows':>12} {'engine':>7} {'seconds':>9} {'CPU s':>9} {'peak MB':>9} {'load':>6} {'gen s':>7}")
    for i, rows in enumerate(args.rows):
        t0 = time.perf_counter()
        real = generate(folder / f"real-{rows}.parquet", rows, seed=1)
        synthetic = generate(folder / f"synthetic-{rows}.parquet", rows, seed=2, shift=0.3)
        made = time.perf_counter() - t0
        duck = _child("duckdb", real, synthetic, folder)
        print(f"{rows:>12,} {'duckdb':>7} {duck['seconds']:>9.1f} {duck['cpu']:>9.1f} {duck['peak_mb']:>9.0f} "
              f"{duck['load']:>6.1f} {made:>7.1f}", flush=True)
        if i == 0 and not args.no_pandas:
            memory = _child("pandas", real, synthetic, folder)
            print(f"{rows:>12,} {'pandas':>7} {memory['seconds']:>9.1f} {memory['cpu']:>9.1f} {memory['peak_mb']:>9.0f} "
                  f"{memory['load']:>6.1f}", flush=True)
            print(f"  duckdb / pandas time {duck['seconds'] / memory['seconds']:.2f}, memory "
                  f"{duck['peak_mb'] / memory['peak_mb']:.2f}; largest score difference "
                  f"{_largest_difference(memory, duck):.2e} over {len(duck['shapes'])} shapes, "
                  f"{len(duck['pairs'])} pairs, {len(duck['validity'])} validity columns", flush=True)
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
