"""A synthetic parent with its children beside the nearest real parent with its children (relational Records).

Nearness is the mixed-type record distance of core.review.records over the parent's own columns plus a
summary of each child table (child count, mean of numeric child columns, most common category)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.review.records import nearest_real_records

SKIPPED_SDTYPES = ("id", "text")


@dataclass
class ParentWithChildren:
    """One parent row and, per child table, the child rows whose foreign key points to it."""

    table: str
    position: int  # row position in the parent table
    key: object  # the parent's primary key value
    row: pd.DataFrame  # one row
    children: dict[str, pd.DataFrame] = field(default_factory=dict)  # "child table.foreign key" -> rows


@dataclass
class ParentPair:
    """A synthetic parent and its nearest real parent, with the distance and the features it was measured on."""

    synthetic: ParentWithChildren
    real: ParentWithChildren
    distance: float
    features: list[str]


def parents_with_children(metadata) -> list[str]:
    """Tables that have a primary key and at least one child table."""
    return [t for t in metadata.tables if metadata.primary_keys.get(t) and metadata.children(t)]


def _child_label(relationship) -> str:
    return f"{relationship.child_table}.{relationship.child_foreign_key}"


def parent_features(tables: dict[str, pd.DataFrame], metadata, parent: str
                    ) -> tuple[pd.DataFrame, dict[str, str]]:
    """The parent's non-key columns plus per-child summaries, one row per parent row, with their sdtypes."""
    key = metadata.primary_keys[parent]
    frame = tables[parent]
    sdtypes = {c: t for c, t in metadata.tables[parent].items() if t not in SKIPPED_SDTYPES and c != key}
    features = frame[list(sdtypes)].reset_index(drop=True).copy()
    keys = frame[key].reset_index(drop=True)
    for relationship in metadata.children(parent):
        child = tables[relationship.child_table]
        groups = child.groupby(relationship.child_foreign_key, dropna=True)
        label = _child_label(relationship)
        features[f"{label} count"] = keys.map(groups.size()).fillna(0).astype(float).to_numpy()
        sdtypes[f"{label} count"] = "numerical"
        for column, sdtype in metadata.tables[relationship.child_table].items():
            if column == relationship.child_foreign_key or sdtype in SKIPPED_SDTYPES or column not in child:
                continue
            if sdtype == "numerical":
                values = pd.to_numeric(child[column], errors="coerce")
                summary = keys.map(values.groupby(child[relationship.child_foreign_key]).mean())
                features[f"{label} mean {column}"] = summary.astype(float).to_numpy()
                sdtypes[f"{label} mean {column}"] = "numerical"
            elif sdtype in ("categorical", "boolean"):
                modes = child[column].astype(str).groupby(child[relationship.child_foreign_key]).agg(
                    lambda s: s.value_counts().index[0])
                features[f"{label} most common {column}"] = keys.map(modes).fillna("(no children)").to_numpy()
                sdtypes[f"{label} most common {column}"] = "categorical"
    return features, sdtypes


def _fill(real: pd.DataFrame, synthetic: pd.DataFrame, sdtypes: dict[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Missing numbers as the real median, missing categories as '(missing)': a parent without children, or a
    child column all empty, still gets a distance."""
    real, synthetic = real.copy(), synthetic.copy()
    for column, sdtype in sdtypes.items():
        if sdtype == "numerical":
            fill = pd.to_numeric(real[column], errors="coerce").median()
            fill = 0.0 if pd.isna(fill) else float(fill)
            real[column] = pd.to_numeric(real[column], errors="coerce").fillna(fill)
            synthetic[column] = pd.to_numeric(synthetic[column], errors="coerce").fillna(fill)
        else:
            real[column] = real[column].astype(object).where(real[column].notna(), "(missing)").astype(str)
            synthetic[column] = synthetic[column].astype(object).where(synthetic[column].notna(),
                                                                       "(missing)").astype(str)
    return real, synthetic


def _with_children(tables: dict[str, pd.DataFrame], metadata, parent: str, position: int) -> ParentWithChildren:
    key_column = metadata.primary_keys[parent]
    row = tables[parent].iloc[[position]].reset_index(drop=True)
    key = row[key_column].iloc[0]
    children = {}
    for relationship in metadata.children(parent):
        child = tables[relationship.child_table]
        children[_child_label(relationship)] = child[child[relationship.child_foreign_key] == key].reset_index(
            drop=True)
    return ParentWithChildren(parent, int(position), key, row, children)


def nearest_real_parent(real: dict[str, pd.DataFrame], synthetic: dict[str, pd.DataFrame], metadata, parent: str,
                        position: int) -> ParentPair:
    """Synthetic parent row `position` with its children, beside the nearest real parent with its children."""
    real_features, sdtypes = parent_features(real, metadata, parent)
    synthetic_features, _ = parent_features(synthetic, metadata, parent)
    real_features, synthetic_features = _fill(real_features, synthetic_features, sdtypes)
    query = synthetic_features.iloc[[position]]
    found = nearest_real_records(real_features, query, sdtypes)
    real_position = int(found.positions[0])
    return ParentPair(_with_children(synthetic, metadata, parent, position),
                      _with_children(real, metadata, parent, real_position), float(found.distances[0]),
                      list(sdtypes))


def sample_parents(synthetic: dict[str, pd.DataFrame], parent: str, n: int, seed: int) -> np.ndarray:
    """A seeded sample of `n` synthetic parent row positions (sorted), reproducible from the seed."""
    rows = len(synthetic[parent])
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(rows, size=min(n, rows), replace=False))
