"""What a production worker runs on: Faust transport and sensors, context, deferred sends,
GC tuning, Kafka client options, the scoring pool."""
