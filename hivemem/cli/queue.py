"""``hivemem queue put|claim|ack|stats``: a namespace's task queues (SPEC §19) from a shell.

``claim`` prints the task with its claim ``token``; ``ack`` takes the task id and that
token, so a claim made by one command can be acked by the next (same agent, within the
visibility). ``claim`` exits 3 when no task is ready (``--wait`` waits for one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hivemem.cli._common import (
    add_store_args,
    command,
    open_memory,
    print_json,
    print_table,
    read_value_arg,
    when,
)
from hivemem.errors import NotFound
from hivemem.types import Task

if TYPE_CHECKING:
    import argparse

__all__ = ["register"]


def _show(t: Task) -> None:
    rows = [
        ["id", t.id],
        ["value", t.value],
        ["priority", t.priority],
        ["state", t.state],
        ["attempts", t.attempts],
        ["claimed by", t.claimed_by],
        ["token", t.token],
        ["visible at", when(t.visible_at)],
        ["enqueued", when(t.enqueued_at)],
    ]
    print_table(["field", "value"], rows)


def _out(args: argparse.Namespace, t: Task) -> None:
    if args.json:
        print_json(t.to_dict())
    else:
        _show(t)


@command
def _put(args: argparse.Namespace) -> int:
    value = read_value_arg(args.value, "VALUE_JSON")
    with open_memory(args) as mem:
        q = mem.queue(args.namespace, args.queue)
        t = q.put(
            value, priority=args.priority, delay=args.delay, idempotency_key=args.idempotency_key
        )
    _out(args, t)
    return 0


@command
def _claim(args: argparse.Namespace) -> int:
    with open_memory(args) as mem:
        q = mem.queue(args.namespace, args.queue, max_attempts=args.max_attempts)
        t = q.claim(worker=args.worker, visibility=args.visibility, wait=args.wait)
    if t is None:
        raise NotFound(f"no task is ready in queue {args.queue!r} of {args.namespace!r}")
    _out(args, t)
    return 0


@command
def _ack(args: argparse.Namespace) -> int:
    held = Task(
        args.task_id, None, 0, 1, None, None, 0.0, args.namespace, args.queue, args.claim_token
    )
    with open_memory(args) as mem:
        mem.queue(args.namespace, args.queue).ack(held)
    if args.json:
        print_json({"id": args.task_id, "acked": True})
    else:
        print(f"acked {args.task_id}")
    return 0


@command
def _stats(args: argparse.Namespace) -> int:
    with open_memory(args) as mem:
        counts = mem.queue(args.namespace, args.queue).stats()
    if args.json:
        print_json(counts)
    else:
        print_table(["ready", "claimed", "delayed", "dead"], [list(counts.values())])
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``queue`` command group."""
    queue = sub.add_parser("queue", help="put, claim, ack tasks; queue stats")
    group = queue.add_subparsers(dest="queue_command", required=True, metavar="ACTION")

    def target(p: argparse.ArgumentParser) -> None:
        p.add_argument("namespace", metavar="NS")
        p.add_argument("queue", metavar="QUEUE")

    p = group.add_parser("put", help="add a task (a JSON value)")
    target(p)
    p.add_argument("value", metavar="VALUE_JSON", help="the task: a JSON value, - or @FILE")
    p.add_argument("--priority", type=int, default=0, help="higher first (default 0)")
    p.add_argument("--delay", type=float, default=0.0, help="seconds before it may be claimed")
    p.add_argument("--idempotency-key", help="a repeat with this key puts nothing new")
    add_store_args(p)
    p.set_defaults(func=_put)

    c = group.add_parser("claim", help="claim the next task (exit 3 if none is ready)")
    target(c)
    c.add_argument("--worker", help="who claims (default: the agent)")
    c.add_argument("--visibility", type=float, default=30.0, help="seconds the claim lasts")
    c.add_argument("--wait", type=float, default=0.0, help="seconds to wait for a task")
    c.add_argument("--max-attempts", type=int, default=5, help="claims before a task dies")
    add_store_args(c)
    c.set_defaults(func=_claim)

    a = group.add_parser("ack", help="finish a claimed task (its id and --claim-token)")
    target(a)
    a.add_argument("task_id", metavar="TASK_ID")
    a.add_argument(
        "--claim-token", type=int, required=True, help="the claim token (claim prints it)"
    )
    add_store_args(a)
    a.set_defaults(func=_ack)

    s = group.add_parser("stats", help="ready, claimed, delayed and dead counts")
    target(s)
    add_store_args(s)
    s.set_defaults(func=_stats)
