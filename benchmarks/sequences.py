"""Sequence benchmark: sequence_trends on clean controls and planted defects, over seeds, on real sequential tables.

Each seed deals whole sequences a third each to training, holdout and a fresh part; the fresh part poses as
the synthetic table (clean control, should pass) or carries one planted defect (should fail): order shuffled
within sequences, sequences cut to their first half, sequences followed by a copy of themselves. Also the
time of one review against a reference measured in the same run: the same statistics scored once, without
the null (the ratio is what the 200 whole-sequence resamples cost).

    python benchmarks/sequences.py                  # 5 seeds
    python benchmarks/sequences.py --seeds 2        # reduced scale

Not a timed test: it prints markdown tables (for README) and exits 0.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.checks.sequence import evaluate_sequences  # noqa: E402
from core.demo.sequence import (duplicate_sequences, flights_per_plane, shuffle_within_sequences,  # noqa: E402
                                split_by_sequence, truncate_sequences, weather_per_station_day)
from core.stats.null import NullSettings  # noqa: E402

VARIANTS = {
    "clean control": lambda frame, seq, seed: frame,
    "order shuffled": lambda frame, seq, seed: shuffle_within_sequences(frame, seq, seed),
    "truncated to half": lambda frame, seq, seed: truncate_sequences(frame, seq),
    "duplicated": lambda frame, seq, seed: duplicate_sequences(frame, seq),
}


def main() -> int:
    """Print the pass/fail table over seeds and the timing ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    tables = {"flights per plane (Jan-Feb)": flights_per_plane((1, 2), columns=("dep_delay", "arr_delay", "origin",
                                                                                "dest")),
              "weather per station-day": weather_per_station_day()}
    print("| table | synthetic side | seeds failing sequence_trends | worst item (seed 0) |")
    print("|---|---|---|---|")
    timing = {}
    for name, table in tables.items():
        for variant, plant in VARIANTS.items():
            failed, worst = 0, ""
            for seed in range(args.seeds):
                train, holdout, fresh = split_by_sequence(table.frame, table.sequence.key, (1, 1, 1), seed)
                synthetic = plant(fresh, table.sequence, seed)
                started = time.perf_counter()
                result = evaluate_sequences(train, synthetic, table.sdtypes, table.sequence, holdout,
                                            NullSettings(seed=seed))
                elapsed = time.perf_counter() - started
                failed += not result.gate.passed
                if seed == 0:
                    first = min(result.items, key=lambda i: i.score - i.floor)
                    worst = f"{first.item} {first.score:.3f} (floor {first.floor:.3f}, real sample {first.null_median:.3f})"
                    if variant == "clean control":
                        started = time.perf_counter()
                        evaluate_sequences(train, synthetic, table.sdtypes, table.sequence, holdout,
                                           NullSettings(min_real_rows=10**9))  # scores only: no null drawn
                        timing[name] = (elapsed, time.perf_counter() - started, len(table.frame),
                                        table.frame[table.sequence.key].nunique())
            print(f"| {name} | {variant} | {failed} of {args.seeds} | {worst} |")
    print()
    print("| table | rows | sequences | review with null (s) | scores only (s) | ratio |")
    print("|---|---|---|---|---|---|")
    for name, (full, scores, rows, sequences) in timing.items():
        print(f"| {name} | {rows:,} | {sequences:,} | {full:.1f} | {scores:.1f} | {full / scores:.1f}x |")
    print(f"\nload average while measured: {os.getloadavg()[0]:.1f} (2 cores)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
