"""Lineage of recursive generations: synthetic share of each training mix and tail health against the original.

Rule: no recursive training without fresh real data. A chain of generations is read in order; for each
generation we report the synthetic share of the rows it was fitted on, the fresh real rows added that
cycle, and how much of the original real data's tails its synthetic table still holds:

* rare-category coverage: share of the original's rare categories (share < `rare_share`, default 5%,
  but at least `min_rare_rows` rows: a category seen once or twice is lost by a perfect sampler of the
  same size a third of the time, which is noise, not collapse) still present, pooled over columns;
* tail mass: share of synthetic values strictly beyond the original's 1st/99th percentiles, over the
  original's own share there (capped at 1: heavier tails are not a collapse);
* variance ratio: synthetic over original variance, scored min(r, 1/r);
* distinct values ratio: distinct synthetic values over distinct original values (capped at 1).

The tail-health score of a cycle is the mean of the component scores that apply (a table without
categorical columns has no coverage score), each in [0, 1], so the score is in [0, 1].

Warnings: (1) a generation fitted on more synthetic than real rows with no fresh real data (recursive
training; it also sets the `lineage` gate to 0); (2) collapse in progress: tail health fell by more than
`min_drop` in each of two consecutive cycles AND ended more than `min_drop` below the chain's first
generation. The last condition keeps sampling noise out: a chain fed fresh real data wanders around
its first generation's score (a heavy-tailed column's variance alone moves it by several points),
and giving back an earlier lucky gain is not a collapse.
"""
from __future__ import annotations

import math
import time
import warnings as _warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from core.drift import SKIPPED_SDTYPES, _jsonable, comparable_values
from core.errors import InputError, PolicyError, UsageError
from core.metadata import Metadata, coerce_to_metadata

NUMERIC_SDTYPES = ("numerical", "datetime")
# Suggested threshold for the `lineage` gate (value = latest tail-health score, 0 when the rule is broken).
LINEAGE_GATE_THRESHOLD = 0.8


@dataclass
class GenerationLink:
    """One generation: what it was fitted on (row counts of the training mix) and the table it produced."""

    generation_id: str
    parent_id: str | None
    n_real_rows: int  # real rows in the training mix, fresh ones included
    n_synthetic_rows: int  # synthetic rows (from earlier generations) in the training mix
    n_fresh_real_rows: int  # real rows added this cycle that no earlier generation was fitted on
    synthetic: pd.DataFrame


@dataclass(frozen=True)
class LineagePolicy:
    """Thresholds of the lineage checks."""

    rare_share: float = 0.05  # an original category with a smaller share is "rare"...
    min_rare_rows: int = 5  # ...if it has at least this many rows (a sampler of the same size keeps it >99%)
    tail_quantile: float = 0.01  # tails are beyond the original's q and 1 - q quantiles
    min_drop: float = 0.01  # a tail-health fall smaller than this is noise, not a fall

    def __post_init__(self) -> None:
        if not 0.0 < self.rare_share < 1.0:
            raise PolicyError(f"lineage policy 'rare_share' must be in (0, 1), got {self.rare_share}")
        if not 0.0 < self.tail_quantile < 0.5:
            raise PolicyError(f"lineage policy 'tail_quantile' must be in (0, 0.5), got {self.tail_quantile}")
        if self.min_rare_rows < 1:
            raise PolicyError(f"lineage policy 'min_rare_rows' must be >= 1, got {self.min_rare_rows}")
        if self.min_drop < 0:
            raise PolicyError(f"lineage policy 'min_drop' must be >= 0, got {self.min_drop}")


@dataclass
class ColumnTail:
    """One column of one generation against the original: the tail values compared and their ratios."""

    column: str
    sdtype: str
    distinct_original: int
    distinct_synthetic: int
    distinct_ratio: float
    rare_categories: list[str] = field(default_factory=list)  # categorical only
    rare_present: list[str] = field(default_factory=list)
    low_quantile_original: float | None = None  # numerical only (datetimes in seconds since 1970)
    high_quantile_original: float | None = None
    low_quantile_synthetic: float | None = None
    high_quantile_synthetic: float | None = None
    quantile_range_ratio: float | None = None  # (high - low) synthetic over original
    tail_mass_original: float | None = None  # share strictly beyond the original's quantiles
    tail_mass_synthetic: float | None = None
    tail_mass_ratio: float | None = None
    variance_original: float | None = None
    variance_synthetic: float | None = None
    variance_ratio: float | None = None


@dataclass
class CycleHealth:
    """One cycle of the chain: its training mix and its tail health against the original real data."""

    cycle: int  # 1-based position in the chain
    generation_id: str
    parent_id: str | None
    n_real_rows: int
    n_synthetic_rows: int
    n_fresh_real_rows: int
    synthetic_share: float  # of the training mix
    rare_category_coverage: float | None
    tail_mass_score: float | None
    variance_score: float | None
    distinct_score: float | None
    tail_health_score: float
    columns: dict[str, ColumnTail]
    warnings: list[str]


@dataclass
class LineageResult:
    """A chain's cycles in order, the warnings raised on it, and what was left out."""

    cycles: list[CycleHealth]
    warnings: list[str]
    skipped: dict[str, str]
    policy: LineagePolicy = field(default_factory=LineagePolicy)

    @property
    def recursive_training(self) -> bool:
        """True when some generation was fitted on more synthetic than real rows with no fresh real data."""
        return any(_is_recursive(c) for c in self.cycles)

    @property
    def collapse_in_progress(self) -> bool:
        """True when tail health fell for two cycles in a row somewhere in the chain."""
        return any("collapse" in w for w in self.warnings)

    def to_dict(self) -> dict:
        """JSON-ready dict (NaN -> None)."""
        return _jsonable({
            "cycles": [asdict(c) for c in self.cycles],
            "warnings": self.warnings,
            "recursive_training": self.recursive_training,
            "collapse_in_progress": self.collapse_in_progress,
            "gate_value": lineage_gate_value(self),
            "skipped": self.skipped,
            "policy": asdict(self.policy),
        })


def lineage_report(
    original_real: pd.DataFrame,
    generations: list[GenerationLink],
    metadata: Metadata,
    policy: LineagePolicy | None = None,
) -> LineageResult:
    """Per cycle: synthetic share of the training mix, fresh real rows, and tail health against the original."""
    policy = policy or LineagePolicy()
    _check_chain(generations)
    columns = {c: s for c, s in metadata.items() if s not in SKIPPED_SDTYPES}
    skipped = {c: f"sdtype '{s}' is not compared" for c, s in metadata.items() if s in SKIPPED_SDTYPES}
    for column in columns:
        if column not in original_real.columns:
            raise InputError("metadata names a column the original real table does not have", column=column)
    original = _comparable(coerce_to_metadata(original_real, columns, "original real"), columns)
    reference = {c: _reference_profile(original[c], s, policy) for c, s in columns.items()}

    cycles: list[CycleHealth] = []
    all_warnings: list[str] = []
    for position, link in enumerate(generations, start=1):
        missing = [c for c in columns if c not in link.synthetic.columns]
        if missing:
            raise InputError(f"synthetic table lacks column(s) {', '.join(map(repr, missing))}",
                             path=f"generation {link.generation_id}")
        synthetic = _comparable(coerce_to_metadata(link.synthetic, columns, f"generation {link.generation_id}"), columns)
        tails = {c: _column_tail(c, s, reference[c], synthetic[c]) for c, s in columns.items()}
        cycle = _cycle_health(position, link, tails)
        if _is_recursive(cycle):
            cycle.warnings.append(
                f"generation {link.generation_id} was fitted on {link.n_synthetic_rows} synthetic and "
                f"{link.n_real_rows} real rows with no fresh real data: recursive training"
            )
        if len(cycles) >= 2:
            a, b, c = cycles[-2].tail_health_score, cycles[-1].tail_health_score, cycle.tail_health_score
            baseline = cycles[0].tail_health_score
            if a - b > policy.min_drop and b - c > policy.min_drop and baseline - c > policy.min_drop:
                cycle.warnings.append(
                    f"tail health fell two cycles in a row ({a:.3f} -> {b:.3f} -> {c:.3f}) up to generation "
                    f"{link.generation_id}: collapse in progress"
                )
        all_warnings.extend(cycle.warnings)
        cycles.append(cycle)
    return LineageResult(cycles=cycles, warnings=all_warnings, skipped=skipped, policy=policy)


def lineage_gate_value(result: LineageResult) -> float:
    """Value of the `lineage` gate: the latest generation's tail-health score, 0.0 if the rule was broken."""
    if not result.cycles or result.recursive_training:
        return 0.0
    return result.cycles[-1].tail_health_score


# --- internals -----------------------------------------------------------------------------------------------


def _is_recursive(cycle: CycleHealth) -> bool:
    return cycle.n_synthetic_rows > cycle.n_real_rows and cycle.n_fresh_real_rows == 0


def _check_chain(generations: list[GenerationLink]) -> None:
    """Raise UsageError unless ids are unique, parents come earlier, and row counts make sense."""
    if not generations:
        raise UsageError("a lineage needs at least one generation")
    seen: set[str] = set()
    for link in generations:
        gid = link.generation_id
        if gid in seen:
            raise UsageError(f"generation id '{gid}' appears twice")
        if link.parent_id is not None and link.parent_id not in seen:
            raise UsageError(f"generation '{gid}' names parent '{link.parent_id}', which is not an earlier generation")
        counts = (link.n_real_rows, link.n_synthetic_rows, link.n_fresh_real_rows)
        if min(counts) < 0 or link.n_real_rows + link.n_synthetic_rows == 0:
            raise UsageError(f"generation '{gid}' has row counts {counts}; they must be >= 0 and not all 0")
        if link.n_fresh_real_rows > link.n_real_rows:
            raise UsageError(f"generation '{gid}' adds {link.n_fresh_real_rows} fresh real rows but was fitted on "
                             f"only {link.n_real_rows} real rows")
        seen.add(gid)


def _comparable(frame: pd.DataFrame, columns: Metadata) -> dict[str, pd.Series]:
    return {c: comparable_values(frame[c], s).dropna() for c, s in columns.items()}


def _reference_profile(values: pd.Series, sdtype: str, policy: LineagePolicy) -> dict:
    """What the original holds in its tails: rare categories or extreme quantiles, variance, distinct count."""
    profile = {"distinct": int(values.nunique())}
    if sdtype in NUMERIC_SDTYPES:
        v = values.to_numpy(float)
        if len(v):
            low, high = np.quantile(v, [policy.tail_quantile, 1 - policy.tail_quantile])
            profile.update(q=policy.tail_quantile, low=float(low), high=float(high), mass=float(np.mean((v < low) | (v > high))),
                           variance=float(np.var(v)))
    else:
        counts = values.value_counts()
        rare = (counts < policy.rare_share * len(values)) & (counts >= policy.min_rare_rows)
        profile["rare"] = [str(k) for k in counts.index[rare]]
    return profile


def _column_tail(column: str, sdtype: str, original: dict, values: pd.Series) -> ColumnTail:
    distinct = int(values.nunique())
    tail = ColumnTail(
        column=column, sdtype=sdtype, distinct_original=original["distinct"], distinct_synthetic=distinct,
        distinct_ratio=distinct / original["distinct"] if original["distinct"] else float("nan"),
    )
    if sdtype not in NUMERIC_SDTYPES:
        present = set(values.unique())
        tail.rare_categories = original["rare"]
        tail.rare_present = [k for k in original["rare"] if k in present]
        return tail
    if "low" not in original:
        return tail
    v = values.to_numpy(float)
    low, high = original["low"], original["high"]
    tail.low_quantile_original, tail.high_quantile_original = low, high
    tail.tail_mass_original, tail.variance_original = original["mass"], original["variance"]
    if len(v) == 0:
        return tail
    s_low, s_high = np.quantile(v, [original["q"], 1 - original["q"]])
    tail.low_quantile_synthetic, tail.high_quantile_synthetic = float(s_low), float(s_high)
    if high > low:
        tail.quantile_range_ratio = float((s_high - s_low) / (high - low))
    tail.tail_mass_synthetic = float(np.mean((v < low) | (v > high)))
    if original["mass"] > 0:
        tail.tail_mass_ratio = tail.tail_mass_synthetic / original["mass"]
    tail.variance_synthetic = float(np.var(v))
    if original["variance"] > 0:
        tail.variance_ratio = tail.variance_synthetic / original["variance"]
    return tail


def _cycle_health(position: int, link: GenerationLink, tails: dict[str, ColumnTail]) -> CycleHealth:
    total = link.n_real_rows + link.n_synthetic_rows
    rare = sum(len(t.rare_categories) for t in tails.values())
    coverage = sum(len(t.rare_present) for t in tails.values()) / rare if rare else None
    mass = [min(1.0, t.tail_mass_ratio) for t in tails.values() if t.tail_mass_ratio is not None]
    var = [min(t.variance_ratio, 1 / t.variance_ratio) if t.variance_ratio > 0 else 0.0
           for t in tails.values() if t.variance_ratio is not None]
    distinct = [min(1.0, t.distinct_ratio) for t in tails.values() if not math.isnan(t.distinct_ratio)]
    components = {
        "rare_category_coverage": coverage,
        "tail_mass_score": float(np.mean(mass)) if mass else None,
        "variance_score": float(np.mean(var)) if var else None,
        "distinct_score": float(np.mean(distinct)) if distinct else None,
    }
    known = [v for v in components.values() if v is not None]
    return CycleHealth(
        cycle=position, generation_id=link.generation_id, parent_id=link.parent_id,
        n_real_rows=link.n_real_rows, n_synthetic_rows=link.n_synthetic_rows,
        n_fresh_real_rows=link.n_fresh_real_rows, synthetic_share=link.n_synthetic_rows / total,
        tail_health_score=float(np.mean(known)) if known else 1.0, columns=tails, warnings=[], **components,
    )


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


def lineage_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """Folder of the chains' tables: the argument, else $REVIEW_DESK_LINEAGE_CACHE, else lineage-tables/ inside
    the demo's cache folder."""
    import os

    if cache_dir is not None:
        return Path(cache_dir)
    if os.environ.get("REVIEW_DESK_LINEAGE_CACHE"):
        return Path(os.environ["REVIEW_DESK_LINEAGE_CACHE"])
    from core.demo import default_cache_dir

    return default_cache_dir() / "lineage-tables"


def save_cached_table(frame: pd.DataFrame, cache_dir: str | Path | None = None) -> str:
    """Write the table as canonical CSV named <sha256>.csv (sha256 of the file = core.io.sha256_frame) and return it."""
    from core.io import sha256_bytes

    data = frame.to_csv(index=False, lineterminator="\n").encode("utf-8")
    sha256 = sha256_bytes(data)
    folder = lineage_cache_dir(cache_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{sha256}.csv"
    if not path.exists():
        tmp = path.with_suffix(f".tmp{time.time_ns()}")
        tmp.write_bytes(data)
        tmp.replace(path)
    return sha256


def load_cached_table(sha256: str, cache_dir: str | Path | None = None, what: str = "table") -> pd.DataFrame:
    """The cached table with this content hash; InputError when it is missing or its bytes no longer match."""
    from core.io import load_table

    path = lineage_cache_dir(cache_dir) / f"{sha256}.csv"
    if not path.exists():
        raise InputError(f"{what} (sha256 {sha256[:12]}) is not in the cache folder; the store keeps hashes, not "
                         "data: rerun the script that made it", path=str(path))
    table = load_table(path)
    if table.sha256 != sha256:
        raise InputError(f"{what}: file content does not match its sha256 {sha256[:12]}", path=str(path))
    return table.frame


def register_chain(
    session, original: pd.DataFrame, links: list[GenerationLink], *, name: str, metadata: Metadata, created_by: str,
    cache_dir: str | Path | None = None, method: str = LINEAGE_DEMO_METHOD, seed: int = 0,
    library_versions: dict | None = None,
) -> list[int]:
    """Record a chain in the store (dataset = original real table; generations with parents and training mix) and
    keep its tables in the cache folder; returns the generation ids in chain order."""
    from core.store import register_dataset, register_generation

    _check_chain(links)
    original_sha = save_cached_table(original, cache_dir)
    dataset = register_dataset(session, name=name, sha256=original_sha, rows=len(original),
                               schema=dict(metadata), created_by=created_by)
    ids: dict[str, int] = {}
    for position, link in enumerate(links, start=1):
        manifest = {
            "method": method, "parameters": {}, "seed": seed + position, "library_versions": library_versions or {},
            "source_dataset_id": dataset.id, "synthetic_sha256": save_cached_table(link.synthetic, cache_dir),
            "rows": len(link.synthetic),
            "parent_generation_id": ids[link.parent_id] if link.parent_id is not None else None,
            "training_mix": {"real_rows": link.n_real_rows, "synthetic_rows": link.n_synthetic_rows,
                             "fresh_real_rows": link.n_fresh_real_rows},
            "lineage": {"chain": name, "cycle": position, "label": link.generation_id,
                        "original_sha256": original_sha, "metadata": dict(metadata)},
        }
        ids[link.generation_id] = register_generation(session, manifest, created_by=created_by).id
    return list(ids.values())


@dataclass
class StoredChain:
    """A chain rebuilt from the store: its generation ids (root first), name, and the lineage report."""

    generation_ids: list[int]
    name: str
    result: LineageResult


def lineage_from_store(
    session, generation_id: int, cache_dir: str | Path | None = None, metadata: Metadata | None = None,
    policy: LineagePolicy | None = None,
) -> StoredChain:
    """The lineage report of a stored generation's chain (root to it): parents via the manifests'
    parent_generation_id, training mix from the manifests, tables from the cache folder by sha256.

    Fresh real rows: the manifest's training_mix.fresh_real_rows; without it, a root's real rows are all fresh and
    a child's real rows count as fresh only when it names a different source dataset than its parent."""
    import json

    from core.metadata import resolve_metadata
    from core.store.models import DatasetVersion, Generation

    chain: list[Generation] = []
    current = session.get(Generation, generation_id)
    if current is None:
        raise InputError(f"generation {generation_id} is not in the store")
    while current is not None:
        if any(g.id == current.id for g in chain):
            raise UsageError(f"generation {current.id} is its own ancestor")
        chain.append(current)
        current = session.get(Generation, current.parent_id) if current.parent_id is not None else None
    chain.reverse()
    manifests = [json.loads(g.manifest_json) for g in chain]
    root_meta = manifests[0].get("lineage", {}) if isinstance(manifests[0].get("lineage"), dict) else {}
    dataset = session.get(DatasetVersion, chain[0].dataset_id)
    original_sha = root_meta.get("original_sha256") or dataset.sha256
    original = load_cached_table(original_sha, cache_dir, f"original real table of generation {chain[0].id}")
    metadata = metadata or root_meta.get("metadata") or resolve_metadata(original)
    links = []
    for i, (g, manifest) in enumerate(zip(chain, manifests)):
        mix = manifest.get("training_mix", {})
        fresh = mix.get("fresh_real_rows")
        if fresh is None:
            fresh = g.real_rows_seen if i == 0 or g.dataset_id != chain[i - 1].dataset_id else 0
        synthetic = load_cached_table(g.synthetic_sha256, cache_dir, f"synthetic table of generation {g.id}")
        links.append(GenerationLink(str(g.id), str(g.parent_id) if g.parent_id is not None else None,
                                    g.real_rows_seen, g.synthetic_rows_seen, int(fresh), synthetic))
    name = root_meta.get("chain") or dataset.name
    return StoredChain([g.id for g in chain], name, lineage_report(original, links, metadata, policy))


def chain_tips(session) -> list[int]:
    """Generations that have a parent and no child (the last generation of each stored chain), newest first."""
    from sqlalchemy import select

    from core.store.models import Generation

    rows = session.execute(select(Generation.id, Generation.parent_id)).all()
    parents = {p for _, p in rows if p is not None}
    return sorted((g for g, p in rows if p is not None and g not in parents), reverse=True)


def ensure_user(session, name: str = LINEAGE_DEMO_USER, role: str = "reviewer") -> None:
    """Create a local account without password (role `role`) unless the user already exists."""
    from core.auth import create_user
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

    from core.metadata import resolve_metadata
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


def lineage_gate(result: LineageResult, policy=None):
    """The `lineage` gate (core.policy.Gate): lineage_gate_value against the policy's [gates.lineage] threshold
    (LINEAGE_GATE_THRESHOLD when the policy sets none); passes when value >= threshold."""
    from core.policy import Gate

    threshold = LINEAGE_GATE_THRESHOLD if policy is None else policy.gate("lineage", default=LINEAGE_GATE_THRESHOLD)
    value = lineage_gate_value(result)
    if result.recursive_training:
        detail = "recursive training without fresh real data: the gate fails whatever the tail health"
    else:
        detail = f"latest tail-health score {value:.3f} of the original's tails"
    if result.collapse_in_progress:
        detail += "; collapse in progress"
    return Gate("lineage", value, threshold, bool(value >= threshold), detail)
