"""Lineage chains in the store: cached tables, registering a chain, and reading one back for the lineage gate."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from core.errors import InputError, UsageError
from core.data.metadata import Metadata


from core.checks.lineage import GenerationLink, LineagePolicy, LineageResult, check_chain, lineage_report


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
    """Write the table as canonical CSV named <sha256>.csv (sha256 of the file = core.data.io.sha256_frame) and return it."""
    from core.data.io import sha256_bytes

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
    from core.data.io import load_table

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
    cache_dir: str | Path | None = None, method: str = "GaussianCopulaSynthesizer", seed: int = 0,
    library_versions: dict | None = None,
) -> list[int]:
    """Record a chain in the store (dataset = original real table; generations with parents and training mix) and
    keep its tables in the cache folder; returns the generation ids in chain order."""
    from core.store import register_dataset, register_generation

    check_chain(links)
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

    from core.data.metadata import resolve_metadata
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


