"""AIM's fit time against its rounds: smartnoise-synth's AIMSynthesizer with its default 16 x columns rounds
and with 2 x columns (`DPSettings.aim_rounds`), same data and epsilon, in the same run, with the column-shape
and pair-trend fidelity of each output. Each round costs one JAX compilation of the model estimate, so time
follows rounds, not the estimate's iteration count.

    python benchmarks/aim_speed.py [--table penguins|demo] [--rows N] [--epsilon 1] [--skip-default]
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


def _table(name: str, rows: int | None):
    if name == "penguins":
        from palmerpenguins import load_penguins

        frame = load_penguins().dropna().reset_index(drop=True)
    else:
        import pandas as pd

        from core.demo import build_demo

        frame = pd.read_csv(build_demo().train)
    if rows:
        frame = frame.sample(n=min(rows, len(frame)), random_state=0).reset_index(drop=True)
    return frame


def _fit(cls_kwargs, data, transformers, bounds_epsilon, cls):
    synth = cls(**cls_kwargs)
    started = time.perf_counter()
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        synth.fit(data, transformer=transformers, preprocessor_eps=bounds_epsilon)
        seconds = time.perf_counter() - started
        sampled = synth.sample(len(data))
    return seconds, sampled


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--table", default="penguins", choices=["penguins", "demo"])
    parser.add_argument("--rows", type=int)
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--skip-default", action="store_true", help="only the 2 x columns rounds")
    args = parser.parse_args()

    import pandas as pd
    from snsynth.aim.aim import AIMSynthesizer

    from core.data.io import prepare_inputs, table_from_frame
    from core.data.metadata import detect_metadata
    from core.generate.dp import DPSettings, _prepare, _restore, _transformers, default_delta
    from core.report import evaluate

    train = _table(args.table, args.rows)
    metadata = detect_metadata(train)
    # Penguins is too small to estimate bounds privately: declare them public, as the DP tests do.
    bounds = {"bill_length_mm": (25.0, 65.0), "bill_depth_mm": (10.0, 25.0), "flipper_length_mm": (160.0, 240.0),
              "body_mass_g": (2500.0, 6500.0), "year": (2007.0, 2009.0)} if args.table == "penguins" else {}
    settings = DPSettings(method="AIM", epsilon=args.epsilon, public_bounds=bounds)
    columns = train.shape[1]
    print(f"{args.table}: {len(train):,} rows x {train.shape[1]} columns, epsilon {args.epsilon:g}, "
          f"load {os.getloadavg()[0]:.1f}")
    rows = []
    for label, rounds in [(f"{2 * columns} rounds", 2 * columns)] + (
            [] if args.skip_default else [(f"{16 * columns} rounds (default)", None)]):
        kwargs = {"epsilon": args.epsilon, "delta": default_delta(len(train)), "rounds": rounds}
        np.random.seed(0)
        transformers, _, modelled = _transformers(train, metadata, settings)
        data = _prepare(train, metadata, modelled)
        bounds_epsilon = 0.0 if bounds else args.epsilon * settings.bounds_epsilon_share
        seconds, sampled = _fit(kwargs, data, transformers, bounds_epsilon, AIMSynthesizer)
        synthetic = _restore(pd.DataFrame(sampled, columns=modelled), train, metadata)
        result = evaluate(prepare_inputs(table_from_frame(train, "train"), table_from_frame(synthetic, "synthetic")),
                          seed=0)
        rows.append((label, seconds, result.fidelity.column_shapes_score, result.fidelity.column_pair_trends_score))
        print(f"{label:24s} fit {seconds:8.1f} s  column shapes {rows[-1][2]:.3f}  pair trends {rows[-1][3]:.3f}",
              flush=True)
    if len(rows) == 2:
        print(f"default rounds take {rows[1][1] / rows[0][1]:.1f}x as long")


if __name__ == "__main__":
    main()
