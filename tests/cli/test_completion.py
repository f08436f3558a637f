"""``hivemem completion``: the generated scripts complete what the parser accepts."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

from hivemem.cli import build_parser, main
from hivemem.cli.completion import bash_script

if TYPE_CHECKING:
    import pytest


def _complete(script: str, line: str) -> list[str]:
    """Run the bash completion function on ``line`` (completing its last word)."""
    words = line.split(" ")
    probe = (
        script
        + "\nCOMP_WORDS=("
        + " ".join(f"'{w}'" for w in words)
        + f")\nCOMP_CWORD={len(words) - 1}\n_hivemem\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n"
    )
    out = subprocess.run(
        ["bash", "--norc", "--noprofile"], input=probe, capture_output=True, text=True, check=True
    )
    return sorted(w for w in out.stdout.splitlines() if w)


def test_bash_completes_commands_and_options() -> None:
    script = bash_script(build_parser())
    assert {"serve", "put", "token", "completion"} <= set(_complete(script, "hivemem "))
    assert _complete(script, "hivemem se") == ["serve"]
    assert _complete(script, "hivemem ns c") == ["clear", "create"]
    assert "--strategy" in _complete(script, "hivemem ns create team --")
    assert _complete(script, "hivemem put --expected") == ["--expected-version"]
    assert _complete(script, "hivemem completion z") == ["zsh"]
    # Options of one command are not offered for another.
    assert "--strategy" not in _complete(script, "hivemem put --")


def test_every_parser_option_is_in_the_script() -> None:
    script = bash_script(build_parser())
    for word in ("--value-only", "--max-entries", "--workers", "--no-log-reads", "--version"):
        assert word in script


def test_command_prints_scripts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "bash"]) == 0
    bash = capsys.readouterr().out
    assert bash.rstrip().endswith("complete -F _hivemem hivemem")
    subprocess.run(["bash", "-n"], input=bash, text=True, check=True)
    assert main(["completion", "zsh"]) == 0
    assert "bashcompinit" in capsys.readouterr().out


def test_module_runs_as_script() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "hivemem", "completion", "bash"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "_hivemem()" in out.stdout
