"""Exact nearest records: pairs a second, the fraction of the machine's float32 peak, wall and process CPU time, and
ratios against torch's block products (the previous engine), sklearn's NearestNeighbors(brute) and faiss'
IndexFlatL2, all measured in the same run.

    python benchmarks/nearest.py                      # 100,000 x 100,000 rows x 20 dims of normal data, k=2
    python benchmarks/nearest.py --rows 99761 --data census      # the whole census file, split in two
    python benchmarks/nearest.py --skip-references    # the search alone

The peak is a 4096^3 torch float32 matmul timed in the same run; the search does 2 * dims flops a pair it scores
(the selection and the float64 re-measure come on top; pruned pairs and repeated rows cost nothing), so flops /
time / peak is the fraction reached.
The machine may be shared: the load average is printed before and after each timing, and CPU time (the whole
process, every thread) beside wall time; ratios are of wall times in this run.
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
from core.stats.nearest_kernel import kernel_status, load_kernel  # noqa: E402


def sklearn_brute(ref: np.ndarray, qry: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """sklearn NearestNeighbors(algorithm="brute") on the float64 rows, k neighbours: (distances, positions)."""
    from sklearn.neighbors import NearestNeighbors

    return NearestNeighbors(n_neighbors=k, algorithm="brute").fit(ref).kneighbors(qry)


def faiss_flat(ref: np.ndarray, qry: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """faiss IndexFlatL2 (exhaustive float32 search, not proven): (distances, positions)."""
    import faiss

    faiss.omp_set_num_threads(machine_cores())
    centre = ref.mean(axis=0)
    index = faiss.IndexFlatL2(ref.shape[1])
    index.add(np.ascontiguousarray(ref - centre, dtype=np.float32))
    squared, found = index.search(np.ascontiguousarray(qry - centre, dtype=np.float32), k)
    return np.sqrt(np.maximum(squared, 0)).astype(np.float64), found


def peak_gflops(size: int = 4096, repeats: int = 3) -> tuple[float, float]:
    """Best of `repeats` float32 size^3 torch matmuls: GFLOP a wall second, and GFLOP a CPU second (every thread
    counted: the figure a loaded machine leaves least changed)."""
    import torch

    torch.set_num_threads(machine_cores())
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best_wall = best_cpu = float("inf")
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        a @ b
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return 2 * size**3 / best_wall / 1e9, 2 * size**3 / best_cpu / 1e9


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


def timed(name: str, function, *args):
    """(function(*args), wall seconds, process CPU seconds), printed with the load average before and after."""
    load = os.getloadavg()[0]
    wall, cpu = time.perf_counter(), time.process_time()
    out = function(*args)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"  {name}: {wall:.2f} s wall, {cpu:.2f} s CPU (load {load:.1f} -> {os.getloadavg()[0]:.1f})")
    return out, wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="reference rows = query rows")
    parser.add_argument("--dims", type=int, default=20, help="dimensions of the normal data")
    parser.add_argument("--data", choices=("normal", "census"), default="normal")
    parser.add_argument("--k", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-references", action="store_true", help="time only the new search")
    parser.add_argument("--references", default="torch,sklearn,faiss",
                        help="comma-separated references to time: torch, sklearn, faiss")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}, cores {machine_cores()}")
    ref, qry = tables(args.data, args.rows, args.dims, args.seed)
    dims, pairs = ref.shape[1], len(ref) * len(qry)
    load_kernel()  # built (or found built) before the timing
    print(f"engine: {kernel_status()}")
    peak, peak_cpu = peak_gflops()
    print(f"data {args.data}: {len(ref):,} x {len(qry):,} rows x {dims} dims, k={args.k}; measured peak "
          f"{peak:.1f} GFLOP/s wall, {peak_cpu:.1f} GFLOP a CPU second (float32 4096^3 torch matmul)")
    stats = SearchStats()
    (pos, dist), seconds, cpu = timed("exact search", lambda: exact_nearest(ref, qry, args.k, stats=stats))
    flops = 2 * dims * stats.scored_pairs  # the scores computed: pruned pairs and repeated rows cost none
    print(f"exact search ({stats.engine}): {seconds:.2f} s, {pairs / seconds:.3g} pairs/s; pairs scored "
          f"{stats.scored_pairs / pairs:.1%} (the rest pruned, or repeated rows), {flops / seconds / 1e9:.1f} GFLOP/s "
          f"in their scores = {flops / seconds / 1e9 / peak:.1%} of the measured peak; per CPU second "
          f"{flops / cpu / 1e9:.1f} GFLOP = {flops / cpu / 1e9 / peak_cpu:.1%} of the matmul's; second-pass "
          f"queries {stats.second_pass_queries}")
    if not args.skip_references:
        wanted = {name.strip() for name in args.references.split(",")}
        if "torch" in wanted:
            torch_stats = SearchStats()
            (t_pos, t_dist), t_seconds, _ = timed("torch block products", lambda: exact_nearest(
                ref, qry, args.k, stats=torch_stats, engine="torch"))
            print(f"torch block products (the previous engine, same proof): {t_seconds:.2f} s; ratio torch/new "
                  f"{t_seconds / seconds:.2f}x; identical answer: positions {np.array_equal(t_pos, pos)}, "
                  f"distances {np.array_equal(t_dist, dist)}")
        if "sklearn" in wanted:
            (b_dist, b_pos), b_seconds, _ = timed("sklearn brute", sklearn_brute, ref, qry, args.k)
            print(f"sklearn NearestNeighbors(brute), float64: {b_seconds:.2f} s; ratio sklearn/new "
                  f"{b_seconds / seconds:.2f}x; max |distance - ours| {np.abs(b_dist - dist).max():.2e} (its "
                  f"expansion's rounding), rows whose positions differ {int((b_pos != pos).any(axis=1).sum())}")
        if "faiss" in wanted:
            (f_dist, f_pos), f_seconds, _ = timed("faiss IndexFlatL2", faiss_flat, ref, qry, args.k)
            print(f"faiss IndexFlatL2, float32 (not proven): {f_seconds:.2f} s; ratio faiss/new "
                  f"{f_seconds / seconds:.2f}x; max |distance - ours| {np.abs(f_dist - dist).max():.2e}, rows whose "
                  f"positions differ {int((f_pos != pos).any(axis=1).sum())}")
    sample = np.random.default_rng(args.seed).choice(len(qry), 200, replace=False)
    full = np.vstack([np.sqrt(((qry[rows][:, None, :] - ref[None, :, :]) ** 2).sum(axis=2))
                      for rows in np.array_split(sample, 20)])
    order = np.lexsort((np.broadcast_to(np.arange(len(ref)), full.shape), full), axis=1)[:, :args.k]
    print(f"equal to float64 brute force on 200 seeded query rows: positions "
          f"{np.array_equal(order, pos[sample])}, distances {np.array_equal(np.take_along_axis(full, order, 1), dist[sample])}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
