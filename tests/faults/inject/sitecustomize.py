"""Fault injection at the ClickHouse client boundary, for worker processes under test.

A test puts this directory on the worker's ``PYTHONPATH`` and names a folder in
``PULSE_TEST_FAULTS_DIR``; Python imports this module at start-up.  While the file
``clickhouse-down`` exists there, every insert fails before reaching ClickHouse (a
connection error); while ``clickhouse-lost-ack`` exists, every insert reaches ClickHouse
and then fails (the answer lost on the way back), so the retry re-sends rows that are
already stored (``clickhouse-lost-ack-happened`` tells the test it did).  Product code
is untouched: the patch wraps clickhouse-connect's ``Client.insert``, the call the sink
makes.
"""

from __future__ import annotations

import os
from pathlib import Path

FAULTS = os.environ.get("PULSE_TEST_FAULTS_DIR")

if FAULTS:
    from clickhouse_connect.driver.client import Client

    _insert = Client.insert
    _faults = Path(FAULTS)

    def insert(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if (_faults / "clickhouse-down").exists():
            raise ConnectionError("injected: ClickHouse unavailable")
        result = _insert(self, *args, **kwargs)
        if (_faults / "clickhouse-lost-ack").exists():
            (_faults / "clickhouse-lost-ack-happened").touch()
            raise TimeoutError("injected: insert stored, answer lost")
        return result

    Client.insert = insert
