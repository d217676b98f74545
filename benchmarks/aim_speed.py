"""AIM's time: smartnoise-synth's AIMSynthesizer (the reference, JAX estimate every round) against the desk's
FastAIMSynthesizer (NumPy estimate, warm-started), same data, epsilon, bounds and rounds, in the same run, with
wall and CPU time, rounds run, load average, and the column-shape and pair-trend fidelity of each output.

    python benchmarks/aim_speed.py [--table penguins|demo] [--rows N] [--epsilon 1] [--rounds R] [--skip-reference]

The reference on the 16,000-row demo takes minutes on an idle machine (each round compiles an XLA program);
--skip-reference times only the desk's AIM.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

PENGUIN_BOUNDS = {"bill_length_mm": (25.0, 65.0), "bill_depth_mm": (10.0, 25.0), "flipper_length_mm": (160.0, 240.0),
                  "body_mass_g": (2500.0, 6500.0), "year": (2007.0, 2009.0)}


def _table(name: str, rows: int | None):
    """Training rows, their metadata, public bounds and binning declarations (the demo's public declaration)."""
    from core.data.io import load_table
    from core.data.metadata import coerce_to_metadata, resolve_metadata

    if name == "penguins":
        from palmerpenguins import load_penguins

        from core.data.metadata import detect_metadata

        frame = load_penguins().dropna().reset_index(drop=True)
        metadata, bounds, declarations = detect_metadata(frame), PENGUIN_BOUNDS, {}
    else:
        from benchmarks.dp_sweep import CENSUS_BOUNDS, CENSUS_DECLARATIONS
        from core.demo import build_demo

        path = build_demo().train
        frame = load_table(path).frame
        metadata = resolve_metadata(frame)
        frame, bounds = coerce_to_metadata(frame, metadata, str(path)), CENSUS_BOUNDS
        declarations = CENSUS_DECLARATIONS
    if rows:
        frame = frame.sample(n=min(rows, len(frame)), random_state=0).reset_index(drop=True)
    return frame, metadata, bounds, declarations


def _run(cls, kwargs: dict, train, metadata, settings) -> dict:
    """Fit and sample one synthesizer; times, rounds and fidelity."""
    import pandas as pd

    from core.data.io import prepare_inputs, table_from_frame
    from core.generate.dp import _prepare, _restore, _transformers, rounding
    from core.report import evaluate

    np.random.seed(0)
    transformers, _, modelled = _transformers(train, metadata, settings)
    data = _prepare(train, metadata, modelled)
    bounds_epsilon = 0.0 if len(settings.public_bounds) >= sum(
        metadata[c] in ("numerical", "datetime") for c in modelled) else settings.epsilon * settings.bounds_epsilon_share
    synthesizer = cls(**kwargs)
    rounds = {"n": 0}
    if not hasattr(synthesizer, "rounds_run"):  # smartnoise's AIM does not say how many rounds it ran
        original = synthesizer._worst_approximated

        def counted(*args, **kw):
            rounds["n"] += 1
            return original(*args, **kw)

        synthesizer._worst_approximated = counted
    wall, cpu = time.perf_counter(), time.process_time()
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        synthesizer.fit(data, transformer=transformers, preprocessor_eps=bounds_epsilon)
        fit_wall = time.perf_counter() - wall
        sampled = synthesizer.sample(len(data))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    synthetic = _restore(pd.DataFrame(sampled, columns=modelled), train, metadata, rounding(train, metadata, settings))
    result = evaluate(prepare_inputs(table_from_frame(train, "train"), table_from_frame(synthetic, "synthetic")),
                      seed=0)
    return {"wall": wall, "cpu": cpu, "fit": fit_wall, "rounds": getattr(synthesizer, "rounds_run", rounds["n"]),
            "shapes": result.fidelity.column_shapes_score, "trends": result.fidelity.column_pair_trends_score}


def main() -> None:
    """Time the reference and the desk's AIM on one table and print both and their ratio."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--table", default="penguins", choices=["penguins", "demo"])
    parser.add_argument("--rows", type=int)
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, help="AIM's planned rounds (default 16 x columns)")
    parser.add_argument("--skip-reference", action="store_true", help="only the desk's AIM")
    args = parser.parse_args()

    from snsynth.aim.aim import AIMSynthesizer

    from core.generate.aim import FastAIMSynthesizer
    from core.generate.dp import DPSettings, default_delta

    train, metadata, bounds, declarations = _table(args.table, args.rows)
    settings = DPSettings(method="AIM", epsilon=args.epsilon, public_bounds=bounds, declarations=declarations)
    print(f"{args.table}: {len(train):,} rows x {train.shape[1]} columns, epsilon {args.epsilon:g}, "
          f"load {os.getloadavg()[0]:.1f}", flush=True)
    kwargs = {"epsilon": args.epsilon, "delta": default_delta(len(train)), "rounds": args.rounds}
    runs = [("desk (NumPy, warm start)", FastAIMSynthesizer,
             {**kwargs, "round_iters": settings.aim_round_iters, "final_iters": settings.iters})]
    if not args.skip_reference:
        runs.append(("smartnoise-synth", AIMSynthesizer, kwargs))
    results = []
    for label, cls, cls_kwargs in runs:
        r = _run(cls, cls_kwargs, train, metadata, settings)
        results.append(r)
        print(f"{label:26s} wall {r['wall']:7.1f} s (fit {r['fit']:7.1f} s)  cpu {r['cpu']:7.1f} s  "
              f"rounds {r['rounds']:3d}  column shapes {r['shapes']:.3f}  pair trends {r['trends']:.3f}  "
              f"load {os.getloadavg()[0]:.1f}", flush=True)
    if len(results) == 2:
        print(f"smartnoise's AIM takes {results[1]['wall'] / results[0]['wall']:.1f}x the wall time and "
              f"{results[1]['cpu'] / results[0]['cpu']:.1f}x the CPU time of the desk's")


if __name__ == "__main__":
    main()
