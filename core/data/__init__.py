"""Loading tables, column types, encodings and the locked holdout."""
