"""Relational review speed and agreement against sdmetrics' multi-table QualityReport, measured in one run.

    python benchmarks/relational_vs_sdmetrics.py                  # the relational demo if built, else a subset
    python benchmarks/relational_vs_sdmetrics.py --flights 3000   # our own nycflights13 subset
    python benchmarks/relational_vs_sdmetrics.py --privacy        # also the review with privacy on, by phase
    python benchmarks/relational_vs_sdmetrics.py --controls 50    # clean controls: false alarms per gate
    python benchmarks/relational_vs_sdmetrics.py --controls 50 --with-holdout   # the same, a holdout pooled

Our side is the demo's review: every table's fidelity and validity plus the relational gates with their
real-vs-real nulls (privacy off, as the target names it). sdmetrics' side is QualityReport.generate on the
same tables (association thresholds off, so every pair is scored as ours is). The ratio is ours / theirs;
both run in this process on the same (loaded) machine, so the ratio is what to compare across runs.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.checks.relational import evaluate_relational, relational_review  # noqa: E402
from core.policy import parse_policy  # noqa: E402
from core.data.relational import (load_relational_metadata, nycflights_tables, read_table_folder,  # noqa: E402
                                  split_relational)


def demo_or_subset(flights: int | None):
    """(real, synthetic, holdout, metadata, source): the relational demo (h2's core.demo.relational) when it is
    there and no --flights is given, else a seeded nycflights13 subset whose holdout-like half poses as synthetic."""
    if flights is None:
        try:
            from core.demo.relational import build_relational_demo  # type: ignore[import-not-found]

            cache = os.environ.get("REVIEW_DESK_CACHE")
            files = build_relational_demo(Path(cache) if cache else None)
            metadata = load_relational_metadata(files.metadata)
            return (read_table_folder(files.real, metadata), read_table_folder(files.synthetic, metadata),
                    read_table_folder(files.holdout, metadata), metadata, "relational demo (HMASynthesizer)")
        except ImportError:
            flights = 3000
    tables, metadata = nycflights_tables(flights=flights, seed=0)
    first = split_relational(tables, metadata, 0.2, seed=0)
    second = split_relational(first.train, metadata, 0.4, seed=1)
    return (second.train, second.holdout, first.holdout, metadata,
            f"nycflights13 subset of {flights} flights (fresh planes with their flights posing as synthetic)")


def run_sdmetrics(real, synthetic, metadata):
    from sdmetrics.reports.multi_table import QualityReport

    report = QualityReport()
    report.real_correlation_threshold = 0
    report.real_association_threshold = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        report.generate(real, synthetic, metadata.to_sdv_dict(), verbose=False)
        return time.perf_counter() - start, report


def clean_controls(seeds: int, holdout: bool = False) -> dict:
    """Relational gates on real root entities with their subtrees posing as synthetic (modechoice, nycflights13
    2,000 flights), per seed: every failure is a false alarm. Without a holdout the real side is one half and
    the synthetic the other; with one, the real side is 60%, the holdout 20% (pooled into the nulls) and the
    synthetic side the other 20%."""
    from collections import Counter

    from core.data.relational import modechoice_tables

    out = {}
    for name, (tables, metadata) in (("modechoice", modechoice_tables()), ("nycflights13", nycflights_tables(2000, 5))):
        failed, gate_runs, alarms = [], Counter(), Counter()
        for seed in range(seeds):
            if holdout:
                first = split_relational(tables, metadata, 0.4, seed=100 + seed)
                second = split_relational(first.holdout, metadata, 0.5, seed=200 + seed)
                real, synthetic, extra = first.train, second.train, second.holdout
            else:
                split = split_relational(tables, metadata, 0.5, seed=100 + seed)
                real, synthetic, extra = split.train, split.holdout, None
            _, gates = relational_review(real, synthetic, metadata, holdout=extra, seed=seed)
            gate_runs.update(g.name for g in gates)
            alarms.update(g.name for g in gates if not g.passed)
            failed += [f"seed {seed}: {g.relationship}: {g.name}: {g.detail[:160]}" for g in gates if not g.passed]
        out[name] = {"runs": seeds, "runs_failing": len({f.split(":")[0] for f in failed}),
                     "false_alarms_per_gate": {g: f"{alarms[g]}/{n} ({alarms[g] / n:.1%})" for g, n in gate_runs.items()},
                     "failures": failed}
    return out


def timed_privacy(real, synthetic, holdout, metadata) -> dict:
    """The whole review with privacy on (each table's and each parent-child join's), wall and CPU seconds per
    phase, read from the review's own progress messages (a phase lasts until the next message)."""
    marks = []

    def progress(fraction: float, message: str) -> None:
        marks.append((message, time.perf_counter(), time.process_time()))

    start, cpu = time.perf_counter(), time.process_time()
    evaluation = evaluate_relational(real, synthetic, metadata, holdout, privacy=True, progress=progress)
    marks.append(("end", time.perf_counter(), time.process_time()))
    phases: dict[str, list[float]] = {}
    for (message, wall, proc), (_, next_wall, next_proc) in zip(marks, marks[1:]):
        kind = ("per-table checks with privacy" if message.startswith("Checking table") else
                "privacy on the parent-child joins" if message.startswith("Privacy on the join") else
                "relational gates" if message.startswith("Checking") else message)
        spent = phases.setdefault(kind, [0.0, 0.0])
        spent[0] += next_wall - wall
        spent[1] += next_proc - proc
    joins = {r.relationship.label: sorted(k for k in (r.privacy or {}) if k != "skipped") for r in evaluation.relationships}
    return {"seconds": round(time.perf_counter() - start, 2), "cpu_seconds": round(time.process_time() - cpu, 2),
            "phases": {k: {"seconds": round(w, 2), "cpu_seconds": round(c, 2)} for k, (w, c) in phases.items()},
            "join_privacy_sections": joins,
            "join_rows": {r.relationship.label: {"real": int(len(real[r.relationship.child_table])),
                                                 "synthetic": int(len(synthetic[r.relationship.child_table]))}
                          for r in evaluation.relationships},
            "failed_privacy_gates": [f"{g.table or g.relationship}: {g.name}" for g in evaluation.gates
                                     if not g.passed and g.name in ("exact_copies", "distance_to_closest_record",
                                                                    "membership_inference")]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--flights", type=int, help="use our own nycflights13 subset of this many flights")
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--controls", type=int, help="only run this many clean controls per dataset")
    parser.add_argument("--with-holdout", action="store_true", help="controls: pool a real holdout into the nulls")
    parser.add_argument("--privacy", action="store_true", help="also time the review with privacy on (per table "
                        "and on each parent-child join), phase by phase")
    args = parser.parse_args()
    if args.controls:
        figures = clean_controls(args.controls, args.with_holdout)
        figures["load_average"] = os.getloadavg()
        print(json.dumps(figures, indent=2))
        return
    real, synthetic, holdout, metadata, source = demo_or_subset(args.flights)
    import sdmetrics  # noqa: F401  (imported before timing either side: its import alone takes seconds)

    start, cpu = time.perf_counter(), time.process_time()
    ours = evaluate_relational(real, synthetic, metadata, holdout, privacy=False)
    ours_seconds, ours_cpu = time.perf_counter() - start, time.process_time() - cpu
    cpu = time.process_time()
    theirs_seconds, report = run_sdmetrics(real, synthetic, metadata)
    theirs_cpu = time.process_time() - cpu
    privacy = timed_privacy(real, synthetic, holdout, metadata) if args.privacy else None

    cardinality = {(r["Parent Table"], r["Child Table"], r["Foreign Key"]): r["Score"]
                   for _, r in report.get_details("Cardinality").iterrows()}
    trends = {(r["Parent Table"], r["Child Table"], r["Foreign Key"], r["Column 1"], r["Column 2"]): r["Score"]
              for _, r in report.get_details("Intertable Trends").iterrows()}
    gaps_card, gaps_pairs = [], []
    # the gate bins mixed pairs on the real table's bins; sdmetrics bins each table on its own (the option
    # pair_binning = "sdmetrics" reproduces it), so agreement is read from a review with that option
    agreeing, _ = relational_review(real, synthetic, metadata, holdout,
                                    policy=parse_policy('[fidelity]\npair_binning = "sdmetrics"\n', "benchmark"))
    for result in agreeing:
        rel = result.relationship
        gaps_card.append(abs(result.cardinality.score - cardinality[(rel.parent_table, rel.child_table, rel.child_foreign_key)]))
        for pair in result.intertable:
            theirs = trends.get((rel.parent_table, rel.child_table, rel.child_foreign_key, pair.parent_column, pair.child_column))
            if theirs is not None and np.isfinite(theirs) and np.isfinite(pair.score):
                gaps_pairs.append(abs(pair.score - theirs))
    properties = report.get_properties().set_index("Property")["Score"].to_dict()
    figures = {
        "source": source,
        "rows": {t: len(f) for t, f in real.items()},
        "synthetic_rows": {t: len(f) for t, f in synthetic.items()},
        "ours_seconds": round(ours_seconds, 2), "sdmetrics_quality_report_seconds": round(theirs_seconds, 2),
        "ratio_ours_over_sdmetrics": round(ours_seconds / theirs_seconds, 2),
        "ours_cpu_seconds": round(ours_cpu, 2), "sdmetrics_cpu_seconds": round(theirs_cpu, 2),
        "with_privacy": privacy,
        "agreement_from": "relational_review with pair_binning = sdmetrics",
        "ours_includes": "per-table fidelity + validity with 200-resample nulls, integrity, cardinality and "
                         "inter-table trends with their parent-resample nulls",
        "max_abs_gap_cardinality": max(gaps_card) if gaps_card else None,
        "max_abs_gap_intertable_pairs": max(gaps_pairs) if gaps_pairs else None, "pairs_compared": len(gaps_pairs),
        "sdmetrics_properties": properties,
        "verdict": ours.verdict,
        "failed_gates": [f"{g.table or g.relationship}: {g.name}" for g in ours.gates if not g.passed],
        "load_average": os.getloadavg(),
    }
    print(json.dumps(figures, indent=2, default=float))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, default=float))


if __name__ == "__main__":
    main()
