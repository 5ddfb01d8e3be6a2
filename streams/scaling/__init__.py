"""Predictive scaling: load forecasting, the scaling policy and state, league profiles; the scaling backtest."""
