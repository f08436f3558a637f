"""``hivemem lock`` and ``hivemem lease``: locks, leases and presence (SPEC §19).

``hivemem lock run NS NAME -- CMD...`` runs a command while holding a lock (the hold is kept
alive every third of its ttl while the command runs; the command gets the token in
``HIVEMEM_LOCK_TOKEN``) and exits with its status; ``lock acquire|release|info`` act once.
``hivemem lease grant|keepalive|revoke|join|presence`` manage leases and presence.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import threading
from typing import TYPE_CHECKING, Any

from hivemem.cli._common import add_store_args, command, open_memory, print_json, print_table, when
from hivemem.errors import HivememError, InvalidArgument, NotFound
from hivemem.types import Lock

if TYPE_CHECKING:
    import hivemem

__all__ = ["register"]


def _show_lock(lk: Lock, as_json: bool) -> None:
    if as_json:
        print_json(lk.to_dict())
    else:
        print_table(
            ["namespace", "name", "holder", "token", "lease", "expires"],
            [[lk.namespace, lk.name, lk.holder, lk.token, lk.lease_id, when(lk.expires_at)]],
        )


def _keep(mem: hivemem.Memory, lk: Lock, ttl: float, stop: threading.Event) -> None:
    """Keep the hold's lease alive every ttl/3 until ``stop`` (a lost lease ends the loop)."""
    while not stop.wait(ttl / 3):
        try:
            mem.keep_alive(lk.lease_id)
        except HivememError:
            return


@command
def _run(args: argparse.Namespace) -> int:
    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        raise InvalidArgument("give the command to run after --")
    with (
        open_memory(args) as mem,
        mem.lock(args.namespace, args.name, ttl=args.ttl, wait=args.wait) as lk,
    ):
        stop = threading.Event()
        keeper = threading.Thread(target=_keep, args=(mem, lk, args.ttl, stop), daemon=True)
        keeper.start()
        try:
            env = {**os.environ, "HIVEMEM_LOCK_TOKEN": str(lk.token)}
            return subprocess.call(cmd, env=env)
        finally:
            stop.set()
            keeper.join()


@command
def _acquire(args: argparse.Namespace) -> int:
    with open_memory(args) as mem:
        lk = mem.lock(args.namespace, args.name, ttl=args.ttl, wait=args.wait).acquire()
    _show_lock(lk, args.json)
    return 0


@command
def _release(args: argparse.Namespace) -> int:
    with open_memory(args) as mem:
        lk = Lock(args.name, mem.agent, args.hold_token, "", args.namespace)
        released = mem.unlock(lk)
    if not released:
        raise NotFound(f"token {args.hold_token} no longer holds lock {args.name!r}")
    print_json({"released": True}) if args.json else print(f"released {args.name}")
    return 0


@command
def _info(args: argparse.Namespace) -> int:
    with open_memory(args) as mem:
        lk = mem.lock_info(args.namespace, args.name)
    if lk is None:
        if args.json:
            print_json(None)
        else:
            print(f"lock {args.name!r} is free")
        return 0
    _show_lock(lk, args.json)
    return 0


def _print_lease(lease: Any, as_json: bool) -> None:
    if as_json:
        print_json(lease.to_dict())
    else:
        print_table(
            ["id", "agent", "ttl", "expires"],
            [[lease.id, lease.agent_id, lease.ttl, when(lease.expires_at)]],
        )


@command
def _grant(args: argparse.Namespace) -> int:
    with open_memory(args) as mem:
        _print_lease(mem.grant_lease(args.ttl, ns=args.ns), args.json)
    return 0


@command
def _keepalive(args: argparse.Namespace) -> int:
    with open_memory(args) as mem:
        _print_lease(mem.keep_alive(args.lease_id), args.json)
    return 0


@command
def _revoke(args: argparse.Namespace) -> int:
    with open_memory(args) as mem:
        mem.revoke_lease(args.lease_id)
    print_json({"revoked": True}) if args.json else print(f"revoked {args.lease_id}")
    return 0


@command
def _join(args: argparse.Namespace) -> int:
    import json

    info = json.loads(args.info) if args.info is not None else None
    with open_memory(args) as mem:
        p = mem.join(args.namespace, lease=args.lease_id, info=info)
    print_json(p.to_dict()) if args.json else print(f"{p.agent_id} is present in {args.namespace}")
    return 0


@command
def _presence(args: argparse.Namespace) -> int:
    with open_memory(args) as mem:
        present = mem.presence(args.namespace)
    if args.json:
        print_json([p.to_dict() for p in present])
    else:
        rows = [[p.agent_id, p.info, when(p.since), p.lease_id] for p in present]
        print_table(["agent", "info", "since", "lease"], rows)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``lock`` and ``lease``."""
    lock = sub.add_parser("lock", help="take, release or inspect locks; run a command holding one")
    group = lock.add_subparsers(dest="action", required=True, metavar="ACTION")

    def target(p: argparse.ArgumentParser, ttl: bool = True) -> None:
        p.add_argument("namespace", metavar="NS")
        p.add_argument("name", metavar="NAME")
        if ttl:
            p.add_argument("--ttl", type=float, default=30.0, help="seconds a hold lives (30)")
            p.add_argument("--wait", type=float, default=10.0, help="seconds to wait (10)")

    r = group.add_parser("run", help="run a command while holding the lock (kept alive)")
    target(r)
    r.add_argument(
        "cmd",
        nargs=argparse.REMAINDER,
        metavar="-- CMD",
        help="the command (store options go before NS)",
    )
    add_store_args(r)
    r.set_defaults(func=_run)
    a = group.add_parser("acquire", help="take the lock (it lives --ttl seconds) and print it")
    target(a)
    add_store_args(a)
    a.set_defaults(func=_acquire)
    rel = group.add_parser("release", help="release a hold by its token")
    target(rel, ttl=False)
    rel.add_argument("hold_token", type=int, metavar="TOKEN")
    add_store_args(rel)
    rel.set_defaults(func=_release)
    i = group.add_parser("info", help="who holds the lock (holder, token, lease)")
    target(i, ttl=False)
    add_store_args(i)
    i.set_defaults(func=_info)

    lease = sub.add_parser("lease", help="grant, keep alive, revoke leases; presence")
    lg = lease.add_subparsers(dest="action", required=True, metavar="ACTION")
    g = lg.add_parser("grant", help="grant a lease of TTL seconds")
    g.add_argument("ttl", type=float, metavar="TTL")
    g.add_argument("--ns", help="its home namespace (default: a reserved one)")
    add_store_args(g)
    g.set_defaults(func=_grant)
    for name, fn, text in (
        ("keepalive", _keepalive, "extend a lease by its ttl"),
        ("revoke", _revoke, "end a lease (its entries, presence and locks go)"),
    ):
        p = lg.add_parser(name, help=text)
        p.add_argument("lease_id", metavar="LEASE_ID")
        add_store_args(p)
        p.set_defaults(func=fn)
    j = lg.add_parser("join", help="be present in a namespace while a lease lives")
    j.add_argument("namespace", metavar="NS")
    j.add_argument("lease_id", metavar="LEASE_ID")
    j.add_argument("--info", help="JSON the others see")
    add_store_args(j)
    j.set_defaults(func=_join)
    pr = lg.add_parser("presence", help="who is present in a namespace")
    pr.add_argument("namespace", metavar="NS")
    add_store_args(pr)
    pr.set_defaults(func=_presence)
