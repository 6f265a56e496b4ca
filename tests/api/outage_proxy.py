"""A TCP proxy in front of a real server, to take that server "down" and bring it back inside one test.

- `down()`: every open connection is cut and new ones are closed at once, like a killed PostgreSQL.
- `pause()`: connections stay open but nothing moves in either direction, like `kill -STOP` on Temporal:
  the kernel still accepts, the server never answers. `resume()` lets the held bytes through.
- `up()`: back to forwarding; clients must reconnect (or carry on, after a pause) by themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

Opener = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


@dataclass
class OutageProxy:
    open_upstream: Opener
    port: int = 0
    _moving: asyncio.Event = field(default_factory=asyncio.Event)
    _down: bool = False
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _server: asyncio.Server | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def up(self) -> None:
        self._down = False
        self._moving.set()

    resume = up

    def pause(self) -> None:
        self._moving.clear()

    def down(self) -> None:
        self._down = True
        self._moving.set()  # let paused pumps notice the cut
        for writer in list(self._writers):
            writer.close()

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while not self._down:
                await self._moving.wait()
                data = await source.read(65536)
                if not data:
                    break
                await self._moving.wait()
                if self._down:
                    break
                sink.write(data)
                await sink.drain()
        sink.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._down:
            writer.close()
            return
        await self._moving.wait()  # paused: accepted, never answered
        if self._down:
            writer.close()
            return
        up_reader, up_writer = await self.open_upstream()
        self._writers |= {writer, up_writer}
        pumps = [
            asyncio.create_task(self._pump(reader, up_writer)),
            asyncio.create_task(self._pump(up_reader, writer)),
        ]
        self._tasks.update(pumps)
        await asyncio.gather(*pumps, return_exceptions=True)
        self._writers -= {writer, up_writer}
        self._tasks.difference_update(pumps)

    async def __aenter__(self) -> OutageProxy:
        self.up()
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        self.down()
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


@contextlib.asynccontextmanager
async def proxy_to(host: str, port: int | None = None) -> AsyncIterator[OutageProxy]:
    """A proxy to host:port, or to a Unix socket path when `port` is None."""

    async def open_upstream() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if port is None:
            return await asyncio.open_unix_connection(host)
        return await asyncio.open_connection(host, port)

    async with OutageProxy(open_upstream) as proxy:
        yield proxy
