"""The Faust runtime every agent shares: app class and transport, agent context, batching, write-behind, changelog catch-up, codecs."""
