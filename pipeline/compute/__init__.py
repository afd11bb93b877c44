"""Pure compute: every metric and decision, with no Faust, Kafka, ClickHouse or clock.

Functions take records and state and return results; the agents load state,
call them, and write what they return.  Unit-tested without any service.
"""
