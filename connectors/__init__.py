"""Everything that talks to the outside: broker, edge clients, importers, effectors, the CLI."""
