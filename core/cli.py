"""Command line: `python -m core evaluate|split|demo ...`; exit 0 pass, 1 a gate failed, 2 bad input."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.errors import ReviewError
from core.io import load_table, prepare_inputs
from core.metadata import metadata_from_json
from core.policy import load_policy
from core.report import Evaluation, evaluate

EXIT_PASS, EXIT_FAIL, EXIT_BAD_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error on one line and exits 2."""

    def error(self, message: str) -> None:  # noqa: D102 - argparse hook
        sys.stderr.write(f"{self.prog}: {message}\n")
        raise SystemExit(EXIT_BAD_INPUT)


def build_parser() -> argparse.ArgumentParser:
    """The CLI's argument parser."""
    parser = _Parser(prog="python -m core", description="Review desk for synthetic tabular data.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    ev = commands.add_parser("evaluate", help="score a synthetic table against the real one and apply the gates")
    ev.add_argument("--real", required=True, help="real training rows the generator saw (CSV or Parquet)")
    ev.add_argument("--synthetic", required=True, help="synthetic table (CSV or Parquet)")
    ev.add_argument("--holdout", help="locked real holdout the generator never saw")
    ev.add_argument("--metadata", help="JSON with column sdtypes (SDV metadata or {column: sdtype})")
    ev.add_argument("--policy", help="TOML policy overriding the default gate thresholds")
    ev.add_argument("--json", dest="json_out", help="write the JSON report here")
    ev.add_argument("--seed", type=int, default=0, help="seed of every sample the checks draw (recorded)")
    ev.add_argument("--no-privacy", action="store_true", help="skip the privacy checks (they need a holdout)")

    sp = commands.add_parser("split", help="lock a holdout: seeded split of a real table into train and holdout")
    sp.add_argument("--real", required=True)
    sp.add_argument("--fraction", type=float, default=0.2)
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--stratify", help="column to stratify on")
    sp.add_argument("--out-dir", required=True)

    demo = commands.add_parser("demo", help="write the bundled demo's train, holdout and synthetic files")
    demo.add_argument("--out-dir", help="folder for the demo files (default .cache/)")
    return parser


def summary_text(evaluation: Evaluation, limit: int = 5) -> str:
    """A readable summary: verdict, gates, then the worst columns and pairs first."""
    fidelity = evaluation.fidelity
    lines = [f"Verdict: {evaluation.verdict.upper()}   quality score {fidelity.score:.3f} "
             f"(column shapes {fidelity.column_shapes_score:.3f}, pair trends {fidelity.column_pair_trends_score:.3f})"]
    for gate in evaluation.gates:
        mark = "PASS" if gate.passed else "FAIL"
        lines.append(f"  [{mark}] {gate.name}: {gate.value:.4f} vs {gate.threshold:.4f} ({gate.detail})")
    lines.append("Worst columns:")
    for c in sorted(fidelity.column_shapes, key=lambda c: c.score)[:limit]:
        expected = f", holdout {c.expected:.3f}" if c.expected is not None else ""
        lines.append(f"  {c.column:<32} {c.metric:<14} {c.score:.3f}{expected}")
    lines.append("Worst pairs:")
    for p in sorted(fidelity.pair_trends, key=lambda p: p.score)[:limit]:
        expected = f", holdout {p.expected:.3f}" if p.expected is not None else ""
        real = f"{p.real:+.3f}" if p.real is not None else "n/a"
        synthetic = f"{p.synthetic:+.3f}" if p.synthetic is not None else "n/a"
        lines.append(f"  {' / '.join(p.columns):<48} {p.score:.3f}{expected}  association real {real}, synthetic {synthetic}")
    for skipped in fidelity.skipped:
        lines.append(f"Skipped {skipped.item}: {skipped.reason}")
    for warning in evaluation.inputs.warnings:
        lines.append(f"Warning: {warning}")
    return "\n".join(lines)


def _evaluate(args: argparse.Namespace) -> int:
    policy = load_policy(args.policy)
    overrides = metadata_from_json(args.metadata) if args.metadata else None
    inputs = prepare_inputs(load_table(args.real), load_table(args.synthetic),
                            load_table(args.holdout) if args.holdout else None, overrides, args.metadata)
    evaluation = evaluate(inputs, policy, privacy=not args.no_privacy, seed=args.seed)
    print(summary_text(evaluation))
    if args.json_out:
        out = Path(args.json_out)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(json.dumps(evaluation.to_dict(), indent=2))
        tmp.replace(out)
    return EXIT_PASS if evaluation.verdict == "pass" else EXIT_FAIL


def _split(args: argparse.Namespace) -> int:
    from core.holdout import split_holdout

    table = load_table(args.real)
    split = split_holdout(table.frame, args.fraction, args.seed, args.stratify)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    split.train.to_csv(out / "train.csv", index=False)
    split.holdout.to_csv(out / "holdout.csv", index=False)
    manifest = split.manifest() | {"source_path": table.path, "source_file_sha256": table.sha256}
    (out / "holdout.json").write_text(json.dumps(manifest, indent=2))
    print(json.dumps(manifest, indent=2))
    return EXIT_PASS


def _demo(args: argparse.Namespace) -> int:
    from core.demo import build_demo

    files = build_demo(Path(args.out_dir) if args.out_dir else None)
    print(f"real (training part): {files.train}\nholdout: {files.holdout}\nsynthetic: {files.synthetic}\n"
          f"manifest: {files.manifest}")
    return EXIT_PASS


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    args = build_parser().parse_args(argv)
    handlers = {"evaluate": _evaluate, "split": _split, "demo": _demo}
    try:
        return handlers[args.command](args)
    except ReviewError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_BAD_INPUT
    except (OSError, MemoryError) as exc:
        sys.stderr.write(f"error: {type(exc).__name__}: {exc}\n")
        return EXIT_BAD_INPUT
