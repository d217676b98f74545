"""Deep structure (Gretel/NeMo's PCA stability): principal components of the encoded real and synthetic
tables compared. Informative only (no gate): the holdout's figures beside them show what real data gives.

Encoding: numerical/datetime columns standardized with the real mean and deviation (missing as 0 plus a
missing indicator where any table has missing values), categorical/boolean columns one-hot over the ten
most frequent real levels plus 'other', scaled by 1/sqrt(2) so a changed category moves a record by 1.
Components are fitted on at most MAX_ROWS rows per table. `subspace_similarity` is the mean cosine of the
principal angles between the real and the other table's top-k component subspaces (1 = the same axes).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.data.encoding import EncodedTables, encoded_for
from core.data.metadata import CONTINUOUS_SDTYPES, DISCRETE_SDTYPES

MAX_ROWS = 20_000
COMPONENTS = 5
POINTS = 2_000  # projected points per table kept for the plot


@dataclass
class PcaResult:
    """Explained variance per table, subspace similarity to real, and projections on real's first two PCs."""

    explained: pd.DataFrame  # component x table: explained variance ratio
    similarity: dict[str, float]  # table -> subspace similarity to real
    projection: pd.DataFrame  # columns pc1, pc2, table
    seed: int

    def to_dict(self) -> dict:
        """The report's `structure.pca` section."""
        return {"components": len(self.explained), "seed": self.seed,
                "explained_variance": {t: [round(float(v), 6) for v in self.explained[t]] for t in self.explained},
                "subspace_similarity": {k: round(float(v), 6) for k, v in self.similarity.items()}}


def encode_for_pca(frames: dict[str, pd.DataFrame], metadata: dict[str, str], encoded: EncodedTables | None = None,
                   positions: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Each table as a float matrix on the real table's scale, from the rows at `positions` (role -> row
    positions; every row when None) of `encoded`, the evaluation's encoded tables (else encoded here)."""
    encoded = encoded_for(frames, metadata, encoded)
    rows = {r: (slice(None) if positions is None or r not in positions else positions[r]) for r in frames}
    parts: dict[str, list[np.ndarray]] = {r: [] for r in frames}
    for name, sdtype in metadata.items():
        if sdtype in CONTINUOUS_SDTYPES:
            vals = {r: encoded[name].values[r][rows[r]] for r in frames}
            real = vals["real"]
            mean, sd = np.nanmean(real) if np.isfinite(real).any() else 0.0, np.nanstd(real) if np.isfinite(real).any() else 1.0
            sd = sd if sd > 0 else 1.0
            any_missing = any(np.isnan(v).any() for v in vals.values())
            for r, v in vals.items():
                z = (v - mean) / sd
                parts[r].append(np.nan_to_num(z, nan=0.0))
                if any_missing:
                    parts[r].append(np.isnan(v).astype(float))
        elif sdtype in DISCRETE_SDTYPES:
            column = encoded[name]
            codes = {r: column.codes[r][rows[r]].astype(np.int64) for r in frames}
            real = codes["real"]
            # The ten most frequent real levels, in value_counts' order (ties as pandas orders them).
            top = pd.Series(real[real != column.missing_code]).value_counts().index[:10].to_numpy()
            for r, c in codes.items():
                onehot = [(c == level).astype(float) for level in top]
                onehot.append((~np.isin(c, top)).astype(float))
                parts[r].extend(o / np.sqrt(2.0) for o in onehot)
    sizes = {r: len(frames[r]) if positions is None or r not in positions else len(positions[r]) for r in frames}
    return {r: np.column_stack(p) if p else np.zeros((sizes[r], 0)) for r, p in parts.items()}


def _components(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    var = s ** 2
    return vt[:k], var[:k] / max(var.sum(), 1e-300), mean


def evaluate_pca(train: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame | None,
                 metadata: dict[str, str], *, seed: int = 0, components: int = COMPONENTS,
                 encoded: EncodedTables | None = None) -> PcaResult | None:
    """Compare the top principal components of real, synthetic (and holdout) tables; None if too few columns
    (`encoded`: the evaluation's encoded tables, else encoded here)."""
    frames = {"real": train, "synthetic": synthetic}
    if holdout is not None:
        frames["holdout"] = holdout
    rng = np.random.default_rng(seed)
    positions = {r: np.sort(rng.choice(len(f), MAX_ROWS, replace=False)) for r, f in frames.items() if len(f) > MAX_ROWS}
    x = encode_for_pca(frames, metadata, encoded, positions)
    dims = x["real"].shape[1]
    if dims < 2 or any(len(v) < 3 for v in x.values()):
        return None
    k = min(components, dims, *(len(v) - 1 for v in x.values()))
    fitted = {r: _components(v, k) for r, v in x.items()}
    axes_real, _, mean_real = fitted["real"]
    similarity = {}
    for r, (axes, _, _) in fitted.items():
        if r != "real":
            similarity[r] = float(np.linalg.svd(axes_real @ axes.T, compute_uv=False).mean())
    explained = pd.DataFrame({r: f[1] for r, f in fitted.items()}, index=[f"PC{i + 1}" for i in range(k)])
    shown = []
    for r in ("real", "synthetic"):
        v = x[r]
        pick = rng.choice(len(v), min(POINTS, len(v)), replace=False)
        proj = (v[pick] - mean_real) @ axes_real[:2].T
        shown.append(pd.DataFrame({"pc1": proj[:, 0], "pc2": proj[:, 1], "table": r}))
    return PcaResult(explained, similarity, pd.concat(shown, ignore_index=True), seed)
