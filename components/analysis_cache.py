"""The privacy and utility checks (minutes at 100k rows) as background jobs (core.jobs), shared by every session.

A result is keyed by the content hash of the tables, the type overrides, the settings of the run (seed; target,
seeds and the utility threshold) and the core version, and pickled under the cache folder, so a second session
(or the app after a restart) reads it instead of computing it, and a session asking while it runs waits on the
same job. The settings of this session's last run are kept in st.session_state so the Summary page can look the
results up without computing them; without one, the Summary looks up the defaults' result.
"""
from __future__ import annotations

from dataclasses import replace

import streamlit as st

from components.cache import encoded_tables, manager, prepared_inputs
from components.state import Review
from core import code_version
from core.checks.privacy import PrivacyResult
from core.checks.utility import UtilityResult, evaluate_utility
from core.jobs import Job, JobSettings, content_key, jobs_settings
from core.policy import parse_policy
from core.report import Evaluation, run_privacy, with_results

PRIVACY_RUN_KEY = "privacy_run"  # session: seed of the last privacy run
UTILITY_RUN_KEY = "utility_run"  # session: (target, seeds) of the last utility run
DEFAULT_SEEDS = (0, 1, 2)
def settings(review: Review) -> JobSettings:
    """The review policy's [jobs] settings (auto-run size, poll interval)."""
    return jobs_settings(parse_policy(review.policy_text, "policy").sections)


def total_rows(review: Review) -> int:
    """Rows of every table of the review (what a long check's time grows with)."""
    return sum(table.rows for table in review.tables.values())


def privacy_key(review: Review, seed: int) -> str:
    """Content key of the privacy checks of this review and seed."""
    return content_key("privacy", code_version(), review.table_key(), int(seed))


def utility_key(review: Review, target: str, seeds: tuple[int, ...]) -> str:
    """Content key of the utility checks of this review, target, seeds and utility threshold."""
    threshold = parse_policy(review.policy_text, "policy").gate("utility")
    return content_key("utility", code_version(), review.table_key(), target, [int(s) for s in seeds], threshold)


def default_target(metadata: dict[str, str]) -> str:
    """The column the Utility page predicts first: the last categorical or boolean one, else the last usable one."""
    candidates = [c for c, t in metadata.items() if t not in ("id", "text")]
    discrete = [c for c in candidates if metadata[c] in ("categorical", "boolean")]
    return discrete[-1] if discrete else candidates[-1]


def preload(module: str) -> None:
    """Import `module` in the page's thread before a job needs it.

    A library first imported inside a worker thread of the running server (SDV, in our measurements) stalled
    the job for minutes; imported here, the worker finds it loaded."""
    import importlib

    importlib.import_module(module)


def start_privacy(review: Review, seed: int) -> Job:
    """The privacy job of this review and seed: running, finished, read from disk, or started now."""
    inputs = prepared_inputs(review)  # prepared here (cached) so a bad table is an error on the page
    encoded = encoded_tables(review)  # the review's one encoding, shared with the other checks
    preload("sklearn.neighbors")
    st.session_state[PRIVACY_RUN_KEY] = int(seed)
    return manager().submit(privacy_key(review, seed), "Privacy checks",
                            lambda progress: run_privacy(inputs, int(seed), progress, encoded=encoded),
                            kind="privacy", size=total_rows(review))


def privacy_job(review: Review, seed: int) -> Job | None:
    """The privacy job of this review and seed if one was asked for (by any session) or is on disk."""
    return manager().status(privacy_key(review, seed))


def start_utility(review: Review, target: str, seeds: tuple[int, ...]) -> Job:
    """The utility job of this review, target and seeds: running, finished, read from disk, or started now."""
    inputs = prepared_inputs(review)
    encoded = encoded_tables(review)
    threshold = parse_policy(review.policy_text, "policy").gate("utility")
    seeds = tuple(int(s) for s in seeds)

    def compute(progress):
        frames = inputs.frames
        if "holdout" not in frames:
            return None
        return evaluate_utility(frames["real"], frames["synthetic"], frames["holdout"], inputs.metadata, target,
                                seeds=seeds, threshold=threshold, progress=progress, encoded=encoded)

    st.session_state[UTILITY_RUN_KEY] = (target, seeds)
    return manager().submit(utility_key(review, target, seeds), f"Utility checks predicting {target}", compute,
                            kind="utility", size=total_rows(review) * len(seeds))


def utility_job(review: Review, target: str, seeds: tuple[int, ...]) -> Job | None:
    """The utility job of this review, target and seeds if one was asked for or is on disk."""
    return manager().status(utility_key(review, target, tuple(int(s) for s in seeds)))


STRUCTURE_RUN_KEY = "structure_run"  # session: seed of the last structure run


def structure_key(review: Review, seed: int) -> str:
    """Content key of the structure checks of this review, seed and policy (declared rules, false-alarm rate)."""
    return content_key("structure", code_version(), review.table_key(), int(seed),
                       parse_policy(review.policy_text, "policy").sha256)


def start_structure(review: Review, seed: int) -> Job:
    """The structure job of this review and seed: running, finished, read from disk, or started now."""
    from core.report import run_structure

    inputs = prepared_inputs(review)
    encoded = encoded_tables(review)
    policy = parse_policy(review.policy_text, "policy")
    preload("sklearn.ensemble")
    st.session_state[STRUCTURE_RUN_KEY] = int(seed)
    return manager().submit(structure_key(review, seed), "Structure checks",
                            lambda progress: run_structure(inputs, policy, int(seed), progress, encoded=encoded),
                            kind="structure", size=total_rows(review))


def structure_job(review: Review, seed: int) -> Job | None:
    """The structure job of this review and seed if one was asked for (by any session) or is on disk."""
    return manager().status(structure_key(review, seed))


def computed_structure(review: Review):
    """The finished structure result of this session's last seed (else seed 0) on this review (never computes)."""
    return manager().result(structure_key(review, st.session_state.get(STRUCTURE_RUN_KEY, 0)))


def computed_privacy(review: Review) -> PrivacyResult | None:
    """The finished privacy result of this session's last seed (else seed 0) on this review (never computes)."""
    seed = st.session_state.get(PRIVACY_RUN_KEY, 0)
    return manager().result(privacy_key(review, seed))


def computed_utility(review: Review) -> tuple[UtilityResult | None, str | None]:
    """(utility result, target) of this session's last run (else the defaults) on this review (never computes)."""
    run = st.session_state.get(UTILITY_RUN_KEY)
    if run is None:
        try:
            run = (default_target(prepared_inputs(review).metadata), DEFAULT_SEEDS)
        except Exception:  # no usable column: nothing can have been computed
            return None, None
    target, seeds = run
    result = manager().result(utility_key(review, target, seeds))
    return (result, target) if result is not None else (None, None)


def evaluation_with_results(review: Review, evaluation: Evaluation) -> Evaluation:
    """The evaluation with the computed privacy and utility sections and gates (see with_results)."""
    utility_result, target = computed_utility(review)
    privacy_result = computed_privacy(review)
    combined = with_results(evaluation, privacy_result, utility_result, target)
    structure_result = computed_structure(review)
    if structure_result is not None:
        from core.report import with_structure

        combined = with_structure(combined, structure_result)
    # The report holds results computed after the evaluation: its time is that of its newest part.
    times = [evaluation.created_at]
    if structure_result is not None:
        times.append(manager().status(structure_key(review, st.session_state.get(STRUCTURE_RUN_KEY, 0))).finished_at)
    if privacy_result is not None:
        times.append(manager().status(privacy_key(review, st.session_state.get(PRIVACY_RUN_KEY, 0))).finished_at)
    if utility_result is not None:
        run = st.session_state.get(UTILITY_RUN_KEY) or (target, DEFAULT_SEEDS)
        times.append(manager().status(utility_key(review, *run)).finished_at)
    return replace(combined, created_at=max(t for t in times if t))


def clear_jobs() -> None:
    """Forget every finished job and its pickle (tests)."""
    manager().forget()


def _seconds(value: float | None) -> str:
    if value is None:
        return "unknown"
    value = int(round(value))
    return f"{value} s" if value < 90 else f"{value // 60} min {value % 60:02d} s"


def _job_box(key: str) -> None:
    job = manager().status(key)
    if job is None or job.state in ("done", "failed"):
        st.rerun()  # the whole page, now with the result (or its error)
    st.progress(job.fraction, text=f"{job.label}: {job.message}")
    st.caption(progress_caption(job.state, job.elapsed(), job.remaining()))


def progress_caption(state: str, elapsed: float | None, remaining: float | None) -> str:
    """What a running or queued job's box says: how long it has run and, once known, about how long is left."""
    left = f"about {_seconds(remaining)} left" if remaining is not None else "the time left is not known yet"
    return (f"{'Queued' if state == 'queued' else 'Running'} in the background for {_seconds(elapsed)}; {left}. "
            "Other pages stay usable meanwhile; every session asking for this result shares this run.")


def job_value(job: Job, poll_seconds: float, what: str) -> object:
    """The finished job's value; while it runs, a progress box polled by a fragment, and the page stops there.

    A failed job shows its one-line error (naming `what`) and stops the page."""
    from components.widgets import plain

    if job.state == "done":
        return job.value
    if job.state == "failed":
        st.error(f"{what} cannot run on these tables: {plain(job.error or 'failed')}")
        st.stop()
    show_progress(job, poll_seconds)
    st.stop()


def show_progress(job: Job, poll_seconds: float) -> None:
    """A progress box of a running job, redrawn every poll_seconds by a fragment; the app reruns once it ends."""
    st.fragment(_job_box, run_every=poll_seconds)(job.key)


def estimate_text(kind: str, size: int) -> str:
    """'about N s (measured on the last run)' for a job of this kind and size, or '' when never measured."""
    estimate = manager().estimate(kind, size)
    return "" if estimate is None else f"about {_seconds(estimate)} at the speed of the last run"
