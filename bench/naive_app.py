"""Baseline for ``make bench``: the textbook Faust agent, one table update per event.

Consumes the same input topics as the pipeline, decodes each JSON value and
increments a per-key counter in a table, one event at a time.  Run as
``python -m bench.naive_app`` with ``BENCH_*`` environment variables; serves
the number of events handled at ``/count``.
"""

from __future__ import annotations

import json
import os

import faust
from faust.web import Request, Response, View


def create_naive_app() -> faust.App:
    prefix = os.environ["BENCH_TOPIC_PREFIX"]
    topics = os.environ["BENCH_TOPICS"].split(",")
    app = faust.App(
        os.environ["BENCH_APP_ID"],
        broker=f"kafka://{os.environ['BENCH_BOOTSTRAP']}",
        store="memory://",
        datadir=os.environ["BENCH_DATA_DIR"],
        topic_partitions=int(os.environ.get("BENCH_PARTITIONS", "4")),
        broker_session_timeout=6.0,
        broker_heartbeat_interval=1.0,
        consumer_auto_offset_reset="earliest",
        web_port=int(os.environ["BENCH_WEB_PORT"]),
        web_bind="127.0.0.1",
        web_host="127.0.0.1",
    )
    counts = app.Table("naive-counts", default=int)
    handled = {"n": 0}
    source = app.topic(*[prefix + t for t in topics], value_serializer="raw",
                       key_serializer="raw")

    @app.agent(source)
    async def count(stream) -> None:
        async for event in stream.events():
            handled["n"] += 1
            try:
                value = json.loads(event.value)
            except ValueError:
                continue
            if isinstance(value, dict):
                key = str(value.get("community_id") or value.get("campaign_id") or "none")
                counts[key] += 1

    @app.page("/count")
    class Count(View):
        async def get(self, request: Request) -> Response:
            return self.json({"handled": handled["n"]})

    return app


if __name__ == "__main__":
    faust.Worker(create_naive_app(), loglevel="warning").execute_from_commandline()
