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
        "memories",
        "mcp",
        "integrations",
    }
    assert public - modules == set(hivemem.__all__) - {"__version__"}
