"""Review desk for synthetic tabular data: the analysis core (no UI)."""

__version__ = "0.1.0"
