"""Differential privacy on the 16,000-row demo: MST, AIM and DP-CTGAN at epsilon 1, then the epsilon sweep.

    .venv/bin/python benchmarks/dp_sweep.py [--epsilons 0.1,0.3,1,3,10] [--seeds 0,1,2] [--methods MST,AIM,DPCTGAN]
                                            [--skip-sweep] [--json out]

Public bounds are declared for the census money and count columns (ranges known without the data), so the
whole budget goes to training. Prints each fit's wall and CPU time (this process, all its threads), the load
average and the column-shape and pair-trend scores it reaches; then the sweep (MST, 5 epsilons x 3 seeds plus
the non-private baseline, each fully evaluated against the holdout), its table, wall and CPU time.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.data.io import load_table, prepare_inputs, table_from_frame  # noqa: E402
from core.data.metadata import coerce_to_metadata, resolve_metadata  # noqa: E402
from core.demo import build_demo  # noqa: E402
from core.generate.dp import DPSettings, fit_and_sample_dp  # noqa: E402
from core.generate.sweep import summary_table, sweep_epsilon  # noqa: E402

CENSUS_BOUNDS = {"age": (0.0, 100.0), "wage_per_hour": (0.0, 10000.0), "capital_gains": (0.0, 100000.0),
                 "dividends_from_stocks": (0.0, 100000.0), "num_persons_worked_for_employer": (0.0, 6.0),
                 "weeks_worked_in_year": (0.0, 52.0)}


def _load() -> float:
    return os.getloadavg()[0]


def main() -> None:
    """Time single fits, then run and print the sweep."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--epsilons", default="0.1,0.3,1,3,10")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--methods", default="MST,AIM,DPCTGAN", help="fits timed at epsilon 1 (empty: none)")
    parser.add_argument("--skip-sweep", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args()
    from core.report import evaluate

    files = build_demo()
    train_table, holdout_table = load_table(files.train), load_table(files.holdout)
    metadata = resolve_metadata(train_table.frame)
    train = coerce_to_metadata(train_table.frame, metadata, str(files.train))
    holdout = coerce_to_metadata(holdout_table.frame, metadata, str(files.holdout))
    out: dict = {"rows": len(train), "fits": {}}
    for method in [m for m in args.methods.split(",") if m]:
        wall, cpu, load = time.perf_counter(), time.process_time(), _load()
        synthetic, manifest = fit_and_sample_dp(train, metadata, len(train), 0,
                                                DPSettings(method=method, epsilon=1.0, public_bounds=CENSUS_BOUNDS))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        fidelity = evaluate(prepare_inputs(table_from_frame(train, "train"), table_from_frame(synthetic, "synthetic"),
                                           overrides=dict(metadata)), privacy=False, seed=0).fidelity
        out["fits"][method] = {"seconds": round(wall, 1), "cpu_seconds": round(cpu, 1),
                               "fit_seconds": manifest["seconds"]["fit"], "load": round(load, 1),
                               "column_shapes": round(fidelity.column_shapes_score, 3),
                               "column_pair_trends": round(fidelity.column_pair_trends_score, 3),
                               "parameters": manifest["parameters"]}
        print(f"{method} at epsilon 1 on {len(train):,} rows: {wall:.1f} s (fit {manifest['seconds']['fit']:.1f} s), "
              f"CPU {cpu:.1f} s, load {load:.1f} -> {_load():.1f}; column shapes {fidelity.column_shapes_score:.3f}, "
              f"pair trends {fidelity.column_pair_trends_score:.3f}", flush=True)
    if not args.skip_sweep:
        wall, cpu, load = time.perf_counter(), time.process_time(), _load()
        sweep = sweep_epsilon(train, holdout, metadata, epsilons=[float(e) for e in args.epsilons.split(",")],
                              seeds=[int(s) for s in args.seeds.split(",")], target="income_gt_50k",
                              public_bounds=CENSUS_BOUNDS,
                              progress=lambda f, m: print(f"[{f:4.0%}] {m}", file=sys.stderr, flush=True))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(summary_table(sweep).round(3).to_string(index=False))
        print(f"chosen epsilon: {sweep.chosen_epsilon}; {len(sweep.points)} generations in {wall:.0f} s wall, "
              f"CPU {cpu:.0f} s, load {load:.1f} -> {_load():.1f}")
        out["sweep"] = sweep.to_dict() | {"cpu_seconds": round(cpu, 1), "load": round(load, 1)}
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
