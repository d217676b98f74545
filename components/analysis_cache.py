"""Caches of the privacy and utility checks (minutes at 100k rows), run on demand from their pages.

Results live in the same bounded LRU stores as components.cache (registered in its `_stores()` dict, so
`clear_all()` forgets them too), keyed by the review's table key plus the run's settings. The settings of the
last run in this session are kept in st.session_state so the Summary page can look the results up without
computing them.
"""
from __future__ import annotations

import streamlit as st

from components.cache import STORE_ENTRIES, _Store, _stores, _with_status, prepared_inputs
from components.state import Review
from core.policy import parse_policy
from core.checks.privacy import PrivacyResult
from core.report import Evaluation, run_privacy, with_results
from core.checks.utility import UtilityResult, evaluate_utility

PRIVACY_RUN_KEY = "privacy_run"  # session: seed of the last privacy run
UTILITY_RUN_KEY = "utility_run"  # session: (target, seeds) of the last utility run
UTILITY_STORE_ENTRIES = 8  # a reviewer tries a few targets


def _store(name: str, entries: int = STORE_ENTRIES) -> _Store:
    return _stores().setdefault(name, _Store(entries))


def _privacy_key(review: Review, seed: int) -> str:
    return f"{review.table_key()}:privacy:{int(seed)}"


def _utility_key(review: Review, target: str, seeds: tuple[int, ...]) -> str:
    threshold = parse_policy(review.policy_text, "policy").gate("utility")
    return f"{review.table_key()}:utility:{target}:{','.join(map(str, seeds))}:{threshold!r}"


def privacy(review: Review, seed: int) -> PrivacyResult | None:
    """Privacy of the review measured against its holdout (None without a holdout); computed with progress on a miss."""
    inputs = prepared_inputs(review)
    value = _store("privacy").get(_privacy_key(review, seed), lambda: _with_status(
        "Running the privacy checks...", lambda progress: run_privacy(inputs, int(seed), progress)))
    st.session_state[PRIVACY_RUN_KEY] = int(seed)
    return value


def has_privacy(review: Review, seed: int) -> bool:
    """True when the privacy checks of this review and seed are in the cache."""
    return _privacy_key(review, seed) in _store("privacy")


def utility(review: Review, target: str, seeds: tuple[int, ...]) -> UtilityResult | None:
    """TSTR vs TRTR, blend sweep and importance agreement for `target` over `seeds` (None without a holdout)."""
    inputs = prepared_inputs(review)
    threshold = parse_policy(review.policy_text, "policy").gate("utility")
    seeds = tuple(int(s) for s in seeds)

    def compute(progress):
        frames = inputs.frames
        if "holdout" not in frames:
            return None
        return evaluate_utility(frames["real"], frames["synthetic"], frames["holdout"], inputs.metadata, target,
                                seeds=seeds, threshold=threshold, progress=progress)

    value = _store("utility", UTILITY_STORE_ENTRIES).get(_utility_key(review, target, seeds), lambda: _with_status(
        "Training models on real and on synthetic rows...", compute))
    st.session_state[UTILITY_RUN_KEY] = (target, seeds)
    return value


def has_utility(review: Review, target: str, seeds: tuple[int, ...]) -> bool:
    """True when the utility checks of this review, target and seeds are in the cache."""
    return _utility_key(review, target, tuple(int(s) for s in seeds)) in _store("utility", UTILITY_STORE_ENTRIES)


def _peek(store: _Store, key: str) -> object | None:
    # No lock: the store's lock is held while another session computes, and a dict read is atomic.
    return store.items.get(key)


def computed_privacy(review: Review) -> PrivacyResult | None:
    """The privacy result of this session's last run on this review, if still cached (never computes)."""
    seed = st.session_state.get(PRIVACY_RUN_KEY)
    return None if seed is None else _peek(_store("privacy"), _privacy_key(review, seed))


def computed_utility(review: Review) -> tuple[UtilityResult | None, str | None]:
    """(utility result, target) of this session's last run on this review, if still cached (never computes)."""
    run = st.session_state.get(UTILITY_RUN_KEY)
    if run is None:
        return None, None
    target, seeds = run
    result = _peek(_store("utility", UTILITY_STORE_ENTRIES), _utility_key(review, target, seeds))
    return (result, target) if result is not None else (None, None)


def evaluation_with_results(review: Review, evaluation: Evaluation) -> Evaluation:
    """The evaluation with this session's computed privacy and utility sections and gates (see with_results)."""
    utility_result, target = computed_utility(review)
    return with_results(evaluation, computed_privacy(review), utility_result, target)
