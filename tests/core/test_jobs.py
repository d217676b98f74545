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
