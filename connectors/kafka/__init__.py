"""Talking to Kafka: topic admin, the embedded broker, the edge producer and consumer, produce and replay."""
