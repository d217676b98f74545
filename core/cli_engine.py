"""`python -m core evaluate --engine pandas|duckdb|spark`: fidelity and validity computed out-of-core.

With no --engine, DuckDB runs the checks when the tables hold more rows than the policy's
[engine] default_above_rows (core/engine/settings.py); otherwise the in-memory path runs as before.
The engine path scores fidelity and validity from SQL aggregates over the files (core/engine/checks.py);
privacy, utility and structure need rows in memory and are left out (said in the report's `engine` section).
"""
from __future__ import annotations

import argparse
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from core.engine.base import ENGINE_NAMES, make_engine
from core.engine.settings import engine_settings
from core.errors import InputError

SAMPLE_SEED_ROWS = 20_000  # rows of the real table the column sdtypes are detected on


def add_engine_argument(parser: argparse.ArgumentParser) -> None:
    """The --engine option of `evaluate`."""
    parser.add_argument("--engine", choices=ENGINE_NAMES, default=None,
                        help="where fidelity and validity run: pandas (in memory), duckdb (out-of-core SQL over the "
                             "files) or spark; default: duckdb above the policy's [engine] default_above_rows")


@dataclass
class EngineTable:
    """A table the engine reads from its file: identity without loading it (LoadedTable's contract record)."""

    path: str
    rows: int
    columns: int
    sha256: str
    frame: pd.DataFrame  # a seeded sample (plots, sdtype detection)
    warnings: list[str] = field(default_factory=list)

    def identity(self) -> dict:
        """The contract's input record: path, rows, columns, sha256 (of the file's bytes)."""
        return {"path": self.path, "rows": self.rows, "columns": self.columns, "sha256": self.sha256}


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes (streamed), or of a folder's files in name order."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
    return digest.hexdigest()


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


def chosen_engine(args: argparse.Namespace, policy) -> str:
    """The engine `evaluate` runs on: --engine, else duckdb above the policy's size, else pandas."""
    if getattr(args, "engine", None):
        return args.engine
    threshold = engine_settings(policy.sections).default_above_rows
    paths = [p for p in (args.real, args.synthetic, args.holdout) if p]
    try:
        return "duckdb" if _rows_of(paths) > threshold else "pandas"
    except Exception:  # a file DuckDB cannot read: the in-memory path gives its one-line message
        return "pandas"


def run_engine_evaluate(args: argparse.Namespace, policy):
    """Fidelity and validity of the files on the chosen engine, gated; an Evaluation as the in-memory path's."""
    from core.data.io import PreparedInputs, prepare_inputs, LoadedTable
    from core.data.metadata import metadata_from_json
    from core.engine import checks as engine_checks
    from core.report import Evaluation, apply_gates, null_settings

    settings = engine_settings(policy.sections)
    options = {"memory_limit": settings.memory_limit} if args.engine == "duckdb" or not args.engine else {}
    if getattr(args, "spark_master", None):
        options = {"master": args.spark_master}
    name = args.engine or "duckdb"
    engine = make_engine(name, **options)
    try:
        paths = {"real": args.real, "synthetic": args.synthetic}
        if args.holdout:
            paths["holdout"] = args.holdout
        tables, loaded = {}, {}
        for role, path in paths.items():
            source = Path(path)
            if not source.exists():
                raise InputError("file not found", path=str(path))
            try:
                engine.register(role, source)
                rows = engine.row_count(role)
                sample = engine.sample(role, settings.plot_sample_rows, args.seed)
            except (ValueError, OSError) as exc:
                raise InputError(f"cannot be read by the {name} engine: {str(exc).splitlines()[0]}", path=str(path)) from None
            except Exception as exc:  # the backend's own error types (duckdb, Spark)
                raise InputError(f"cannot be read by the {name} engine: {str(exc).splitlines()[0]}", path=str(path)) from None
            tables[role] = role
            loaded[role] = EngineTable(str(path), rows, sample.shape[1], file_sha256(source),
                                       sample.reset_index(drop=True))
        overrides = metadata_from_json(args.metadata) if args.metadata else None
        # sdtypes from a seeded sample of the real rows; coercion and pair sampling as the in-memory path
        samples = {role: LoadedTable(t.path, t.frame, t.sha256) for role, t in loaded.items()}
        prepared = prepare_inputs(samples["real"], samples["synthetic"], samples.get("holdout"), overrides,
                                  args.metadata)
        metadata = prepared.metadata
        null = null_settings(policy)
        notes = engine_checks.EngineNotes(name, {r: t.rows for r, t in loaded.items()})
        profiles = engine_checks.profile_columns(engine, tables, metadata)
        fidelity = engine_checks.evaluate_fidelity(engine, tables, metadata, profiles, pairs=prepared.pairs,
                                                   settings=null, notes=notes)
        validity = engine_checks.evaluate_validity(engine, tables, metadata, profiles, settings=null)
    finally:
        engine.close()
    notes.notes.append(f"column sdtypes detected on a seeded sample of {len(loaded['real'].frame)} real rows "
                       f"(seed {args.seed}); privacy, utility and structure need rows in memory and were not run")
    inputs = PreparedInputs(loaded, prepared.frames, metadata, prepared.warnings, prepared.pairs, prepared.budget)
    gates, floors = apply_gates(fidelity, validity, inputs, policy)
    evaluation = Evaluation(inputs, policy, fidelity, validity, gates, floors)
    evaluation.sections["engine"] = notes.to_dict()
    return evaluation
