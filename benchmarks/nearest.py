"""Exact nearest records: pairs a second, the fraction of the machine's float32 peak, and ratios against the old
sklearn path and sklearn's NearestNeighbors(brute), all measured in the same run.

    python benchmarks/nearest.py                      # 100,000 x 100,000 rows x 20 dims of normal data, k=2
    python benchmarks/nearest.py --rows 20000 --data census

The peak is a 4096^3 torch float32 matmul timed in the same run; the search does 2 * dims flops a pair in its
products (the top-k and the float64 re-measure come on top), so flops / time / peak is the fraction reached.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.stats.nearest import SearchStats, exact_nearest, machine_cores  # noqa: E402

OLD_EXTRA_CANDIDATES = 6


def old_sklearn_path(ref: np.ndarray, qry: np.ndarray, k: int, chunk_rows: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
    """The previous nearest_encoded for large problems: sklearn float32 brute search of k+6, float64 re-measure."""
    from sklearn.neighbors import NearestNeighbors

    distinct, inverse = np.unique(qry, axis=0, return_inverse=True)
    if len(distinct) < 0.9 * len(qry):
        pos, dist = old_sklearn_path(ref, distinct, k, chunk_rows)
        return pos[inverse.reshape(-1)], dist[inverse.reshape(-1)]
    k_search = min(k + OLD_EXTRA_CANDIDATES, len(ref))
    model = NearestNeighbors(n_neighbors=k_search, algorithm="brute").fit(ref.astype(np.float32))
    chunk_rows = min(chunk_rows, max(1, 8_000_000 // (k_search * ref.shape[1])))
    positions, distances = np.empty((len(qry), k), dtype=np.int64), np.empty((len(qry), k))
    for start in range(0, len(qry), chunk_rows):
        chunk = qry[start:start + chunk_rows]
        found = model.kneighbors(chunk.astype(np.float32), return_distance=False)
        exact = np.sqrt(((chunk[:, None, :] - ref[found]) ** 2).sum(axis=2))
        order = np.argsort(exact, axis=1, kind="stable")[:, :k]
        positions[start:start + len(chunk)] = np.take_along_axis(found, order, axis=1)
        distances[start:start + len(chunk)] = np.take_along_axis(exact, order, axis=1)
    return positions, distances


def sklearn_brute(ref: np.ndarray, qry: np.ndarray, k: int) -> np.ndarray:
    """sklearn NearestNeighbors(algorithm="brute") on the float64 rows, k neighbours (its own distances)."""
    from sklearn.neighbors import NearestNeighbors

    return NearestNeighbors(n_neighbors=k, algorithm="brute").fit(ref).kneighbors(qry)[0]


def peak_gflops(size: int = 4096, repeats: int = 3) -> float:
    """Best of `repeats` float32 size^3 torch matmuls, in GFLOP/s."""
    import torch

    torch.set_num_threads(machine_cores())
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def tables(data: str, rows: int, dims: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Reference and query matrices: normal data, or encoded census rows (two disjoint samples)."""
    if data == "normal":
        rng = np.random.default_rng(seed)
        return rng.normal(size=(rows, dims)), rng.normal(size=(rows, dims))
    import pandas as pd

    from core.data.metadata import coerce_to_metadata
    from core.demo import DEMO_COLUMNS, census_income
    from core.stats.distances import DistanceEncoding

    frame = census_income()[DEMO_COLUMNS].sample(2 * rows, random_state=seed).reset_index(drop=True)
    metadata = {c: "numerical" if pd.api.types.is_numeric_dtype(frame[c]) else "categorical" for c in frame}
    frame = coerce_to_metadata(frame, metadata, "census")
    encoded = DistanceEncoding.fit(frame, metadata).transform(frame)
    return encoded[:rows], encoded[rows:]


def timed(function, *args):
    start = time.perf_counter()
    out = function(*args)
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="reference rows = query rows")
    parser.add_argument("--dims", type=int, default=20, help="dimensions of the normal data")
    parser.add_argument("--data", choices=("normal", "census"), default="normal")
    parser.add_argument("--k", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-references", action="store_true", help="time only the new search")
    args = parser.parse_args()
    print(f"load before: {os.getloadavg()}, cores {machine_cores()}")
    ref, qry = tables(args.data, args.rows, args.dims, args.seed)
    dims = ref.shape[1]
    peak = peak_gflops()
    stats = SearchStats()
    (pos, dist), seconds = timed(lambda: exact_nearest(ref, qry, args.k, stats=stats))
    pairs = len(ref) * len(qry)
    achieved = 2 * dims * pairs / seconds / 1e9
    print(f"data {args.data}: {len(ref):,} x {len(qry):,} rows x {dims} dims, k={args.k}")
    print(f"torch block search: {seconds:.2f} s, {pairs / seconds:.3g} pairs/s, {achieved:.1f} GFLOP/s in products "
          f"= {achieved / peak:.1%} of the measured peak {peak:.1f} GFLOP/s; second-pass queries "
          f"{stats.second_pass_queries}")
    if not args.skip_references:
        (old_pos, old_dist), old_seconds = timed(old_sklearn_path, ref, qry, args.k)
        brute_dist, brute_seconds = timed(sklearn_brute, ref, qry, args.k)
        print(f"old sklearn path (float32 kneighbors k+6, float64 re-measure): {old_seconds:.2f} s; "
              f"ratio old/new {old_seconds / seconds:.2f}x")
        print(f"sklearn NearestNeighbors(brute), float64: {brute_seconds:.2f} s; ratio brute/new "
              f"{brute_seconds / seconds:.2f}x")
        differ = (old_dist != dist).any(axis=1)
        print(f"query rows whose distances differ from the old path at all: {int(differ.sum())} (ties: the old path "
              f"kept any tied row, we keep the lowest position), max difference {np.abs(old_dist - dist).max():.1e}; "
              f"max |distance - sklearn brute| {np.abs(brute_dist - dist).max():.2e} (its expansion's rounding)")
    sample = np.random.default_rng(args.seed).choice(len(qry), 200, replace=False)
    full = np.vstack([np.sqrt(((qry[rows][:, None, :] - ref[None, :, :]) ** 2).sum(axis=2))
                      for rows in np.array_split(sample, 20)])
    order = np.lexsort((np.broadcast_to(np.arange(len(ref)), full.shape), full), axis=1)[:, :args.k]
    print(f"equal to float64 brute force on 200 seeded query rows: positions "
          f"{np.array_equal(order, pos[sample])}, distances {np.array_equal(np.take_along_axis(full, order, 1), dist[sample])}")
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
