"""Benchmark: our DCR checks vs sdmetrics' DCRBaselineProtection / DCROverfittingProtection, same data, one run.

Usage: .venv/bin/python benchmarks/privacy_vs_sdmetrics.py [--rows 10000] [--big-rows 100000] [--skip-big]

Part 1 (default 10,000 rows per table, sdmetrics is slow): train / synthetic / holdout drawn from the same
mixed 20-column generator (synthetic = fresh draws, 2 % of them copied from train with noise so the
numbers are not all trivial); times our evaluate_privacy (all checks) and the DCR part alone against
sdmetrics (no subsampling, 1 iteration) and prints the values side by side.
Part 2: our nearest_records timing at --big-rows x --big-rows x 20 mixed columns (target < 30 s).
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.data.metadata import coerce_to_metadata  # noqa: E402
from core.checks.privacy import (  # noqa: E402
    DistanceEncoding,
    distance_to_closest_record,
    evaluate_privacy,
    nearest_records,
    privacy_gate_values,
)


def mixed_table(rows: int, seed: int) -> tuple[pd.DataFrame, dict[str, str]]:
    """A 20-column mixed table: 12 numerical (2 with missing), 6 categorical, 1 boolean, 1 datetime."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(rows, 3))
    data, metadata = {}, {}
    for i in range(12):
        values = latent @ rng.normal(size=3) + rng.normal(scale=0.5, size=rows)
        if i % 3 == 0:
            values = np.round(np.exp(values / 2) * 10)  # skewed counts
        if i in (4, 7):
            values[rng.random(rows) < 0.05] = np.nan
        data[f"num_{i}"], metadata[f"num_{i}"] = values, "numerical"
    for i, levels in enumerate((3, 4, 5, 6, 7, 8)):
        codes = np.clip(((latent[:, i % 3] + rng.normal(scale=0.7, size=rows)) * levels / 4 + levels / 2).astype(int), 0, levels - 1)
        data[f"cat_{i}"], metadata[f"cat_{i}"] = np.array([f"L{c}" for c in range(levels)])[codes], "categorical"
    data["flag"], metadata["flag"] = latent[:, 0] + rng.normal(size=rows) > 0, "boolean"
    start = np.datetime64("2020-01-01")
    data["when"] = start + (rng.integers(0, 3 * 365, rows)).astype("timedelta64[D]")
    metadata["when"] = "datetime"
    frame = pd.DataFrame(data)
    return coerce_to_metadata(frame, metadata, "benchmark"), metadata


def planted_synthetic(train: pd.DataFrame, fresh: pd.DataFrame, share: float, seed: int) -> pd.DataFrame:
    """Fresh rows with `share` of them replaced by training rows plus 0.1 % noise on numerical columns."""
    rng = np.random.default_rng(seed)
    out = fresh.copy()
    rows = rng.choice(len(out), int(share * len(out)), replace=False)
    copied = train.iloc[rng.choice(len(train), len(rows), replace=False)].reset_index(drop=True)
    for column in out.columns:
        if pd.api.types.is_float_dtype(out[column]):
            span = np.nanmax(train[column]) - np.nanmin(train[column])
            copied[column] = copied[column] + rng.normal(scale=0.001 * span, size=len(rows))
        out.loc[rows, column] = copied[column].to_numpy()
    return out


def part_sdmetrics(rows: int) -> None:
    from sdmetrics.single_table import DCRBaselineProtection, DCROverfittingProtection

    full, metadata = mixed_table(3 * rows, seed=1)
    train, holdout, fresh = (full.iloc[i * rows : (i + 1) * rows].reset_index(drop=True) for i in range(3))
    synthetic = planted_synthetic(train, fresh, 0.02, seed=2)
    sdv_meta = {"columns": {c: {"sdtype": s} for c, s in metadata.items()}}
    # sdmetrics wants NaN (not None) in discrete columns and real booleans
    print(f"== part 1: {rows:,} rows per table, {len(metadata)} columns ==")

    t = time.perf_counter()
    encoding = DistanceEncoding.fit(train, metadata, others=[synthetic, holdout])
    ours_dcr = distance_to_closest_record(*(encoding.transform(f) for f in (train, synthetic, holdout)), seed=0)
    ours_dcr_s = time.perf_counter() - t
    t = time.perf_counter()
    result = evaluate_privacy(train, synthetic, holdout, metadata, seed=0)
    ours_all_s = time.perf_counter() - t

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        over = DCROverfittingProtection.compute_breakdown(train, synthetic, holdout, sdv_meta, None, None, 1)
        sd_over_s = time.perf_counter() - t
        t = time.perf_counter()
        DCRBaselineProtection._seed = 0
        base = DCRBaselineProtection.compute_breakdown(train, synthetic, sdv_meta, None, None, 1)
        sd_base_s = time.perf_counter() - t

    sd_total = sd_over_s + sd_base_s
    print(f"ours: DCR part {ours_dcr_s:.2f} s, all privacy checks {ours_all_s:.2f} s")
    print(f"sdmetrics: DCROverfittingProtection {sd_over_s:.1f} s, DCRBaselineProtection {sd_base_s:.1f} s, "
          f"total {sd_total:.1f} s")
    print(f"speed ratio sdmetrics / ours (DCR part): {sd_total / ours_dcr_s:.0f}x; "
          f"sdmetrics / ours (all checks): {sd_total / ours_all_s:.0f}x")
    print("values side by side (distances differ by definition: sdmetrics = mean over columns of per-column "
          "differences (L1/Gower, numeric capped at 1); ours = Euclidean, see core/checks/privacy):")
    rows_out = [
        ("share of synthetic closer to train than holdout", over["synthetic_data_percentages"]["closer_to_training"],
         ours_dcr.share_closer_to_train),
        ("overfitting protection score", over["score"], min(1.0, 2 * (1 - ours_dcr.share_closer_to_train))),
        ("median synthetic DCR to train", base["median_DCR_to_real_data"]["synthetic_data"],
         float(np.median(ours_dcr.synthetic_to_train))),
        ("baseline median DCR (sdmetrics: uniform random rows; ours: holdout rows)",
         base["median_DCR_to_real_data"]["random_data_baseline"], float(np.median(ours_dcr.holdout_to_train))),
        ("baseline protection score (sdmetrics) / median ratio score (ours)", base["score"],
         min(1.0, ours_dcr.median_distance_ratio)),
    ]
    for name, theirs, ours in rows_out:
        print(f"  {name:<75} sdmetrics {theirs:8.4f}   ours {ours:8.4f}")
    for name, gate in privacy_gate_values(result).items():
        median = "n/a" if gate.get("null_median") is None else f"{gate['null_median']:.4f}"
        print(f"  gate {name:<28} value {gate['value']:.4f} threshold {gate['threshold']:.4f} (null median {median}) "
              f"passed {gate['passed']}")


def part_big(rows: int) -> None:
    full, metadata = mixed_table(2 * rows, seed=3)
    reference, query = full.iloc[:rows], full.iloc[rows:]
    encoding = DistanceEncoding.fit(reference, metadata, others=[query])
    t = time.perf_counter()
    found = nearest_records(reference, query, metadata, encoding=encoding)
    elapsed = time.perf_counter() - t
    print(f"== part 2: nearest_records {rows:,} query x {rows:,} reference rows x {len(metadata)} columns "
          f"({encoding.n_dims} encoded dims): {elapsed:.1f} s (target < 30 s); median DCR {np.median(found.distance):.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--big-rows", type=int, default=100_000)
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--skip-sdmetrics", action="store_true")
    args = parser.parse_args()
    if not args.skip_sdmetrics:
        part_sdmetrics(args.rows)
    if not args.skip_big:
        part_big(args.big_rows)


if __name__ == "__main__":
    main()
