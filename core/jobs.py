"""Background jobs for long checks: a thread pool, one job per content key, results pickled under the cache dir.

A job is keyed by the content hash of everything its result depends on (table hashes, policy text, settings,
seed), so two sessions asking for the same result share one job and one computation, and a result computed once
is read back from disk after a restart. Only the manager's small dict lock is ever held by a caller; a caller who
wants the value waits on that job's own event, so a cache hit for one key never waits on another key's work.
No streamlit import: the dashboard polls `JobManager.status` from a fragment.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

Progress = Callable[[float, str], None]
QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
DEFAULT_WORKERS = 2  # the machine has 2 cores; more threads only slow each check down
RESULT_SUFFIX = ".pkl"
TIMINGS_FILE = "timings.json"
JOBS_DEFAULTS = {"auto_run_max_rows": 10_000, "poll_seconds": 1.0}


def content_key(*parts: object) -> str:
    """Hex sha256 of the JSON text of `parts` (sorted keys): the key of a result that depends on exactly these."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Job:
    """One computation: its state, last progress report, timing, and its value or error once finished."""

    key: str
    label: str
    kind: str = ""  # e.g. "privacy": jobs of one kind share a measured seconds-per-row rate for estimates
    size: int = 0  # rows the job works on (for the estimate)
    persist: bool = True  # pickle the value under the cache folder
    expected_seconds: float | None = None  # a caller's prior estimate, used until progress gives a better one
    state: str = QUEUED
    fraction: float = 0.0
    message: str = "Waiting for a free worker"
    submitted: float = field(default_factory=time.monotonic)
    started: float | None = None
    finished: float | None = None
    finished_at: str | None = None  # wall-clock UTC time the value was computed (ISO, seconds)
    error: str | None = None
    value: Any = None
    exception: BaseException | None = field(default=None, repr=False)  # re-raised by the page (domain errors)
    detail: str | None = field(default=None, repr=False)  # the traceback, for logs
    done_event: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def finished_ok(self) -> bool:
        """True when the job ended with a value."""
        return self.state == DONE

    def elapsed(self) -> float:
        """Seconds since the job started running (0 while queued)."""
        if self.started is None:
            return 0.0
        return (self.finished or time.monotonic()) - self.started

    def remaining(self) -> float | None:
        """Estimated seconds left: extrapolated from progress once past 5%, else the prior estimate; None if unknown."""
        if self.state in (DONE, FAILED):
            return 0.0
        elapsed = self.elapsed()
        if self.fraction >= 0.05 and elapsed > 0:
            return max(elapsed / self.fraction - elapsed, 0.0)
        if self.expected_seconds is not None:
            return max(self.expected_seconds - elapsed, 0.0)
        return None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job finished (True) or `timeout` seconds passed (False)."""
        return self.done_event.wait(timeout)


class JobManager:
    """Runs keyed computations on a thread pool; one job per key, results kept in memory and pickled on disk."""

    def __init__(self, folder: Path | str, workers: int = DEFAULT_WORKERS, memory_entries: int = 32):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.memory_entries = memory_entries
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="review-job")
        self._lock = threading.Lock()  # guards _jobs only; never held while computing or reading a pickle
        self._jobs: dict[str, Job] = {}
        self._rates = self._read_rates()  # kind -> seconds per row measured on the last finished job

    def _read_rates(self) -> dict[str, float]:
        try:
            return {str(k): float(v) for k, v in json.loads((self.folder / TIMINGS_FILE).read_text()).items()}
        except (OSError, ValueError, AttributeError):
            return {}

    def _record_rate(self, job: Job) -> None:
        if not job.kind or job.size <= 0:
            return
        with self._lock:
            self._rates[job.kind] = job.elapsed() / job.size
            text = json.dumps(self._rates, indent=1, sort_keys=True)
        try:
            (self.folder / TIMINGS_FILE).write_text(text)
        except OSError:
            pass  # an estimate is a nicety; a read-only cache folder must not fail the job

    def estimate(self, kind: str, size: int) -> float | None:
        """Seconds a job of `kind` on `size` rows should take, from the last one measured (None if never run)."""
        rate = self._rates.get(kind)
        return None if rate is None or size <= 0 else rate * size

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}{RESULT_SUFFIX}"

    def _from_disk(self, key: str, label: str) -> Job | None:
        path = self._path(key)
        if not path.exists():
            return None
        try:
            with path.open("rb") as handle:
                value = pickle.load(handle)
        except Exception:  # a truncated or stale pickle (older code) is recomputed, never shown
            return None
        job = Job(key, label, state=DONE, fraction=1.0, message="Read from the result cache", value=value,
                  finished_at=_iso(path.stat().st_mtime))
        job.started = job.finished = time.monotonic()
        job.done_event.set()
        return job

    def _save(self, key: str, value: Any) -> None:
        # Write beside the target and rename, so a reader never sees half a pickle.
        handle, temp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                pickle.dump(value, out, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temp, self._path(key))
        except Exception:
            Path(temp).unlink(missing_ok=True)

    def status(self, key: str) -> Job | None:
        """The job of `key` (running, finished, or a result found on disk), or None when nothing was asked for."""
        with self._lock:
            job = self._jobs.get(key)
        if job is not None:
            return job
        job = self._from_disk(key, "")
        if job is not None:
            with self._lock:
                job = self._jobs.setdefault(key, job)
        return job

    def result(self, key: str) -> Any | None:
        """The finished value of `key` (memory or disk), or None when not computed yet (never computes)."""
        job = self.status(key)
        return job.value if job is not None and job.state == DONE else None

    def put(self, key: str, value: Any, label: str = "") -> None:
        """Store a value computed by the caller (in its own thread) as the finished result of `key`, on disk too."""
        self._save(key, value)
        job = Job(key, label, state=DONE, fraction=1.0, message="Done", value=value, finished_at=_iso(time.time()))
        job.started = job.finished = time.monotonic()
        job.done_event.set()
        with self._lock:
            self._jobs[key] = job
            self._trim()

    def submit(self, key: str, label: str, compute: Callable[[Progress], Any],
               expected_seconds: float | None = None, kind: str = "", size: int = 0, persist: bool = True) -> Job:
        """The job of `key`: the existing one (running or done), the one on disk, or a new one started on the pool.

        A failed job is started again. compute(progress) is called on a worker thread with a progress callback.
        Without `expected_seconds`, the estimate is the last measured rate of `kind` times `size`; persist=False
        keeps the value in memory only (for jobs with side effects, such as writing to the store)."""
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and job.state != FAILED:
                return job
        found = self._from_disk(key, label) if persist else None
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and job.state != FAILED:
                return job  # another caller got here first
            if found is not None:
                self._jobs[key] = found
                return found
            if expected_seconds is None:
                expected_seconds = self.estimate(kind, size)
            job = Job(key, label, kind=kind, size=size, persist=persist, expected_seconds=expected_seconds)
            self._jobs[key] = job
            self._trim()
        self._pool.submit(self._run, job, compute)
        return job

    def run(self, key: str, label: str, compute: Callable[[Progress], Any], timeout: float | None = None) -> Any:
        """Submit and wait: the value of `key` (re-raises the job's exception if it failed)."""
        job = self.submit(key, label, compute)
        if not job.wait(timeout):
            raise TimeoutError(f"{label}: still running after {timeout} s")
        if job.state == FAILED:
            if isinstance(job.exception, Exception):
                raise job.exception
            raise JobFailed(job.error or "failed")
        return job.value

    def _run(self, job: Job, compute: Callable[[Progress], Any]) -> None:
        job.state, job.started, job.message = RUNNING, time.monotonic(), "Started"

        def progress(fraction: float, message: str) -> None:
            job.fraction = float(min(max(fraction, 0.0), 1.0))
            job.message = message

        try:
            value = compute(progress)
        except BaseException as exc:  # the job reports the failure; the worker thread survives
            job.error, job.exception = _one_line(exc), exc
            job.detail = traceback.format_exc()
            job.state = FAILED
        else:
            job.value, job.finished_at = value, _iso(time.time())
            if job.persist:
                self._save(job.key, value)
            job.finished = time.monotonic()
            self._record_rate(job)
            job.fraction, job.message, job.state = 1.0, "Done", DONE
        finally:
            job.finished = job.finished or time.monotonic()
            job.done_event.set()

    def wait_all(self, timeout: float | None = None) -> bool:
        """Wait until every queued or running job finished (True), or timeout seconds passed for one (False)."""
        with self._lock:
            pending = [j for j in self._jobs.values() if j.state in (QUEUED, RUNNING)]
        return all(job.wait(timeout) for job in pending)

    def _trim(self) -> None:
        # Forget the oldest finished jobs held in memory (their pickles stay on disk). Caller holds the lock.
        finished = [k for k, j in self._jobs.items() if j.state in (DONE, FAILED)]
        for key in finished[: max(len(self._jobs) - self.memory_entries, 0)]:
            del self._jobs[key]

    def forget(self, key: str | None = None) -> None:
        """Drop finished jobs from memory and their pickles from disk (all of them when key is None); tests."""
        with self._lock:
            keys = [key] if key is not None else list(self._jobs)
            for k in keys:
                job = self._jobs.get(k)
                if job is None or job.state in (DONE, FAILED):
                    self._jobs.pop(k, None)
        paths = [self._path(key)] if key is not None else list(self.folder.glob(f"*{RESULT_SUFFIX}"))
        for path in paths:
            path.unlink(missing_ok=True)


@dataclass(frozen=True)
class JobSettings:
    """The policy's [jobs] section: the table size up to which a page runs its long checks on opening."""

    auto_run_max_rows: int = int(JOBS_DEFAULTS["auto_run_max_rows"])
    poll_seconds: float = float(JOBS_DEFAULTS["poll_seconds"])


def jobs_settings(sections: dict[str, dict]) -> JobSettings:
    """[jobs] of a policy's sections over the defaults; an unknown key or a bad value is a PolicyError."""
    from core.errors import PolicyError

    given = dict(sections.get("jobs", {}))
    unknown = set(given) - set(JOBS_DEFAULTS)
    if unknown:
        raise PolicyError(f"[jobs] has unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(JOBS_DEFAULTS)}")
    rows = given.get("auto_run_max_rows", JOBS_DEFAULTS["auto_run_max_rows"])
    poll = given.get("poll_seconds", JOBS_DEFAULTS["poll_seconds"])
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
        raise PolicyError(f"[jobs] auto_run_max_rows must be a whole number >= 0, not {rows!r}")
    if isinstance(poll, bool) or not isinstance(poll, (int, float)) or not 0.2 <= poll <= 60:
        raise PolicyError(f"[jobs] poll_seconds must be a number from 0.2 to 60, not {poll!r}")
    return JobSettings(int(rows), float(poll))


class JobFailed(RuntimeError):
    """A background job raised; the message is its one-line error."""


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="seconds")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


_MANAGERS: dict[str, JobManager] = {}
_MANAGERS_LOCK = threading.Lock()


def job_manager(folder: Path | str) -> JobManager:
    """The process-wide manager whose results live in `folder` (one per folder, shared by every session)."""
    path = str(Path(folder).resolve())
    with _MANAGERS_LOCK:
        if path not in _MANAGERS:
            _MANAGERS[path] = JobManager(path)
        return _MANAGERS[path]
