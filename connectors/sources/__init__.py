"""What brings data in: the league-server metrics agent and the importers of recorded data."""
