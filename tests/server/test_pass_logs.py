"""Background passes say what they did: one log line per decay pass, one per TTL sweep that
removed something (issue 18, observability)."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

import hivemem
from hivemem.server.asgi import _decay_loop


def test_a_sweep_that_removes_entries_logs_a_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="hivemem")
    with hivemem.connect("memory://", agent="a", cleanup_interval=0.05) as mem:
        mem.write_many("ns", {f"k{i}": i for i in range(3)}, ttl=0.01)
        deadline = time.monotonic() + 10
        while "TTL sweep removed" not in caplog.text:
            assert time.monotonic() < deadline, caplog.text
            time.sleep(0.02)
    assert "TTL sweep removed 3 expired entries" in caplog.text


def test_each_decay_pass_logs_a_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="hivemem")
    with hivemem.connect("memory://", agent="a", cleanup_interval=0) as mem:

        async def passes() -> None:
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(_decay_loop(mem._c, 0.05), 0.4)

        asyncio.run(passes())
    lines = [r.getMessage() for r in caplog.records if "decay pass" in r.getMessage()]
    assert len(lines) >= 2, caplog.text
    assert lines[0].startswith("hivemem: decay pass over 0 memories namespaces")
