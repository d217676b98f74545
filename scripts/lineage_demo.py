"""Lineage demo: regenerate the census demo table recursively for five cycles with SDV (no fresh real data) and,
beside it, a chain fed fresh real rows each cycle; record both chains in the store (dataset, generations with
parents and training mix, by user "lineage-demo", created as a reviewer if missing), keep their tables in the
cache folder (named by sha256), and print each cycle's training mix, tail health and the warnings.

    .venv/bin/python scripts/lineage_demo.py [--rows 2000] [--cycles 5] [--seed 0] [--database-url URL]
                                             [--cache-dir DIR]

The store is $DATABASE_URL (else ./review-desk.sqlite3, see core/store/engine.py); the Lineage page reads it.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.errors import ReviewError  # noqa: E402
from core.checks.lineage import lineage_gate_value  # noqa: E402
from core.demo.lineage import LINEAGE_DEMO_USER, run_and_register_demo_chains  # noqa: E402
from core.review.lineage_store import lineage_from_store  # noqa: E402
from core.store import get_engine, read_session  # noqa: E402


def _print_chain(title: str, ids: list[int], result) -> None:
    print(f"\n{title}")
    print(f"  {'cycle':>5} {'generation':>10} {'synthetic share':>15} {'fresh real':>10} {'rare cov.':>9} "
          f"{'tail mass':>9} {'variance':>8} {'distinct':>8} {'tail health':>11}")
    for gid, c in zip(ids, result.cycles):
        cells = [c.rare_category_coverage, c.tail_mass_score, c.variance_score, c.distinct_score]
        text = " ".join(f"{v:>9.3f}" if v is not None else f"{'-':>9}" for v in cells)
        print(f"  {c.cycle:>5} {gid:>10} {c.synthetic_share:>15.2f} {c.n_fresh_real_rows:>10,} {text} "
              f"{c.tail_health_score:>11.3f}")
    print(f"  lineage gate value: {lineage_gate_value(result):.3f}")
    for warning in result.warnings or ["(no warnings)"]:
        print(f"  warning: {warning}" if result.warnings else f"  {warning}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2000, help="rows per cycle (and per fresh real batch)")
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--database-url", help="store URL (default $DATABASE_URL, else ./review-desk.sqlite3)")
    parser.add_argument("--cache-dir", help="folder of the chains' tables (default .cache/lineage-tables)")
    parser.add_argument("--user", default=LINEAGE_DEMO_USER)
    args = parser.parse_args(argv)
    start = time.perf_counter()

    def progress(fraction: float, message: str) -> None:
        print(f"[{time.perf_counter() - start:6.1f} s] {message}", flush=True)

    try:
        run = run_and_register_demo_chains(args.database_url, args.cache_dir, cycles=args.cycles, seed=args.seed,
                                           rows=args.rows, user=args.user, progress=progress)
    except ReviewError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    demo = run.demo
    # Read both chains back from the store and the cache folder, as the Lineage page does.
    with read_session(get_engine(args.database_url)) as session:
        stored = {name: lineage_from_store(session, ids[-1], cache_dir=run.cache_dir)
                  for name, ids in run.generation_ids.items()}
    _print_chain("Chain 1: recursive, no fresh real data (read back from the store)",
                 stored["recursive"].generation_ids, stored["recursive"].result)
    _print_chain(f"Chain 2: {demo.rows:,} fresh real rows each cycle (read back from the store)",
                 stored["with_fresh_data"].generation_ids, stored["with_fresh_data"].result)
    print(f"\nTables kept in {run.cache_dir}; {demo.cycles} cycles of {demo.rows:,} rows, seed {demo.seed}; "
          f"SDV time {demo.seconds:.1f} s, total {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
