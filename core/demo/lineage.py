"""The lineage demo: regenerate a table five times recursively and five times with fresh real data, and
register both chains in the store."""
from __future__ import annotations

import time
import warnings as _warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from core.errors import UsageError
from core.data.metadata import Metadata


from core.checks.drift import SKIPPED_SDTYPES
from core.checks.lineage import GenerationLink, LineagePolicy, LineageResult, lineage_report
from core.review.lineage_store import lineage_cache_dir, register_chain


# --- demo chains -------------------------------------------------------------------------------------------


@dataclass
class DemoChains:
    """Two five-cycle chains from one real sample: recursive (no fresh data) and with fresh real data each cycle."""

    recursive: LineageResult
    with_fresh_data: LineageResult
    rows: int
    cycles: int
    seed: int
    seconds: float
    original: pd.DataFrame | None = None  # the first real batch both chains started from
    metadata: Metadata = field(default_factory=dict)
    links: dict[str, list[GenerationLink]] = field(default_factory=dict)  # "recursive" / "with_fresh_data"


def run_demo_chains(
    real: pd.DataFrame, metadata: Metadata, cycles: int = 5, seed: int = 0, rows: int = 2000,
    policy: LineagePolicy | None = None, progress: Callable[[float, str], None] | None = None,
) -> DemoChains:
    """Regenerate a table `cycles` times with SDV's GaussianCopula, without and with fresh real data."""
    progress = progress or (lambda fraction, message: None)
    if cycles < 1:
        raise UsageError(f"cycles must be >= 1, got {cycles}")
    start = time.perf_counter()
    columns = [c for c, s in metadata.items() if s not in SKIPPED_SDTYPES]
    rows = min(rows, len(real) // cycles)
    if rows < 10:
        raise UsageError(f"the real table has {len(real)} rows; {cycles} cycles need at least {10 * cycles}")
    order = np.random.default_rng(seed).permutation(len(real))
    table = real[columns].reset_index(drop=True)
    batches = [table.iloc[order[i * rows:(i + 1) * rows]].reset_index(drop=True) for i in range(cycles)]
    original = batches[0]
    sdv_metadata = _sdv_metadata({c: metadata[c] for c in columns})

    recursive: list[GenerationLink] = []
    fresh: list[GenerationLink] = []
    fits = 2 * cycles - 1
    progress(0.0, f"cycle 1 of {cycles}: fitting GaussianCopula on {rows:,} real rows")
    first = _fit_sample(sdv_metadata, original, rows, seed)
    for chain in (recursive, fresh):
        chain.append(GenerationLink("g1", None, rows, 0, rows, first))
    for cycle in range(2, cycles + 1):
        progress((2 * cycle - 3) / fits, f"cycle {cycle} of {cycles}: recursive chain (synthetic rows only)")
        previous = recursive[-1]
        synthetic = _fit_sample(sdv_metadata, previous.synthetic, rows, seed + cycle)
        recursive.append(GenerationLink(f"g{cycle}", previous.generation_id, 0, rows, 0, synthetic))
        progress((2 * cycle - 2) / fits, f"cycle {cycle} of {cycles}: chain with {rows:,} fresh real rows")
        previous = fresh[-1]
        mix = pd.concat([previous.synthetic, batches[cycle - 1]], ignore_index=True)
        synthetic = _fit_sample(sdv_metadata, mix, rows, seed + 1000 + cycle)
        fresh.append(GenerationLink(f"g{cycle}", previous.generation_id, rows, rows, rows, synthetic))
    meta = {c: metadata[c] for c in columns}
    return DemoChains(
        recursive=lineage_report(original, recursive, meta, policy),
        with_fresh_data=lineage_report(original, fresh, meta, policy),
        rows=rows, cycles=cycles, seed=seed, seconds=time.perf_counter() - start,
        original=original, metadata=meta, links={"recursive": recursive, "with_fresh_data": fresh},
    )


def _sdv_metadata(metadata: Metadata):
    """SDV Metadata for one table 't' with the given sdtypes."""
    from sdv.metadata import Metadata as SdvMetadata

    return SdvMetadata.load_from_dict(
        {"tables": {"t": {"columns": {c: {"sdtype": s} for c, s in metadata.items()}}}}
    )


def _fit_sample(sdv_metadata, frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """Fit a GaussianCopulaSynthesizer on `frame` and sample `rows` rows with the given seed."""
    from sdv.single_table import GaussianCopulaSynthesizer

    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        synthesizer = GaussianCopulaSynthesizer(sdv_metadata)
        synthesizer.fit({"t": frame})
        # SDV otherwise re-seeds every fitted model with one fixed seed (73251); give each cycle its own.
        synthesizer._set_random_state(seed)
        return synthesizer.sample(rows)["t"]


# --- chains in the store -------------------------------------------------------------------------------------
# The store keeps hashes, not data: the tables a chain needs (its original real table and each generation's
# synthetic table) are kept as canonical CSV files named by their sha256 in a cache folder, and read back.

LINEAGE_DEMO_USER = "lineage-demo"
LINEAGE_DEMO_METHOD = "GaussianCopulaSynthesizer"


def ensure_user(session, name: str = LINEAGE_DEMO_USER, role: str = "reviewer") -> None:
    """Create a local account without password (role `role`) unless the user already exists."""
    from core.review.auth import create_user
    from core.store import NotFoundError, get_user

    try:
        get_user(session, name)
    except NotFoundError:
        create_user(session, name, None, role=role, actor="system")


@dataclass
class RegisteredDemo:
    """The demo chains as run, and their generation ids in the store (chain order)."""

    demo: DemoChains
    generation_ids: dict[str, list[int]]
    cache_dir: Path


def run_and_register_demo_chains(
    url: str | None = None, cache_dir: str | Path | None = None, cycles: int = 5, seed: int = 0, rows: int = 2000,
    user: str = LINEAGE_DEMO_USER, progress: Callable[[float, str], None] | None = None,
    real: pd.DataFrame | None = None, metadata: Metadata | None = None,
) -> RegisteredDemo:
    """Run the two demo chains on the census table (or `real`), then record both in the store at `url`
    (migrated first; the user is created as a reviewer if missing) with their tables in the cache folder."""
    import sdv

    from core.data.metadata import resolve_metadata
    from core.store import init_db, session_scope

    progress = progress or (lambda fraction, message: None)
    if real is None:
        from core.demo import DEMO_COLUMNS, census_income

        progress(0.0, "Reading the census income table")
        real = census_income()[DEMO_COLUMNS]
    metadata = metadata or resolve_metadata(real)
    demo = run_demo_chains(real, metadata, cycles=cycles, seed=seed, rows=rows,
                           progress=lambda f, m: progress(0.9 * f, m))
    progress(0.92, "Recording both chains in the store")
    engine = init_db(url)
    versions = {"sdv": sdv.__version__, "pandas": pd.__version__, "numpy": np.__version__}
    ids = {}
    with session_scope(engine) as session:
        ensure_user(session, user)
        for chain, label in (("recursive", "recursive, no fresh real data"),
                             ("with_fresh_data", f"{demo.rows:,} fresh real rows each cycle")):
            name = f"lineage demo {chain} ({label}; {demo.rows:,} rows, seed {seed})"
            ids[chain] = register_chain(session, demo.original, demo.links[chain], name=name, metadata=demo.metadata,
                                        created_by=user, cache_dir=cache_dir, seed=seed, library_versions=versions)
    progress(1.0, "Done")
    return RegisteredDemo(demo, ids, lineage_cache_dir(cache_dir))


