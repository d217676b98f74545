"""The fast paths of the nulls and the CLI's --pair-binning flag, against the slow paths they replace."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.cli import main
from core.checks.fidelity import evaluate_fidelity
from core.data.metadata import coerce_to_metadata, detect_metadata
from core.stats import null as nulls
from core.stats.null import NullSettings
from tests.conftest import three_way_split


def test_batched_correlation_nulls_equal_pair_by_pair():
    """One shared product per chunk gives each pair's null as correlation_null_rows does, missing values included."""
    rng = np.random.default_rng(0)
    rows = 600
    x = rng.normal(size=rows)
    columns = [x, x + rng.normal(size=rows), rng.exponential(size=rows), rng.normal(size=rows)]
    columns[2][rng.choice(rows, 40, replace=False)] = np.nan  # pairs with column 2 use their complete rows
    columns[3][:] = 5.0  # constant: its correlation is undefined
    ref = nulls.row_weights(rows, 500, 30, rng).astype(float)
    sample = nulls.row_weights(rows, 200, 30, rng).astype(float)
    pairs = [(0, 1), (0, 2), (1, 2), (0, 3), (2, 3)]
    batched = nulls.correlation_nulls_rows(columns, pairs, ref, sample, max_bytes=8 * rows * 6 * 2)  # 3 chunks
    for (i, j), got in zip(pairs, batched):
        want = nulls.correlation_null_rows(columns[i], columns[j], ref, sample)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12, equal_nan=True)
    assert np.isnan(batched[3]).all() and np.isfinite(batched[1]).all()


def test_row_weights_count_every_draw():
    """Each resample's weights sum to its size and equal a brute-force count of the same picks."""
    weights = nulls.row_weights(50, 120, 7, np.random.default_rng(5))
    picks = np.random.default_rng(5).integers(0, 50, size=(7, 120))
    brute = np.array([[np.sum(p == i) for i in range(50)] for p in picks])
    assert (weights.sum(axis=1) == 120).all() and (weights == brute).all()


def test_fidelity_numeric_pair_nulls_follow_the_seed(penguins):
    """Same seed, same nulls; another seed, other nulls (the batched path is still seeded)."""
    real, holdout, synthetic = three_way_split(penguins, seed=2)
    metadata = detect_metadata(real)
    frames = {r: coerce_to_metadata(f, metadata, r) for r, f in
              (("real", real), ("synthetic", synthetic), ("holdout", holdout))}
    runs = [evaluate_fidelity(frames, metadata, settings=NullSettings(resamples=30, seed=s)) for s in (1, 1, 2)]
    numeric = [i for i, p in enumerate(runs[0].pair_trends) if p.metric == "CorrelationSimilarity"]
    assert numeric
    for i in numeric:
        a, b, c = (r.pair_trends[i] for r in runs)
        assert np.array_equal(a.null, b.null) and np.array_equal(a.rank_null, b.rank_null)
        assert not np.array_equal(a.null, c.null)


@pytest.fixture()
def mixed_files(tmp_path, penguins):
    real, holdout, synthetic = three_way_split(penguins, seed=3)
    synthetic = synthetic.copy()
    synthetic["body_mass_g"] = synthetic["body_mass_g"].clip(3500, 5000)  # each table's own bins now differ
    paths = {}
    for name, frame in (("real", real), ("synthetic", synthetic), ("holdout", holdout)):
        paths[name] = tmp_path / f"{name}.csv"
        frame.to_csv(paths[name], index=False)
    return paths, tmp_path


def _pair_scores(report: dict) -> dict[tuple[str, str], float]:
    return {tuple(p["columns"]): p["score"] for p in report["fidelity"]["column_pair_trends"]["pairs"]}


def test_cli_pair_binning_flag_sets_the_policy_key(mixed_files, capsys):
    """--pair-binning sdmetrics scores mixed pairs on each table's own bins, as the policy key does, and says so."""
    paths, folder = mixed_files
    reports = {}
    for binning in ("shared", "sdmetrics"):
        out = folder / f"{binning}.json"
        main(["evaluate", "--real", str(paths["real"]), "--synthetic", str(paths["synthetic"]),
              "--holdout", str(paths["holdout"]), "--no-privacy", "--no-structure", "--pair-binning", binning,
              "--json", str(out)])
        reports[binning] = json.loads(out.read_text())
    capsys.readouterr()
    assert "--pair-binning sdmetrics" in reports["sdmetrics"]["policy"]["sources"]
    frame = pd.read_csv(paths["real"])
    metadata = detect_metadata(frame)
    numeric = lambda c: metadata[c] in ("numerical", "datetime")
    shared, own = (_pair_scores(reports[b]) for b in ("shared", "sdmetrics"))
    mixed = [p for p in shared if numeric(p[0]) != numeric(p[1])]
    same = [p for p in shared if numeric(p[0]) == numeric(p[1])]
    assert mixed and any(abs(shared[p] - own[p]) > 1e-6 for p in mixed)
    assert all(shared[p] == own[p] for p in same)  # only mixed pairs are binned differently
    with pytest.raises(SystemExit):
        main(["evaluate", "--real", str(paths["real"]), "--synthetic", str(paths["synthetic"]),
              "--pair-binning", "own"])


def test_betabinom_ppf_is_scipys():
    """The chunked beta-binomial quantile (validity's tail floor) equals scipy's generic ppf, which sums from 0."""
    from scipy.stats import betabinom

    rng = np.random.default_rng(8)
    for _ in range(150):
        n, m = int(rng.integers(1, 5000)), int(rng.integers(1, 150_000))
        share = float(rng.choice([1e-4, 1e-3, 0.01, 0.05, 0.3]))
        level = float(rng.choice([1e-6, 1e-4, 0.01, 0.3]))
        a, b = max(n * share, 0.5), max(n * (1 - share), 0.5)
        assert nulls.betabinom_ppf(level, m, a, b, chunk=1 << 12) == int(betabinom.ppf(level, m, a, b)), (n, m, share, level)
    # 100M rows: the chunks below the quantile's neighbourhood are stepped over
    assert 990_000 < nulls.tail_count_lower_bound(0.01, 10**8, 10**8, 1e-4) < 1_000_000
