"""`python -m core evaluate --engine pandas|duckdb|spark`: fidelity and validity computed out-of-core.

With no --engine, DuckDB runs the checks when the tables hold more rows than the policy's
[engine] default_above_rows (core/engine/settings.py); otherwise the in-memory path runs as before.
The engine path scores fidelity and validity from SQL aggregates over the files (core/engine/checks.py);
privacy, utility and structure need rows in memory and are left out (said in the report's `engine` section).
"""
from __future__ import annotations

import argparse

from core.engine.base import ENGINE_NAMES, make_engine
from core.engine.settings import engine_settings


def add_engine_argument(parser: argparse.ArgumentParser) -> None:
    """The --engine option of `evaluate`."""
    parser.add_argument("--engine", choices=ENGINE_NAMES, default=None,
                        help="where fidelity and validity run: pandas (in memory), duckdb (out-of-core SQL over the "
                             "files) or spark; default: duckdb above the policy's [engine] default_above_rows")


def _rows_of(paths: list[str]) -> int:
    """Rows of the given files, counted by DuckDB without loading them."""
    engine = make_engine("duckdb")
    try:
        total = 0
        for i, path in enumerate(paths):
            engine.register(f"t{i}", path)
            total += engine.row_count(f"t{i}")
        return total
    finally:
        engine.close()


def chosen_engine(args: argparse.Namespace, policy, paths: list[str] | None = None) -> str:
    """The engine `evaluate` (or `drift`, given its `paths`) runs on: --engine, else duckdb above the policy's
    size, else pandas."""
    if getattr(args, "engine", None):
        return args.engine
    threshold = engine_settings(policy.sections).default_above_rows
    paths = [p for p in (paths if paths is not None else (args.real, args.synthetic, args.holdout)) if p]
    try:
        return "duckdb" if _rows_of(paths) > threshold else "pandas"
    except Exception:  # a file DuckDB cannot read: the in-memory path gives its one-line message
        return "pandas"


def run_engine_evaluate(args: argparse.Namespace, policy):
    """`evaluate` on the chosen engine: fidelity and validity of the files, gated (core/engine/evaluate.py)."""
    from core.data.metadata import metadata_from_json
    from core.engine.evaluate import evaluate_files

    paths = {"real": args.real, "synthetic": args.synthetic}
    if args.holdout:
        paths["holdout"] = args.holdout
    from core.cli_spark import spark_options

    options = spark_options(args) if args.engine == "spark" else {}
    overrides = metadata_from_json(args.metadata) if args.metadata else None
    return evaluate_files(paths, policy, args.engine or "duckdb", seed=args.seed, overrides=overrides,
                          metadata_path=args.metadata, options=options)


def run_engine_drift(args: argparse.Namespace, policy, engine_name: str):
    """`drift` on an engine: (DriftResult, engine notes, warnings) of the two files (core/engine/evaluate.py)."""
    from core.cli_spark import spark_options
    from core.data.metadata import metadata_from_json
    from core.engine.evaluate import drift_files

    options = spark_options(args) if engine_name == "spark" else {}
    overrides = metadata_from_json(args.metadata) if args.metadata else None
    return drift_files({"real": args.reference, "current": args.current}, policy, engine_name, seed=args.seed,
                       overrides=overrides, metadata_path=args.metadata, options=options)
