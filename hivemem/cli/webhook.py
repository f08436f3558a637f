"""``hivemem webhook add|ls|rm|deliveries``: manage webhooks (SPEC §19).

On a store (``--url sqlite:///file.db``) the command acts as the store's owner unless
``--agent`` names an agent (then that agent's admin rights count); through a server
(``--url http://host:port``) as its token's agent. Deliveries are made by ``hivemem
serve`` (see docs/coordination.md, "Webhooks").
"""

from __future__ import annotations

import argparse  # noqa: TC003 (register builds parsers at runtime)
import sys
from typing import TYPE_CHECKING, Any

from hivemem.cli._common import add_store_args, command, open_memory, print_json, print_table, when

if TYPE_CHECKING:
    from hivemem.types import Webhook

__all__ = ["register"]


def _agent(args: argparse.Namespace) -> dict[str, Any]:
    return {"agent": args.agent} if args.agent else {}


def _hook_row(h: Webhook) -> list[Any]:
    state = "enabled" if h.enabled else "disabled"
    return [h.id, h.url, ",".join(h.namespaces), ",".join(h.events), state, h.failures]


@command
def _add(args: argparse.Namespace) -> int:
    with open_memory(args) as mem:
        hook = mem.add_webhook(
            args.target, args.namespaces, args.event or ["memory:*"], args.secret, **_agent(args)
        )
    if args.json:
        print_json(hook.to_dict())
    else:
        print(hook.secret)
        print(f"added webhook {hook.id} -> {hook.url} (secret shown once)", file=sys.stderr)
    return 0


@command
def _ls(args: argparse.Namespace) -> int:
    with open_memory(args) as mem:
        hooks = mem.webhooks(**_agent(args))
    if args.json:
        print_json({"webhooks": [h.to_dict() for h in hooks]})
    else:
        print_table(
            ["id", "url", "namespaces", "events", "state", "failures"], map(_hook_row, hooks)
        )
    return 0


@command
def _rm(args: argparse.Namespace) -> int:
    with open_memory(args) as mem:
        removed = mem.remove_webhook(args.id, **_agent(args))
    if args.json:
        print_json({"removed": removed})
    else:
        print(f"removed webhook {args.id}", file=sys.stderr)
    return 0


@command
def _deliveries(args: argparse.Namespace) -> int:
    with open_memory(args) as mem:
        log = mem.webhook_deliveries(args.id, limit=args.limit, **_agent(args))
    if args.json:
        print_json({"deliveries": [d.to_dict() for d in log]})
    else:
        rows = [
            [d.seq, when(d.at), d.namespace, f"{d.first_revision}-{d.last_revision}", d.events,
             d.attempt, "ok" if d.ok else "failed", d.status, d.error or ""]
            for d in log
        ]  # fmt: skip
        print_table(
            [
                "seq",
                "at",
                "namespace",
                "revisions",
                "events",
                "attempt",
                "result",
                "status",
                "error",
            ],
            rows,
        )
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``webhook`` command group."""
    p = sub.add_parser("webhook", help="add, list and remove webhooks; see their deliveries")
    group = p.add_subparsers(dest="webhook_command", required=True, metavar="ACTION")

    a = group.add_parser("add", help="send namespaces' events to a URL (prints the secret)")
    a.add_argument("target", metavar="URL", help="http:// or https:// URL to POST to")
    a.add_argument("namespaces", nargs="+", metavar="NAMESPACE")
    a.add_argument(
        "--event",
        action="append",
        metavar="PATTERN",
        help="event types to send, fnmatch patterns (repeatable; default memory:*)",
    )
    a.add_argument("--secret", default=None, help="whsec_<base64> (default: a new one)")
    add_store_args(a)
    a.set_defaults(func=_add)

    ls = group.add_parser("ls", help="list the webhooks you administer")
    add_store_args(ls)
    ls.set_defaults(func=_ls)

    rm = group.add_parser("rm", help="remove a webhook and its delivery log")
    rm.add_argument("id")
    add_store_args(rm)
    rm.set_defaults(func=_rm)

    d = group.add_parser("deliveries", help="a webhook's recent delivery attempts, newest first")
    d.add_argument("id")
    d.add_argument("--limit", type=int, default=20, help="how many (1-100, default 20)")
    add_store_args(d)
    d.set_defaults(func=_deliveries)
