"""Evaluation reports with plots (matplotlib)."""
