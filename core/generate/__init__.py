"""Generating synthetic tables: SDV synthesizers and differentially private ones, fitted on the training part only."""
