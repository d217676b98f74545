"""kill -9 during a register and during a review write, 20 tries each per engine, at a seeded random statement of
the open transaction: every try leaves all of it or none of it, and the store verifies. Then 8 writers at once lose
nothing. Writers are forked from one child that imported the store once, so a try costs milliseconds."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.store import read_session, verify_store
from core.store.models import Evaluation, Generation, RecordNote, Review
from store_testkit import make_world

SERVER = Path(__file__).resolve().parent / "forkserver.py"
TRIES = 20
N_NOTES = 150  # forkserver.N_NOTES


class ForkServer:
    """Drives tests/core/store/forkserver.py: start writers, read their reports, kill them."""

    def __init__(self, engine, world):
        spec = {"creator": world.creator, "reviewer": world.reviewer, "dataset_id": world.dataset_id,
                "holdout_id": world.holdout_id}
        url = engine.url.render_as_string(hide_password=False)
        self.proc = subprocess.Popen([sys.executable, str(SERVER), url, json.dumps(spec)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)
        assert self._line() == "READY"

    def _line(self) -> str:
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"fork server ended (code {self.proc.poll()})")
        return line.strip()

    def send(self, **command) -> int:
        """Start one writer; returns its pid."""
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        kind, pid = self._line().split()
        assert kind == "PID"
        return int(pid)

    def until(self, pid: int, *kinds: str) -> str:
        """Read reports until writer `pid` says one of `kinds`; returns which."""
        while True:
            kind, who = self._line().split()[:2]
            if int(who) == pid and kind in kinds:
                return kind

    def wait(self) -> dict[int, int]:
        """Reap every writer; pid -> wait status."""
        self.proc.stdin.write(json.dumps({"op": "wait"}) + "\n")
        self.proc.stdin.flush()
        out = {}
        while (line := self._line()) != "WAITED":
            if line.startswith("EXIT"):
                _, pid, status = line.split()
                out[int(pid)] = int(status)
        return out

    def close(self) -> None:
        """Stop the server."""
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture
def crash_world(fresh_engine):
    world = make_world(fresh_engine)
    server = ForkServer(fresh_engine, world)
    yield world, server
    server.close()


def _counts(engine, reviewer: str) -> dict[str, int]:
    with read_session(engine) as s:
        notes = s.execute(select(func.count()).select_from(RecordNote).join(Review)
                          .where(Review.reviewer == reviewer)).scalar_one()
        return {"generations": s.execute(select(func.count()).select_from(Generation)).scalar_one(),
                "evaluations": s.execute(select(func.count()).select_from(Evaluation)).scalar_one(),
                "reviews": s.execute(select(func.count()).select_from(Review)
                                     .where(Review.reviewer == reviewer)).scalar_one(),
                "notes": notes}


def _kill_tries(engine, world, server, op: str, seed: int) -> tuple[int, int]:
    """TRIES writers of `op`, each killed at a seeded random statement of its transaction; (killed, committed)."""
    rng = random.Random(seed)
    killed = committed = 0
    for i in range(TRIES):
        pid = server.send(op=op, stall_at=rng.randint(1, 16), tag=f"{op}-{seed}-{i}")
        if server.until(pid, "STALL", "DONE") == "STALL":
            os.kill(pid, signal.SIGKILL)
            killed += 1
        else:
            committed += 1
        statuses = server.wait()
        assert os.WIFSIGNALED(statuses[pid]) or os.WEXITSTATUS(statuses[pid]) == 0
    return killed, committed


def _assert_consistent(engine, world) -> dict[str, int]:
    counts = _counts(engine, world.reviewer)
    assert counts["evaluations"] == counts["generations"]  # make_world: one generation, one evaluation
    assert counts["notes"] == counts["reviews"] * N_NOTES  # no review without all its notes
    with read_session(engine) as s:
        result = verify_store(s)
    assert result.ok, result.reason
    return counts


@pytest.mark.parametrize("op", ["register", "review"])
def test_kill_9_mid_transaction_leaves_all_or_nothing(crash_world, op):
    world, server = crash_world
    before = _counts(world.engine, world.reviewer)
    killed, committed = _kill_tries(world.engine, world, server, op, seed=11)
    print(f"\n[figure] {world.engine.dialect.name} {op}: {TRIES} tries, {killed} killed mid-transaction, "
          f"{committed} committed before the stall point")
    assert killed >= TRIES // 2  # most tries die inside the transaction, not after it
    after = _assert_consistent(world.engine, world)
    key = "generations" if op == "register" else "reviews"
    assert after[key] == before[key] + committed
    pid = server.send(op=op, stall_at=None, tag=f"{op}-full")  # and a full write still lands
    assert server.until(pid, "DONE") == "DONE"
    assert os.WEXITSTATUS(server.wait()[pid]) == 0
    assert _assert_consistent(world.engine, world)[key] == after[key] + 1


def test_eight_concurrent_writers_lose_nothing(crash_world):
    world, server = crash_world
    before = _counts(world.engine, world.reviewer)
    pids = [server.send(op="many", stall_at=None, n=3, tag=f"w{i}") for i in range(8)]
    statuses = server.wait()
    assert [os.WIFEXITED(statuses[p]) and os.WEXITSTATUS(statuses[p]) for p in pids] == [0] * 8
    after = _assert_consistent(world.engine, world)
    assert after["reviews"] - before["reviews"] == 24
    assert after["generations"] - before["generations"] == 24
