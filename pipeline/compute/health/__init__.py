"""Community health: hour and day windows, members' activity days and membership.

Pure logic (no Faust, Kafka, ClickHouse or clock); ``agents.community_health``
wires it.  Modules: ``calendar`` (Beijing days and the 3+2 slots), ``hours``
(the hour window, the unit of exact counting), ``members`` (one small record
per community member: activity days and presence), ``directory`` (the
in-memory distinct counts derived from those records), ``days`` (day records),
``retention`` (join cohorts still present and active 1, 7 and 30 days later)
and ``engine`` (one partition's batch).
"""
