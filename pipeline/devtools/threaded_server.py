"""An aiohttp application served from its own thread and event loop.

For local stand-ins of remote endpoints (a WeCom robot, a recorder in front of
Alertmanager) that must answer while the caller blocks or runs loops of its own:
tests, fault drills and the bench.
"""

from __future__ import annotations

import asyncio
import threading

from aiohttp import web


class ThreadedServer:
    """An aiohttp app in its own thread and loop, for callers (Alertmanager) that
    reach it while the test itself blocks or runs other loops."""

    def __init__(self, app: web.Application) -> None:
        self._app = app
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _start(self) -> str:
        self._runner = web.AppRunner(self._app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        return f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    def start(self) -> str:
        self._thread.start()
        self.url = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self.url

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
