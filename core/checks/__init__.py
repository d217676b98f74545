"""Families of checks: fidelity, validity, privacy, utility, drift, lineage."""
