"""What the offline backtests read from the broker (``--from-topic``) and how they compare with live."""
