"""One pass over a table's rows, streamed as Arrow record batches: every count and sum the pair checks need.

The engine projects each compared column once in SQL (continuous as DOUBLE, NULL where missing or not finite;
discrete as stored) and streams the rows in record batches. `Tally.add` turns a batch into small integer
codes (a continuous column's bin on the real edges, as encoding.py's np.digitize; a discrete column's
category code by a hash lookup of its raw values) and accumulates, exactly, in memory bounded by the batch:

- the joint code counts of every binned pair (one np.bincount of a * levels_b + b per pair),
- per category of a discrete column, the sum of a continuous column over the rows where both are present
  (the correlation ratio's between-group sums), and the total of its squares there,
- the pairwise-complete moments of the continuous columns (count, sums, sums of squares and of products),
  centred on a fixed shift per column so that dates in nanoseconds (1e18) stay well conditioned,
- a 64-bit key per row (encoding.combine_row_keys, the in-memory path's keys), spilled to disk by hash
  bucket past a bound, from which duplicate rows are counted exactly.

Tallies of parts of one table merge by adding. An engine whose rows are costly to stream out (Spark) builds
the same Tally from SQL aggregates instead (`tally_sql`).
"""
from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.data.encoding import combine_row_keys

BATCH_ROWS = 1 << 19  # rows per record batch: ~100 MB of numbers at 20 columns, bounded whatever the table
KEYS_IN_MEMORY = 1 << 24  # row keys (8 bytes each) held before they spill to bucket files
KEY_BUCKETS = 16  # spilled keys are split by their top bits, so each bucket is counted on its own
JOINT_CELLS = 1 << 18  # codes of several columns are counted jointly while their cells fit this (2 MB of counts)


@dataclass
class Discrete:
    """A discrete column of one table: its distinct raw values (no NULL) and the category code of each."""

    values: pa.Array
    codes: np.ndarray
    missing: int  # the code of a missing value (levels - 1)


@dataclass
class TallyPlan:
    """What one pass tallies; column names are those of the projected batches."""

    continuous: dict[str, np.ndarray]  # column -> inner bin edges (codes 0..len+1, the last one missing)
    discrete: dict[str, Discrete]
    cells: list[tuple[str, str]] = field(default_factory=list)  # pairs whose joint code counts are kept
    sums: list[tuple[str, str]] = field(default_factory=list)  # (discrete, continuous); each also in cells
    moments: list[str] = field(default_factory=list)  # continuous columns with pairwise-complete moments
    shift: dict[str, float] = field(default_factory=dict)  # centre of each moments column
    keys: list[str] | None = None  # columns (in order) whose row keys count duplicate rows; None: not counted
    moment_pairs: list[tuple[str, str]] | None = None  # pairs whose moments are read (SQL tally); None: all
    spill_folder: str | None = None  # where spilled row keys go (the system's temp folder by default)

    def levels(self, column: str) -> int:
        """Codes of a column, the missing code included."""
        if column in self.continuous:
            return len(self.continuous[column]) + 2
        return self.discrete[column].missing + 1


def count_distinct(keys: np.ndarray) -> int:
    """Distinct values of an integer array (sorted in place: a sort beats np.unique's hash on 64-bit keys)."""
    if keys.size == 0:
        return 0
    keys.sort()
    return int(np.count_nonzero(keys[1:] != keys[:-1])) + 1


class _RowKeys:
    """Row keys of one table, in memory up to KEYS_IN_MEMORY, then in KEY_BUCKETS files by their top bits."""

    def __init__(self, folder: str | None) -> None:
        self._parts: list[np.ndarray] = []
        self._held = 0
        self._parent = folder
        self._folder: str | None = None

    def add(self, keys: np.ndarray) -> None:
        self._parts.append(keys)
        self._held += keys.size
        if self._held > KEYS_IN_MEMORY:
            self._spill()

    def _spill(self) -> None:
        if not self._parts:
            return
        if self._folder is None:
            self._folder = tempfile.mkdtemp(prefix="review-desk-keys-", dir=self._parent)
            # removed with this object even when nobody asks for the count
            weakref.finalize(self, shutil.rmtree, self._folder, ignore_errors=True)
        keys = np.concatenate(self._parts)
        self._parts, self._held = [], 0
        bucket = (keys >> np.uint64(60)).astype(np.uint8)
        order = np.argsort(bucket, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(np.bincount(bucket, minlength=KEY_BUCKETS))])
        keys = keys[order]
        for b in range(KEY_BUCKETS):
            if bounds[b + 1] > bounds[b]:
                with open(os.path.join(self._folder, f"{b}.u64"), "ab") as handle:
                    keys[bounds[b]:bounds[b + 1]].tofile(handle)

    def distinct(self) -> int:
        """How many distinct keys were added (the spill files are removed)."""
        if self._folder is None:
            return count_distinct(np.concatenate(self._parts)) if self._parts else 0
        self._spill()
        try:
            total = 0
            for b in range(KEY_BUCKETS):
                path = os.path.join(self._folder, f"{b}.u64")
                if os.path.exists(path):
                    total += count_distinct(np.fromfile(path, dtype=np.uint64))
            return total
        finally:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


def joint_groups(pairs: list[tuple[str, str]], levels: dict[str, int]) -> list[tuple[str, ...]]:
    """Groups of columns that together hold every pair, each group's joint codes fitting JOINT_CELLS.

    Counting one group's joint codes costs about what counting one pair's does, and every pair inside the
    group is a marginal of it: a continuous column with its few-category partners in one count, not one each.
    A pair too wide for the bound is a group of its own.
    """
    uncovered = {frozenset(pair) for pair in pairs}
    order = list(dict.fromkeys(c for pair in pairs for c in pair))
    groups = []
    for anchor in order:
        while True:
            partners = [c for c in order if c != anchor and frozenset((anchor, c)) in uncovered]
            if not partners:
                break
            group, size = [anchor], levels[anchor]
            for c in sorted(partners, key=lambda c: -levels[c]):  # the widest first, the narrow ones fill in
                if len(group) == 1 or size * levels[c] <= JOINT_CELLS:
                    group.append(c)
                    size *= levels[c]
            groups.append(tuple(group))
            uncovered -= {frozenset((a, b)) for i, a in enumerate(group) for b in group[i + 1:]}
    return groups


def column_groups(columns: list[str], levels: dict[str, int]) -> list[tuple[str, ...]]:
    """The columns in groups whose joint codes fit JOINT_CELLS (first fit, widest first)."""
    groups: list[list[str]] = []
    sizes: list[int] = []
    for c in sorted(dict.fromkeys(columns), key=lambda c: -levels[c]):
        for i, size in enumerate(sizes):
            if size * levels[c] <= JOINT_CELLS:
                groups[i].append(c)
                sizes[i] *= levels[c]
                break
        else:
            groups.append([c])
            sizes.append(levels[c])
    return [tuple(g) for g in groups]


def _joint_key(codes: dict[str, np.ndarray], group: tuple[str, ...], levels) -> np.ndarray:
    """Each row's cell in the joint codes of `group` (first column slowest)."""
    key = codes[group[0]].astype(np.intp)
    for c in group[1:]:
        key *= levels(c)
        key += codes[c]
    return key


def _marginal(counts: np.ndarray, group: tuple[str, ...], keep: tuple[str, ...], levels) -> np.ndarray:
    """Joint cells of `group` summed down to the columns `keep`, in that order."""
    table = counts.reshape([levels(c) for c in group])
    axes = [group.index(c) for c in keep]
    table = table.sum(axis=tuple(k for k in range(len(group)) if k not in axes))
    return table.transpose(np.argsort(np.argsort(axes))) if len(axes) > 1 else table


class Tally:
    """Counts and sums of one table (or part of one) under a TallyPlan; add batches, merge parts, read results."""

    def __init__(self, plan: TallyPlan) -> None:
        self.plan = plan
        self.rows = 0
        self.groups = joint_groups(plan.cells, {c: plan.levels(c) for pair in plan.cells for c in pair})
        self.cells = {group: np.zeros(int(np.prod([plan.levels(c) for c in group])), dtype=np.int64)
                      for group in self.groups}
        discretes = [d for d, _ in plan.sums]
        self.sum_groups = column_groups(discretes, {d: plan.levels(d) for d in discretes})
        # per continuous column and group of discrete ones: the column's sum in each joint category
        self.sums = {(c, group): np.zeros(int(np.prod([plan.levels(d) for d in group])))
                     for c in dict.fromkeys(c for _, c in plan.sums) for group in self.sum_groups
                     if any((d, c) in plan.sums for d in group)}
        self.squares = {pair: 0.0 for pair in plan.sums}
        k = len(plan.moments)
        self.moments = np.zeros((4, k, k))  # n, sum of x, sum of x^2 (over rows where the other is present), sum xy
        self._keys = _RowKeys(plan.spill_folder) if plan.keys is not None else None
        self._value_sets: dict[tuple[str, str], pa.Array] = {}
        self.names: dict[str, str] = {}  # the table's column name -> its name in the batches (set by the caller)

    @property
    def counts_keys(self) -> bool:
        """True when duplicate rows are counted (plan.keys given)."""
        return self._keys is not None

    # --- accumulating -------------------------------------------------------------------------------
    def add(self, batch: pa.RecordBatch) -> None:
        """Accumulate one record batch of the projected columns."""
        plan = self.plan
        self.rows += batch.num_rows
        valued = dict.fromkeys([*plan.continuous, *plan.moments, *(c for _, c in plan.sums)])
        values = {name: self._values(batch, name) for name in valued}
        coded = {c for group in [*self.groups, *self.sum_groups] for c in group} | \
            {c for c in plan.keys or [] if c in plan.discrete}
        codes = {name: self._bin_codes(values[name], edges) for name, edges in plan.continuous.items() if name in coded}
        codes.update({name: self._category_codes(batch, name, d) for name, d in plan.discrete.items() if name in coded})
        for group, counts in self.cells.items():
            counts += np.bincount(_joint_key(codes, group, plan.levels), minlength=counts.size)
        if plan.sums:
            self._add_sums(values, codes)
        if plan.moments:
            self._add_moments(values)
        if self._keys is not None:
            self._keys.add(combine_row_keys([values[c] if c in values else codes[c] for c in plan.keys]))

    @staticmethod
    def _values(batch: pa.RecordBatch, name: str) -> np.ndarray:
        """A continuous column as float64, NaN where NULL; -0.0 as 0.0 (one value, as encoding.py has it)."""
        return np.asarray(batch.column(name).to_numpy(zero_copy_only=False), dtype=np.float64) + 0.0

    @staticmethod
    def _bin_codes(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
        """np.digitize(values, [-inf, *edges, inf]) - 1 (how many edges are <= the value), NaN as the missing
        code len(edges) + 1. The edges are nearly equal-width, so arithmetic guesses each code and comparisons
        with the edges themselves correct it: exactly searchsorted's answer at a tenth of its cost."""
        k = edges.size
        missing = np.isnan(values)
        if k < 2 or not np.isfinite(edges[-1] - edges[0]) or not edges[-1] > edges[0]:
            codes = np.searchsorted(edges, values, side="right")
        else:
            with np.errstate(invalid="ignore", over="ignore"):
                guess = np.floor((values - edges[0]) * ((k - 1) / (edges[-1] - edges[0]))) + 1.0
            np.clip(guess, 0, k, out=guess)
            guess[missing] = 0
            codes = guess.astype(np.intp)
            padded = np.concatenate([[-np.inf], edges, [np.inf]])  # padded[c] is edge c - 1; padded[c + 1] edge c
            for _ in range(k + 1):  # each round moves a wrong guess one code towards the right one
                up = values >= padded[codes + 1]
                down = values < padded[codes]
                if not (up.any() or down.any()):
                    break
                codes += up
                codes -= down
        codes = codes.astype(np.uint8 if k < 254 else np.uint32)
        codes[missing] = k + 1
        return codes

    def _category_codes(self, batch: pa.RecordBatch, name: str, d: Discrete) -> np.ndarray:
        """Each row's category code (a hash lookup of the raw value among the table's values), NULL missing."""
        column = batch.column(name)
        if pa.types.is_dictionary(column.type):
            column = column.dictionary_decode()
        key = (name, str(column.type))
        if key not in self._value_sets:
            self._value_sets[key] = d.values if d.values.type == column.type else d.values.cast(column.type)
        index = pc.index_in(column, value_set=self._value_sets[key])
        lookup = np.append(d.codes, d.missing).astype(np.uint32 if d.missing >= 255 else np.uint8)
        return lookup[index.fill_null(len(d.codes)).to_numpy(zero_copy_only=False)]

    def _add_sums(self, values: dict, codes: dict) -> None:
        plan = self.plan
        continuous = list(dict.fromkeys(c for _, c in plan.sums))
        discretes = list(dict.fromkeys(d for d, _ in plan.sums))
        filled = {c: np.where(np.isnan(values[c]), 0.0, values[c]) for c in continuous}
        for group in self.sum_groups:
            key = _joint_key(codes, group, plan.levels)
            for c in continuous:
                if (c, group) in self.sums:
                    self.sums[(c, group)] += np.bincount(key, weights=filled[c], minlength=self.sums[(c, group)].size)
        kept = np.stack([codes[d] != plan.discrete[d].missing for d in discretes]).astype(np.float64)
        squares = np.stack([filled[c] for c in continuous])
        squares *= squares
        total = squares @ kept.T  # sum of x^2 over the rows where x and the category are both present
        for d, c in plan.sums:
            self.squares[(d, c)] += float(total[continuous.index(c), discretes.index(d)])

    def _add_moments(self, values: dict) -> None:
        plan = self.plan
        z = np.stack([values[c] for c in plan.moments])  # one row per column, so each product streams rows
        for row, c in zip(z, plan.moments):
            row -= plan.shift.get(c, 0.0)
        absent = np.isnan(z)
        z[absent] = 0.0
        # Sums over the rows where the other column is present = all rows less those where it is absent;
        # most columns miss nothing, so the products run over the columns that do.
        gaps = np.flatnonzero(absent.any(axis=1))
        q = absent[gaps].astype(np.float64)
        squares = z * z
        count, total, total_squares = absent.shape[1], z.sum(axis=1), squares.sum(axis=1)
        k = len(plan.moments)
        n = np.full((k, k), float(count)) - (count - (~absent).sum(axis=1))[:, None] \
            - (count - (~absent).sum(axis=1))[None, :]
        n[np.ix_(gaps, gaps)] += q @ q.T
        sx = np.repeat(total[:, None], k, axis=1)
        sx[:, gaps] -= z @ q.T
        sxx = np.repeat(total_squares[:, None], k, axis=1)
        sxx[:, gaps] -= squares @ q.T
        self.moments[0] += n
        self.moments[1] += sx
        self.moments[2] += sxx
        self.moments[3] += z @ z.T

    def merge(self, other: "Tally") -> "Tally":
        """Add another part's tally (same plan, no row keys) into this one; returns self."""
        if self._keys is not None or other._keys is not None:
            raise ValueError("tallies that count duplicate rows cannot be merged")
        self.rows += other.rows
        for group in self.cells:
            self.cells[group] += other.cells[group]
        for key in self.sums:
            self.sums[key] += other.sums[key]
        for pair in self.squares:
            self.squares[pair] += other.squares[pair]
        self.moments += other.moments
        return self

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_value_sets"] = {}
        return state

    # --- results ------------------------------------------------------------------------------------
    def joint(self, a: str, b: str) -> np.ndarray:
        """The (levels a x levels b) table of code counts, missing codes last."""
        group = next(g for g in self.groups if a in g and b in g)
        return _marginal(self.cells[group], group, (a, b), self.plan.levels)

    def category_sums(self, d: str, c: str) -> tuple[np.ndarray, np.ndarray, float]:
        """Per code of `d`: rows where `c` is present and their sum of `c`; and the sum of squares of `c` over
        the rows where both are present. The missing code's entries are the rows where `d` is missing."""
        joint = self.joint(d, c)
        group = next(g for g in self.sum_groups if d in g)
        sums = _marginal(self.sums[(c, group)], group, (d,), self.plan.levels)
        return joint[:, :-1].sum(axis=1), sums, self.squares[(d, c)]

    def pearson(self, a: str, b: str) -> tuple[int, float]:
        """Rows where both are present, and Pearson's r over them (NaN under 2 rows or with a constant side)."""
        i, j = self.plan.moments.index(a), self.plan.moments.index(b)
        n_, s, ss, sp = self.moments
        n = n_[i, j]
        if n < 2:
            return int(n), float("nan")
        sx, sy = s[i, j], s[j, i]
        vx, vy = ss[i, j] - sx * sx / n, ss[j, i] - sy * sy / n
        cov = sp[i, j] - sx * sy / n
        # relative to the raw sums: a side constant over the pair's rows leaves only rounding in its variance
        if not (vx > 1e-12 * ss[i, j]) or not (vy > 1e-12 * ss[j, i]):
            return int(n), float("nan")
        return int(n), float(np.clip(cov / np.sqrt(vx * vy), -1.0, 1.0))

    def duplicate_rows(self) -> int:
        """Rows that repeat an earlier row of the table over the key columns (needs plan.keys)."""
        return self.rows - self._keys.distinct()


def tally_batches(batches: Iterable[pa.RecordBatch], plan: TallyPlan) -> Tally:
    """A Tally of every batch."""
    tally = Tally(plan)
    for batch in batches:
        if batch.num_rows:
            tally.add(batch)
    return tally


def _bin_sql(value: str, edges: np.ndarray) -> str:
    """SQL of Tally._bin_codes: how many edges are <= the value (edges sorted), len(edges) + 1 where NULL."""
    from core.engine.aggregates import double_literal

    steps = " ".join(f"WHEN {value} >= {double_literal(float(e))} THEN {i + 1}" for i, e in reversed(list(enumerate(edges))))
    return f"(CASE WHEN {value} IS NULL THEN {edges.size + 1} {steps} ELSE 0 END)"


def tally_sql(engine, query: str, plan: TallyPlan) -> Tally:
    """The Tally of `query`'s rows (a projection) from SQL aggregates, the rows never leaving the engine.

    For an engine whose rows are costly to stream out (Spark moves them to Python as Arrow): a GROUP BY of
    codes per joint group (a bin as a CASE over the edges, a category as its raw value, coded here as
    Tally._category_codes codes it), carrying the sums and sums of squares the correlation ratios need and,
    in the first, the moments of plan.moment_pairs. Counts equal the streamed tally's; sums up to rounding.
    Duplicate rows are not counted (plan.keys must be None). Groups are not packed into wider GROUP BYs:
    on Spark, a GROUP BY's cost grows with its key's width and number of groups faster than one scan costs.
    """
    if plan.keys is not None:
        raise ValueError("the SQL tally does not count duplicate rows: build the plan with keys=None")
    tally = Tally(plan)
    quote = engine.quote
    source = f"({query}) AS p"
    # category sums per pair, each from the first group holding it (Tally.category_sums reads (d,) groups)
    tally.sum_groups = [(d,) for d in dict.fromkeys(d for d, _ in plan.sums)]
    tally.sums = {(c, (d,)): np.zeros(plan.levels(d)) for d, c in plan.sums}
    packs = [[group] for group in tally.groups] or [[]]
    columns = [list(dict.fromkeys(c for group in pack for c in group)) for pack in packs]
    home = {pair: next(i for i, cols in enumerate(columns) if pair[0] in cols and pair[1] in cols)
            for pair in plan.sums}
    moments = _moment_terms(engine, plan) if plan.moments else {}
    for p, (pack, cols) in enumerate(zip(packs, columns)):
        names = [f"g{i}" for i in range(len(cols))]
        keys = [f"{_bin_sql(quote(c), plan.continuous[c]) if c in plan.continuous else quote(c)} AS {name}"
                for c, name in zip(cols, names)]
        summed = list(dict.fromkeys(c for (d, c), at in home.items() if at == p))
        aggregates = ["COUNT(*) AS n"] + [f"SUM({quote(c)}) AS s{i}, SUM({quote(c)} * {quote(c)}) AS q{i}"
                                         for i, c in enumerate(summed)]
        if p == 0:
            aggregates += [f"{term} AS {name}" for name, term in moments.items()]
        grouping = f" GROUP BY {', '.join(names)}" if names else ""
        found = engine.arrow(f"SELECT {', '.join(keys + aggregates)} FROM {source}{grouping}")
        n = found.column("n").to_numpy(zero_copy_only=False).astype(np.int64)
        if p == 0:
            tally.rows = int(n.sum())
            _fill_moments(plan, tally, {name: float(np.nansum(found.column(name).to_numpy(zero_copy_only=False)
                                                              .astype(np.float64))) for name in moments})
        codes = {}
        for c, name in zip(cols, names):
            if c in plan.continuous:
                codes[c] = found.column(name).to_numpy(zero_copy_only=False).astype(np.intp)
            else:
                batch = pa.RecordBatch.from_arrays([found.column(name).combine_chunks()], names=[c])
                codes[c] = tally._category_codes(batch, c, plan.discrete[c]).astype(np.intp)
        for group in pack:
            np.add.at(tally.cells[group], _joint_key(codes, group, plan.levels), n)
        for i, c in enumerate(summed):
            sums = np.nan_to_num(found.column(f"s{i}").to_numpy(zero_copy_only=False).astype(np.float64))
            squares = np.nan_to_num(found.column(f"q{i}").to_numpy(zero_copy_only=False).astype(np.float64))
            for d in cols:
                if (d, c) in plan.sums and home[(d, c)] == p:
                    tally.sums[(c, (d,))] += np.bincount(codes[d], weights=sums, minlength=plan.levels(d))
                    tally.squares[(d, c)] += float(squares[codes[d] != plan.discrete[d].missing].sum())
    return tally


def _moment_pairs(plan: TallyPlan) -> list[tuple[str, str]]:
    """The pairs whose moments are tallied in SQL (plan.moment_pairs, else every pair of plan.moments)."""
    if plan.moment_pairs is not None:
        return list(plan.moment_pairs)
    return [(a, b) for i, a in enumerate(plan.moments) for b in plan.moments[i + 1:]]


def _moment_terms(engine, plan: TallyPlan) -> dict[str, str]:
    """Name -> SQL aggregate of each pairwise-complete moment of _moment_pairs, centred on plan.shift
    (0 * z of the other column is NULL where it is missing, so the sum skips those rows)."""
    from core.engine.aggregates import double_literal

    z = {c: f"({engine.quote(c)} - {double_literal(plan.shift.get(c, 0.0))})" for c in plan.moments}
    zero = double_literal(0.0)
    terms = {}
    for t, (a, b) in enumerate(_moment_pairs(plan)):
        za, zb = z[a], z[b]
        terms |= {f"mn{t}": f"COUNT({za} * {zb})", f"mp{t}": f"SUM({za} * {zb})",
                  f"msa{t}": f"SUM({za} + {zero} * {zb})", f"msb{t}": f"SUM({zb} + {zero} * {za})",
                  f"mqa{t}": f"SUM({za} * {za} + {zero} * {zb})", f"mqb{t}": f"SUM({zb} * {zb} + {zero} * {za})"}
    return terms


def _fill_moments(plan: TallyPlan, tally: Tally, value: dict[str, float]) -> None:
    """tally.moments at each pair of _moment_pairs from the summed terms of _moment_terms."""
    index = {c: i for i, c in enumerate(plan.moments)}
    for t, (a, b) in enumerate(_moment_pairs(plan)):
        i, j = index[a], index[b]
        tally.moments[0, i, j] = tally.moments[0, j, i] = value[f"mn{t}"]
        tally.moments[3, i, j] = tally.moments[3, j, i] = value[f"mp{t}"]
        tally.moments[1, i, j], tally.moments[1, j, i] = value[f"msa{t}"], value[f"msb{t}"]
        tally.moments[2, i, j], tally.moments[2, j, i] = value[f"mqa{t}"], value[f"mqb{t}"]
