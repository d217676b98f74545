"""Domain errors: every failure a user can cause names the file, the column and the problem."""
from __future__ import annotations


class ReviewError(Exception):
    """Base of every error the core raises on purpose; its str() is one line fit for a user."""


class InputError(ReviewError):
    """A file or table that cannot be used as given."""

    def __init__(self, problem: str, *, path: str | None = None, column: str | None = None):
        self.path = path
        self.column = column
        self.problem = problem
        where = []
        if path:
            where.append(f"file {path}")
        if column is not None:
            where.append(f"column '{column}'")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {problem}" if prefix else problem)


class SchemaError(InputError):
    """Real, synthetic and holdout tables that do not share a schema."""


class PolicyError(ReviewError):
    """A policy file that cannot be read or holds a value out of range."""


class UsageError(ReviewError):
    """A request that does not fit the data (for example an unknown target column)."""


class BudgetError(InputError):
    """An input beyond the policy's [budget] (file size, column count) that would run out of time or memory."""


class StageError(Exception):
    """An unexpected internal failure, tagged with the stage it happened in (the CLI exits 3 on it)."""

    def __init__(self, stage: str, cause: BaseException):
        self.stage = stage
        self.cause = cause
        text = " ".join(str(cause).split()) or "(no message)"
        super().__init__(f"internal error in stage {stage} ({type(cause).__name__}: {text})")
