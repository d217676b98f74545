"""Statistics shared by the checks: association measures, intervals, distances."""
