"""Generate the sync twins from their asyncio source: ``python -m hivemem._unasync [--check]``.

The async code is the one definition. Each region marked in a source file::

    # -- unasync source "memory": ...
    ...
    # -- end of unasync source "memory"

is copied into its target region (``# -- generated from ... ("memory") ...`` up to
``# -- end of generated "memory"``) with ``await`` and ``async`` dropped and the names of
:data:`NAMES` replaced, in code only (strings and comments are copied as they are, so the
twins share their docstrings); then the target file is formatted with ruff. What differs
between the twins for real (closing, subscriptions, item access) is written by hand outside
the regions. ``--check`` changes nothing and fails if a generated region is stale
(``tests/test_api_parity.py`` runs it).
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path

__all__ = ["NAMES", "TWINS", "Twin", "generate", "unasync"]

PACKAGE = Path(__file__).resolve().parent

#: Async names and their sync twins.
NAMES = {
    "AsyncConversation": "Conversation",
    "AsyncConversations": "Conversations",
    "AsyncHandle": "Handle",
    "AsyncIterator": "Iterator",
    "AsyncLockHold": "LockHold",
    "AsyncMemories": "Memories",
    "AsyncMemory": "Memory",
    "AsyncQueue": "Queue",
    "AsyncRun": "Run",
    "AsyncSubscription": "Subscription",
    "_achange": "_change",
    "__aenter__": "__enter__",
    "__aexit__": "__exit__",
    "AsyncTransaction": "Transaction",
    "_afollow": "_follow",
    "_asleep": "_sleep",
    "acall": "call",
    "acreate_session": "create_session",
    "adrive": "drive",
    "aexecute": "execute",
    "aget_session": "get_session",
}


@dataclass(frozen=True, slots=True)
class Twin:
    """One generated region: ``name`` in ``source`` is copied to ``target`` (package paths)."""

    source: str
    target: str
    name: str


#: Every generated region.
TWINS = (
    Twin("_plan.py", "_plan.py", "driver"),
    Twin("_async.py", "_sync.py", "memory"),
    Twin("conversations.py", "conversations.py", "conversation"),
    Twin("conversations.py", "conversations.py", "conversations"),
    Twin("memories/api.py", "memories/api.py", "memories"),
    Twin("memories/api.py", "memories/api.py", "sessions"),
    Twin("queues.py", "queues.py", "queue"),
    Twin("_lockhold.py", "_lockhold.py", "lock_hold"),
)

_ASYNC_KEYWORDS = ("def", "for", "with")


def unasync(source: str) -> str:
    """The sync twin of async Python code (same lines: only names and keywords change)."""
    starts = [0]
    for line in io.StringIO(source):
        starts.append(starts[-1] + len(line))
    tokens = [
        t
        for t in tokenize.generate_tokens(io.StringIO(source).readline)
        if t.type != tokenize.NL and t.type != tokenize.COMMENT
    ]
    out: list[str] = []
    pos = 0
    for i, tok in enumerate(tokens):
        if tok.type != tokenize.NAME:
            continue
        begin = starts[tok.start[0] - 1] + tok.start[1]
        end = starts[tok.end[0] - 1] + tok.end[1]
        following = tokens[i + 1].string if i + 1 < len(tokens) else ""
        if tok.string == "await" or (tok.string == "async" and following in _ASYNC_KEYWORDS):
            out.append(source[pos:begin])
            pos = end
            while source[pos] == " ":
                pos += 1
        elif tok.string in NAMES:
            out += (source[pos:begin], NAMES[tok.string])
            pos = end
    out.append(source[pos:])
    return "".join(out)


def _region(lines: list[str], begin: str, end: str, where: str) -> tuple[int, int, str]:
    """``(first, last, indent)``: the lines strictly between the two markers."""
    found = [i for i, line in enumerate(lines) if line.lstrip().startswith(begin)]
    stop = [i for i, line in enumerate(lines) if line.strip() == end]
    if len(found) != 1 or len(stop) != 1 or stop[0] < found[0]:
        raise SystemExit(f"{where}: expected one {begin!r} ... {end!r} region")
    indent = re.match(r"\s*", lines[found[0]])
    return found[0] + 1, stop[0], indent.group() if indent else ""


def _format(path: Path, text: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(path), "-"],
        input=text,
        capture_output=True,
        text=True,
        check=False,
        cwd=PACKAGE.parent,
    )
    if done.returncode != 0:
        raise SystemExit(f"ruff format failed on {path}: {done.stderr}")
    return done.stdout


def generate(check: bool = False) -> list[str]:
    """Regenerate every twin; return the target files that changed (or, ``check``, would)."""
    targets: dict[str, str] = {}
    for twin in TWINS:
        source = (PACKAGE / twin.source).read_text()
        synced = unasync(source).splitlines(keepends=True)
        first, last, indent = _region(
            source.splitlines(keepends=True),
            f'# -- unasync source "{twin.name}"',
            f'# -- end of unasync source "{twin.name}"',
            twin.source,
        )
        text = targets.get(twin.target) or (PACKAGE / twin.target).read_text()
        lines = text.splitlines(keepends=True)
        begin = f'# -- generated from {Path(twin.source).name} ("{twin.name}")'
        t_first, t_last, t_indent = _region(
            lines, begin, f'# -- end of generated "{twin.name}"', twin.target
        )
        if indent != t_indent:
            raise SystemExit(f"{twin.target}: region {twin.name!r} is not indented as its source")
        targets[twin.target] = "".join(lines[:t_first] + synced[first:last] + lines[t_last:])
    changed = []
    for target, text in targets.items():
        path = PACKAGE / target
        formatted = _format(path, text)
        if formatted != path.read_text():
            changed.append(f"hivemem/{target}")
            if not check:
                path.write_text(formatted)
    return changed


def main(argv: list[str] | None = None) -> int:
    """Regenerate the sync twins (``--check``: only report stale ones, exit 1 if any)."""
    args = sys.argv[1:] if argv is None else argv
    check = "--check" in args
    changed = generate(check=check)
    for name in changed:
        print(f"{'stale' if check else 'regenerated'}: {name}")
    return 1 if check and changed else 0


if __name__ == "__main__":
    raise SystemExit(main())
