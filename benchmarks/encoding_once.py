"""The work of encoding the census demo's tables for one evaluation: every family encoding for itself (as before
the shared bundle; each encoder is still callable on its own) against one core.data.encoding.EncodedTables read
by every family, interleaved in the same run. Only the encoding work is timed, not the checks.

    REVIEW_DESK_CACHE=/work/wt/cache python benchmarks/encoding_once.py [--repeats 5]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import core.data.encoding as enc  # noqa: E402
from core.checks.privacy.copies import row_hashes  # noqa: E402
from core.checks.privacy.risks import attack_matrix  # noqa: E402
from core.checks.structure.common import binned_columns  # noqa: E402
from core.checks.structure.detection import feature_matrix  # noqa: E402
from core.checks.structure.pca import encode_for_pca  # noqa: E402
from core.checks.utility import _prepare  # noqa: E402
from core.data.io import load_table, prepare_inputs  # noqa: E402
from core.demo import build_demo  # noqa: E402
from core.stats.distances import DistanceEncoding  # noqa: E402

ROLES = ("real", "synthetic", "holdout")
TARGET = "income_gt_50k"


def each_family_encodes(fr: dict, md: dict) -> None:
    """What an evaluation encoded before the bundle: every family from the frames, on its own."""
    enc.encode_columns(fr, md)  # evaluate: fidelity and validity
    distance = DistanceEncoding.fit(fr["real"], md, others=[fr["synthetic"], fr["holdout"]])  # privacy
    for role in ROLES:
        distance.transform(fr[role])
        row_hashes(fr[role], list(distance.columns))  # exact copies
        attack_matrix(fr[role], distance)  # singling out
    for role in ("real", "holdout"):
        row_hashes(fr[role], list(distance.columns))  # privacy hashed train and holdout a second time
    audit = DistanceEncoding.fit(fr["real"], md, others=[fr["synthetic"], fr["holdout"]])  # epsilon audit
    audit.transform(fr["synthetic"])
    audit.transform(pd.concat([fr["real"].iloc[: len(fr["holdout"])], fr["holdout"]], ignore_index=True))
    binned_columns(fr, md)  # structure: three-way and missing values
    feature_matrix(fr, md)  # detection
    encode_for_pca(fr, md)  # PCA
    _prepare(fr["real"], fr["synthetic"], fr["holdout"], md, TARGET)  # utility


def one_bundle(fr: dict, md: dict) -> None:
    """The same encodings read from one bundle."""
    bundle = enc.encode_tables(fr, md)
    bundle.columns  # noqa: B018 - fidelity and validity
    columns = list(bundle.distance_encoding().columns)
    for role in ROLES:
        bundle.coordinates(role)
        row_hashes(fr[role], columns, bundle.level_codes(role))
        attack_matrix(fr[role], bundle.distance_encoding(), bundle.level_codes(role))
    binned_columns(fr, md, encoded=bundle)
    feature_matrix(fr, md, bundle)
    encode_for_pca(fr, md, bundle)
    _prepare(fr["real"], fr["synthetic"], fr["holdout"], md, TARGET, bundle)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5, help="runs of each way, interleaved; the fastest is kept")
    args = parser.parse_args()
    files = build_demo()
    inputs = prepare_inputs(load_table(files.train), load_table(files.synthetic), load_table(files.holdout))
    ways = {"each family encodes": each_family_encodes, "one bundle": one_bundle}
    best: dict[str, tuple[float, float]] = {}
    for _ in range(args.repeats):
        for name, way in ways.items():
            wall, cpu = time.perf_counter(), time.process_time()
            way(inputs.frames, inputs.metadata)
            took = (time.perf_counter() - wall, time.process_time() - cpu)
            kept = best.get(name, took)
            best[name] = (min(kept[0], took[0]), min(kept[1], took[1]))
    print(f"census demo ({len(inputs.frames['real']):,} training, {len(inputs.frames['synthetic']):,} synthetic, "
          f"{len(inputs.frames['holdout']):,} holdout rows): encoding work of one evaluation, fastest of "
          f"{args.repeats} (load average {os.getloadavg()[0]:.1f})")
    for name, (wall, cpu) in best.items():
        print(f"  {name:<22}{wall:>8.3f} s wall {cpu:>8.3f} s CPU")
    before, after = best["each family encodes"], best["one bundle"]
    print(f"  ratio: {before[0] / after[0]:.2f}x wall, {before[1] / after[1]:.2f}x CPU")


if __name__ == "__main__":
    main()
