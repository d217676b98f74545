"""Tables too big for memory: opened as seeded samples (plots) with scores computed out-of-core (core/engine)."""
from __future__ import annotations

import streamlit as st

from components.state import Review
from core.data.io import LoadedTable, load_table
from core.engine.evaluate import evaluate_files, open_tables
from core.engine.settings import engine_settings
from core.policy import parse_policy

SOURCE = "files"  # Review.source of tables opened from paths on the server


def open_files(paths: dict[str, str], seed: int, policy_text: str) -> Review:
    """A review of files on the server: in memory up to the policy's [engine] size, out-of-core above it."""
    from core.engine import make_engine

    policy = parse_policy(policy_text, "policy")
    settings = engine_settings(policy.sections)
    engine = make_engine("duckdb", memory_limit=settings.memory_limit)
    try:
        loaded = open_tables(engine, paths, settings.plot_sample_rows, seed)
    finally:
        engine.close()
    rows = {role: t.rows for role, t in loaded.items()}
    if sum(rows.values()) <= settings.default_above_rows:
        return Review({role: load_table(path) for role, path in paths.items()}, {}, SOURCE, {}, policy_text)
    tables = {role: LoadedTable(f"{t.path} (seeded sample of {len(t.frame):,} of {t.rows:,} rows)", t.frame, t.sha256)
              for role, t in loaded.items()}
    notes = {"engine": {"name": "duckdb", "paths": dict(paths), "rows": rows, "seed": int(seed),
                        "sample_rows": {role: len(t.frame) for role, t in loaded.items()}}}
    return Review(tables, {}, SOURCE, notes, policy_text)


def is_out_of_core(review: Review) -> bool:
    """True when the review's scores come from the engine over the whole files."""
    return "engine" in review.notes


def engine_evaluation(review: Review, policy):
    """Fidelity, validity and gates over every row of the review's files, out-of-core."""
    found = review.notes["engine"]
    return evaluate_files(found["paths"], policy, found["name"], seed=found["seed"],
                          overrides=dict(review.overrides) or None)


def engine_notice(review: Review) -> None:
    """Say on the page that scores are out-of-core and plots come from a seeded sample."""
    if not is_out_of_core(review):
        return
    found = review.notes["engine"]
    rows = ", ".join(f"{role} {n:,}" for role, n in found["rows"].items())
    sampled = ", ".join(f"{role} {n:,}" for role, n in found["sample_rows"].items())
    st.info(f"Too big for memory: scores and gates are computed out-of-core by {found['name']} over every row "
            f"({rows} rows); tables and plots are drawn from a seeded sample (seed {found['seed']}: {sampled} rows). "
            "Privacy, utility and structure checks run on the sample.", icon=":material/database:")
