"""``hivemem watch|log|stats``: follow events, read the audit log, show counts."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from hivemem.cli._common import (
    add_store_args,
    command,
    dump_json,
    format_table,
    open_memory,
    print_json,
    print_table,
    when,
)

if TYPE_CHECKING:
    from hivemem.types import Event

__all__ = ["register"]


#: The columns of ``watch`` lines and their widths (a longer value widens its line only).
_WATCH_COLUMNS = (("REV", 6), ("TIME", 19), ("TYPE", 17), ("AGENT", 12), ("KEY", 16), ("VER", 4))
_WATCH_HEADER = (
    "  ".join(
        name.rjust(width) if name == "REV" else name.ljust(width) for name, width in _WATCH_COLUMNS
    )
    + "  DETAIL"
)


def _event_line(ev: Event) -> str:
    detail: Any = ev.message if ev.type == "memory:broadcast" else ev.value
    cells = [
        str(ev.revision),
        when(ev.timestamp) or "-",
        ev.type,
        ev.agent_id,
        ev.key if ev.key is not None else "-",
        f"v{ev.version}" if ev.version is not None else "-",
    ]
    parts = [
        cell.rjust(width) if name == "REV" else cell.ljust(width)
        for cell, (name, width) in zip(cells, _WATCH_COLUMNS, strict=True)
    ]
    if ev.reason:
        parts.append(ev.reason)
    if detail is not None:
        parts.append(dump_json(detail))
    return "  ".join(parts).rstrip()


@command
def _watch(args: argparse.Namespace) -> int:
    with open_memory(args) as mem:
        if not args.json:
            print(f"watching {args.namespace} (Ctrl-C to stop)", file=sys.stderr, flush=True)
            print(_WATCH_HEADER, flush=True)
        try:
            for ev in mem.watch(args.namespace, since=args.since, timeout=args.timeout):
                line = dump_json(ev.to_dict()) if args.json else _event_line(ev)
                print(line, flush=True)
        except KeyboardInterrupt:
            return 0
    return 0


@command
def _log(args: argparse.Namespace) -> int:
    with open_memory(args) as mem:
        records = mem.access_log(
            agent_id=args.agent_id,
            namespace=args.namespace,
            action=args.action,
            success=args.success,
            since=args.since,
            limit=args.limit,
        )
    if args.json:
        print_json([r.to_dict() for r in records])
        return 0
    rows = [
        [when(r.timestamp), r.agent_id, r.namespace, r.key, r.action, r.success, r.error]
        for r in records
    ]
    print_table(
        ["time", "agent", "namespace", "key", "action", "ok", "error"],
        rows,
        {"key": 40, "error": 60},
    )
    return 0


@command
def _stats(args: argparse.Namespace) -> int:
    with open_memory(args) as mem:
        data = mem.stats()
    if args.json:
        print_json(data)
        return 0
    per_ns = data.get("per_namespace") or {}
    scalars = [[k, v] for k, v in data.items() if k != "per_namespace"]
    print(format_table(["stat", "value"], scalars))
    if per_ns:
        print()
        names = sorted(per_ns)
        fields = sorted({f for n in names if isinstance(per_ns[n], dict) for f in per_ns[n]})
        rows = [[n, *(_field(per_ns[n], f) for f in fields)] for n in names]
        print_table(["namespace", *fields], rows)
    return 0


def _field(stats: Any, name: str) -> Any:
    return stats.get(name) if isinstance(stats, dict) else stats


def _success(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "yes", "1", "ok"):
        return True
    if lowered in ("false", "no", "0", "failed"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false: {text!r}")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``watch``, ``log`` and ``stats`` commands."""
    w = sub.add_parser(
        "watch",
        help="print a namespace's events as they come (Ctrl-C stops)",
        description="Print a namespace's events as they come, one per line: revision, time, "
        "type, agent, key, version, value. With --since, replay the retained events after "
        "that revision first. With --json, one JSON object per line.",
    )
    w.add_argument("namespace", metavar="NS")
    w.add_argument("--since", type=int, metavar="REV", help="replay events after this revision")
    w.add_argument(
        "--timeout", type=float, metavar="S", help="stop after S seconds without an event"
    )
    add_store_args(w)
    w.set_defaults(func=_watch)

    lg = sub.add_parser("log", help="show the audit log, newest first")
    lg.add_argument("--agent-id", metavar="AGENT", help="only this agent's records")
    lg.add_argument("--namespace", metavar="NS", help="only this namespace")
    lg.add_argument("--action", help="only this action (write, read, delete, ...)")
    lg.add_argument(
        "--success", type=_success, metavar="BOOL", help="only successes (true) or failures"
    )
    lg.add_argument("--since", type=float, metavar="UNIX_TIME", help="only records after this")
    lg.add_argument("--limit", type=int, default=100, help="most records (default 100)")
    add_store_args(lg)
    lg.set_defaults(func=_log)

    st = sub.add_parser("stats", help="show the store's counts")
    add_store_args(st)
    st.set_defaults(func=_stats)
