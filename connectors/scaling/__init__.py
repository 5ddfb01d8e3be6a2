"""Predictive scaling at the edges: load traces in and out, the scaler and its executors."""
