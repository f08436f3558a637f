"""The server's transport proxy: one write per loop turn, nothing lost, nothing late."""

from __future__ import annotations

import asyncio
from typing import Any

from hivemem.server.coalesce import CoalescingTransport


class _Transport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closing = False
        self.calls: list[str] = []

    def write(self, data: bytes) -> None:
        assert not self.closing
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.calls.append("close")
        self.closing = True

    def abort(self) -> None:
        self.calls.append("abort")
        self.closing = True

    def set_protocol(self, protocol: Any) -> None:
        self.calls.append("set_protocol")

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


async def test_the_writes_of_one_loop_turn_go_out_as_one() -> None:
    real = _Transport()
    t = CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
    t.write(b"HTTP/1.1 200 OK\r\n\r\n")
    t.write(b"")
    t.write(memoryview(b'{"a": 1}'))
    assert real.writes == []  # not yet: the loop has not turned
    await asyncio.sleep(0)
    assert real.writes == [b'HTTP/1.1 200 OK\r\n\r\n{"a": 1}']
    t.writelines([b"data: 1\n\n", b"data: 2\n\n"])
    await asyncio.sleep(0)
    assert real.writes[1:] == [b"data: 1\n\ndata: 2\n\n"]  # a later turn: its own write
    await asyncio.sleep(0)
    assert len(real.writes) == 2  # nothing written twice
    assert t.get_extra_info("peername") == "info:peername"  # everything else passes through


async def test_close_sends_what_is_queued_and_abort_drops_it() -> None:
    loop = asyncio.get_running_loop()
    real = _Transport()
    t = CoalescingTransport(real, loop)  # type: ignore[arg-type]
    t.write(b"bye")
    t.close()
    assert real.writes == [b"bye"] and real.calls == ["close"]
    t.write(b"late")  # after close: dropped, as a closing transport would
    await asyncio.sleep(0)
    assert real.writes == [b"bye"]

    real = _Transport()
    t = CoalescingTransport(real, loop)  # type: ignore[arg-type]
    t.write(b"x")
    t.abort()
    await asyncio.sleep(0)
    assert real.writes == [] and real.calls == ["abort"]

    real = _Transport()
    t = CoalescingTransport(real, loop)  # type: ignore[arg-type]
    t.write(b"101 Switching Protocols")
    t.set_protocol(object())  # type: ignore[arg-type]
    assert real.writes == [b"101 Switching Protocols"] and real.calls == ["set_protocol"]
