"""Sinks: where results leave the pipeline (ClickHouse; Kafka via Faust topics)."""
