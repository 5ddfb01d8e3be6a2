"""Live play-by-play feeds: an adapter per feed format and a poller that follows each scheduled game while it
is live, producing its plays to ``plays`` and the game to ``league-events``."""
