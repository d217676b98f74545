"""The job manager: one computation per key, other keys never wait on it, results survive a restart."""
from __future__ import annotations

import threading

import pytest

from core.errors import InputError
from core.jobs import DONE, FAILED, JobManager, content_key


def test_two_callers_of_one_key_share_one_computation(tmp_path):
    manager = JobManager(tmp_path)
    release, calls = threading.Event(), []

    def compute(progress):
        calls.append(1)
        progress(0.5, "half")
        release.wait(5)
        return 42

    first = manager.submit("k", "slow", compute)
    second = manager.submit("k", "slow", compute)
    assert first is second
    release.set()
    assert manager.run("k", "slow", compute, timeout=5) == 42
    assert calls == [1] and first.state == DONE and first.fraction == 1.0


def test_a_running_job_does_not_block_another_key(tmp_path):
    manager = JobManager(tmp_path)
    release = threading.Event()
    slow = manager.submit("slow", "slow", lambda p: release.wait(10))
    assert manager.run("fast", "fast", lambda p: "ok", timeout=2) == "ok"  # would time out behind a global lock
    assert manager.result("fast") == "ok" and slow.state != DONE
    release.set()
    assert slow.wait(5)


def test_results_are_read_back_from_disk_after_a_restart(tmp_path):
    JobManager(tmp_path).run("k", "x", lambda p: {"value": 1}, timeout=5)
    again = JobManager(tmp_path)  # a new process: nothing in memory
    assert again.result("k") == {"value": 1}
    assert again.submit("k", "x", lambda p: pytest.fail("recomputed")).state == DONE
    assert again.result("other") is None and again.status("other") is None


def test_a_failed_job_reraises_its_error_and_runs_again_when_asked(tmp_path):
    manager = JobManager(tmp_path)

    def bad(progress):
        raise InputError("holdout.csv: column 'age' is not numeric")

    with pytest.raises(InputError, match="column 'age'"):
        manager.run("k", "bad", bad, timeout=5)
    job = manager.status("k")
    assert job.state == FAILED and job.error == "holdout.csv: column 'age' is not numeric"
    assert not (tmp_path / "k.pkl").exists()  # failures are never cached on disk
    assert manager.run("k", "good", lambda p: 7, timeout=5) == 7


def test_remaining_time_is_extrapolated_from_progress(tmp_path):
    manager = JobManager(tmp_path)
    job = manager.submit("k", "x", lambda p: 1, expected_seconds=30)
    job.wait(5)
    assert job.remaining() == 0.0
    from core.jobs import Job
    pending = Job("p", "p", expected_seconds=30)
    assert pending.remaining() == 30
    pending.started, pending.state, pending.fraction = pending.submitted - 10, "running", 0.25
    assert pending.remaining() == pytest.approx(30, abs=0.5)  # 10 s for a quarter: 30 s left


def test_content_key_changes_with_any_part():
    assert content_key("a", {"x": 1, "y": 2}) == content_key("a", {"y": 2, "x": 1})
    assert content_key("a", 1) != content_key("a", 2)


def test_the_next_estimate_uses_the_rate_measured_on_the_last_job_of_its_kind(tmp_path):
    import time

    manager = JobManager(tmp_path)
    job = manager.submit("a", "privacy", lambda p: time.sleep(0.2), kind="privacy", size=100)
    job.wait(5)
    assert manager.estimate("privacy", 1_000) == pytest.approx(10 * job.elapsed(), rel=0.01)
    assert JobManager(tmp_path).estimate("privacy", 1_000) == pytest.approx(10 * job.elapsed(), rel=0.01)
    assert manager.submit("b", "privacy", lambda p: 1, kind="privacy", size=50).expected_seconds is not None
    assert manager.estimate("utility", 100) is None


def test_policy_jobs_section_sets_the_auto_run_size_and_rejects_unknown_keys():
    from core.errors import PolicyError
    from core.jobs import jobs_settings
    from core.policy import parse_policy

    assert jobs_settings(parse_policy("").sections).auto_run_max_rows == 10_000
    assert jobs_settings(parse_policy("[jobs]\nauto_run_max_rows = 500\n").sections).auto_run_max_rows == 500
    with pytest.raises(PolicyError, match="unknown key"):
        jobs_settings(parse_policy("[jobs]\nauto_run = 1\n").sections)
    with pytest.raises(PolicyError, match="auto_run_max_rows"):
        jobs_settings(parse_policy("[jobs]\nauto_run_max_rows = -1\n").sections)


def test_a_job_kept_in_memory_only_writes_no_pickle(tmp_path):
    manager = JobManager(tmp_path)
    assert manager.run("side-effect", "x", lambda p: 1, timeout=5) == 1
    job = manager.submit("once", "x", lambda p: 2, persist=False)
    job.wait(5)
    assert not (tmp_path / "once.pkl").exists() and (tmp_path / "side-effect.pkl").exists()


def test_a_finished_job_knows_when_it_was_computed_also_after_a_restart(tmp_path):
    from datetime import datetime, timezone

    before = datetime.now(timezone.utc).replace(microsecond=0)
    job = JobManager(tmp_path).submit("k", "x", lambda p: 1)
    job.wait(5)
    assert datetime.fromisoformat(job.finished_at) >= before
    assert JobManager(tmp_path).status("k").finished_at >= before.isoformat(timespec="seconds")
