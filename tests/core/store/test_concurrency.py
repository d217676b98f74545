"""Crash safety and concurrency: a killed writer leaves all or nothing; simultaneous reviewers both land in order."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from sqlalchemy import func, select

from core.store import audit_events, read_session, session_scope, submit_new_review, verify_chain
from core.store.models import RecordNote, Review
from store_testkit import make_world

WRITER = Path(__file__).resolve().parent / "review_writer.py"
N_NOTES = 600


def _writer(url: str, generation_id: int, reviewer: str, hang: bool = False) -> subprocess.Popen:
    args = [sys.executable, str(WRITER), url, str(generation_id), reviewer, str(N_NOTES)] + (["--hang"] if hang else [])
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _url(engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _reviews_and_notes(engine, generation_id: int) -> tuple[int, int]:
    with read_session(engine) as s:
        reviews = s.execute(select(func.count()).select_from(Review).where(Review.generation_id == generation_id))
        notes = s.execute(select(func.count()).select_from(RecordNote).join(Review)
                          .where(Review.generation_id == generation_id))
        return reviews.scalar_one(), notes.scalar_one()


def test_killed_writer_leaves_nothing_then_full_write_lands(fresh_engine):
    world = make_world(fresh_engine)
    proc = _writer(_url(fresh_engine), world.generation_id, world.reviewer, hang=True)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line.strip())
            if line.strip() == "PARTIAL":
                break
        assert lines[-1] == "PARTIAL", (lines, proc.stderr.read() if proc.poll() is not None else "")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert _reviews_and_notes(fresh_engine, world.generation_id) == (0, 0)
    with read_session(fresh_engine) as s:
        assert verify_chain(s).ok
        assert audit_events(s, generation_id=world.generation_id, action="review.start") == []

    proc = _writer(_url(fresh_engine), world.generation_id, world.reviewer)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "DONE" in out
    assert _reviews_and_notes(fresh_engine, world.generation_id) == (1, N_NOTES)
    with read_session(fresh_engine) as s:
        assert verify_chain(s).ok


def test_two_processes_submit_at_once(world):
    url = _url(world.engine)
    procs = [_writer(url, world.generation_id, name) for name in (world.reviewer, world.reviewer2)]
    results = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in results]
    assert _reviews_and_notes(world.engine, world.generation_id) == (2, 2 * N_NOTES)
    with read_session(world.engine) as s:
        submits = audit_events(s, generation_id=world.generation_id, action="review.submit")
        assert sorted(e["actor"] for e in submits) == sorted([world.reviewer, world.reviewer2])
        assert verify_chain(s).ok


def test_two_threads_submit_at_once_in_order(world):
    generations = [world.new_generation()[0] for _ in range(4)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def work(reviewer: str) -> None:
        try:
            barrier.wait()
            for gid in generations:
                with session_scope(world.engine) as s:
                    submit_new_review(s, gid, reviewer=reviewer, records_read=50,
                                      notes=[{"row_id": i, "flag": "other", "row": {"x": i}} for i in range(20)])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(name,)) for name in (world.reviewer, world.reviewer2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with read_session(world.engine) as s:
        submits = [e for gid in generations for e in audit_events(s, generation_id=gid, action="review.submit")]
        assert len(submits) == 2 * len(generations)
        submits.sort(key=lambda e: e["id"])
        review_ids = [int(e["entity_id"]) for e in submits]
        assert review_ids == sorted(review_ids)  # chain order == commit order == review id order
        stamps = [e["at"] for e in submits]
        assert stamps == sorted(stamps)
        assert verify_chain(s).ok
