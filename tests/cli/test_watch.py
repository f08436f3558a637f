"""``hivemem watch``: prints events written by another client as they come."""

from __future__ import annotations

import json
import re
import signal
import subprocess
from typing import TYPE_CHECKING

import hivemem
from tests.cli.conftest import DEADLINE, Lines, clean_env, hivemem_cmd

if TYPE_CHECKING:
    from tests.cli.conftest import Server


def test_watch_prints_another_clients_writes(server: Server) -> None:
    token = server.admin_token
    assert token is not None
    with hivemem.connect(server.url, token=token) as mem:
        mem.create_namespace("team")
        proc = subprocess.Popen(
            hivemem_cmd("watch", "team", "--since", "0", "--json", "--url", server.url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**clean_env(), "HIVEMEM_TOKEN": token},
        )
        try:
            lines = Lines(proc)
            created = json.loads(lines.next() or "null")
            assert created["type"] == "namespace:created"
            mem.write("team", "task-1", {"status": "open"})
            event = json.loads(lines.next() or "null")
            assert (event["type"], event["key"], event["value"]) == (
                "memory:write",
                "task-1",
                {"status": "open"},
            )
            mem.broadcast("team", "hello")
            assert json.loads(lines.next() or "null")["message"] == "hello"
        finally:
            proc.send_signal(signal.SIGINT)  # Ctrl-C ends it
            status = proc.wait(timeout=DEADLINE)
            assert proc.stderr is not None
            with proc.stderr:
                stderr = proc.stderr.read()
        assert status == 0, stderr
        assert "Traceback" not in stderr


def test_watch_human_lines(server: Server) -> None:
    token = server.admin_token
    assert token is not None
    with hivemem.connect(server.url, token=token) as mem:
        mem.write("default", "k", 1)
    result = subprocess.run(
        hivemem_cmd("watch", "default", "--since", "0", "--timeout", "1", "--url", server.url),
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        env={**clean_env(), "HIVEMEM_TOKEN": token},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header, last = lines[0], lines[-1]
    assert header.split() == ["REV", "TIME", "TYPE", "AGENT", "KEY", "VER", "DETAIL"]
    assert re.split(r"\s{2,}", last.strip())[2:] == ["memory:write", "admin", "k", "v1", "1"]
    # Columns line up under the header: each starts where its title does.
    for title, value in (("TYPE", "memory:write"), ("AGENT", "admin"), ("KEY", "k")):
        assert header.index(title) == last.index(value), (title, header, last)
