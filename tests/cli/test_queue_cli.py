"""``hivemem queue put|claim|ack|stats`` over a SQLite file: a claim acked by a later command."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from hivemem.cli import main

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


def test_put_claim_ack_stats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """put, claim (prints the token), ack by id and token; ack again and empty claims fail."""
    url = ["--url", f"sqlite:///{tmp_path}/q.db", "--json"]
    assert main(["queue", "put", "team", "jobs", '{"n": 1}', *url]) == 0
    assert main(["queue", "put", "team", "jobs", '"urgent"', "--priority", "9", *url]) == 0
    capsys.readouterr()
    assert main(["queue", "stats", "team", "jobs", *url]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "ready": 2,
        "claimed": 0,
        "delayed": 0,
        "dead": 0,
    }
    assert main(["queue", "claim", "team", "jobs", "--visibility", "60", *url]) == 0
    task = json.loads(capsys.readouterr().out)
    assert task["value"] == "urgent" and task["token"] > 0
    ack = ["queue", "ack", "team", "jobs", task["id"], "--claim-token", str(task["token"]), *url]
    assert main(ack) == 0
    assert main(ack) == 6  # conflict: claim_lost (the task is gone)
    assert "claim" in capsys.readouterr().err
    assert main(["queue", "claim", "team", "jobs", *url]) == 0
    assert main(["queue", "claim", "team", "jobs", *url]) == 3  # none ready
