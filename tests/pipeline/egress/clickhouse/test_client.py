"""The ClickHouse client on a real chdb engine: retention (TTL) is a setting."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[4]
SCRIPT = """
import asyncio, sys, time
from datetime import UTC, datetime
from pipeline.egress.clickhouse.client import ClickHouseSink
from pipeline.egress.clickhouse.tables import ACTIVITY_MINUTE
from schemas.outputs import CommunityMinuteActivity

async def main(path, retention_days):
    sink = ClickHouseSink(f"chdb://{path}", "pulse", retention_days=retention_days)
    await sink.start()
    start = datetime(2020, 1, 6, 8, 0, tzinfo=UTC)  # far beyond the 400-day TTL
    window = CommunityMinuteActivity(community_id="c1", window_start=start, window_end=start,
                                     messages=3, speakers=2, is_final=True, revision=7)
    await ACTIVITY_MINUTE.write(sink, [window])
    for _ in range(3):
        await sink.query("OPTIMIZE TABLE pulse.community_activity_minute FINAL")
        time.sleep(1)
    [(count,)] = await sink.query("SELECT count() FROM pulse.community_activity_minute FINAL")
    await sink.close()
    print(count)

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


def rows_left(tmp_path: Path, retention_days: int) -> int:
    path = tmp_path / str(retention_days)
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(path), str(retention_days)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return int(done.stdout.split()[-1])


@pytest.mark.parametrize(("retention_days", "expected"), [(20_000, 1), (400, 0)])
def test_rows_older_than_the_retention_are_deleted(
    tmp_path: Path, retention_days: int, expected: int
) -> None:
    assert rows_left(tmp_path, retention_days) == expected


def test_server_urls_carry_credentials_and_tls_options() -> None:
    from pipeline.egress.clickhouse.client import server_options

    assert server_options("http://ch:8123") == {
        "host": "ch", "port": 8123, "username": "default", "password": "", "secure": False}
    options = server_options("https://pulse:p%40ss@ch.internal?ca_cert=/etc/pulse/ca.pem"
                             "&client_cert=/etc/pulse/c.pem&client_cert_key=/etc/pulse/c.key")
    assert options == {
        "host": "ch.internal", "port": 8443, "username": "pulse", "password": "p@ss",
        "secure": True, "ca_cert": "/etc/pulse/ca.pem", "client_cert": "/etc/pulse/c.pem",
        "client_cert_key": "/etc/pulse/c.key"}
    assert server_options("https://ch:9443?verify=false")["verify"] is False
    for bad in ("http://ch:8123?ca_cert=/x", "https://ch?password=x", "https://ch?verify=maybe",
                "tcp://ch:9000"):
        with pytest.raises(ValueError):
            server_options(bad)
