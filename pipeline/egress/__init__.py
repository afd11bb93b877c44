"""Where results leave: ClickHouse tables, Kafka record encoders, Prometheus series, paging."""
