"""``hivemem ns|put|get|del|ls|history``: namespaces and entries, through the public API.

Every command connects with :func:`hivemem.connect`, so it works the same on ``memory://``,
a SQLite file or a server (``http://``, with a token).
"""

from __future__ import annotations

import argparse
import datetime
import sys
from typing import TYPE_CHECKING, Any

from hivemem.cli._common import (
    add_store_args,
    command,
    open_memory,
    print_json,
    print_table,
    read_value_arg,
    when,
)
from hivemem.errors import InvalidArgument, NotFound

if TYPE_CHECKING:
    from hivemem.types import Entry, NamespaceInfo

__all__ = ["register"]

_LEVELS = ("read", "write", "admin", "none")
_STRATEGIES = ("latest-wins", "first-wins", "merge", "version", "custom")
_ENTRY_COLUMNS = ["key", "value", "owner", "version", "updated", "expires"]
_WIDTHS = {"value": 48, "permissions": 40, "description": 40}


def _entry_row(e: Entry) -> list[Any]:
    return [e.key, e.value, e.owner, e.version, when(e.updated_at), when(e.expires_at)]


def _show_entry(e: Entry) -> None:
    rows = [
        ["namespace", e.namespace],
        ["key", e.key],
        ["value", e.value],
        ["owner", e.owner],
        ["version", e.version],
        ["revision", e.revision],
        ["created", when(e.created_at)],
        ["updated", when(e.updated_at)],
        ["expires", when(e.expires_at)],
    ]
    print_table(["field", "value"], rows)


def _ns_row(n: NamespaceInfo) -> list[Any]:
    perms = ", ".join(f"{a}={lvl or 'none'}" for a, lvl in sorted(n.permissions.items()))
    return [
        n.name,
        n.conflict_strategy,
        n.default_permission or "none",
        perms,
        n.ttl,
        n.max_entries,
        n.revision,
        n.description,
    ]


_NS_COLUMNS = [
    "name",
    "strategy",
    "default",
    "permissions",
    "ttl",
    "max_entries",
    "revision",
    "description",
]


def _permission(text: str) -> tuple[str, str | None]:
    agent, sep, level = text.partition("=")
    if not sep or level not in _LEVELS or not agent:
        raise argparse.ArgumentTypeError(f"expected AGENT=LEVEL with LEVEL in {_LEVELS}: {text!r}")
    return agent, None if level == "none" else level


# ------------------------------------------------------------------ ns
@command
def _ns_create(args: argparse.Namespace) -> int:
    with open_memory(args) as mem:
        info = mem.create_namespace(
            args.name,
            default_permission=None
            if args.default_permission == "none"
            else args.default_permission,
            permissions=dict(args.perm) if args.perm else None,
            conflict_strategy=args.strategy,
            resolver=args.resolver,
            ttl=args.ttl,
            max_entries=args.max_entries,
            description=args.description,
            exist_ok=args.exist_ok,
        )
    if args.json:
        print_json(info.to_dict())
    else:
        print_table(_NS_COLUMNS, [_ns_row(info)], _WIDTHS)
    return 0


@command
def _ns_list(args: argparse.Namespace) -> int:
    with open_memory(args) as mem:
        infos = mem.list_namespaces()
    if args.json:
        print_json([i.to_dict() for i in infos])
    else:
        print_table(_NS_COLUMNS, [_ns_row(i) for i in infos], _WIDTHS)
    return 0


@command
def _ns_show(args: argparse.Namespace) -> int:
    with open_memory(args) as mem:
        info = mem.get_namespace(args.name)
    if args.json:
        print_json(info.to_dict())
    else:
        print_table(["field", "value"], [[k, v] for k, v in info.to_dict().items()])
    return 0


@command
def _ns_clear(args: argparse.Namespace) -> int:
    with open_memory(args) as mem:
        count = mem.clear_namespace(args.name)
    if args.json:
        print_json({"namespace": args.name, "cleared": count})
    else:
        print(f"cleared {count} entries from {args.name}")
    return 0


@command
def _ns_delete(args: argparse.Namespace) -> int:
    with open_memory(args) as mem:
        mem.delete_namespace(args.name)
    if args.json:
        print_json({"namespace": args.name, "deleted": True})
    else:
        print(f"deleted namespace {args.name}")
    return 0


# ------------------------------------------------------------------ entries
@command
def _put(args: argparse.Namespace) -> int:
    value = read_value_arg(args.value, "VALUE_JSON")
    with open_memory(args) as mem:
        entry = mem.write(
            args.namespace,
            args.key,
            value,
            ttl=args.ttl,
            expected_version=args.expected_version,
        )
    if args.json:
        print_json(entry.to_dict())
    else:
        _show_entry(entry)
    return 0


@command
def _get(args: argparse.Namespace) -> int:
    with open_memory(args) as mem:
        entry = mem.get_entry(args.namespace, args.key, as_of=_as_of(args.as_of))
    if entry is None:
        raise NotFound(f"no key {args.key!r} in namespace {args.namespace!r}")
    if args.json:
        print_json(entry.to_dict())
    elif args.value_only:
        print_json(entry.value)
    else:
        _show_entry(entry)
    return 0


@command
def _del(args: argparse.Namespace) -> int:
    with open_memory(args) as mem:
        deleted = mem.delete(args.namespace, args.key, expected_version=args.expected_version)
    if not deleted:
        raise NotFound(f"no key {args.key!r} in namespace {args.namespace!r}")
    if args.json:
        print_json({"namespace": args.namespace, "key": args.key, "deleted": True})
    else:
        print(f"deleted {args.namespace}/{args.key}")
    return 0


@command
def _ls(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise InvalidArgument("--limit must be at least 1")
    with open_memory(args) as mem:
        page = mem.list_entries(
            args.namespace, prefix=args.prefix, limit=args.limit, cursor=args.cursor
        )
    if args.json:
        print_json({"items": [e.to_dict() for e in page.items], "next_cursor": page.next_cursor})
        return 0
    print_table(_ENTRY_COLUMNS, [_entry_row(e) for e in page.items], _WIDTHS)
    if page.next_cursor is not None:
        print(f"more: --cursor {page.next_cursor}", file=sys.stderr)
    return 0


def _as_of(text: str | None) -> int | float | datetime.datetime | None:
    """``--as-of``: a revision (an integer), Unix seconds (a number) or an ISO 8601 time."""
    if text is None:
        return None
    for parse in (int, float, datetime.datetime.fromisoformat):
        try:
            return parse(text)
        except ValueError:
            continue
    raise InvalidArgument(
        f"--as-of {text!r}: give a revision (42), Unix seconds (1700000000.5) or an ISO time"
    )


_VERSION_COLUMNS = ["revision", "version", "value", "agent", "updated"]


@command
def _history(args: argparse.Namespace) -> int:
    with open_memory(args) as mem:
        versions = mem.history(args.namespace, args.key, limit=args.limit, before=args.before)
    if args.json:
        print_json({"versions": [v.to_dict() for v in versions]})
        return 0
    rows = [
        [
            v.revision,
            v.version,
            "(deleted)" if v.deleted else v.value,
            v.agent_id,
            when(v.updated_at),
        ]
        for v in versions
    ]
    print_table(_VERSION_COLUMNS, rows, _WIDTHS)
    if len(versions) == args.limit:
        print(f"more: --before {versions[-1].revision}", file=sys.stderr)
    return 0


# ------------------------------------------------------------------ parsers
def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``ns``, ``put``, ``get``, ``del`` and ``ls`` commands."""
    ns = sub.add_parser("ns", help="create, list, show, clear and delete namespaces")
    group = ns.add_subparsers(dest="ns_command", required=True, metavar="ACTION")

    c = group.add_parser("create", help="create a namespace")
    c.add_argument("name")
    c.add_argument(
        "--default-permission",
        choices=_LEVELS,
        default="write",
        help="level of agents not named in --perm (default write)",
    )
    c.add_argument(
        "--perm",
        action="append",
        type=_permission,
        metavar="AGENT=LEVEL",
        help="a per-agent level (read, write, admin, none); repeatable",
    )
    c.add_argument("--strategy", choices=_STRATEGIES, default="latest-wins")
    c.add_argument("--resolver", help="resolver name for --strategy custom")
    c.add_argument("--ttl", type=float, help="default seconds to live of new entries")
    c.add_argument("--max-entries", type=int, help="most live entries the namespace holds")
    c.add_argument("--description", default="")
    c.add_argument("--exist-ok", action="store_true", help="no error if it exists")
    add_store_args(c)
    c.set_defaults(func=_ns_create)

    for name, fn, text in (
        ("list", _ns_list, "list the namespaces the agent can read"),
        ("show", _ns_show, "show a namespace's configuration"),
        ("clear", _ns_clear, "delete every entry of a namespace (needs admin)"),
        ("delete", _ns_delete, "delete a namespace and its entries (needs admin)"),
    ):
        p = group.add_parser(name, help=text, description=text)
        if name != "list":
            p.add_argument("name")
        add_store_args(p)
        p.set_defaults(func=fn)

    p = sub.add_parser("put", help="write a JSON value under a key")
    p.add_argument("namespace", metavar="NS")
    p.add_argument("key", metavar="KEY")
    p.add_argument(
        "value",
        metavar="VALUE_JSON",
        help="a JSON value: 42, '\"text\"', '{\"a\": 1}'; - reads it from standard input, "
        "@FILE from a file",
    )
    p.add_argument("--ttl", type=float, help="seconds to live")
    p.add_argument(
        "--expected-version",
        type=int,
        metavar="V",
        help="compare-and-set: write only if the entry is at version V (0: must not exist)",
    )
    add_store_args(p)
    p.set_defaults(func=_put)

    g = sub.add_parser("get", help="read a key (exit 3 if absent)")
    g.add_argument("namespace", metavar="NS")
    g.add_argument("key", metavar="KEY")
    g.add_argument("--value-only", action="store_true", help="print only the value as JSON")
    g.add_argument(
        "--as-of",
        metavar="WHEN",
        help="the entry as it was after revision WHEN, or at WHEN (Unix seconds or ISO time)",
    )
    add_store_args(g)
    g.set_defaults(func=_get)

    d = sub.add_parser("del", help="delete a key (exit 3 if absent)")
    d.add_argument("namespace", metavar="NS")
    d.add_argument("key", metavar="KEY")
    d.add_argument("--expected-version", type=int, metavar="V", help="delete only at version V")
    add_store_args(d)
    d.set_defaults(func=_del)

    ls = sub.add_parser("ls", help="list a namespace's entries in key order")
    ls.add_argument("namespace", metavar="NS")
    ls.add_argument("--prefix", default="", help="only keys starting with this")
    ls.add_argument("--limit", type=int, default=100, help="entries per page (default 100)")
    ls.add_argument("--cursor", help="the next page (printed after a full page)")
    add_store_args(ls)
    ls.set_defaults(func=_ls)

    h = sub.add_parser("history", help="a key's retained versions, newest first")
    h.add_argument("namespace", metavar="NS")
    h.add_argument("key", metavar="KEY")
    h.add_argument("--limit", type=int, default=50, help="versions to show (default 50)")
    h.add_argument("--before", type=int, metavar="REV", help="only changes before revision REV")
    add_store_args(h)
    h.set_defaults(func=_history)
