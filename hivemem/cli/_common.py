"""What the data commands share: store arguments, error reporting, exit codes, output."""

from __future__ import annotations

import argparse
import functools
import os
import sys
from typing import TYPE_CHECKING, Any, TextIO

import orjson

from hivemem.cli._config import mark_settings
from hivemem.errors import HivememError, InvalidArgument

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    import hivemem

__all__ = [
    "EXIT_CODES",
    "EXIT_EPILOG",
    "add_store_args",
    "command",
    "dump_json",
    "exit_code",
    "fail",
    "format_table",
    "open_memory",
    "parse_json",
    "print_json",
    "print_table",
    "store_url",
    "when",
]

#: Exit status per error code (argparse usage errors exit 2; Ctrl-C 130).
EXIT_CODES: dict[str, int] = {
    "internal": 1,
    "not_found": 3,
    "namespace_not_found": 3,
    "lease_expired": 3,
    "permission_denied": 4,
    "unauthenticated": 5,
    "conflict": 6,
    "lock_timeout": 6,
    "already_exists": 6,
    "namespace_full": 6,
    "quota_exceeded": 6,
    "invalid_argument": 7,
    "too_large": 7,
    "revision_compacted": 8,
    "too_many_requests": 9,
    "backend_unavailable": 10,
    "circuit_open": 10,
    "io_error": 11,
    "missing_extra": 12,
}

#: The extra that brings each optional top-level module a command may import.
_EXTRA_OF = {
    "starlette": "server",
    "uvicorn": "server",
    "httpx": "server",
    "mcp": "server",
    "anyio": "server",
    "redis": "redis",
    "numpy": "semantic",
    "hnswlib": "semantic",
    "sentence_transformers": "semantic",
    "langgraph": "langgraph",
}

EXIT_EPILOG = """\
errors print 'error: <code>: <message>' on stderr; exit status:
  0 ok               1 internal error      2 usage error
  3 not found        4 permission denied   5 unauthenticated (bad or missing token)
  6 conflict / already exists / namespace full / quota exceeded
  7 invalid argument / too large           8 revision compacted
  9 too many requests                     10 store or server unavailable
 11 file error        12 an optional extra is not installed
 13 serve: cannot listen on the address (port in use, no permission)
130 interrupted (Ctrl-C)"""


def exit_code(code: str) -> int:
    """The exit status of an error code."""
    return EXIT_CODES.get(code, 1)


def store_url(url: str | None) -> str | None:
    """A store URL, treating a plain path as a SQLite file."""
    if url is not None and "://" not in url:
        return f"sqlite:///{url}"
    return url


def add_store_args(p: argparse.ArgumentParser, *, json_flag: bool = True) -> None:
    """Add ``--url``, ``--token``, ``--agent`` (and ``--json``) to a command."""
    g = p.add_argument_group("store")
    g.add_argument(
        "--url",
        metavar="URL",
        default=None,
        help="memory://, sqlite:///file.db (or a plain file path) or http://server:port "
        "(default: sqlite:///hivemem.db)",
    )
    g.add_argument(
        "--token",
        default=None,
        help="server token for http:// URLs",
    )
    g.add_argument(
        "--agent",
        default=None,
        help="the agent acting (default: the token's agent, else 'local')",
    )
    mark_settings(p, "--url", "--token", "--agent")
    if json_flag:
        p.add_argument("--json", action="store_true", help="machine-readable JSON output")
    p.epilog = EXIT_EPILOG
    p.formatter_class = argparse.RawDescriptionHelpFormatter


def open_memory(args: argparse.Namespace, **options: Any) -> hivemem.Memory:
    """Connect to the store the command's arguments name."""
    import hivemem

    agent = args.agent or os.environ.get("HIVEMEM_AGENT") or None
    return hivemem.connect(store_url(args.url), agent=agent, token=args.token, **options)


def fail(code: str, message: str, err: TextIO | None = None) -> int:
    """Print ``error: <code>: <message>`` on stderr; return the exit status."""
    print(f"error: {code}: {message}", file=err or sys.stderr)
    return exit_code(code)


def command(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Wrap a command: hivemem errors, file errors and Ctrl-C become messages and statuses."""

    @functools.wraps(fn)
    def run(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except HivememError as exc:
            return fail(exc.code, exc.message)
        except ModuleNotFoundError as exc:
            extra = _EXTRA_OF.get((exc.name or "").partition(".")[0])
            if extra is None:
                raise
            return fail(
                "missing_extra",
                f"this command needs the {extra} extra ({exc.name} is not installed): "
                f"pip install 'hivemem[{extra}]'",
            )
        except OSError as exc:
            return fail("io_error", str(exc))
        except KeyboardInterrupt:
            print(file=sys.stderr)
            return 130

    return run


def parse_json(text: str | bytes, what: str) -> Any:
    """Parse a JSON argument (strict: no NaN, no bare words).

    Raises:
        InvalidArgument: the text is not JSON.
    """
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        shown = text.decode(errors="replace") if isinstance(text, bytes) else text
        shown = shown if len(shown) <= 200 else shown[:200] + "..."
        raise InvalidArgument(
            f"{what} is not JSON: {shown!r} (quote strings, e.g. '\"text\"')"
        ) from None


def read_value_arg(text: str, what: str) -> Any:
    """A JSON argument given inline, as ``-`` (standard input) or as ``@PATH`` (a file).

    Values too large for a command line (the OS caps its length) come from stdin or a file.

    Raises:
        InvalidArgument: the text is not JSON, or the file cannot be read.
    """
    if text == "-":
        return parse_json(sys.stdin.buffer.read(), f"{what} (standard input)")
    if text.startswith("@"):
        path = text[1:]
        try:
            with open(path, "rb") as f:  # noqa: PTH123  # a user's path, as given
                data = f.read()
        except OSError as exc:
            raise InvalidArgument(f"cannot read {what} from {path!r}: {exc.strerror}") from None
        return parse_json(data, f"{what} ({path})")
    return parse_json(text, what)


def dump_json(data: Any) -> str:
    """One-line JSON text."""
    return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS).decode()


def print_json(data: Any, out: TextIO | None = None) -> None:
    """Print JSON (indented) for scripts."""
    text = orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()
    print(text, file=out or sys.stdout)


def _cell(value: Any, width: int | None) -> str:
    if value is None:
        text = "-"
    elif isinstance(value, str):
        text = value
    else:
        text = dump_json(value)
    text = text.replace("\n", " ")
    if width is not None and len(text) > width:
        text = text[: width - 1] + "…"
    return text


def format_table(
    headers: Sequence[str], rows: Iterable[Sequence[Any]], widths: dict[str, int] | None = None
) -> str:
    """Align rows under headers (long cells in ``widths`` columns are cut with ``…``)."""
    widths = widths or {}
    cells = [[_cell(v, widths.get(h)) for h, v in zip(headers, row, strict=True)] for row in rows]
    sizes = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.upper().ljust(sizes[i]) for i, h in enumerate(headers)).rstrip()]
    lines += ["  ".join(c.ljust(sizes[i]) for i, c in enumerate(r)).rstrip() for r in cells]
    return "\n".join(lines)


def print_table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    widths: dict[str, int] | None = None,
    out: TextIO | None = None,
) -> None:
    """Print an aligned table."""
    print(format_table(headers, rows, widths), file=out or sys.stdout)


def when(ts: float | None) -> str | None:
    """A Unix time as local ``YYYY-MM-DD HH:MM:SS`` (``None`` stays ``None``)."""
    if ts is None:
        return None
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))
