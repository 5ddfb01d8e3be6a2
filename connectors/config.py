"""Settings and topic contracts, re-exported for the API layer (which reaches ``streams`` only via connectors)."""

from streams.settings import Settings, get_settings
from streams.topics import TOPICS, TopicSpec, topic

__all__ = ["TOPICS", "Settings", "TopicSpec", "get_settings", "topic"]
