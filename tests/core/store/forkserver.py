"""Child process for the crash and concurrency tests: imports the store once, then forks one writer per command.

stdin, one command a line (JSON): {"op": "register"|"review"|"many", "stall_at": k or null, "n": reps, "tag": str}
stdout: "PID <pid>" when a writer starts, "DONE <pid>" when it finished, "STALL <pid>" when it has run k statements of its write transaction
(uncommitted) and sleeps to be killed, "COMMIT <pid>" after each commit, "EXIT <pid> <status>" when it is gone.
argv: URL and a JSON world {"creator", "reviewer", "dataset_id", "holdout_id"}.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from sqlalchemy import event  # noqa: E402

from core.store import add_evaluation, make_engine, register_generation, session_scope, submit_new_review  # noqa: E402

N_NOTES = 150


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _manifest(world: dict, tag: str) -> dict:
    return {"method": "gaussian_copula", "parameters": {}, "seed": 1, "library_versions": {"sdv": "2.0.0"},
            "source_dataset_id": world["dataset_id"], "holdout_id": world["holdout_id"],
            "synthetic_sha256": hashlib.sha256(f"{tag}-{uuid.uuid4()}".encode()).hexdigest(), "rows": 100,
            "training_mix": {"real_rows": 800, "synthetic_rows": 0}}


def _register(engine, world: dict, tag: str) -> int:
    """One transaction: a generation and its (large) evaluation report."""
    with session_scope(engine) as s:
        g = register_generation(s, _manifest(world, tag), created_by=world["creator"])
        report = {"gates": [{"name": f"gate_{i}", "passed": True, "value": i / 100} for i in range(40)],
                  "columns": {f"c{i}": {"score": i} for i in range(200)}}
        add_evaluation(s, g.id, report, tool_version="test", created_by=world["creator"])
        return g.id


def _review(engine, world: dict, generation_id: int) -> int:
    """One transaction: a submitted review with N_NOTES notes."""
    with session_scope(engine) as s:
        notes = [{"row_id": i, "flag": "implausible", "note": f"row {i}", "row": {"age": i}} for i in range(N_NOTES)]
        return submit_new_review(s, generation_id, reviewer=world["reviewer"], records_read=N_NOTES, notes=notes).id


def _writer(engine, world: dict, command: dict) -> None:
    engine.dispose(close=False)  # the parent's pooled connections are not ours to use or close
    op, stall_at, pid = command["op"], command.get("stall_at"), os.getpid()
    if op == "review":  # the generation it reviews is committed first, outside the transaction under test
        generation_id = _register(engine, world, command["tag"])
        _say(f"COMMIT {pid}")
    if stall_at:
        seen = {"n": 0}

        @event.listens_for(engine, "after_cursor_execute")
        def _stall(*_args) -> None:  # noqa: ANN002
            seen["n"] += 1
            if seen["n"] == stall_at:
                _say(f"STALL {pid}")
                time.sleep(120)

    for i in range(int(command.get("n", 1))):
        if op == "register":
            _register(engine, world, f"{command['tag']}-{i}")
        elif op == "review":
            _review(engine, world, generation_id)
        else:  # many: a generation and its review, n times (concurrent writers)
            gid = _register(engine, world, f"{command['tag']}-{i}")
            _review(engine, world, gid)
        _say(f"COMMIT {pid}")
    engine.dispose()
    _say(f"DONE {pid}")


def main(argv: list[str]) -> int:
    """Fork a writer per command line; report each one's exit."""
    url, world = argv[0], json.loads(argv[1])
    engine = make_engine(url)
    # One full write warms the engine's statement cache, so a forked writer reaches its transaction in milliseconds.
    _review(engine, world, _register(engine, world, "warm-up"))
    engine.dispose()
    _say("READY")
    children: set[int] = set()
    for line in sys.stdin:
        command = json.loads(line)
        if command["op"] == "wait":
            while children:
                pid, status = os.wait()
                children.discard(pid)
                _say(f"EXIT {pid} {status}")
            _say("WAITED")
            continue
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                _writer(engine, world, command)
            except BaseException as exc:  # noqa: BLE001 - report and exit non-zero
                sys.stderr.write(f"writer {os.getpid()}: {type(exc).__name__}: {exc}\n")
                code = 1
            finally:
                sys.stdout.flush()
                os._exit(code)
        children.add(pid)
        _say(f"PID {pid}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
