"""Where `core.report.evaluate` spends its time on the 16,000-row census demo, and what the measured nulls cost.

Each stage of the fidelity and validity path (encoding, fidelity, validity, gates) is timed twice in the same
run: with the policy's real-vs-real nulls (the default, 200 resamples) and with the nulls switched off
(resamples = 0, so every gate falls back to its analytic bound or fixed threshold). The ratio of the two is
the cost of calibration (issue 10's target: at most 2x). Then the whole `evaluate` (privacy and utility
included, structure with --structure) is timed stage by stage from its progress marks.

Both wall-clock and CPU seconds are printed, with the load average: on this shared 2-core machine the wall
clock is inflated by other work, the CPU time much less so.

    REVIEW_DESK_CACHE=/work/wt/cache python benchmarks/evaluate_speed.py [--repeats 3] [--full] [--structure]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.checks.fidelity import evaluate_fidelity  # noqa: E402
from core.checks.validity import evaluate_validity  # noqa: E402
from core.data.encoding import encode_columns  # noqa: E402
from core.data.io import load_table, prepare_inputs  # noqa: E402
from core.demo import build_demo  # noqa: E402
from core.policy import load_policy  # noqa: E402
from core.report import apply_gates, evaluate, null_settings  # noqa: E402

STAGES = ("encoding", "fidelity", "validity", "gates")


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def calibrated_path(inputs, policy, settings) -> dict[str, tuple[float, float]]:
    """Wall and CPU seconds of each stage of evaluate's fidelity and validity path under `settings`."""
    out = {}
    start = _clock()
    encoded = encode_columns(inputs.frames, inputs.metadata)
    out["encoding"], start = _since(start), _clock()
    fidelity = evaluate_fidelity(inputs.frames, inputs.metadata, encoded, pairs=inputs.pairs, settings=settings)
    out["fidelity"], start = _since(start), _clock()
    validity = evaluate_validity(inputs.frames, inputs.metadata, encoded, settings)
    out["validity"], start = _since(start), _clock()
    apply_gates(fidelity, validity, inputs, policy)
    out["gates"] = _since(start)
    return out


def _since(start: tuple[float, float]) -> tuple[float, float]:
    wall, cpu = _clock()
    return wall - start[0], cpu - start[1]


def full_evaluate(inputs, policy, structure: bool) -> list[tuple[str, float, float]]:
    """evaluate() end to end: (stage message, wall s, CPU s) between its progress marks."""
    marks = []
    start = _clock()
    last = [start]

    def progress(fraction: float, message: str) -> None:
        now = _clock()
        marks.append((message, now[0] - last[0][0], now[1] - last[0][1]))
        last[0] = now

    evaluate(inputs, policy, progress=progress, structure=structure)
    # Each mark names the stage that starts; the time up to the next mark belongs to it.
    names = ["(start)"] + [m for m, _, _ in marks]
    return [(names[i], wall, cpu) for i, (_, wall, cpu) in enumerate(marks)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3, help="runs of each path; the fastest is kept")
    parser.add_argument("--full", action="store_true", help="also time the whole evaluate (privacy: minutes)")
    parser.add_argument("--structure", action="store_true", help="with --full, include the structure checks")
    args = parser.parse_args()
    files = build_demo()
    inputs = prepare_inputs(load_table(files.train), load_table(files.synthetic), load_table(files.holdout))
    policy = load_policy()
    settings = null_settings(policy)
    print(f"census demo: {len(inputs.frames['real']):,} training rows, {len(inputs.frames['synthetic']):,} "
          f"synthetic, {len(inputs.frames['holdout']):,} holdout, {len(inputs.metadata)} columns; "
          f"{settings.resamples} resamples; load average before: {os.getloadavg()[0]:.1f}")
    paths = {"nulls (policy)": settings, "nulls off (resamples=0)": replace(settings, resamples=0)}
    best: dict[str, dict[str, tuple[float, float]]] = {}
    for _ in range(args.repeats):  # interleaved, so both paths see the same load
        for name, chosen in paths.items():
            run = calibrated_path(inputs, policy, chosen)
            kept = best.setdefault(name, run)
            best[name] = {s: (min(kept[s][0], run[s][0]), min(kept[s][1], run[s][1])) for s in STAGES}
    print(f"\nfidelity + validity path, fastest of {args.repeats} (wall s / CPU s):")
    print(f"{'stage':<12}" + "".join(f"{name:>28}" for name in paths))
    for stage in STAGES + ("total",):
        cells = []
        for name in paths:
            wall = sum(v[0] for v in best[name].values()) if stage == "total" else best[name][stage][0]
            cpu = sum(v[1] for v in best[name].values()) if stage == "total" else best[name][stage][1]
            cells.append(f"{wall:>13.3f} / {cpu:>6.3f}")
        print(f"{stage:<12}" + "".join(f"{c:>28}" for c in cells))
    total = {name: (sum(v[0] for v in best[name].values()), sum(v[1] for v in best[name].values())) for name in paths}
    on, off = total["nulls (policy)"], total["nulls off (resamples=0)"]
    print(f"ratio with nulls / without: wall {on[0] / off[0]:.2f}x, CPU {on[1] / off[1]:.2f}x (target: at most 2x); "
          f"load average after: {os.getloadavg()[0]:.1f}")
    if args.full:
        print(f"\nevaluate() end to end (privacy and utility{', structure' if args.structure else ''}):")
        rows = full_evaluate(inputs, policy, args.structure)
        for message, wall, cpu in rows:
            print(f"  {message:<48}{wall:>9.2f} s wall {cpu:>9.2f} s CPU")
        print(f"  {'total':<48}{sum(r[1] for r in rows):>9.2f} s wall {sum(r[2] for r in rows):>9.2f} s CPU; "
              f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
