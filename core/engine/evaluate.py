"""Fidelity and validity of files on an engine, gated as the in-memory path gates them (CLI and dashboard).

The files are never loaded: the engine aggregates them (core/engine/checks.py). A seeded sample of each table
(the policy's [engine] plot_sample_rows) stands in where rows are needed: sdtype detection, plots.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from core.engine.base import local_path, make_engine
from core.engine.settings import engine_settings
from core.errors import InputError


@dataclass
class EngineTable:
    """A table the engine reads from its file: its identity without loading it, and a seeded sample."""

    path: str
    rows: int
    columns: int
    sha256: str
    frame: pd.DataFrame  # a seeded sample (plots, sdtype detection)
    warnings: list[str] = field(default_factory=list)
    listing: list[dict] | None = None  # a remote URL: the engine's listing of its files (no content hash)

    def identity(self) -> dict:
        """The contract's input record: path, rows, columns, sha256 (of the file's bytes). For a remote URL the
        driver cannot open, sha256 is that of the engine's listing (path, size, modification time of each file),
        said so by `sha256_of` and the listing itself (keys added to the contract's record)."""
        record = {"path": self.path, "rows": self.rows, "columns": self.columns, "sha256": self.sha256}
        if self.listing is not None:
            record |= {"sha256_of": "listing (path, size, modification time of each file): not a content hash",
                       "listing": self.listing}
        return record


def listing_sha256(listing: list[dict]) -> str:
    """Hex sha256 of a file listing in canonical JSON (sorted keys, files in path order)."""
    return hashlib.sha256(json.dumps(listing, sort_keys=True).encode("utf-8")).hexdigest()


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes (streamed), or of a folder's files in name order."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
    return digest.hexdigest()


def open_tables(engine, paths: dict[str, str], sample_rows: int, seed: int) -> dict[str, EngineTable]:
    """Register every file on the engine; count its rows and draw its seeded sample (one-line errors)."""
    loaded = {}
    for role, path in paths.items():
        source = local_path(path)
        if source is not None and not source.exists():
            raise InputError("file not found", path=str(path))
        try:
            engine.register(role, source if source is not None else str(path))
            rows = engine.row_count(role)
            sample = engine.sample(role, sample_rows, seed).reset_index(drop=True)
            listing = engine.listing(str(path)) if source is None else None
        except Exception as exc:  # the backend's own error types (duckdb, Spark): one line naming the file
            raise InputError(f"cannot be read by the {engine.name} engine: {str(exc).splitlines()[0]}",
                             path=str(path)) from None
        if source is not None:  # the driver opens it: a hash of its bytes
            loaded[role] = EngineTable(str(path), rows, sample.shape[1], file_sha256(source), sample)
        else:
            loaded[role] = EngineTable(str(path), rows, sample.shape[1], listing_sha256(listing), sample,
                                       [f"{path}: identified by the engine's file listing (path, size, modification "
                                        f"time), not by a hash of its content"], listing)
    return loaded


def start_engine(engine_name: str, settings, options: dict | None):
    """The named engine with the caller's options; DuckDB gets the policy's memory limit unless one is given."""
    options = dict(options or {})
    if engine_name == "duckdb":
        options.setdefault("memory_limit", settings.memory_limit)
    return make_engine(engine_name, **options)


def evaluate_files(paths: dict[str, str], policy, engine_name: str = "duckdb", seed: int = 0,
                   overrides: dict[str, str] | None = None, metadata_path: str | None = None,
                   options: dict | None = None):
    """An Evaluation of the files ('real', 'synthetic', optional 'holdout'): scores over every row, out-of-core."""
    from core.data.io import LoadedTable, PreparedInputs, prepare_inputs
    from core.engine import checks
    from core.report import Evaluation, apply_gates, null_settings

    settings = engine_settings(policy.sections)
    engine = start_engine(engine_name, settings, options)
    try:
        loaded = open_tables(engine, paths, settings.plot_sample_rows, seed)
        samples = {role: LoadedTable(t.path, t.frame, t.sha256, list(t.warnings)) for role, t in loaded.items()}
        # sdtypes detected on the real sample; coercion checks and the pair budget as the in-memory path's
        prepared = prepare_inputs(samples["real"], samples["synthetic"], samples.get("holdout"), overrides,
                                  metadata_path)
        metadata = prepared.metadata
        tables = {role: role for role in loaded}
        null = null_settings(policy)
        notes = checks.EngineNotes(engine_name, {r: t.rows for r, t in loaded.items()})
        profiles = checks.profile_columns(engine, tables, metadata, settings.max_distinct_values)
        tallies = checks.tally_tables(engine, tables, profiles, prepared.pairs)
        fidelity = checks.evaluate_fidelity(engine, tables, metadata, profiles, pairs=prepared.pairs,
                                            settings=null, notes=notes, tallies=tallies,
                                            samples={role: t.frame for role, t in loaded.items()})
        validity = checks.evaluate_validity(engine, tables, metadata, profiles, settings=null, tallies=tallies)
    finally:
        engine.close()
    notes.notes.append(f"column sdtypes detected on a seeded sample of {len(loaded['real'].frame)} real rows "
                       f"(seed {seed}); privacy, utility and structure need rows in memory and were not run")
    inputs = PreparedInputs(loaded, prepared.frames, metadata, prepared.warnings, prepared.pairs, prepared.budget)
    gates, floors = apply_gates(fidelity, validity, inputs, policy)
    evaluation = Evaluation(inputs, policy, fidelity, validity, gates, floors)
    evaluation.sections["engine"] = notes.to_dict()
    return evaluation


def drift_files(paths: dict[str, str], policy, engine_name: str = "duckdb", seed: int = 0,
                overrides: dict[str, str] | None = None, metadata_path: str | None = None,
                options: dict | None = None):
    """Drift of the files {'real': reference, 'current': new batch} on an engine: (DriftResult, engine notes,
    input warnings). Sdtypes are detected on a seeded sample of the reference, as `evaluate --engine` does."""
    from core.data.io import LoadedTable, prepare_inputs
    from core.engine import checks
    from core.engine.drift import detect_drift

    settings = engine_settings(policy.sections)
    engine = start_engine(engine_name, settings, options)
    try:
        loaded = open_tables(engine, paths, settings.plot_sample_rows, seed)
        samples = {role: LoadedTable(t.path, t.frame, t.sha256, list(t.warnings)) for role, t in loaded.items()}
        prepared = prepare_inputs(samples["real"], samples["current"], None, overrides, metadata_path)
        tables = {role: role for role in loaded}
        profiles = checks.profile_columns(engine, tables, prepared.metadata, settings.max_distinct_values)
        result = detect_drift(engine, tables, prepared.metadata, policy.drift(), pairs=prepared.pairs,
                              profiles=profiles)
    finally:
        engine.close()
    notes = checks.EngineNotes(engine_name, {r: t.rows for r, t in loaded.items()})
    notes.notes.append(f"column sdtypes detected on a seeded sample of {len(loaded['real'].frame)} reference rows "
                       f"(seed {seed}); every statistic from all rows")
    return result, notes, prepared.warnings
