"""Differential privacy on the 16,000-row demo: MST, AIM and DP-CTGAN at epsilon 1, then the epsilon sweep.

    .venv/bin/python benchmarks/dp_sweep.py [--epsilons 0.1,0.3,1,3,10] [--seeds 0,1,2] [--methods MST,AIM,DPCTGAN]
                                            [--binning declared|equal-width] [--skip-sweep] [--json out]
    .venv/bin/python benchmarks/dp_sweep.py --compare-binning [--methods MST,AIM] [--compare-epsilons 1,10]

The demo's public declaration (core/demo DEMO_DP_DECLARATION: bounds and integer-ness of the numeric columns,
a point mass at 0 and a log scale for the money columns) is used, so the whole budget goes to training.
Prints each fit's wall and CPU time (this process, all its threads), the load average and the column-shape and
pair-trend scores it reaches; then the sweep (MST, 5 epsilons x 3 seeds plus the non-private baseline, each
fully evaluated against the holdout), its table, wall and CPU time. --compare-binning instead fits each method at
each epsilon with the equal-width bins (decoded at the middle) and with the declared bins, same run, and evaluates
both against the holdout: column shapes, pair trends and utility, scores and gate verdicts.
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
from core.demo import DEMO_DP_DECLARATION, build_demo  # noqa: E402
from core.generate.bins import parse_declarations  # noqa: E402
from core.generate.dp import DPSettings, fit_and_sample_dp  # noqa: E402
from core.generate.sweep import summary_table, sweep_epsilon  # noqa: E402

CENSUS_BOUNDS, CENSUS_DECLARATIONS = parse_declarations(DEMO_DP_DECLARATION, "core/demo DEMO_DP_DECLARATION")
JOB = ("column_shapes", "column_pair_trends", "utility")


def _load() -> float:
    return os.getloadavg()[0]


def settings_for(method: str, epsilon: float, binning: str) -> DPSettings:
    """The demo's DP settings: its public declaration, the given binning."""
    return DPSettings(method=method, epsilon=epsilon, public_bounds=CENSUS_BOUNDS, declarations=CENSUS_DECLARATIONS,
                      binning=binning)


def compare_binning(train, holdout, metadata, methods: list[str], epsilons: list[float]) -> list[dict]:
    """Each method at each epsilon with equal-width and declared bins (same run, seed 0), evaluated against the
    holdout as a sweep point is (no privacy attacks): column shapes, pair trends, utility, verdicts, fit times."""
    from core.policy import load_policy
    from core.report import evaluate
    from core.stats.memo import shared_real_side

    policy, rows = load_policy(), []
    with shared_real_side():
        for method in methods:
            for epsilon in epsilons:
                for binning in ("equal-width", "declared"):
                    wall, cpu, load = time.perf_counter(), time.process_time(), _load()
                    synthetic, _ = fit_and_sample_dp(train, metadata, len(train), 0,
                                                     settings_for(method, epsilon, binning))
                    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                    inputs = prepare_inputs(table_from_frame(train, "train"), table_from_frame(synthetic, "synthetic"),
                                            table_from_frame(holdout, "holdout"), overrides=dict(metadata))
                    report = evaluate(inputs, policy, privacy=False, seed=0, target="income_gt_50k",
                                      utility_extras=False).to_dict()
                    gates = {g["name"]: g for g in report["gates"]}
                    fidelity = report["fidelity"]
                    row = {"method": method, "epsilon": epsilon, "binning": binning, "fit_seconds": round(wall, 1),
                           "fit_cpu_seconds": round(cpu, 1), "load": round(load, 1),
                           "column_shapes": round(fidelity["column_shapes"]["score"], 3),
                           "column_pair_trends": round(fidelity["column_pair_trends"]["score"], 3),
                           "utility": round(gates["utility"]["value"], 3) if "utility" in gates else None,
                           **{f"{name} passed": gates[name]["passed"] for name in JOB if name in gates},
                           "columns failing shapes": {
                               c: f"{v['score']:.4f} < {v['floor']:.4f}" for c, v in
                               fidelity["column_shapes"]["columns"].items() if v.get("passed") is False},
                           "pairs failing": f"{sum(p.get('passed') is False for p in fidelity['column_pair_trends']['pairs'])}"
                                            f" of {len(fidelity['column_pair_trends']['pairs'])}"}
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    return rows


def _fidelity(train, synthetic, metadata):
    """Column shapes and pair trends of a generation against the training rows."""
    from core.report import evaluate

    return evaluate(prepare_inputs(table_from_frame(train, "train"), table_from_frame(synthetic, "synthetic"),
                                   overrides=dict(metadata)), privacy=False, seed=0).fidelity


def main() -> None:
    """Time single fits, then run and print the sweep (or compare the binnings)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--epsilons", default="0.1,0.3,1,3,10")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--methods", default="MST,AIM,DPCTGAN", help="fits timed at epsilon 1 (empty: none)")
    parser.add_argument("--binning", default="declared", choices=["declared", "equal-width"])
    parser.add_argument("--skip-sweep", action="store_true")
    parser.add_argument("--compare-binning", action="store_true",
                        help="only compare equal-width and declared bins (--methods, default MST,AIM here)")
    parser.add_argument("--compare-epsilons", default="1,10")
    parser.add_argument("--json")
    args = parser.parse_args()

    files = build_demo()
    train_table, holdout_table = load_table(files.train), load_table(files.holdout)
    metadata = resolve_metadata(train_table.frame)
    train = coerce_to_metadata(train_table.frame, metadata, str(files.train))
    holdout = coerce_to_metadata(holdout_table.frame, metadata, str(files.holdout))
    out: dict = {"rows": len(train), "fits": {}}
    if args.compare_binning:
        methods = [m for m in args.methods.split(",") if m and m != "DPCTGAN"] if "--methods" in sys.argv \
            else ["MST", "AIM"]
        wall, cpu, load = time.perf_counter(), time.process_time(), _load()
        out["compare_binning"] = compare_binning(train, holdout, metadata, methods,
                                                 [float(e) for e in args.compare_epsilons.split(",")])
        print(f"compared in {time.perf_counter() - wall:.0f} s wall, CPU {time.process_time() - cpu:.0f} s, "
              f"load {load:.1f} -> {_load():.1f}")
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=2, default=str))
        return
    for method in [m for m in args.methods.split(",") if m]:
        wall, cpu, load = time.perf_counter(), time.process_time(), _load()
        synthetic, manifest = fit_and_sample_dp(train, metadata, len(train), 0,
                                                settings_for(method, 1.0, args.binning))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        fidelity = _fidelity(train, synthetic, metadata)
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
                              settings=settings_for("MST", 1.0, args.binning),
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
