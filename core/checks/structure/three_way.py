"""Three-way structure (mostlyai-qa's trivariate accuracy): 1 - TV of binned three-column distributions.

Columns are binned as in `common.binned_columns` (ten real-value bins, ten most frequent categories plus
'other', missing as its own code). Which triples are judged: every pair's normalized mutual information
U(a, b) = MI / sqrt(H(a) H(b)) is measured on the real training rows; a triple's dependence is the sum of
its three pairs' U. The `top` triples with the most dependence are judged (that is where a generator can
keep every pair and still lose the three-way structure) plus `random` triples drawn from the rest with the
seed, so a table with uniformly weak dependence is still sampled. Each triple is judged against its own
null: the same score between a reference of the training table's size and a sample of the synthetic
table's size, both drawn from the pooled real cell counts (training + holdout) as the fidelity and
missing-value nulls are, with the unseen term of core.stats.null.cell_tv_null: a three-way table has many
sparse cells, and two real samples each bring cells the other lacks far more often than two resamples of one
pool do (without it, clean samples of penguins failed 13 of 20 and of German credit 6 of 20). The null it
replaces, a bootstrap of the holdout against the training shares, carried the holdout's own sampling noise:
at 1,000 rows its median sat 0.02-0.03 below a clean sample's score, and the largest break that keeps every
pair (benchmarks/calibration.py's planted defect) passed on census and weather even at 4,800 rows.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.checks.structure.common import Binned, Item, binned_columns, items_gate, judge_items
from core.gates import Gate
from core.stats.null import cell_tv_null

TOP_TRIPLES = 40
RANDOM_TRIPLES = 10
RESAMPLES = 200  # a triple's null; drawn as multinomial counts, so the cost does not grow with the rows
TABLES_KEPT = 5


@dataclass
class Triple:
    """One judged triple: its columns, why it was chosen, its score and the real dependence that chose it."""

    columns: tuple[str, str, str]
    chosen: str  # "dependence" | "random"
    dependence: float  # sum of the three pairs' normalized mutual information on the real rows
    score: float  # 1 - TV(real, synthetic)
    null: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))


@dataclass
class ThreeWayResult:
    """Triples judged, their judgement, the gate and the three-way tables of the worst few."""

    triples: list[Triple]
    items: list[Item]
    gate: Gate | None
    tables: dict[str, pd.DataFrame]  # "a / b / c" -> long table of cells with real and synthetic shares
    seed: int
    resamples: int
    skipped: str | None = None

    def to_dict(self) -> dict:
        """The report's `structure.three_way` section."""
        by_label = {i.label: i for i in self.items}
        return {"selection": f"top {TOP_TRIPLES} triples by summed pairwise normalized mutual information on "
                             f"the real rows, plus {RANDOM_TRIPLES} random ones (seed {self.seed})",
                "resamples": self.resamples, "skipped": self.skipped,
                "triples": [{"columns": list(t.columns), "chosen": t.chosen, "dependence": round(t.dependence, 6),
                             **by_label[" / ".join(t.columns)].to_dict()} for t in self.triples]}


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def pair_dependence(binned: dict[str, Binned]) -> dict[tuple[str, str], float]:
    """Normalized mutual information of every pair of binned columns on the real rows."""
    names = list(binned)
    h = {n: _entropy(np.bincount(binned[n].codes["real"], minlength=binned[n].levels)) for n in names}
    out = {}
    for a, b in itertools.combinations(names, 2):
        joint = np.bincount(binned[a].codes["real"] * binned[b].levels + binned[b].codes["real"],
                            minlength=binned[a].levels * binned[b].levels)
        mi = h[a] + h[b] - _entropy(joint)
        out[(a, b)] = float(mi / np.sqrt(h[a] * h[b])) if h[a] > 0 and h[b] > 0 else 0.0
    return out


def select_triples(binned: dict[str, Binned], seed: int, top: int = TOP_TRIPLES,
                   random: int = RANDOM_TRIPLES) -> list[tuple[tuple[str, str, str], str, float]]:
    """The `top` most dependent triples and `random` others: (columns, why chosen, dependence)."""
    pairs = pair_dependence(binned)
    names = list(binned)
    scored = []
    for a, b, c in itertools.combinations(names, 3):
        scored.append(((a, b, c), pairs[(a, b)] + pairs[(a, c)] + pairs[(b, c)]))
    scored.sort(key=lambda t: -t[1])
    chosen = [(cols, "dependence", dep) for cols, dep in scored[:top]]
    rest = scored[top:]
    if rest and random > 0:
        rng = np.random.default_rng(seed)
        picks = rng.choice(len(rest), size=min(random, len(rest)), replace=False)
        chosen += [(rest[i][0], "random", rest[i][1]) for i in sorted(picks)]
    return chosen


def _index(binned: dict[str, Binned], cols: tuple[str, str, str], role: str) -> tuple[np.ndarray, int]:
    a, b, c = (binned[x] for x in cols)
    idx = (a.codes[role] * b.levels + b.codes[role]) * c.levels + c.codes[role]
    return idx, a.levels * b.levels * c.levels


def triple_table(binned: dict[str, Binned], cols: tuple[str, str, str], other: str = "synthetic") -> pd.DataFrame:
    """Real and `other` shares of every non-empty cell of a triple, largest difference first."""
    real_idx, cells = _index(binned, cols, "real")
    other_idx, _ = _index(binned, cols, other)
    real = np.bincount(real_idx, minlength=cells) / max(real_idx.size, 1)
    syn = np.bincount(other_idx, minlength=cells) / max(other_idx.size, 1)
    keep = np.flatnonzero((real > 0) | (syn > 0))
    a, b, c = (binned[x] for x in cols)
    la, rem = np.divmod(keep, b.levels * c.levels)
    lb, lc = np.divmod(rem, c.levels)
    table = pd.DataFrame({cols[0]: np.asarray(a.labels, dtype=object)[la],
                          cols[1]: np.asarray(b.labels, dtype=object)[lb],
                          cols[2]: np.asarray(c.labels, dtype=object)[lc],
                          "real": real[keep], other: syn[keep]})
    table["difference"] = table[other] - table["real"]
    return table.reindex(table["difference"].abs().sort_values(ascending=False).index).reset_index(drop=True)


def evaluate_three_way(train: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame | None,
                       metadata: dict[str, str], *, alpha: float = 0.01, seed: int = 0,
                       resamples: int = RESAMPLES, top: int = TOP_TRIPLES, random: int = RANDOM_TRIPLES,
                       binned: dict[str, Binned] | None = None) -> ThreeWayResult:
    """Score the chosen triples' three-way distributions and judge each against its real-vs-real null."""
    if holdout is None:
        return ThreeWayResult([], [], None, {}, seed, resamples, "no holdout: the null needs real rows not trained on")
    frames = {"real": train, "synthetic": synthetic, "holdout": holdout}
    binned = binned if binned is not None else binned_columns(frames, metadata)
    if len(binned) < 3:
        return ThreeWayResult([], [], None, {}, seed, resamples, "fewer than three binnable columns")
    rng = np.random.default_rng(seed)
    n_syn = len(synthetic)
    triples, values = [], []
    for cols, why, dep in select_triples(binned, seed, top, random):
        real_idx, cells = _index(binned, cols, "real")
        syn_idx, _ = _index(binned, cols, "synthetic")
        hold_idx, _ = _index(binned, cols, "holdout")
        p = np.bincount(real_idx, minlength=cells) / real_idx.size
        q = np.bincount(syn_idx, minlength=cells) / max(syn_idx.size, 1)
        score = float(1.0 - 0.5 * np.abs(p - q).sum())
        # A reference of the training size and a sample of the synthetic size, both drawn from the pooled real
        # cell counts (training + holdout), as the fidelity and missing-value nulls are: a bootstrap of the
        # holdout alone against the training shares carried the holdout's own noise and was lenient (at
        # 1,000 rows its median sat 0.03 below a clean sample's score).
        null = cell_tv_null(np.bincount(real_idx, minlength=cells) + np.bincount(hold_idx, minlength=cells),
                            real_idx.size, n_syn, resamples, rng)
        triples.append(Triple(cols, why, dep, score, null))
        values.append((" / ".join(cols), score, null, None, None))
    items = judge_items("three_way_trends", values, alpha)
    gate = items_gate("three_way_trends", items, "triples", "no triples to judge")
    worst = sorted(zip(items, triples), key=lambda it: it[0].value - it[0].bound)[:TABLES_KEPT]
    tables = {i.label: triple_table(binned, t.columns) for i, t in worst}
    return ThreeWayResult(triples, items, gate, tables, seed, resamples)
