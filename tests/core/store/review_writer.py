"""Child process for crash/concurrency tests: submit one review with many notes in one transaction.

usage: review_writer.py URL GENERATION_ID REVIEWER N_NOTES [--hang]
--hang: after the first batch of notes reaches the database (uncommitted), print PARTIAL and sleep (to be killed).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from sqlalchemy import event  # noqa: E402

from core.store import make_engine, session_scope, submit_new_review  # noqa: E402


def main(argv: list[str]) -> int:
    """Write the review; print DONE <review id> after commit."""
    url, generation_id, reviewer, n_notes = argv[0], int(argv[1]), argv[2], int(argv[3])
    hang = "--hang" in argv
    engine = make_engine(url)
    if hang:
        @event.listens_for(engine, "after_cursor_execute")
        def _stall(conn, cursor, statement, params, context, executemany):  # noqa: ANN001
            if statement.lstrip().upper().startswith("INSERT INTO RECORD_NOTE"):
                print("PARTIAL", flush=True)
                time.sleep(120)
    notes = [{"row_id": i, "flag": "implausible", "note": f"row {i} looks odd", "row": {"age": i}}
             for i in range(n_notes)]
    print("READY", flush=True)
    with session_scope(engine) as s:
        review = submit_new_review(s, generation_id, reviewer=reviewer, records_read=n_notes, notes=notes)
        review_id = review.id
    print(f"DONE {review_id}", flush=True)
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
