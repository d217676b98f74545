"""`python -m core dp generate|sweep|audit`: differentially private generation, the epsilon sweep, the audit.

Exit codes as the rest of the CLI: 0 done / gate passed, 1 the empirical_epsilon gate failed, 2 bad input.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.errors import InputError, UsageError

EXIT_PASS, EXIT_FAIL = 0, 1


def add_dp_parser(commands) -> None:
    """Register the `dp` command and its three actions on the CLI's subparsers."""
    dp = commands.add_parser("dp", help="differentially private generation, epsilon sweep and epsilon audit")
    actions = dp.add_subparsers(dest="dp_action", required=True, parser_class=type(dp))

    gen = actions.add_parser("generate", help="fit MST or AIM on the training rows only and sample")
    gen.add_argument("--real", required=True, help="real training rows (never the holdout)")
    gen.add_argument("--out", required=True, help="synthetic table to write (CSV or Parquet by extension)")
    gen.add_argument("--manifest", required=True, help="generation manifest to write (JSON, with the DP account)")
    _common(gen)
    gen.add_argument("--epsilon", type=float, default=1.0)
    gen.add_argument("--delta", type=float, help="default 1 / (n sqrt(n))")
    gen.add_argument("--rows", type=int, help="rows to sample (default: as many as the training rows)")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--policy", help="TOML policy ([privacy] dpctgan_max_rows limits DP-CTGAN's training rows)")

    sw = actions.add_parser("sweep", help="fidelity, utility and attack success at each epsilon, over seeds")
    sw.add_argument("--real", required=True)
    sw.add_argument("--holdout", required=True)
    _common(sw)
    sw.add_argument("--epsilons", default="0.1,0.3,1,3,10", help="comma-separated list")
    sw.add_argument("--seeds", default="0,1,2", help="comma-separated list")
    sw.add_argument("--rows", type=int, help="rows each generation samples (default: as many as training rows)")
    sw.add_argument("--target", help="column for the utility check")
    sw.add_argument("--no-baseline", action="store_true", help="skip the non-private GaussianCopula baseline")
    sw.add_argument("--policy")
    sw.add_argument("--json", dest="json_out", help="write the sweep here")

    au = actions.add_parser("audit", help="empirical epsilon lower bound of a synthetic table vs its claim")
    au.add_argument("--real", required=True)
    au.add_argument("--synthetic", required=True)
    au.add_argument("--holdout", required=True)
    au.add_argument("--manifest", help="generation manifest: its differential_privacy epsilon is the claim")
    au.add_argument("--epsilon", type=float, help="claimed epsilon (overrides the manifest)")
    au.add_argument("--metadata")
    au.add_argument("--seed", type=int, default=0)
    au.add_argument("--json", dest="json_out")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", choices=["MST", "AIM", "DPCTGAN", "PATECTGAN"], default="MST",
                        help="PATECTGAN is refused with the reason (its privacy bound does not hold)")
    parser.add_argument("--bounds", help="JSON {column: [lower, upper]} or {column: {\"bounds\": [lower, upper], "
                        "\"integer\": true, \"atoms\": [0], \"scale\": \"log\", \"edges\": [...], \"bins\": n}}: what "
                        "is public about each number (no privacy spent on it); MST and AIM bin from it")
    parser.add_argument("--bins", type=int, default=16, help="bins per number where none are declared")
    parser.add_argument("--binning", choices=["declared", "equal-width"], default="declared",
                        help="declared (default): bins from the bounds file's declarations (one bin per integer of a "
                        "small declared integer range, atoms, log scale, edges); equal-width: smartnoise's "
                        "equal-width bins decoded at their middle, declarations ignored")
    parser.add_argument("--aim-rounds", type=int, help="AIM only: rounds (default 16 x columns); fewer is faster, "
                        "the guarantee is the same")
    parser.add_argument("--epochs", type=int, default=30, help="DPCTGAN only: at most this many epochs (fewer when "
                        "the training epsilon is spent sooner; the manifest records both)")
    parser.add_argument("--batch-size", type=int, default=500, help="DPCTGAN only: batch size (even)")
    parser.add_argument("--sigma", type=float, default=5.0, help="DPCTGAN only: DP-SGD noise multiplier")
    parser.add_argument("--metadata", help="JSON with column sdtypes (SDV metadata or {column: sdtype})")


def _numbers(text: str, what: str, kind=float) -> list:
    try:
        values = [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"--{what} must be a comma-separated list of numbers, not {text!r}") from None
    if not values:
        raise UsageError(f"--{what} is empty")
    return values


def _json(path: str, what: str):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"file {path}: {what} file not found") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"file {path}: not UTF-8 text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"file {path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None


def _declared(args) -> dict:
    """Public bounds and binning declarations from --bounds, with integer-ness from --metadata's
    computer_representation where the bounds file does not say."""
    from core.data.metadata import integer_representations
    from core.generate.bins import parse_declarations, with_integer_representations

    bounds, declarations = parse_declarations(_json(args.bounds, "bounds"), args.bounds) if args.bounds else ({}, {})
    if args.metadata:
        representations = integer_representations(_json(args.metadata, "metadata"), args.metadata)
        declarations = with_integer_representations(declarations, representations, args.metadata)
    return {"public_bounds": bounds, "declarations": declarations}


def _frame(path: str, metadata_path: str | None):
    from core.data.io import load_table
    from core.data.metadata import coerce_to_metadata, metadata_from_json, resolve_metadata

    table = load_table(path)
    overrides = metadata_from_json(metadata_path) if metadata_path else None
    metadata = resolve_metadata(table.frame, overrides, metadata_path)
    return coerce_to_metadata(table.frame, metadata, path), metadata, table


def _method_options(args) -> dict:
    """The DPSettings fields the method options (and the policy) of `dp generate` and `dp sweep` set."""
    from core.policy import load_policy

    policy = load_policy(args.policy)
    return {"bins": args.bins, "binning": args.binning, **_declared(args), "aim_rounds": args.aim_rounds,
            "epochs": args.epochs, "batch_size": args.batch_size, "sigma": args.sigma,
            "gan_max_rows": policy.dpctgan_max_rows, "max_bins": policy.dp_max_bins}


def _generate(args) -> int:
    from core.generate.dp import DPSettings, fit_and_sample_dp

    train, metadata, table = _frame(args.real, args.metadata)
    settings = DPSettings(method=args.method, epsilon=args.epsilon, delta=args.delta, **_method_options(args))
    synthetic, manifest = fit_and_sample_dp(train, metadata, args.rows or len(train), args.seed, settings,
                                            progress=lambda f, m: sys.stderr.write(f"[{f:4.0%}] {m}\n"))
    out = Path(args.out)
    if out.suffix.lower() == ".parquet":
        synthetic.to_parquet(out, index=False)
    else:
        synthetic.to_csv(out, index=False)
    from core.data.io import sha256_bytes

    manifest["sources"] = {"real": {"path": args.real, "sha256": table.sha256}}
    manifest["synthetic_sha256"] = sha256_bytes(out.read_bytes())
    Path(args.manifest).write_text(json.dumps(manifest, indent=2, default=str))
    dp = manifest["differential_privacy"]
    print(f"{manifest['method']}: epsilon {dp['epsilon']:g} (bounds {dp['epsilon_for_bounds']:g}, training "
          f"{dp['epsilon_for_training']:g}), delta {dp['delta']:.3g}; {len(synthetic):,} rows -> {out}")
    for column in dp["bounds_from_private_data"]:
        print(f"note: bounds of {column} were estimated from the private data (privacy spent); declare public "
              f"bounds with --bounds to keep the budget for training")
    for column, info in dp["columns"].items():
        if "declared_bounds_not_used" in info:
            print(f"note: the bounds file's entry for {column} was not used: {info['declared_bounds_not_used']}")
        elif "binning" in info:
            print(f"{column}: {info['bins']} bins, {info['binning']} ({info['binning_source']})")
    return EXIT_PASS


def _sweep(args) -> int:
    from core.generate.sweep import summary_table, sweep_epsilon
    from core.policy import load_policy

    train, metadata, _ = _frame(args.real, args.metadata)
    holdout, _, _ = _frame(args.holdout, args.metadata)
    if args.target is not None and args.target not in train.columns:
        raise UsageError(f"--target {args.target!r} is not a column of {args.real}")
    from core.generate.dp import DPSettings

    sweep = sweep_epsilon(train, holdout, metadata, epsilons=_numbers(args.epsilons, "epsilons"),
                          seeds=_numbers(args.seeds, "seeds", int), target=args.target, rows=args.rows,
                          settings=DPSettings(method=args.method, **_method_options(args)),
                          baseline=not args.no_baseline,
                          policy=load_policy(args.policy),
                          progress=lambda f, m: sys.stderr.write(f"[{f:4.0%}] {m}\n"))
    table = summary_table(sweep)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    chosen = sweep.chosen_epsilon
    print(f"chosen epsilon: {chosen:g}" if chosen is not None else
          "chosen epsilon: none (no epsilon passes the fidelity and utility gates on every seed)")
    print(f"{len(sweep.points)} generations in {sweep.seconds:.0f} s")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(sweep.to_dict(), indent=2))
    return EXIT_PASS


def _audit(args) -> int:
    from core.checks.dp import audit_membership, claimed_privacy, empirical_epsilon_gate

    train, metadata, _ = _frame(args.real, args.metadata)
    synthetic, _, _ = _frame(args.synthetic, args.metadata)
    holdout, _, _ = _frame(args.holdout, args.metadata)
    manifest = None
    if args.manifest:
        try:
            manifest = json.loads(Path(args.manifest).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(f"file {args.manifest}: manifest not found") from None
        except json.JSONDecodeError as exc:
            raise InputError(f"file {args.manifest}: not valid JSON ({exc.msg})") from None
    epsilon, delta = claimed_privacy(manifest)
    if args.epsilon is not None:
        epsilon = args.epsilon
    result = audit_membership(train, synthetic, holdout, metadata, epsilon, delta, seed=args.seed)
    gate = empirical_epsilon_gate(result)
    print(f"empirical_epsilon: {'pass' if gate.passed else 'FAIL'}: {gate.detail}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"audit": result.to_dict(), "gate": gate.to_dict()}, indent=2))
    return EXIT_PASS if gate.passed else EXIT_FAIL


def run_dp(args) -> int:
    """Dispatch `python -m core dp ACTION`."""
    return {"generate": _generate, "sweep": _sweep, "audit": _audit}[args.dp_action](args)
