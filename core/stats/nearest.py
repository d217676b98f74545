"""Exact nearest records: float32 candidates from a fused C kernel (torch matrix products on a GPU or where no
C compiler is found) proven by an error bound and re-measured in float64; an approximate faiss index past a
time budget.

Exact search (`exact_nearest`)
------------------------------
The distance is the Euclidean distance of the float64 encodings (core.stats.distances). For each query i and
reference j the score s_ij = |r_j|^2 - 2 q_i.r_j ranks the references as the squared distance does (|q_i|^2
is the same for the whole row). Both tables are centred on the reference mean first (distances do not
change; the norms and so the rounding error get smaller), then rounded to float32. A running top-m
(m = k + EXTRA_CANDIDATES) per query is kept, so memory is bounded by a block, never by the tables. The
float32 candidates come from one of two engines:

* the fused kernel (core/stats/nearest_kernel.c, compiled at first use with the machine's C compiler, AVX-512
  where the CPU has it; core.stats.nearest_kernel): tiles of MR query rows x NR reference rows (12 x 32 on
  AVX-512) whose scores are accumulated in registers from the float32 norm |r_j|^2, one fused multiply-add
  a dimension (a_0 = fl(|r_j|^2), a_t = fl(a_{t-1} + (-2 q_it) r_jt)); a score enters the query's top-m,
  replacing the kept maximum, only if it is strictly below that maximum, so most pairs cost one compare and
  the score matrix is never written to memory. Query rows are split in chunks over every core; reference
  panels are scanned in blocks that stay in L2.
* torch (CUDA when present, and the fallback): float32 matrix products in blocks of (query rows x reference
  rows) written out and reduced with torch.topk.

The error bound of a computed score against the exact score of the float32 coordinates (u = 2^-24,
d dimensions, gamma_n = nu/(1-nu)):
- kernel: a recursive sum of d+1 terms with d roundings (the products are exact inside the fused
  multiply-add), its first term the norm rounded once to float32, so |s^ - s| <= u|r|^2 + gamma_d ((1+u)|r|^2
  + 2|q||r|) <= (u + 2 gamma_{d+1})(|q|^2 + |r|^2), by 2|q||r| <= |q|^2 + |r|^2; where the generic build runs
  without fused multiply-add each product is rounded too and gamma_{d+1} becomes gamma_{d+2};
- torch: Higham's bound for a dot product in any summation order, gamma_{d+2}(|r|^2 + 2|q||r|), plus the
  rounding of the norm and of the addition, <= (2 gamma_{d+2} + 3u)(|q|^2 + |r|^2).
Both are at most E_i = 2(gamma_{d+2} + 3u)(|q_i|^2 + max|r|^2), the bound the search uses.
Before rounding, the centred coordinates are scaled by the power of two that brings the largest into [1, 2)
(exact; distances scale alike), so float32 products cannot overflow; one that underflows (coordinates far
smaller than the largest) loses at most 2^-150, which the bounds add: (2d + 4) 2^-149 to E_i and 2 sqrt(d)
2^-149 to eta_i. Rounding the float64 coordinates to float32 moves a distance by at most eta_i = u(|q_i| +
max|r|) (we use 2 eta_i, plus the float64 rounding of the centring). Every reference left out has a computed
score >= s_m, the m-th kept one (the kernel rejects only scores >= the kept maximum, which never grows), so its
true distance is at least L_i = sqrt(max(0, s_m + |q_i|^2 - E_i)) - eta_i. All m candidates are re-measured in
float64 from the float64 coordinates (the same expression as before, so distances are bit-for-bit those of the
old path); if L_i is strictly above the k-th re-measured distance (widened by the re-measure's own rounding:
relative 1e-12, and sqrt(d 2^-1074) where its squares underflow), no reference left out can come closer or tie,
and the answer is proven. Otherwise (near-ties at the k-th place) the query gets a second pass that re-measures
every reference whose score lies within the bound of the k-th (scores computed there in float64 from the same
float32 coordinates: their error, about 2d 2^-53 (|q|^2 + |r|^2), is far inside E_i). Coordinates beyond 1e15
after centring are searched by torch in float64 (u = 2^-53) instead.

Pruning (kernel only, exact): when the reference's first P = 4 principal axes (of a sample; any orthonormal
basis V would do) hold at least 40% of its variance, both tables' float32 rows are projected on them (y = V^T
x, in float64) and ordered along a Z-order curve of y, so that reference panels and query tiles are compact
boxes in y. Each tile first scores the few panels around its place in that order (tight thresholds early), then
skips every panel whose box gap g to the tile's box satisfies max(0, g/(1+eps) - tau)^2 > thr_i + |q_i|^2 + E_i
for every row i of the tile, thr_i its kept maximum. Why no row of a skipped panel could have entered: |V^T(q -
r)| <= (1+eps)|q - r| (eps bounds V's distance from orthonormal, measured), the two float64 projections are off
by at most tau together (tau = sqrt(P) gamma_d (1+eps)(max|q| + max|r|), u = 2^-53, plus a margin), and g <=
|y_q - y_r|; so |q - r|^2 >= that left side, and the computed score, >= |q - r|^2 - |q_i|^2 - E_i, is >= thr_i,
which the kernel would have rejected: every reference left out still has a computed score (had it been
computed) >= s_m, and the proof above holds unchanged. Rounding in the test itself is covered by relative
margins of 2^-40 and more.

Why not (q - r)^2 summed directly in float32: its bound is relative and tighter, |s^ - |q - r|^2| <=
gamma_{d+2} |q - r|^2 (one rounding of each difference, then d of the sum), but it costs two operations a
dimension (subtract, multiply-add) where the expansion costs one, and the expansion's bound already proves
nearly every query on the first pass (second-pass queries: 0 on 100,000 normal rows, 214 of 62,415 distinct
census rows, benchmarks/nearest.py).

Ties are broken by the lower reference position, so the answer is unique: the k smallest (distance, position)
pairs. Repeated reference rows are searched once (ordered by first position) and expanded afterwards; repeated
query rows are searched once and handed back to every copy (rows grouped by a hash of their values, each
checked equal to its group's first).

Approximate search (`nearest_search`)
------------------------------------
When the estimated exact time (pairs / pairs-per-second measured on a small exact search in the same run)
exceeds the policy's budget, a faiss IVF index (exact float64 re-measure of what it returns) is used instead,
and the result says so, with its recall measured against exact search on a seeded sample of query rows:
recall = share of (query, rank) slots whose approximate neighbour is no farther than the exact k-th neighbour.
"""
from __future__ import annotations

import functools
import math
import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

Progress = Callable[[float, str], None] | None

EXTRA_CANDIDATES = 6  # kept beyond k so that the proof above rarely needs the second pass
BLOCK_BYTES = 64 * 2**20  # one float32 score block (query rows x reference rows)
REFERENCE_BLOCK_ROWS = 16_384
SKIP_ROWS = True  # select only in query rows a reference block can improve
RECALL_SAMPLE = 1_000  # query rows re-searched exactly to measure an approximate search's recall
DEFAULT_TIME_BUDGET_SECONDS = 600.0  # [privacy] nearest_time_budget_seconds
_FLOAT32_LIMIT = 1e15  # coordinates beyond this (after centring) are searched in float64 instead
_RELATIVE_SLACK = 1e-12  # float64 re-measure rounding (~d * 2^-53) kept out of the proof's comparison
KERNEL_BLOCK_BYTES = 512 * 2**10  # reference panels scanned by one query tile before the next (stays in L2)
KERNEL_CHUNK_ROWS = 1536  # query rows a thread takes at a time (their top-m state stays in L2)
PRUNE = True  # kernel: skip reference panels whose box proves they cannot enter a query tile's top-m
PRUNE_AXES = 4  # principal axes the boxes and the Z-order use (at most 4: the Z-order's 16 bits an axis)
PRUNE_SEEDS = 4  # panels nearest a tile's box scanned first, so that its thresholds are tight early
PRUNE_MAX_DIMS = 2048  # beyond, the principal axes cost more than the pruning saves
# Prune only when the axes hold this share of the reference's variance. Measured with pruning forced (40,000 rows
# each, k=2, best of 3 CPU times, load 11): census 0.56 of the variance, 48% of the pairs skipped, 27% less CPU;
# normal data in 5 / 8 / 12 / 20 dims: 0.81 / 0.52 / 0.35 / 0.22 of it, 35% less CPU / 2% less / 13% more / 17%
# more.
PRUNE_MIN_VARIANCE_SHARE = 0.4

_THREADS_SET = False


def torch_device() -> str:
    """'cuda' when a CUDA device is present, else 'cpu'."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def machine_cores() -> int:
    """Cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _torch():
    """torch with one thread a core (set once) and full-precision float32 products (no TF32 on CUDA)."""
    global _THREADS_SET
    import torch

    if not _THREADS_SET:
        torch.set_num_threads(machine_cores())
        _THREADS_SET = True
    if torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = False  # the error bound assumes IEEE float32 products
    return torch


@dataclass
class SearchStats:
    """How one exact search ran: pairs scored, seconds, device, queries that needed the second pass."""

    pairs: int = 0
    seconds: float = 0.0
    device: str = "cpu"
    second_pass_queries: int = 0
    engine: str = ""  # "kernel" (fused C) or "torch" (block products)
    scored_pairs: int = 0  # pairs whose score was computed (padding included): below `pairs` where pruned

    @property
    def pairs_per_second(self) -> float:
        """Reference x query pairs scored a second."""
        return self.pairs / self.seconds if self.seconds > 0 else math.inf


def remeasure(query: np.ndarray, ref: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Float64 distances of each query row to its candidate reference rows (-1 candidates give inf)."""
    safe = np.where(candidates < 0, 0, candidates)
    exact = np.sqrt(((query[:, None, :] - ref[safe]) ** 2).sum(axis=2))
    return np.where(candidates < 0, np.inf, exact)


def _canonical(candidates: np.ndarray, exact: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k smallest (distance, position) pairs of each row, duplicates of one position counted once."""
    order = np.lexsort((candidates, exact), axis=1)
    cand = np.take_along_axis(candidates, order, axis=1)
    dist = np.take_along_axis(exact, order, axis=1)
    repeat = np.zeros_like(cand, dtype=bool)
    repeat[:, 1:] = (cand[:, 1:] == cand[:, :-1]) & (cand[:, 1:] >= 0)
    if repeat.any():  # a candidate met twice (second pass): push the copy to the end
        dist = np.where(repeat, np.inf, dist)
        cand = np.where(repeat, -1, cand)
        order = np.lexsort((np.where(cand < 0, np.iinfo(np.int64).max, cand), dist), axis=1)
        cand, dist = np.take_along_axis(cand, order, axis=1), np.take_along_axis(dist, order, axis=1)
    return cand[:, :k], dist[:, :k]


def exact_nearest(ref: np.ndarray, qry: np.ndarray, k: int, *, block_bytes: int = BLOCK_BYTES,
                  reference_block_rows: int = REFERENCE_BLOCK_ROWS, progress: Progress = None,
                  device: str | None = None, stats: SearchStats | None = None,
                  engine: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest rows of `ref` for each row of `qry`: (positions (-1 if none), float64 distances (inf)).

    `engine`: "kernel" (fused C kernel), "torch" (block products), or None: torch on a GPU, else the kernel
    when it builds, else torch."""
    started = time.perf_counter()
    ref, qry = np.asarray(ref, dtype=np.float64), np.asarray(qry, dtype=np.float64)
    n_query, k_found = len(qry), min(k, len(ref))
    positions = np.full((n_query, k), -1, dtype=np.int64)
    distances = np.full((n_query, k), np.inf)
    if n_query == 0 or k_found == 0:
        return positions, distances
    if ref.shape[1] == 0:  # every used column constant: all records are at distance 0
        positions[:, :k_found] = np.arange(k_found)
        distances[:, :k_found] = 0.0
        return positions, distances
    search = functools.partial(_distinct_references, ref, k=k, k_found=k_found, block_bytes=block_bytes,
                               reference_block_rows=reference_block_rows, progress=progress, device=device,
                               stats=stats, engine=engine)
    if n_query > 1000:
        # Identical query rows have identical neighbours: search each distinct row once (a third of census
        # rows repeat), then hand the result back to every copy.
        first, inverse = distinct_rows(qry)
        if len(first) < 0.9 * n_query:
            pos, dst = search(qry[first])
            positions[:, :k_found], distances[:, :k_found] = pos[inverse], dst[inverse]
        else:
            positions[:, :k_found], distances[:, :k_found] = search(qry)
    else:
        positions[:, :k_found], distances[:, :k_found] = search(qry)
    if stats is not None:
        stats.seconds += time.perf_counter() - started
    return positions, distances


def _distinct_references(ref: np.ndarray, qry: np.ndarray, *, k: int, k_found: int, block_bytes: int,
                         reference_block_rows: int, progress: Progress, device: str | None,
                         stats: SearchStats | None, engine: str | None) -> tuple[np.ndarray, np.ndarray]:
    """The k_found nearest (positions, distances) of every query row, repeated reference rows searched once."""
    n_query = len(qry)
    # Repeated reference rows: search distinct rows (ordered by first position, so ties still go to the lower
    # position), then expand each found row into its first k positions.
    first, inverse = distinct_rows(ref)
    if len(first) == len(ref):
        return _search(ref, qry, k_found, block_bytes, reference_block_rows, progress, device, stats, engine)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    group = rank[inverse]  # distinct-row id of every reference row, ids in order of first position
    unique_ref = ref[np.sort(first)]
    found, found_dist = _search(unique_ref, qry, min(k, len(unique_ref)), block_bytes, reference_block_rows,
                                progress, device, stats, engine)
    members = _first_members(group, len(unique_ref), k)  # (n_unique, k) positions, -1 padded
    cand = members[np.where(found < 0, 0, found)].reshape(n_query, -1)
    dist = np.repeat(found_dist, k, axis=1)
    dist = np.where(cand < 0, np.inf, dist)
    pos, dst = _canonical(np.where(cand < 0, np.iinfo(np.int64).max, cand), dist, k_found)
    return np.where(np.isinf(dst), -1, pos), dst


def distinct_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first position of every distinct row, distinct-row id of every row): rows grouped by a 64-bit hash of
    their values, every row then checked equal to its group's first (np.unique on rows, ~20x slower on wide
    census rows, only if two distinct rows ever share a hash)."""
    values = np.ascontiguousarray(rows + 0.0)  # + 0.0: -0.0 becomes 0.0, so equal values hash alike
    words = np.ascontiguousarray(values.view(np.uint64).reshape(len(values), -1).T)  # a column at a time
    digest = np.full(len(values), 0x9E3779B97F4A7C15, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for column in words:  # multiply-xorshift mixing, wrapping modulo 2^64
            digest = (digest ^ column) * np.uint64(0xBF58476D1CE4E5B9)
            digest ^= digest >> np.uint64(31)
    _, first, inverse = np.unique(digest, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    if not np.array_equal(values, values[first[inverse]]):  # a hash collision: group by value instead
        _, first, inverse = np.unique(values, axis=0, return_index=True, return_inverse=True)
        inverse = inverse.reshape(-1)
    return first, inverse


def _first_members(group: np.ndarray, n_groups: int, k: int) -> np.ndarray:
    """The first k positions of every group (ascending), -1 where a group has fewer."""
    order = np.argsort(group, kind="stable")  # positions grouped, ascending within a group
    sorted_group = group[order]
    starts = np.searchsorted(sorted_group, np.arange(n_groups), side="left")
    ends = np.searchsorted(sorted_group, np.arange(n_groups), side="right")
    out = np.full((n_groups, k), -1, dtype=np.int64)
    for slot in range(k):
        has = starts + slot < ends
        out[has, slot] = order[starts[has] + slot]
    return out


def _search(ref: np.ndarray, qry: np.ndarray, k: int, block_bytes: int, reference_block_rows: int,
            progress: Progress, device: str | None, stats: SearchStats | None,
            engine: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Canonical exact k nearest (distinct) reference rows of every query row; see the module's proof."""
    n_ref, n_query, dims = len(ref), len(qry), ref.shape[1]
    m = min(k + EXTRA_CANDIDATES, n_ref)
    if m == n_ref:  # few reference rows: re-measure all of them
        out_pos, out_dist = np.empty((n_query, k), dtype=np.int64), np.empty((n_query, k))
        step = max(1, 4_000_000 // max(n_ref * dims, 1))
        everything = np.arange(n_ref)
        for start in range(0, n_query, step):
            chunk = qry[start:start + step]
            cand = np.broadcast_to(everything, (len(chunk), n_ref))
            out_pos[start:start + step], out_dist[start:start + step] = _canonical(
                np.ascontiguousarray(cand), remeasure(chunk, ref, cand), k)
        if stats is not None:
            stats.pairs += n_ref * n_query
            stats.scored_pairs += n_ref * n_query
        if progress is not None:
            progress(1.0, "nearest records")
        return out_pos, out_dist
    centre = ref.mean(axis=0)
    ref_c, qry_c = ref - centre, qry - centre
    magnitude = float(max(np.abs(ref_c).max(), np.abs(qry_c).max()))
    wide = magnitude > _FLOAT32_LIMIT
    unit, tiny = (2.0**-53, 2.0**-1074) if wide else (2.0**-24, 2.0**-149)
    engine, device = _choose_engine(engine, device, wide)
    # A power of two scales exactly and brings the largest coordinate into [1, 2): float32 products then stay
    # clear of underflow (which the relative error bound does not cover) and of overflow.
    exponent = math.frexp(magnitude)[1] - 1 if 0 < magnitude < math.inf else 0
    scale = math.ldexp(1.0, -min(1000, max(-1000, exponent)))
    # the coordinates the candidates are scored from (float32 unless wide) and their exact (float64) norms
    r_low = ref_c * scale if wide else (ref_c * scale).astype(np.float32)
    q_low = qry_c * scale if wide else (qry_c * scale).astype(np.float32)
    r_norm = (r_low.astype(np.float64) ** 2).sum(axis=1)
    q_norm_all = (q_low.astype(np.float64) ** 2).sum(axis=1)
    gamma = (dims + 2) * unit / (1 - (dims + 2) * unit)
    boxes = _boxes(r_low, q_low, r_norm, q_norm_all) if engine == "kernel" and PRUNE else None
    if boxes is not None:  # queries searched in the boxes' order (compact tiles), handed back at the end
        qry, q_low, q_norm_all = qry[boxes.query_order], q_low[boxes.query_order], q_norm_all[boxes.query_order]
    bound = _Bound(ref, qry, k, q_norm_all, float(r_norm.max()), 2.0 * (gamma + 3 * unit), unit, tiny,
                   float(np.linalg.norm(centre)) * scale, scale, dims)
    if engine == "kernel":
        blocks = _kernel_candidates(r_low, r_norm, q_low, m, bound, boxes, stats)
    else:
        blocks = (bound.prove(*found) for found in
                  _torch_candidates(r_low, r_norm, q_low, m, device, block_bytes, reference_block_rows))
        if stats is not None:
            stats.scored_pairs += n_ref * n_query
    out_pos, out_dist = np.empty((n_query, k), dtype=np.int64), np.empty((n_query, k))
    retry: list[np.ndarray] = []
    thresholds: list[np.ndarray] = []
    for start, pos, dist, unproven, threshold in blocks:
        rows = slice(start, start + len(pos))
        out_pos[rows], out_dist[rows] = pos, dist
        if unproven.size:
            retry.append(unproven + start)
            thresholds.append(threshold)
        if progress is not None:
            progress(min(start + len(pos), n_query) / n_query, "nearest records")
    if retry:
        _second_pass(ref, qry, np.concatenate(retry), np.concatenate(thresholds), k, r_low, r_norm, q_low,
                     out_pos, out_dist)
    if boxes is not None:
        searched_pos, searched_dist = out_pos, out_dist
        out_pos, out_dist = np.empty_like(searched_pos), np.empty_like(searched_dist)
        out_pos[boxes.query_order], out_dist[boxes.query_order] = searched_pos, searched_dist
    if stats is not None:
        stats.pairs += n_ref * n_query
        stats.device = device
        stats.engine = engine
        stats.second_pass_queries += sum(len(r) for r in retry)
    return out_pos, out_dist


@dataclass
class _Bound:
    """The module's proof for a block of query rows: what it needs of the whole search. Scores, norms and
    bounds are in the scaled units of the low-precision coordinates (original units times `scale`)."""

    ref: np.ndarray
    qry: np.ndarray
    k: int
    q_norm_all: np.ndarray  # |q|^2 of the low-precision query coordinates
    r_norm_max: float
    c_bound: float  # computed score error <= c_bound (|q|^2 + max |r|^2) + the underflow term
    unit: float
    tiny: float  # half the spacing of the low precision's subnormals, twice over: the most one underflow loses
    centre_norm: float
    scale: float
    dims: int

    def score_error(self, q_norm: np.ndarray) -> np.ndarray:
        """E_i: how far a computed score of query rows with these |q|^2 can be from the exact one."""
        return self.c_bound * (q_norm + self.r_norm_max) + (2 * self.dims + 4) * self.tiny

    def prove(self, start: int, cand: np.ndarray, s_m: np.ndarray):
        """(start, positions, float64 distances, rows not proven, their second-pass score thresholds) of the
        query rows from `start`, given their m candidates and m-th kept scores."""
        rows = slice(start, start + len(cand))
        pos, dist = _canonical(cand, remeasure(self.qry[rows], self.ref, cand), self.k)
        q_norm = self.q_norm_all[rows]
        r_max = math.sqrt(self.r_norm_max)
        err = self.score_error(q_norm)
        # rounding of the coordinates to low precision (relative, or absolute where it underflows), plus the
        # float64 rounding of the centring itself
        eta = (2 * self.unit * (np.sqrt(q_norm) + r_max) + 2 * math.sqrt(self.dims) * self.tiny
               + 2.0**-50 * (np.sqrt(q_norm) + r_max + 2 * self.centre_norm))
        lower = np.sqrt(np.maximum(0.0, s_m + q_norm - err)) - eta
        # The k-th distance as the float64 re-measure rounds it, widened to a bound on the true distance of any
        # row the re-measure could rank before it: relative rounding, and squares that underflow (< 2^-1074).
        kth = np.hypot(dist[:, -1], math.sqrt(self.dims * 2.0**-1074)) * (1 + _RELATIVE_SLACK)
        kth = kth * self.scale * (1 + 2.0**-50) + 2.0**-1070
        unproven = np.flatnonzero(~(lower > kth))
        threshold = (kth[unproven] + eta[unproven]) ** 2 - q_norm[unproven] + err[unproven]
        return start, pos, dist, unproven, threshold


def _gpu_present() -> bool:
    """Whether torch may see a GPU, without importing torch (~1 s) on machines that have none."""
    if "torch" in sys.modules:
        return sys.modules["torch"].cuda.is_available()
    if not (os.path.exists("/proc/driver/nvidia/version") or os.path.exists("/dev/kfd")
            or shutil.which("nvidia-smi")):
        return False
    return torch_device() == "cuda"


def _choose_engine(engine: str | None, device: str | None, wide: bool) -> tuple[str, str]:
    """('kernel' or 'torch', device): torch on CUDA or for float64 coordinates or when the kernel cannot be
    built, else the fused C kernel; an explicit `engine` or `device` wins."""
    from core.stats.nearest_kernel import load_kernel

    if engine is None:
        if device == "cuda" or (device is None and _gpu_present()):
            engine = "torch"
        else:
            engine = "kernel"
    if engine == "kernel" and (wide or load_kernel() is None):
        engine = "torch"
    if engine == "torch":
        return engine, device or torch_device()
    if engine != "kernel":
        raise ValueError(f"engine must be 'kernel', 'torch' or None, not {engine!r}")
    return engine, "cpu"


@dataclass
class _Boxes:
    """Pruning for the kernel: reference and query rows ordered along a Z-order curve of their projections on
    the reference's first principal axes, so that reference panels and query tiles are compact there, and
    the constants that turn a box gap into a lower bound of the distance (module docstring)."""

    ref_order: np.ndarray
    query_order: np.ndarray
    ref_projection: np.ndarray  # (n_ref, P), rows in ref_order
    query_projection: np.ndarray  # (n_query, P), rows in query_order
    ref_keys: np.ndarray  # Z-order keys, ascending
    query_keys: np.ndarray
    shrink: float
    slack: float


def _boxes(r_low: np.ndarray, q_low: np.ndarray, r_norm: np.ndarray, q_norm: np.ndarray) -> _Boxes | None:
    """Orders and projections for the kernel's pruning (None where the dimensions are too many to pay)."""
    from threadpoolctl import threadpool_limits

    if r_low.shape[1] > PRUNE_MAX_DIMS:
        return None
    with threadpool_limits(1):  # products this thin are memory-bound: BLAS threads would only spin
        return _project(r_low, q_low, r_norm, q_norm)


def _project(r_low: np.ndarray, q_low: np.ndarray, r_norm: np.ndarray, q_norm: np.ndarray) -> _Boxes | None:
    """_boxes' work: principal axes of a sample, both tables projected and ordered along the Z-order curve; None
    when the axes hold too little of the variance for boxes on them to prune (i.i.d. data in many dimensions)."""
    dims = r_low.shape[1]
    sample = r_low[:: max(1, len(r_low) // 4096)].astype(np.float64)
    variances, vectors = np.linalg.eigh(sample.T @ sample)
    axes = min(PRUNE_AXES, dims)
    total = variances.sum()
    if not (total > 0 and variances[-axes:].sum() >= PRUNE_MIN_VARIANCE_SHARE * total):
        return None
    basis = np.ascontiguousarray(vectors[:, ::-1][:, :axes])  # largest variance first
    r64, q64 = r_low.astype(np.float64), q_low.astype(np.float64)
    # |basis^T x| <= (1 + eps)|x|, eps from the basis' distance to orthonormal; projections computed in float64
    # are off by at most sqrt(P) gamma_d (1 + eps)|x| each (gamma_d with u = 2^-53)
    eps = float(np.linalg.norm(basis.T @ basis - np.eye(axes))) + 2.0**-50
    gamma = dims * 2.0**-53 / (1 - dims * 2.0**-53)
    widest = math.sqrt(float(r_norm.max())) + math.sqrt(float(q_norm.max()))
    shrink = (1 - 1e-12) / (1 + eps)
    slack = (math.sqrt(axes) * gamma * (1 + eps) + 2.0**-40) * widest
    r_proj, q_proj = r64 @ basis, q64 @ basis
    low, high = r_proj.min(axis=0), r_proj.max(axis=0)
    ref_keys, query_keys = _z_keys(r_proj, low, high), _z_keys(q_proj, low, high)
    ref_order, query_order = np.argsort(ref_keys, kind="stable"), np.argsort(query_keys, kind="stable")
    return _Boxes(ref_order, query_order, r_proj[ref_order], q_proj[query_order], ref_keys[ref_order],
                  query_keys[query_order], shrink, slack)


def _z_keys(points: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Positions on a Z-order (Morton) curve: up to 4 coordinates quantized to 16 bits in [low, high], their bits
    interleaved (each spread to every 4th bit by the usual mask-and-shift steps)."""
    span = np.where(high > low, high - low, 1.0)
    cells = np.clip((points - low) / span * 65535.0, 0, 65535).astype(np.uint64)
    key = np.zeros(len(points), dtype=np.uint64)
    for axis in range(points.shape[1]):
        x = cells[:, axis]
        for shift, mask in ((24, 0x000000FF000000FF), (12, 0x000F000F000F000F), (6, 0x0303030303030303),
                            (3, 0x1111111111111111)):
            x = (x | (x << np.uint64(shift))) & np.uint64(mask)
        key |= x << np.uint64(3 - axis)
    return key


def _kernel_candidates(r_low: np.ndarray, r_norm: np.ndarray, q_low: np.ndarray, m: int, bound: _Bound,
                       boxes: _Boxes | None, stats: SearchStats | None):
    """bound.prove(first row, m candidate positions, m-th kept score) of every query chunk, in order, run on
    every core: the fused C kernel's scores |r|^2 - 2 q.r accumulated in float32 registers, the running top-m
    kept in place (panels whose box proves they cannot enter skipped), then the proof in the same thread."""
    from core.stats.nearest_kernel import load_kernel

    kernel = load_kernel()
    n_ref, dims = r_low.shape
    nr, mr = kernel.nr, kernel.mr
    n_panels = -(-n_ref // nr)
    if boxes is not None:
        r_low, r_norm = r_low[boxes.ref_order], r_norm[boxes.ref_order]
    padded = np.zeros((n_panels * nr, dims), dtype=np.float32)
    padded[:n_ref] = r_low
    norms = np.full(n_panels * nr, np.inf, dtype=np.float32)  # padding rows score +inf: never kept
    norms[:n_ref] = r_norm
    panels = np.ascontiguousarray(np.concatenate(
        [norms.reshape(n_panels, 1, nr), padded.reshape(n_panels, nr, dims).transpose(0, 2, 1)], axis=1))
    box = None
    if boxes is not None:  # rows: axis 0's lows, its highs, axis 1's lows, ... (2 P, n_panels)
        low, high = np.split(_tile_boxes(boxes.ref_projection, nr), 2, axis=1)
        box = np.ascontiguousarray(np.stack([low.T, high.T], axis=1).reshape(-1, n_panels))
    block_panels = max(1, KERNEL_BLOCK_BYTES // (4 * (dims + 1) * nr))
    cores = machine_cores()
    n_query = len(q_low)
    chunk = mr * max(1, min(KERNEL_CHUNK_ROWS, -(-n_query // (4 * cores))) // mr)
    scored = []

    def work(start: int):
        rows = min(chunk, n_query - start)
        tiled = -(-rows // mr) * mr
        query_m2 = np.zeros((tiled, dims), dtype=np.float32)
        query_m2[:rows] = q_low[start:start + rows]
        query_m2 *= -2  # exact: a power of two
        value = np.full((tiled, m), np.inf, dtype=np.float32)
        index = np.full((tiled, m), -1, dtype=np.int64)
        threshold = np.full(tiled, np.inf, dtype=np.float32)
        if boxes is None:
            pairs = kernel.scan(panels, dims, query_m2, value, index, threshold, block_panels)
        else:
            q_norm = bound.q_norm_all[start:start + rows]
            offset = np.zeros(tiled)
            # a pruned panel's rows have computed scores >= bound^2 - |q|^2 - E_i (|q|^2 from its float64 sum)
            offset[:rows] = q_norm * (1 + (dims + 2) * 2.0**-52) + bound.score_error(q_norm)
            tile_box = _tile_boxes(boxes.query_projection[start:start + rows], mr)
            # seeds: the panels around where each tile's middle row falls in the reference's Z-order
            middle = boxes.query_keys[np.minimum(np.arange(start, start + tiled, mr) + mr // 2, start + rows - 1)]
            seed_start = np.clip(np.searchsorted(boxes.ref_keys, middle) // nr - PRUNE_SEEDS // 2, 0,
                                 max(0, n_panels - PRUNE_SEEDS)).astype(np.int64)
            pairs = kernel.scan(panels, dims, query_m2, value, index, threshold, block_panels, box=box,
                                tile_box=tile_box, offset=offset, n_valid=rows, seed_start=seed_start,
                                seeds=PRUNE_SEEDS, shrink=boxes.shrink, slack=boxes.slack)
        scored.append(pairs)
        found = index[:rows]
        if boxes is not None:
            found = np.where(found < 0, found, boxes.ref_order[np.maximum(found, 0)])
        return bound.prove(start, found, value[:rows].max(axis=1).astype(np.float64))

    starts = range(0, n_query, chunk)
    try:
        if cores == 1 or len(starts) == 1:
            yield from map(work, starts)
            return
        pool = ThreadPoolExecutor(cores)  # ctypes releases the GIL during the scan
        try:
            yield from pool.map(work, starts)
        finally:  # a caller that stops early (an interrupted page) does not wait for the chunks not started
            pool.shutdown(wait=True, cancel_futures=True)
    finally:
        if stats is not None:
            stats.scored_pairs += sum(scored) * mr * nr


def _tile_boxes(projection: np.ndarray, rows: int) -> np.ndarray:
    """(groups of `rows` consecutive rows, 2 P): each group's lows then highs (a short last group as it is)."""
    n = len(projection)
    groups = -(-n // rows)
    padded = np.concatenate([projection, np.repeat(projection[-1:], groups * rows - n, axis=0)])
    grouped = padded.reshape(groups, rows, -1)
    return np.ascontiguousarray(np.concatenate([grouped.min(axis=1), grouped.max(axis=1)], axis=1))


def _torch_candidates(r_low: np.ndarray, r_norm64: np.ndarray, q_low: np.ndarray, m: int, device: str,
                      block_bytes: int, reference_block_rows: int):
    """(first row, m candidate positions, m-th kept score) per query block, from torch matrix products (on
    CUDA when present): score blocks |r|^2 - 2 q.r written out and reduced with torch.topk."""
    torch = _torch()
    n_ref, n_query = len(r_low), len(q_low)
    r_t = torch.from_numpy(r_low).to(device=device)
    dtype = r_t.dtype
    r_norm = torch.from_numpy(r_norm64).to(device=device, dtype=dtype)
    q_all = torch.from_numpy(q_low).to(device=device)
    ref_rows = max(m, min(n_ref, reference_block_rows))
    query_rows = max(1, min(n_query, block_bytes // (4 * ref_rows)))
    for start in range(0, n_query, query_rows):
        q = q_all[start:start + query_rows]
        best_v = torch.full((len(q), m), math.inf, device=device, dtype=dtype)
        best_i = torch.zeros((len(q), m), device=device, dtype=torch.int64)
        for r0 in range(0, n_ref, ref_rows):
            r_block = r_t[r0:r0 + ref_rows]
            score = torch.addmm(r_norm[r0:r0 + ref_rows], q, r_block.T, beta=1, alpha=-2)
            if SKIP_ROWS and r0 > 0:
                # A row whose block minimum is not below its m-th kept score gains nothing from the block:
                # select only in the rows that can change (every row left out stays >= the m-th kept).
                rows_t = torch.nonzero(score.amin(dim=1) < best_v.amax(dim=1)).squeeze(1)
                if rows_t.numel() == 0:
                    continue
                if rows_t.numel() < 0.5 * len(q):
                    v, i = torch.topk(score.index_select(0, rows_t), min(m, len(r_block)), dim=1, largest=False,
                                      sorted=False)
                    v = torch.cat([best_v.index_select(0, rows_t), v], dim=1)
                    i = torch.cat([best_i.index_select(0, rows_t), i + r0], dim=1)
                    kept_v, keep = torch.topk(v, m, dim=1, largest=False, sorted=False)
                    best_v[rows_t], best_i[rows_t] = kept_v, torch.gather(i, 1, keep)
                    continue
            v, i = torch.topk(score, min(m, len(r_block)), dim=1, largest=False, sorted=False)
            v, i = torch.cat([best_v, v], dim=1), torch.cat([best_i, i + r0], dim=1)
            best_v, keep = torch.topk(v, m, dim=1, largest=False, sorted=False)
            best_i = torch.gather(i, 1, keep)
        yield start, best_i.cpu().numpy(), best_v.max(dim=1).values.double().cpu().numpy()


def _second_pass(ref, qry, rows, thresholds, k, r_low, r_norm, q_low, out_pos, out_dist) -> None:
    """Re-measure, for the unproven query rows, every reference row whose score is within the bound (scores
    here are float64 from the same low-precision coordinates: their error is far inside the bound)."""
    step, ref_step = 256, 8192
    r64 = r_low.astype(np.float64)
    for start in range(0, len(rows), step):
        chunk = rows[start:start + step]
        q = q_low[chunk].astype(np.float64)
        limit = thresholds[start:start + step, None]
        found_rows, found_refs = [], []
        for r0 in range(0, len(ref), ref_step):
            score = r_norm[r0:r0 + ref_step] - 2.0 * (q @ r64[r0:r0 + ref_step].T)
            hit_rows, hit_refs = np.nonzero(score <= limit)
            found_rows.append(hit_rows)
            found_refs.append(hit_refs + r0)
        hit_rows, hit_refs = np.concatenate(found_rows), np.concatenate(found_refs)
        exact = np.sqrt(((qry[chunk[hit_rows]] - ref[hit_refs]) ** 2).sum(axis=1))
        # per query: the current answer plus every hit, the k smallest (distance, position) pairs
        counts = np.bincount(hit_rows, minlength=len(chunk))
        width = k + int(counts.max(initial=0))
        cand = np.full((len(chunk), width), -1, dtype=np.int64)
        dist = np.full((len(chunk), width), np.inf)
        cand[:, :k], dist[:, :k] = out_pos[chunk], out_dist[chunk]
        order = np.argsort(hit_rows, kind="stable")
        slot = np.arange(len(hit_rows)) - np.repeat(np.cumsum(counts) - counts, counts)
        cand[hit_rows[order], k + slot] = hit_refs[order]
        dist[hit_rows[order], k + slot] = exact[order]
        big = np.iinfo(np.int64).max
        pos, dst = _canonical(np.where(cand < 0, big, cand), dist, k)
        out_pos[chunk], out_dist[chunk] = pos, dst


# --- Exact or approximate, by the time budget ---------------------------------------------------------
@dataclass
class NearestSearch:
    """Nearest reference rows of every query row and how they were found (exact, or approximate with recall)."""

    positions: np.ndarray
    distances: np.ndarray
    method: str  # "exact" or "approximate"
    estimated_exact_seconds: float
    time_budget_seconds: float
    recall: float | None = None  # approximate only: measured on `recall_sample` seeded query rows
    recall_sample: int = 0
    seed: int = 0
    index: str = ""  # approximate only: the faiss index used
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The search as a report entry."""
        out = {"method": self.method, "time_budget_seconds": _finite(self.time_budget_seconds)}
        if self.method == "approximate":  # the estimate is machine-dependent: reported only where it decided
            out.update(estimated_exact_seconds=_finite(self.estimated_exact_seconds), recall=self.recall,
                       recall_sample=self.recall_sample, seed=self.seed, index=self.index)
        return out


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def measured_pairs_per_second(ref: np.ndarray, qry: np.ndarray, k: int, sample_rows: int = 512) -> float:
    """Pairs a second of the exact search, timed on up to `sample_rows` query rows against all of `ref`."""
    from core.stats.nearest_kernel import load_kernel

    load_kernel()  # built (once a machine) before the clock starts
    stats = SearchStats()
    sample = np.asarray(qry[: min(sample_rows, len(qry))])
    reference = np.asarray(ref[: min(len(ref), 65_536)])
    exact_nearest(reference, sample, k, stats=stats)
    return stats.pairs_per_second


def recall_against_exact(approx_dist: np.ndarray, exact_dist: np.ndarray) -> float:
    """Share of (query, rank) slots whose approximate distance is no farther than the exact k-th distance."""
    kth = exact_dist[:, -1:]
    finite = np.isfinite(exact_dist)
    hits = (approx_dist <= kth * (1 + _RELATIVE_SLACK)) & finite
    return float(hits.sum() / max(int(finite.sum()), 1))


def approximate_nearest(ref: np.ndarray, qry: np.ndarray, k: int, *, seed: int = 0,
                        nprobe: int | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """k nearest rows by a faiss IVF-flat index (float32), the k+extra found re-measured in float64."""
    import faiss

    ref, qry = np.asarray(ref, dtype=np.float64), np.asarray(qry, dtype=np.float64)
    n_ref, dims = ref.shape
    k_found = min(k, n_ref)
    positions = np.full((len(qry), k), -1, dtype=np.int64)
    distances = np.full((len(qry), k), np.inf)
    if len(qry) == 0 or k_found == 0 or dims == 0:
        return (*exact_nearest(ref, qry, k), "exact (trivial)")
    faiss.omp_set_num_threads(machine_cores())
    centre = ref.mean(axis=0)
    r32 = np.ascontiguousarray(ref - centre, dtype=np.float32)
    q32 = np.ascontiguousarray(qry - centre, dtype=np.float32)
    nlist = max(1, min(int(4 * math.sqrt(n_ref)), n_ref // 39))
    nprobe = nprobe or max(1, nlist // 8)
    quantizer = faiss.IndexFlatL2(dims)
    index = faiss.IndexIVFFlat(quantizer, dims, nlist)
    rng = np.random.default_rng(seed)
    train = r32 if n_ref <= 256 * nlist else r32[rng.choice(n_ref, 256 * nlist, replace=False)]
    index.cp.seed = int(seed)
    index.train(train)
    index.add(r32)
    index.nprobe = nprobe
    m = min(k_found + EXTRA_CANDIDATES, n_ref)
    _, found = index.search(q32, m)
    found = found.astype(np.int64)
    pos, dst = _canonical(np.where(found < 0, np.iinfo(np.int64).max, found), remeasure(qry, ref, found), k_found)
    positions[:, :k_found] = np.where(np.isinf(dst), -1, pos)
    distances[:, :k_found] = dst
    return positions, distances, f"faiss IndexIVFFlat nlist={nlist} nprobe={nprobe}"


def nearest_search(ref: np.ndarray, qry: np.ndarray, k: int, *, time_budget_seconds: float = DEFAULT_TIME_BUDGET_SECONDS,
                   seed: int = 0, recall_sample: int = RECALL_SAMPLE, progress: Progress = None,
                   pairs_per_second: float | None = None) -> NearestSearch:
    """Exact search when its estimated time fits the budget, else the faiss index with its measured recall."""
    ref, qry = np.asarray(ref, dtype=np.float64), np.asarray(qry, dtype=np.float64)
    pairs = len(ref) * len(qry)
    if pairs_per_second is None:
        pairs_per_second = measured_pairs_per_second(ref, qry, k)
    estimate = pairs / pairs_per_second if pairs_per_second > 0 else math.inf
    if estimate <= time_budget_seconds:
        pos, dist = exact_nearest(ref, qry, k, progress=progress)
        return NearestSearch(pos, dist, "exact", estimate, time_budget_seconds, seed=seed)
    pos, dist, index = approximate_nearest(ref, qry, k, seed=seed)
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(len(qry), min(recall_sample, len(qry)), replace=False))
    _, exact_dist = exact_nearest(ref, qry[sample], k)
    recall = recall_against_exact(dist[sample], exact_dist)
    if progress is not None:
        progress(1.0, "nearest records (approximate)")
    return NearestSearch(pos, dist, "approximate", estimate, time_budget_seconds, recall=recall,
                         recall_sample=len(sample), seed=seed, index=index)
