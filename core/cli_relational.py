"""Relational mode of the CLI: `evaluate`, `split` and `register` when --real names a folder of table files.

A folder in --real (with SDV multi-table metadata in --metadata) switches these commands to multi-table data:
one `<table>.csv` or `<table>.parquet` per table. Exit codes as the rest of the CLI (0 pass, 1 a gate failed,
2 bad input naming file, table and column, 3 internal error).
"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from core.data.relational import (DataError, FolderTable, combined_sha256, folder_file_hashes,  # noqa: F401
                                  folder_table, load_relational_metadata, read_table_folder, split_relational)
from core.checks.relational.results import numpy_json_default
from core.errors import UsageError

EXIT_PASS, EXIT_FAIL = 0, 1


def is_relational(args: argparse.Namespace) -> bool:
    """True when --real names a folder (relational mode); a folder without --metadata is a usage error."""
    real = getattr(args, "real", None)
    if not real or not Path(real).is_dir():
        return False
    if not getattr(args, "metadata", None):
        raise UsageError(f"file {real}: is a folder, not a file; a folder of tables needs --metadata "
                         "(SDV multi-table metadata JSON)")
    return True


def _folder(path: str | None, role: str, must: bool = True) -> Path | None:
    if path is None:
        return None
    folder = Path(path)
    if not folder.is_dir():
        raise DataError(f"the {role} must be a folder of table files too (relational mode)", path=path)
    return folder


def _read(args: argparse.Namespace):
    """Metadata and the real, synthetic and holdout folders' tables."""
    from core.cli import _budget
    from core.policy import load_policy

    metadata = load_relational_metadata(args.metadata)
    budget = _budget(load_policy(getattr(args, "policy", None)))
    real = read_table_folder(_folder(args.real, "real data"), metadata, budget)
    synthetic = read_table_folder(_folder(args.synthetic, "synthetic data"), metadata, budget) \
        if getattr(args, "synthetic", None) else None
    holdout = read_table_folder(_folder(args.holdout, "holdout"), metadata, budget) \
        if getattr(args, "holdout", None) else None
    return metadata, real, synthetic, holdout


def summary_text(evaluation) -> str:
    """Verdict and every gate, each named with its table or relationship."""
    lines = [f"Verdict: {evaluation.verdict.upper()}   ({len(evaluation.tables)} tables, "
             f"{len(evaluation.relationships)} relationships)"]
    for gate in evaluation.gates:
        where = gate.table or gate.relationship or ""
        mark = "PASS" if gate.passed else "FAIL"
        lines.append(f"  [{mark}] {where}: {gate.name} {gate.value:.4f} vs {gate.threshold:.4f} ({gate.detail})")
    for result in evaluation.relationships:
        lines.append(f"{result.relationship.label}: cardinality {result.cardinality.score:.4f}, inter-table "
                     f"trends {result.intertable_score:.4f}, orphans real {result.integrity.real_orphan_share:.2%} "
                     f"synthetic {result.integrity.synthetic_orphan_share:.2%}")
    for table, why in evaluation.skipped_tables.items():
        lines.append(f"Table {table}: no column checks ({why})")
    return "\n".join(lines)


def run_evaluate(args: argparse.Namespace) -> int:
    """`evaluate` on folders: every table's checks plus the relational gates; the JSON report as the contract's."""
    from core.checks.relational import evaluate_relational
    from core.cli import _enter
    from core.policy import load_policy

    _enter("loading")
    metadata, real, synthetic, holdout = _read(args)
    _enter("relational")
    evaluation = evaluate_relational(real, synthetic, metadata, holdout, load_policy(args.policy), seed=args.seed,
                                     privacy=not args.no_privacy,
                                     paths={"real": args.real, "synthetic": args.synthetic, "holdout": args.holdout})
    if metadata.sequence_keys:  # tables with SDV sequential metadata: their "sequences" section and gate (h3)
        from core.checks.sequence import with_relational_sequences
        from core.report import null_settings

        _enter("sequences")
        policy = load_policy(args.policy)
        evaluation = with_relational_sequences(evaluation, real, synthetic, holdout, null_settings(policy, args.seed),
                                               policy.gate("sequence_trends", "tolerance", 0.0))
    _enter("report")
    print(summary_text(evaluation))
    if args.json_out:
        out = Path(args.json_out)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(json.dumps(evaluation.to_dict(), indent=2, default=numpy_json_default))
        tmp.replace(out)
    return EXIT_PASS if evaluation.verdict == "pass" else EXIT_FAIL




def run_split(args: argparse.Namespace) -> int:
    """`split` on a folder: root entities with their subtrees to train/ and holdout/, manifest beside them."""
    from core.cli import _enter

    _enter("loading")
    metadata, real, _, _ = _read(argparse.Namespace(**{**vars(args), "synthetic": None, "holdout": None}))
    _enter("split")
    split = split_relational(real, metadata, args.fraction, args.seed)
    _enter("writing")
    out = Path(args.out_dir)
    for side, tables in (("train", split.train), ("holdout", split.holdout)):
        (out / side).mkdir(parents=True, exist_ok=True)
        for name, frame in tables.items():
            frame.to_csv(out / side / f"{name}.csv", index=False)
    manifest = dict(split.manifest, source_path=str(args.real), source_file_sha256=folder_file_hashes(args.real),
                    train_file_sha256=folder_file_hashes(out / "train"),
                    holdout_file_sha256=folder_file_hashes(out / "holdout"))
    (out / "holdout.json").write_text(json.dumps(manifest, indent=2))
    print(json.dumps(manifest, indent=2))
    return EXIT_PASS


def current_sha256(path: str) -> str | None:
    """For `signoff approve` / `gate`: a folder's combined file hash (None: not a folder, hash the file)."""
    return combined_sha256(folder_file_hashes(path)) if Path(path).is_dir() else None


def run_register(args: argparse.Namespace) -> int:
    """`register` on folders: the generation's manifest gains every table's file sha256 (table_file_sha256)."""
    from core.checks.relational import evaluate_relational
    from core.cli import _store
    from core.policy import load_policy
    from core.review.signoff import register_reviewed_generation, relational_manifest
    from core.store import session_scope
    from core.errors import InputError

    try:
        manifest = json.loads(Path(args.manifest).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read the manifest ({exc})", path=args.manifest) from None
    metadata, real, synthetic, holdout = _read(args)
    evaluation = evaluate_relational(real, synthetic, metadata, holdout, load_policy(args.policy),
                                     paths={"real": args.real, "synthetic": args.synthetic, "holdout": args.holdout})
    sides = {"real": folder_table(args.real, real), "synthetic": folder_table(args.synthetic, synthetic)}
    if holdout is not None:
        sides["holdout"] = folder_table(args.holdout, holdout)
    manifest = relational_manifest(manifest, sides, metadata)
    report = evaluation.to_json()
    with session_scope(_store(args)) as session:
        generation_id = register_reviewed_generation(
            session, real=sides["real"], synthetic=sides["synthetic"], holdout=sides.get("holdout"),
            manifest=manifest, created_by=args.user, report=report)
    print(f"generation {generation_id} registered ({evaluation.verdict}); review it in the dashboard")
    print(generation_id)
    return EXIT_PASS
