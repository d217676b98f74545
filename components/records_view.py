"""Records page helpers: one record's comparison, kept per content key, so a click on Next/Previous/Flag that
reruns only the record view (an st.fragment) costs lookups, not pandas work."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from components.cache import prepared_inputs
from components.state import Review
from components.widgets import comparison_table
from core.review.records import REASON_SHORT, Suspicion, differing_cells, row_hashes


def record_comparison_cells(review: Review, scores_key: str, scores: Suspicion, synthetic_position: int,
                            real_position: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """(table, differing rows, suspicious rows) of one synthetic record beside a real one (widgets.comparison_table),
    cached per (tables, scores, synthetic row, real row): only those small keys are hashed."""
    return _comparison(review.table_key(), scores_key, int(synthetic_position), int(real_position),
                       _review=review, _scores=scores)


@st.cache_data(max_entries=1024, show_spinner=False)
def _comparison(key: str, scores_key: str, synthetic_position: int, real_position: int, _review: Review,
                _scores: Suspicion) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    inputs = prepared_inputs(_review)
    syn_row = inputs.frames["synthetic"].iloc[[synthetic_position]]
    real_row = inputs.frames["real"].iloc[[real_position]]
    differs = differing_cells(syn_row, real_row, inputs.metadata).iloc[0]
    cells = _scores.cells.iloc[synthetic_position] if synthetic_position < len(_scores.cells) \
        else pd.Series(dtype=object)
    return comparison_table(syn_row, real_row, inputs.metadata, differs, cells, REASON_SHORT)


def sample_hashes(review: Review, sample_key: tuple, positions: np.ndarray) -> np.ndarray:
    """Row hashes of the sampled synthetic rows (core.review.records.row_hashes), once per sample."""
    return _sample_hashes(review.table_key(), sample_key, _review=review, _positions=positions)


@st.cache_data(max_entries=32, show_spinner=False)
def _sample_hashes(key: str, sample_key: tuple, _review: Review, _positions: np.ndarray) -> np.ndarray:
    return row_hashes(prepared_inputs(_review).frames["synthetic"].iloc[_positions])
