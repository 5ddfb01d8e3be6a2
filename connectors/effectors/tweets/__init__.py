"""The tweet publisher: outbox, X client, publisher loop."""
