"""The review: records to read, sign-off rules, accounts, exports."""
