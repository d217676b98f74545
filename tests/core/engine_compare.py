"""Helpers for the engine tests: the in-memory checks and the engine's on the same tables, compared."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from core.checks.fidelity import evaluate_fidelity
from core.checks.validity import evaluate_validity
from core.data.metadata import coerce_to_metadata, detect_metadata
from core.engine import checks as engine_checks
from core.engine import make_engine
from core.policy import load_policy
from core.report import apply_gates, null_settings


def prepared(tables: dict[str, pd.DataFrame], metadata=None) -> tuple[dict[str, pd.DataFrame], dict]:
    """Tables coerced to the real table's detected sdtypes (as prepare_inputs coerces them)."""
    metadata = metadata or detect_metadata(tables["real"])
    return {r: coerce_to_metadata(f, metadata, r).reset_index(drop=True) for r, f in tables.items()}, metadata


def both_paths(tables: dict[str, pd.DataFrame], metadata: dict, engine_name: str, folder: Path,
               row_sample: int = engine_checks.ROW_SAMPLE):
    """(in-memory fidelity, validity, gates), (engine fidelity, validity, gates) on the same tables."""
    policy = load_policy()
    settings = null_settings(policy)
    memory_f = evaluate_fidelity(tables, metadata, settings=settings)
    memory_v = evaluate_validity(tables, metadata, settings=settings)
    engine = make_engine(engine_name)
    names = {}
    for role, frame in tables.items():
        path = folder / f"{role}.parquet"
        frame.to_parquet(path, index=False)
        engine.register(role, path)
        names[role] = role
    # as `evaluate --engine` runs them: one profile query and one tally scan per table, shared by both checks
    profiles = engine_checks.profile_columns(engine, names, metadata)
    tallies = engine_checks.tally_tables(engine, names, profiles)
    engine_f = engine_checks.evaluate_fidelity(engine, names, metadata, profiles, settings=settings,
                                               row_sample=row_sample, tallies=tallies)
    engine_v = engine_checks.evaluate_validity(engine, names, metadata, profiles, settings=settings, tallies=tallies)
    memory_gates, _ = apply_gates(memory_f, memory_v, None, policy)
    engine_gates, _ = apply_gates(engine_f, engine_v, None, policy)
    engine.close()
    return (memory_f, memory_v, memory_gates), (engine_f, engine_v, engine_gates)


def close(a, b, tol=1e-9) -> bool:
    """Equal to `tol`, None equal to None, NaN equal to NaN."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(close(x, y, tol) for x, y in zip(a, b))
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    a, b = float(a), float(b)
    return (np.isnan(a) and np.isnan(b)) or abs(a - b) <= tol


def differences(memory, engine, metadata: dict) -> list[str]:
    """Every score, association, share and verdict on which the two paths differ (empty when equal)."""
    (mf, mv, mg), (ef, ev, eg) = memory, engine
    out = []
    ms, es = {c.column: c for c in mf.column_shapes}, {c.column: c for c in ef.column_shapes}
    if set(ms) != set(es):
        out.append(f"column shapes scored: {sorted(ms)} vs {sorted(es)}")
    for name in set(ms) & set(es):
        keys = ["metric", "score", "expected", "sizes"]
        tied = ms[name].metric == "TVComplement" and close(abs(ms[name].real - ms[name].synthetic),
                                                           abs(es[name].real - es[name].synthetic))
        if not tied:  # categories tied for the largest gap: SQL has no row order, either may be named
            keys += ["real", "synthetic", "at"]
        for key in keys:
            if not close(getattr(ms[name], key), getattr(es[name], key)):
                out.append(f"shape {name}.{key}: {getattr(ms[name], key)} vs {getattr(es[name], key)}")
        if (ms[name].null is None) != (es[name].null is None):
            out.append(f"shape {name}: null drawn in one path only")
    mp, ep = {p.columns: p for p in mf.pair_trends}, {p.columns: p for p in ef.pair_trends}
    if set(mp) != set(ep):
        out.append(f"pairs scored: {sorted(set(mp) ^ set(ep))}")
    for name in set(mp) & set(ep):
        # The correlation ratio sums squares of raw values; on dates in nanoseconds (1e18) both paths keep only
        # about 8 digits of it, so the association shown beside a date pair is compared to 1e-6 relative.
        dated = any(metadata.get(c) == "datetime" for c in name)
        for key in ("metric", "score", "real", "synthetic", "expected", "rank_score", "sizes"):
            tol = 1e-6 * max(abs(getattr(mp[name], key) or 0.0), 1.0) if dated and key in ("real", "synthetic") else 1e-9
            if not close(getattr(mp[name], key), getattr(ep[name], key), tol):
                out.append(f"pair {name}.{key}: {getattr(mp[name], key)} vs {getattr(ep[name], key)}")
    if sorted((s.item, s.reason) for s in mf.skipped) != sorted((s.item, s.reason) for s in ef.skipped):
        out.append(f"skipped: {mf.skipped} vs {ef.skipped}")
    for side in ("columns", "baseline"):
        for name, m in getattr(mv, side).items():
            e = getattr(ev, side)[name]
            for key, value in m.to_dict().items():
                if key in ("null_median", "floor", "tail_probability"):
                    continue
                if key == "missing_categories":
                    if sorted(value) != sorted(e.missing_categories):
                        out.append(f"validity {side} {name}.{key}: {value} vs {e.missing_categories}")
                elif not close(value, getattr(e, key)):
                    out.append(f"validity {side} {name}.{key}: {value} vs {getattr(e, key)}")
            for key in ("judged_tails", "collapsed_tails", "expected_categories", "sample_rows", "reference_rows",
                        "chance_invalid_share"):
                if getattr(m, key) != getattr(e, key) and not close(getattr(m, key), getattr(e, key)):
                    out.append(f"validity {side} {name}.{key}: {getattr(m, key)} vs {getattr(e, key)}")
    for key in ("duplicate_rows_share_synthetic", "duplicate_rows_share_real"):
        if not close(getattr(mv, key), getattr(ev, key)):
            out.append(f"{key}: {getattr(mv, key)} vs {getattr(ev, key)}")
    verdicts = lambda gates: {g.name: g.passed for g in gates}
    if verdicts(mg) != verdicts(eg):
        out.append(f"gate verdicts: {verdicts(mg)} vs {verdicts(eg)}")
    return out
