"""Fidelity speed and agreement against sdmetrics' QualityReport, measured in one run.

    python benchmarks/fidelity_vs_sdmetrics.py            # 100,000 x 20 vs sdmetrics, then 1,000,000 x 50 alone
    python benchmarks/fidelity_vs_sdmetrics.py --rows 20000 --skip-large

Both sides score every row: sdmetrics runs with num_rows_subsample=None and no association thresholds
(its defaults subsample contingency tables above 50,000 rows and average only strongly associated pairs).
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.demo import census_income  # noqa: E402
from core.data.encoding import encode_columns  # noqa: E402
from core.checks.fidelity import evaluate_fidelity  # noqa: E402
from core.data.metadata import coerce_to_metadata, detect_metadata  # noqa: E402
from core.checks.validity import evaluate_validity  # noqa: E402

NUMERIC = ["age", "wage_per_hour", "capital_gains", "capital_losses", "dividends_from_stocks",
           "instance_weight", "weeks_worked_in_year", "num_persons_worked_for_employer"]
CATEGORICAL = ["class_of_worker", "education", "marital_stat", "major_industry_code", "major_occupation_code",
               "race", "sex", "full_or_part_time_employment_stat", "tax_filer_stat", "citizenship",
               "detailed_household_summary_in_household", "income_gt_50k"]


def mixed_table(rows: int, columns: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Real and 'synthetic' tables of real census rows (resampled with replacement past 199,522 rows);
    columns beyond the census ones are noisy numeric copies so any width can be built."""
    census = census_income()
    rng = np.random.default_rng(seed)
    names = (NUMERIC + CATEGORICAL + [c for c in census.columns if c not in NUMERIC + CATEGORICAL])
    base = census[names[: min(columns, len(names))]]
    tables = []
    for part in range(2):
        frame = base.iloc[rng.integers(0, len(base), rows)].reset_index(drop=True)
        for extra in range(columns - frame.shape[1]):
            source = NUMERIC[extra % len(NUMERIC)]
            frame[f"{source}_noisy_{extra}"] = frame[source] + rng.normal(0, 1 + part * 0.1, rows)
        if part:  # break a few things so scores are not all 1.0
            frame["age"] = rng.permutation(frame["age"].to_numpy())
        tables.append(frame)
    return tables[0], tables[1]


def ours(real: pd.DataFrame, synthetic: pd.DataFrame, metadata: dict) -> tuple[float, object]:
    """Time our fidelity and validity on already-loaded tables (coercion included)."""
    start, cpu = time.perf_counter(), time.process_time()
    frames = {"real": coerce_to_metadata(real, metadata, "real"), "synthetic": coerce_to_metadata(synthetic, metadata, "s")}
    encoded = encode_columns(frames, metadata)
    result = evaluate_fidelity(frames, metadata, encoded)
    evaluate_validity(frames, metadata, encoded)
    ours.cpu_seconds = time.process_time() - cpu  # single-threaded: CPU time is what an idle machine's wall time would be
    return time.perf_counter() - start, result


def theirs(real: pd.DataFrame, synthetic: pd.DataFrame, metadata: dict) -> tuple[float, object]:
    """Time sdmetrics' QualityReport on the same tables, every row, every pair."""
    from sdmetrics.reports.single_table import QualityReport

    report = QualityReport()
    report.num_rows_subsample = None
    report.real_correlation_threshold = 0
    report.real_association_threshold = 0
    start = time.perf_counter()
    report.generate(real, synthetic, {"columns": {c: {"sdtype": t} for c, t in metadata.items()}}, verbose=False)
    return time.perf_counter() - start, report


def compare(rows: int, columns: int) -> dict:
    """Run both on one table; return times, ratio and the largest score differences."""
    real, synthetic = mixed_table(rows, columns, seed=0)
    metadata = detect_metadata(real)
    t_ours, result = ours(real, synthetic, metadata)
    t_theirs, report = theirs(real, synthetic, metadata)
    shapes = report.get_details("Column Shapes").set_index("Column")["Score"]
    shape_diff = max(abs(c.score - shapes[c.column]) for c in result.column_shapes)
    pairs = report.get_details("Column Pair Trends")
    index = {(r["Column 1"], r["Column 2"]): r["Score"] for _, r in pairs.iterrows()}
    continuous = {c for c, t in metadata.items() if t in ("numerical", "datetime")}
    same, mixed = [], []
    for p in result.pair_trends:
        diff = abs(p.score - index[p.columns])
        (mixed if len(continuous & set(p.columns)) == 1 else same).append(diff)
    return {"rows": rows, "columns": columns, "ours_s": t_ours, "sdmetrics_s": t_theirs,
            "speedup": t_theirs / t_ours, "max_column_diff": shape_diff,
            "max_pair_diff_same_definition": max(same) if same else 0.0,
            "max_pair_diff_mixed_pairs": max(mixed) if mixed else 0.0,
            "pairs": len(result.pair_trends)}


def large(rows: int, columns: int) -> dict:
    """Score a large table in full (no subsampling); time and peak memory of this process."""
    real, synthetic = mixed_table(rows, columns, seed=1)
    metadata = {c: ("numerical" if pd.api.types.is_numeric_dtype(real[c]) else "categorical") for c in real.columns}
    seconds, result = ours(real, synthetic, metadata)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    return {"rows": rows, "columns": columns, "ours_s": seconds, "ours_cpu_s": ours.cpu_seconds, "peak_rss_gb": peak_gb,
            "pairs": len(result.pair_trends), "score": result.score}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--columns", type=int, default=20)
    parser.add_argument("--large-rows", type=int, default=1_000_000)
    parser.add_argument("--large-columns", type=int, default=50)
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--large-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if args.large_only:
        print(json.dumps(large(args.large_rows, args.large_columns)))
        return
    result = compare(args.rows, args.columns)
    print(f"{result['rows']:,} rows x {result['columns']} columns ({result['pairs']} pairs), every row on both sides")
    print(f"  ours:      {result['ours_s']:.2f} s ({ours.cpu_seconds:.2f} s CPU)")
    print(f"  sdmetrics: {result['sdmetrics_s']:.2f} s")
    print(f"  speed-up:  {result['speedup']:.1f}x")
    print(f"  largest score difference: columns {result['max_column_diff']:.2e}, "
          f"pairs {result['max_pair_diff_same_definition']:.2e} "
          f"(mixed pairs {result['max_pair_diff_mixed_pairs']:.3f}: sdmetrics' report bins each table on its own edges)")
    if not args.skip_large:
        # A fresh process, so its peak memory is the large run's alone.
        out = subprocess.run([sys.executable, __file__, "--large-only", "--large-rows", str(args.large_rows),
                              "--large-columns", str(args.large_columns)], capture_output=True, text=True, check=True)
        big = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{big['rows']:,} rows x {big['columns']} columns ({big['pairs']} pairs), in full: "
              f"{big['ours_s']:.1f} s wall ({big['ours_cpu_s']:.1f} s CPU), peak memory {big['peak_rss_gb']:.2f} GB (whole process, data included)")


if __name__ == "__main__":
    main()
