"""Evaluation: parse model output, check calls against the expected ones, score, report."""
