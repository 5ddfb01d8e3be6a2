"""Games and tweets: game state, win probability, significance, the tweet budget and text; the plays backtest, evaluation and model training."""
