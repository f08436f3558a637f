"""``hivemem export|import``: move a store's contents as JSON Lines (format in ``_dump``)."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

from hivemem.cli._common import add_store_args, command, dump_json, fail, open_memory, print_json
from hivemem.cli._dump import Importer, export_records, total_entries
from hivemem.cli._progress import Progress
from hivemem.errors import InvalidArgument

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator

__all__ = ["register"]

_MAX_REPORTED = 5


def _progress_flag(args: argparse.Namespace) -> bool | None:
    return True if args.progress else None


@command
def _export(args: argparse.Namespace) -> int:
    with contextlib.ExitStack() as stack:
        mem = stack.enter_context(open_memory(args))
        if args.out in (None, "-"):
            out: IO[str] = sys.stdout
        else:
            out = stack.enter_context(Path(args.out).open("w", encoding="utf-8"))
        bar = stack.enter_context(
            Progress("export", total_entries(mem), enabled=_progress_flag(args))
        )
        end: dict[str, Any] = {}
        for record in export_records(mem):
            out.write(dump_json(record) + "\n")
            if record["kind"] == "entry":
                bar.advance()
            elif record["kind"] == "end":
                end = record
        out.flush()
    summary = f"exported {end.get('namespaces', 0)} namespaces, {end.get('entries', 0)} entries"
    if args.json:
        print_json(end, sys.stderr if args.out in (None, "-") else sys.stdout)
    else:
        print(summary, file=sys.stderr)
    return 0


def _lines(stream: IO[bytes]) -> Iterator[tuple[int, Any]]:
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            yield number, orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise InvalidArgument(f"line {number} is not JSON: {exc.msg}") from None


def _count_lines(path: str) -> int | None:
    if path == "-":
        return None
    with Path(path).open("rb") as f:
        return sum(1 for line in f if line.startswith(b'{"kind":"entry"'))


def _is_remote_with_token(args: argparse.Namespace) -> bool:
    import os

    url = args.url or os.environ.get("HIVEMEM_URL") or ""
    token = args.token or os.environ.get("HIVEMEM_TOKEN")
    return url.split("://", 1)[0].lower() in ("http", "https") and bool(token)


@command
def _import(args: argparse.Namespace) -> int:
    keep_owners = not _is_remote_with_token(args)
    with contextlib.ExitStack() as stack:
        mem = stack.enter_context(open_memory(args))
        source = (
            sys.stdin.buffer
            if args.file == "-"
            else stack.enter_context(Path(args.file).open("rb"))
        )
        importer = Importer(mem, keep_owners=keep_owners)
        bar = stack.enter_context(
            Progress("import", _count_lines(args.file), enabled=_progress_flag(args))
        )
        for number, record in _lines(source):
            if number == 1 and (not isinstance(record, dict) or record.get("kind") != "header"):
                raise InvalidArgument("not a hivemem export file: it must start with a header")
            try:
                importer.add(record)
            except InvalidArgument as exc:
                raise InvalidArgument(f"line {number}: {exc.message}") from None
            if isinstance(record, dict) and record.get("kind") == "entry":
                bar.advance()
        importer.finish()  # (a file without its end record: the lists met so far)
    if not keep_owners:
        print(
            f"note: a token acts for one agent: imported entries are owned by {mem.agent!r}",
            file=sys.stderr,
        )
    for kind in sorted(importer.skipped_kinds):
        print(f"note: skipped records of kind {kind!r} (unknown to this version)", file=sys.stderr)
    if importer.end is None:
        print("warning: the file has no end record: it may be truncated", file=sys.stderr)
    summary = {
        "namespaces_created": 0,
        "namespaces_existing": 0,
        "entries_written": 0,
        "entries_unchanged": 0,
        "entries_expired": 0,
        "skipped": 0,
        "failed": 0,
        **importer.counts,
    }
    if args.json:
        print_json(summary)
    else:
        print(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in summary.items()))
    for record, error in importer.failures[:_MAX_REPORTED]:
        where = record.get("name") or f"{record.get('namespace')}/{record.get('key')}"
        print(
            f"failed: {record.get('kind')} {where}: {error.code}: {error.message}", file=sys.stderr
        )
    if importer.failures:
        first = importer.failures[0][1]
        return fail(first.code, f"{len(importer.failures)} record(s) could not be imported")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``export`` and ``import`` commands."""
    e = sub.add_parser(
        "export",
        help="write every namespace and entry as JSON Lines",
        description="Write the store's namespaces (with their configuration) and entries as "
        "JSON Lines, one record per line with a 'kind' (header, namespace, entry, end). "
        "Embedded stores and admin tokens export everything; an agent token what it reads.",
    )
    e.add_argument("--out", metavar="FILE", help="write here (default: stdout)")
    e.add_argument("--progress", action="store_true", help="progress bar even when not a TTY")
    add_store_args(e)
    e.set_defaults(func=_export)

    i = sub.add_parser(
        "import",
        help="read an export file into a store (idempotent)",
        description="Read an export file into any store. Existing namespaces keep their "
        "configuration; entries that already hold the same value and owner are left alone; "
        "others are written with compare-and-set (a conflicting change is reported, not "
        "overwritten). Expired entries are skipped. Running it twice changes nothing.",
    )
    i.add_argument("file", metavar="FILE", help="an export file ('-' for stdin)")
    i.add_argument("--progress", action="store_true", help="progress bar even when not a TTY")
    add_store_args(i)
    i.set_defaults(func=_import)
