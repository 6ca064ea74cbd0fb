"""Kafka side: the embedded broker, topics, the Faust app and its agents, producers."""
