"""``hivemem export|import``: move a store's state as JSON Lines (format in ``_dump``)."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

from hivemem import _codec
from hivemem.cli._common import add_store_args, command, fail, open_memory, print_json
from hivemem.cli._dump import FORMAT, VERSION, Importer, export_records, total_entries
from hivemem.cli._progress import Progress
from hivemem.cli._restore import MERGE_MODES, Restorer, namespaces_in_use
from hivemem.errors import AlreadyExists, HivememError, InvalidArgument

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator

    import hivemem

__all__ = ["register"]

_MAX_REPORTED = 5


def _progress_flag(args: argparse.Namespace) -> bool | None:
    return True if args.progress else None


@command
def _export(args: argparse.Namespace) -> int:
    with contextlib.ExitStack() as stack:
        mem = stack.enter_context(open_memory(args))
        if args.out in (None, "-"):
            out: IO[bytes] = sys.stdout.buffer
        else:
            out = stack.enter_context(Path(args.out).open("wb"))
        bar = stack.enter_context(
            Progress("export", total_entries(mem), enabled=_progress_flag(args))
        )
        end: dict[str, Any] = {}
        dumps, write = orjson.dumps, out.write
        for record in export_records(mem):
            write(dumps(record) + b"\n")
            kind = record["kind"]
            if kind == "entry":
                bar.advance()
            elif kind == "end":
                end = record
        out.flush()
    summary = (
        f"exported {end.get('namespaces', 0)} namespaces, {end.get('entries', 0)} entries, "
        f"{end.get('events', 0)} events"
    )
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
            yield number, _codec.decode(line)  # (orjson; json for integers beyond 64 bits)
        except ValueError as exc:
            raise InvalidArgument(f"line {number} is not JSON: {exc}") from None


def _scan(path: str) -> tuple[int | None, list[str]]:
    """A file's entry count (for the progress bar) and namespace names (checked up front)."""
    if path == "-":
        return None, []
    entries, names = 0, []
    with Path(path).open("rb") as f:
        for line in f:
            if line.startswith(b'{"kind":"entry"'):
                entries += 1
            elif line.startswith(b'{"kind":"namespace"'):
                with contextlib.suppress(orjson.JSONDecodeError, AttributeError):
                    names.append(orjson.loads(line).get("name"))
    return entries, [n for n in names if isinstance(n, str)]


def _is_remote_with_token(args: argparse.Namespace) -> bool:
    import os

    url = args.url or os.environ.get("HIVEMEM_URL") or ""
    token = args.token or os.environ.get("HIVEMEM_TOKEN")
    return url.split("://", 1)[0].lower() in ("http", "https") and bool(token)


@command
def _import(args: argparse.Namespace) -> int:
    total, names = _scan(args.file)
    with contextlib.ExitStack() as stack:
        mem = stack.enter_context(open_memory(args))
        source = (
            sys.stdin.buffer
            if args.file == "-"
            else stack.enter_context(Path(args.file).open("rb"))
        )
        lines = _lines(source)
        first = next(lines, None)
        header = first[1] if first is not None else None
        if not isinstance(header, dict) or header.get("kind") != "header":
            raise InvalidArgument("not a hivemem export file: it must start with a header")
        if header.get("version") == 1:
            return _import_v1(args, mem, header, lines, total)
        if header.get("format") != FORMAT or header.get("version") != VERSION:
            raise InvalidArgument(
                f"not a hivemem export file this version reads (format {FORMAT!r}, versions "
                f"1 and {VERSION}); a newer version needs a newer hivemem"
            )
        if args.merge is None and (busy := namespaces_in_use(mem, names)):
            raise AlreadyExists(
                f"the store holds data in {len(busy)} namespace(s) of the file "
                f"({', '.join(busy[:_MAX_REPORTED])}): nothing was imported; pass "
                "--merge=skip (keep those) or --merge=overwrite (replace their entries)"
            )
        restorer = Restorer(mem, merge=args.merge)
        bar = stack.enter_context(Progress("import", total, enabled=_progress_flag(args)))
        for number, record in lines:
            if not isinstance(record, dict):
                raise InvalidArgument(f"line {number}: not an export record")
            try:
                restorer.add(record)
            except HivememError as exc:
                raise type(exc)(f"line {number}: {exc.message}", **exc.details) from None
            if record.get("kind") == "entry":
                bar.advance()
        restorer.flush()
    if restorer.end is None:
        print("warning: the file has no end record: it may be truncated", file=sys.stderr)
    summary = {
        "namespaces_restored": 0,
        "namespaces_skipped": 0,
        "namespaces_replaced": 0,
        "entries_written": 0,
        "entries_skipped": 0,
        "events_written": 0,
        "events_skipped": 0,
        **restorer.counts,
    }
    if args.json:
        print_json(summary)
    else:
        print(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in summary.items()))
    return 0


def _import_v1(
    args: argparse.Namespace,
    mem: hivemem.Memory,
    header: dict[str, Any],
    lines: Iterator[tuple[int, Any]],
    total: int | None,
) -> int:
    """A version 1 file: ordinary, idempotent writes (it holds no versions or history)."""
    keep_owners = not _is_remote_with_token(args)
    importer = Importer(mem, keep_owners=keep_owners)
    importer.add(header)
    with Progress("import", total, enabled=_progress_flag(args)) as bar:
        for number, record in lines:
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
        help="write the whole store (entries, versions, history) as JSON Lines",
        description="Write every namespace (config and revision), entry (value, version, "
        "owner, times, expiry) and retained event as JSON Lines, one record per line with a "
        "'kind' (header, namespace, entry, event, end); conversations and memories (with "
        "their vectors) are entries. Streams page by page: memory stays flat. Needs an "
        "embedded store or a server's admin token.",
    )
    e.add_argument("--out", metavar="FILE", help="write here (default: stdout)")
    e.add_argument("--progress", action="store_true", help="progress bar even when not a TTY")
    add_store_args(e)
    e.set_defaults(func=_export)

    i = sub.add_parser(
        "import",
        help="restore an export file into a store, as it was",
        description="Restore an export file: every entry keeps its value, version, owner, "
        "times and expiry, every namespace its config, revision and history, so "
        "compare-and-set and watch(since=) work as before. Refuses namespaces the store "
        "holds data in (nothing is written) unless --merge says how. Needs an embedded "
        "store or a server's admin token. Version 1 files (older hivemem) are written as "
        "ordinary, idempotent writes.",
    )
    i.add_argument("file", metavar="FILE", help="an export file ('-' for stdin)")
    i.add_argument(
        "--merge",
        choices=MERGE_MODES,
        help="namespaces the store holds data in: 'skip' keeps them as they are; "
        "'overwrite' replaces their config and the file's entries (each a new revision of "
        "the store; its own history stays)",
    )
    i.add_argument("--progress", action="store_true", help="progress bar even when not a TTY")
    add_store_args(i)
    i.set_defaults(func=_import)
