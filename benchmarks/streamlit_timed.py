"""`streamlit run` with every script run timed: wall and CPU time of the script thread, one JSON line per run.

    python benchmarks/streamlit_timed.py run app.py [streamlit options]     # writes to $RUN_TIMES_FILE

Used by benchmarks/latency_browser.py (--server-times) to split a click's time into the server's share (the run,
CPU and wall) and the rest (wire, browser). Set $RUN_PROFILE_DIR as well to keep a cProfile of each run
(run-N.prof; cProfile slows the run, so those times are not the ones to report).
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time


def _install(times_file: str, profile_dir: str | None) -> None:
    """Wrap ScriptRunner._run_script (one call per script or fragment run, post-run cleanup included)."""
    from streamlit.runtime.scriptrunner import script_runner

    original = script_runner.ScriptRunner._run_script
    lock, counter = threading.Lock(), [0]

    def timed_run(self, rerun_data):
        with lock:
            counter[0] += 1
            number = counter[0]
        profile = None
        if profile_dir:
            import cProfile

            profile = cProfile.Profile()
            profile.enable()
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return original(self, rerun_data)
        finally:
            wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
            if profile is not None:
                profile.disable()
                profile.dump_stats(os.path.join(profile_dir, f"run-{number}.prof"))
            record = {"run": number, "end": time.time(), "wall_ms": round(1000 * wall, 1),
                      "cpu_ms": round(1000 * cpu, 1), "fragment": bool(rerun_data.fragment_id_queue)}
            with lock, open(times_file, "a") as out:
                out.write(json.dumps(record) + "\n")

    script_runner.ScriptRunner._run_script = timed_run


if __name__ == "__main__":
    _install(os.environ["RUN_TIMES_FILE"], os.environ.get("RUN_PROFILE_DIR"))
    from streamlit.web.cli import main

    sys.argv = ["streamlit", *sys.argv[1:]]
    main()
