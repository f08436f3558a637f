"""The README's examples run as shown."""

from __future__ import annotations

import re
from pathlib import Path

import hivemem

ROOT = Path(__file__).resolve().parent.parent


def test_readme_tour_runs(capsys):
    """The 60-second tour in README.md runs unchanged and prints what it promises."""
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "README has no python example"
    exec(compile(blocks[0], "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "permission_denied" in out
    assert "memory:broadcast" in out


def test_readme_starts_with_the_two_commands():
    """The README shows `make run` and `make test` before anything else."""
    text = (ROOT / "README.md").read_text()
    first_block = text.split("```sh", 1)[1].split("```", 1)[0]
    assert "make run" in first_block and "make test" in first_block


def test_public_names_are_exact():
    """hivemem.__all__ is sorted and names exactly the public API."""
    assert hivemem.__all__ == sorted(hivemem.__all__)
    for name in hivemem.__all__:
        assert hasattr(hivemem, name), name
    public = {n for n in dir(hivemem) if not n.startswith("_")}
    modules = {
        "annotations",
        "backends",
        "engine",
        "errors",
        "types",
        "cli",
        "testing",
        "remote",
        "server",
        "agents",
        "conversations",
        "records",
        "transactions",
        "memories",
        "mcp",
        "integrations",
        "wire",
        "queues",
        "webhooks",
    }
    assert public - modules == set(hivemem.__all__) - {"__version__"}


def _server_block() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Server", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def test_readme_server_block_runs_in_order(tmp_path: Path) -> None:
    """The README's server block, line by line, with the environment it tells the reader to set.

    Its first line starts the server (here on a free port, in the background, as a reader
    does in another terminal); every later line runs in one shell that stops at the first
    failure.
    """
    import os
    import shlex
    import subprocess
    import sys

    from tests.cli.conftest import serving

    first, *rest = _server_block()
    serve = shlex.split(first.split("#", 1)[0])
    assert serve[:2] == ["hivemem", "serve"], first
    port = serve.index("--port")
    args = serve[2:port] + serve[port + 2 :]
    assert args[0] == "--store"
    bin_dir = str(Path(sys.executable).parent)
    with serving(f"sqlite:///{tmp_path}/hivemem.db", *args[2:]) as server:
        assert server.admin_token is not None
        script = "\n".join(rest)
        script = script.replace("http://127.0.0.1:7700", server.url)
        script = script.replace("<admin token>", server.admin_token)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HIVEMEM_")}
        env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    with hivemem.connect(f"sqlite:///{tmp_path}/copy.db", agent="auditor") as copy:
        assert copy.read("team", "task-1") == {"status": "open"}  # written, exported, imported


def _blocks() -> list[str]:
    """Every Python block of the README, in order."""
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def _tour() -> str:
    return _blocks()[0]


#: The tour's store line, and the agents the README's blocks act for.
TOUR_CONNECT = 'mem = hivemem.connect("memory://", agent="planner")'
TOUR_AGENTS = ("planner", "worker-1", "auditor", "agent-a", "kb")


def _run_every_block(connect_line: str) -> None:
    """Run each of the README's Python blocks as written, on the store ``connect_line`` opens.

    Every block opens its own store with the tour's line, which becomes ``connect_line``.
    """
    for block in _blocks():
        assert TOUR_CONNECT in block, block[:80]
        exec(compile(block.replace(TOUR_CONNECT, connect_line), "README.md", "exec"), {})


def test_readme_has_the_blocks_the_tests_run() -> None:
    """A new Python block must be added here (and so run by the tests below)."""
    blocks = _blocks()
    assert len(blocks) == 3
    assert "mem.conversation(" in blocks[1]
    assert "mem.memories(" in blocks[2]


def _check_output(out: str) -> None:
    assert "permission_denied" in out and "memory:broadcast" in out  # the tour
    assert "total_operations" in out  # get_metrics() of the conversations block
    assert "Priya starts her day with a flat white" in out  # the semantic search's best hit


def test_every_readme_block_runs_in_memory(capsys) -> None:
    _run_every_block(TOUR_CONNECT)
    _check_output(capsys.readouterr().out)


def test_every_readme_block_runs_on_a_sqlite_file(tmp_path: Path, capsys) -> None:
    _run_every_block(f'mem = hivemem.connect("sqlite:///{tmp_path}/all.db", agent="planner")')
    _check_output(capsys.readouterr().out)


def test_readme_tour_runs_on_a_sqlite_file(tmp_path: Path, capsys) -> None:
    tour = _tour()
    assert TOUR_CONNECT in tour
    line = f'mem = hivemem.connect("sqlite:///{tmp_path}/team.db", agent="planner")'
    exec(compile(tour.replace(TOUR_CONNECT, line), "README.md", "exec"), {})
    assert "permission_denied" in capsys.readouterr().out


def test_readme_tour_runs_against_a_server_with_a_token_per_agent(tmp_path: Path, capsys) -> None:
    """As the README says: each agent's own token, passed as ``tokens=``."""
    import httpx

    from tests.cli.conftest import serving

    with serving(f"sqlite:///{tmp_path}/served.db", "--embedder", "minilm") as server:
        admin = {"Authorization": f"Bearer {server.admin_token}"}
        tokens = {
            agent: httpx.post(
                server.url + "/v1/tokens", json={"agent": agent}, headers=admin, timeout=10
            ).json()["token"]
            for agent in TOUR_AGENTS
        }
        # timeout: the server loads MiniLM at start; a search before it is loaded waits
        line = (
            f'mem = hivemem.connect("{server.url}", agent="planner", tokens={tokens!r}, '
            "timeout=120)"
        )
        _run_every_block(line)  # the tour, then the later blocks, over HTTP
        _check_output(capsys.readouterr().out)
        audit = httpx.get(
            server.url + "/v1/audit", params={"namespace": "results"}, headers=admin, timeout=10
        ).json()
        writers = {r["agent_id"] for r in audit["items"] if r["action"] == "write"}
        assert {"worker-1", "auditor"} <= writers  # each call acted as its own agent
