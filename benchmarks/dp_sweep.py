"""Differential privacy on the 16,000-row demo: MST and AIM at epsilon 1, then the epsilon sweep.

    .venv/bin/python benchmarks/dp_sweep.py [--epsilons 0.1,0.3,1,3,10] [--seeds 0,1,2] [--skip-aim] [--json out]

Public bounds are declared for the census money and count columns (ranges known without the data), so the
whole budget goes to training. Prints each fit's time, then the sweep table and its total time.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.data.io import load_table  # noqa: E402
from core.data.metadata import coerce_to_metadata, resolve_metadata  # noqa: E402
from core.demo import build_demo  # noqa: E402
from core.generate.dp import DPSettings, fit_and_sample_dp  # noqa: E402
from core.generate.sweep import summary_table, sweep_epsilon  # noqa: E402

CENSUS_BOUNDS = {"age": (0.0, 100.0), "wage_per_hour": (0.0, 10000.0), "capital_gains": (0.0, 100000.0),
                 "dividends_from_stocks": (0.0, 100000.0), "num_persons_worked_for_employer": (0.0, 6.0),
                 "weeks_worked_in_year": (0.0, 52.0)}


def main() -> None:
    """Time single fits, then run and print the sweep."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--epsilons", default="0.1,0.3,1,3,10")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--skip-aim", action="store_true")
    parser.add_argument("--skip-sweep", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args()
    files = build_demo()
    train_table, holdout_table = load_table(files.train), load_table(files.holdout)
    metadata = resolve_metadata(train_table.frame)
    train = coerce_to_metadata(train_table.frame, metadata, str(files.train))
    holdout = coerce_to_metadata(holdout_table.frame, metadata, str(files.holdout))
    out: dict = {"rows": len(train), "fits": {}}
    for method in ("MST",) + (() if args.skip_aim else ("AIM",)):
        started = time.perf_counter()
        _, manifest = fit_and_sample_dp(train, metadata, len(train), 0,
                                        DPSettings(method=method, epsilon=1.0, public_bounds=CENSUS_BOUNDS))
        seconds = time.perf_counter() - started
        out["fits"][method] = {"seconds": round(seconds, 1), "fit_seconds": manifest["seconds"]["fit"]}
        print(f"{method} at epsilon 1 on {len(train):,} rows: {seconds:.1f} s (fit {manifest['seconds']['fit']:.1f} s)",
              flush=True)
    if not args.skip_sweep:
        sweep = sweep_epsilon(train, holdout, metadata, epsilons=[float(e) for e in args.epsilons.split(",")],
                              seeds=[int(s) for s in args.seeds.split(",")], target="income_gt_50k",
                              public_bounds=CENSUS_BOUNDS,
                              progress=lambda f, m: print(f"[{f:4.0%}] {m}", file=sys.stderr, flush=True))
        print(summary_table(sweep).round(3).to_string(index=False))
        print(f"chosen epsilon: {sweep.chosen_epsilon}; {len(sweep.points)} generations in {sweep.seconds:.0f} s")
        out["sweep"] = sweep.to_dict()
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
