"""``hivemem demo``: a short, real multi-agent run against the embedded store.

A coordinator and three worker agents (threads) share one store (``./hivemem.db`` unless
``--url``; a server's ``http://`` URL with an admin token in ``$HIVEMEM_TOKEN`` works too):

1. the coordinator creates the ``demo.*`` namespaces (removing those of an earlier run):
   ``demo.tasks`` (merge strategy), ``demo.results`` (everyone reads, only the workers
   write), ``demo.locks`` (first-wins) and ``demo.counters``;
2. each worker subscribes to ``demo.tasks``, then all three race for the ``leader`` lock:
   exactly one wins;
3. the coordinator posts tasks; each worker handles its own, writes a result, merges
   ``status: done`` into the task and increments a shared counter by compare-and-set;
4. an ``observer`` tries to overwrite a result and is refused;
5. the coordinator watches the counter until every task is done, broadcasts ``shutdown``
   and prints the results, the store's stats and a summary of the audit log.
"""

from __future__ import annotations

import collections
import os
import queue
import sys
import threading
import time
from typing import TYPE_CHECKING, TextIO

import hivemem
from hivemem.cli._config import mark_settings
from hivemem.errors import (
    ConflictError,
    HivememError,
    InvalidArgument,
    NamespaceNotFound,
    PermissionDenied,
)

if TYPE_CHECKING:
    import argparse

    from hivemem.types import Event

__all__ = ["NAMESPACES", "WORKERS", "register", "run_demo"]

WORKERS = ("worker-1", "worker-2", "worker-3")
TASKS = {
    "task-1": "summarise the design notes",
    "task-2": "list open questions",
    "task-3": "draft the API tour",
    "task-4": "check the conflict strategies",
    "task-5": "review the audit log",
    "task-6": "write the release note",
}
NS_TASKS, NS_RESULTS, NS_LOCKS, NS_COUNTERS = (
    "demo.tasks",
    "demo.results",
    "demo.locks",
    "demo.counters",
)
NAMESPACES = (NS_TASKS, NS_RESULTS, NS_LOCKS, NS_COUNTERS)

#: Longest the demo waits for its agents before it gives up (it normally takes < 1 s).
TIMEOUT = 10.0


class _Say:
    """Thread-safe printing with the elapsed time and the speaking agent."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.start = time.perf_counter()
        self.lock = threading.Lock()

    def __call__(self, agent: str, text: str) -> None:
        with self.lock:
            print(
                f"[{time.perf_counter() - self.start:5.2f}s] {agent:<12} {text}",
                file=self.out,
                flush=True,
            )


def cas_increment(mem: hivemem.Memory, ns: str, key: str) -> tuple[int, int]:
    """Add 1 to a counter with compare-and-set; return ``(new value, retries)``."""
    retries = 0
    while True:
        entry = mem.get_entry(ns, key)
        current = entry.value if entry is not None else 0
        try:
            mem.write(ns, key, current + 1, expected_version=entry.version if entry else 0)
        except ConflictError:
            retries += 1
            continue
        return current + 1, retries


class _Agents:
    """One handle per agent of the demo.

    On an embedded store every agent is ``as_agent`` of one handle. A server token acts for
    one agent only, so over ``http://`` the admin token (``$HIVEMEM_TOKEN``) creates a token
    per agent for the run and revokes them at the end.
    """

    def __init__(self, url: str | None) -> None:
        self.url = url or os.environ.get("HIVEMEM_URL") or None
        self.server = self.url is not None and self.url.startswith(("http://", "https://"))
        self.admin = os.environ.get("HIVEMEM_TOKEN") or "" if self.server else ""
        self.base = None if self.server else hivemem.connect(self.url, agent="coordinator")
        self.handles: dict[str, hivemem.Memory] = {}
        self.minted: list[str] = []

    def __call__(self, agent: str) -> hivemem.Memory:
        if agent not in self.handles:
            if self.base is not None:
                self.handles[agent] = self.base.as_agent(agent)
            else:
                self.handles[agent] = hivemem.connect(self.url, token=self._mint(agent))
        return self.handles[agent]

    def _mint(self, agent: str) -> str:
        from hivemem.cli.token import admin_call

        assert self.url is not None
        if not self.admin:
            raise InvalidArgument(
                "the demo against a server needs an admin token in $HIVEMEM_TOKEN: it creates "
                "one token per agent (a server token acts for one agent only)"
            )
        body = {"agent": agent, "role": "agent", "label": "hivemem demo"}
        record = admin_call(self.url, self.admin, "POST", "/v1/tokens", body)
        self.minted.append(record["id"])
        return str(record["token"])

    def close(self) -> None:
        for handle in self.handles.values():
            handle.close()
        if self.base is not None:
            self.base.close()
        if self.minted:
            from hivemem.cli.token import admin_call

            assert self.url is not None
            for token_id in self.minted:
                admin_call(self.url, self.admin, "DELETE", f"/v1/tokens/{token_id}")


def _worker(
    me: hivemem.Memory,
    name: str,
    say: _Say,
    subscribed: threading.Barrier,
    race: threading.Barrier,
    done: dict[str, int],
) -> None:
    inbox: queue.Queue[Event] = queue.Queue()
    unsubscribe = me.subscribe(NS_TASKS, inbox.put)
    say(name, f"subscribed to {NS_TASKS}")
    try:
        subscribed.wait(TIMEOUT)
        race.wait(TIMEOUT)
        try:
            me.write(NS_LOCKS, "leader", {"agent": name})
            say(name, "took the 'leader' lock (first-wins)")
        except ConflictError as exc:
            say(name, f"lost the 'leader' lock: {exc.code} ({exc.reason})")
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                event = inbox.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if event.type == "memory:broadcast":
                say(name, f"received broadcast from {event.agent_id}: {event.message}")
                if isinstance(event.message, dict) and event.message.get("type") == "shutdown":
                    break
                continue
            task = event.value
            if (
                event.type != "memory:write"
                or event.key is None
                or not isinstance(task, dict)
                or task.get("assigned_to") != name
                or task.get("status") != "open"
            ):
                continue
            output = f"{task['title']}: done ({len(task['title'].split())} words considered)"
            me.write(NS_RESULTS, event.key, {"by": name, "output": output})
            me.write(NS_TASKS, event.key, {"status": "done", "done_by": name})
            count, retries = cas_increment(me, NS_COUNTERS, "done")
            done[name] = done.get(name, 0) + 1
            tries = f"{retries} {'retry' if retries == 1 else 'retries'}"
            say(name, f"finished {event.key}; 'done' counter -> {count} (compare-and-set, {tries})")
    finally:
        unsubscribe()


def _reset(coordinator: hivemem.Memory, say: _Say) -> None:
    removed = []
    existing = {info.name for info in coordinator.list_namespaces()}
    for ns in NAMESPACES:
        if ns not in existing:
            continue
        try:
            coordinator.delete_namespace(ns)
            removed.append(ns)
        except NamespaceNotFound:  # another process removed it meanwhile
            pass
    if removed:
        say("coordinator", f"removed the namespaces of an earlier run: {', '.join(removed)}")


def _setup(coordinator: hivemem.Memory, say: _Say) -> None:
    coordinator.create_namespace(
        NS_TASKS, conflict_strategy="merge", description="work items; workers merge their status in"
    )
    coordinator.create_namespace(
        NS_RESULTS,
        default_permission="read",
        permissions={"coordinator": "admin", **dict.fromkeys(WORKERS, "write")},
        description="results: everyone reads, only the workers write",
    )
    coordinator.create_namespace(
        NS_LOCKS,
        conflict_strategy="first-wins",
        description="locks: the first writer holds the key",
    )
    coordinator.create_namespace(NS_COUNTERS, description="shared counters (compare-and-set)")
    coordinator.write(NS_COUNTERS, "done", 0)
    say(
        "coordinator",
        f"created {NS_TASKS} (merge), {NS_RESULTS} (read for all, write for "
        f"{', '.join(WORKERS)}), {NS_LOCKS} (first-wins), {NS_COUNTERS}",
    )


def _wait_for_counter(coordinator: hivemem.Memory, since: int, say: _Say) -> int:
    value = coordinator.read(NS_COUNTERS, "done", default=0)
    if value >= len(TASKS):
        return int(value)
    for event in coordinator.watch(NS_COUNTERS, since=since, timeout=TIMEOUT):
        if event.type == "memory:write" and event.key == "done":
            value = event.value
            if isinstance(value, int) and value >= len(TASKS):
                say(
                    "coordinator",
                    f"watch on {NS_COUNTERS} saw 'done' reach {value} (revision {event.revision})",
                )
                break
    return int(coordinator.read(NS_COUNTERS, "done", default=0))


def _report(mem: hivemem.Memory, started_at: float, out: TextIO) -> None:
    print("\nResults (demo.results):", file=out)
    for key, result in sorted(mem.get_all(NS_RESULTS).items()):
        print(f"  {key:<7} by {result['by']:<9} {result['output']}", file=out)
    tasks = mem.get_all(NS_TASKS)
    statuses = collections.Counter(t.get("status") for t in tasks.values())
    leader = mem.read(NS_LOCKS, "leader", default={})
    print(
        f"\nTasks: {dict(statuses)}; counter 'done' = {mem.read(NS_COUNTERS, 'done')}; "
        f"leader lock held by {leader.get('agent')}",
        file=out,
    )

    stats = mem.stats()
    print(
        f"\nStats ({stats['backend']}): {stats['namespaces']} namespaces, "
        f"{stats['total_entries']} entries, {stats['total_access_logs']} audit records",
        file=out,
    )
    for ns in NAMESPACES:
        s = stats["per_namespace"].get(ns, {})
        print(
            f"  {ns:<14} {s.get('entries', 0):>3} entries  {s.get('bytes', 0):>5} bytes  "
            f"revision {s.get('revision', 0)}",
            file=out,
        )

    log = [r for r in mem.access_log(since=started_at, limit=100_000) if r.namespace in NAMESPACES]
    print(f"\nAccess log ({len(log)} records in this run):", file=out)
    by_agent: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for r in log:
        by_agent[r.agent_id][r.action] += 1
    for agent in sorted(by_agent):
        actions = ", ".join(f"{a} {n}" for a, n in sorted(by_agent[agent].items()))
        print(f"  {agent:<12} {actions}", file=out)
    denied = [r for r in log if not r.success]
    print(f"  refused: {len(denied)}", file=out)
    for r in sorted(denied, key=lambda r: r.timestamp):
        where = r.namespace if r.key is None else f"{r.namespace}/{r.key}"
        print(f"    {r.agent_id} {r.action} {where}: {r.error}", file=out)


def run_demo(url: str | None = None, out: TextIO | None = None) -> int:
    """Run the demo against the store at ``url``; return the exit status (0 = success).

    Args:
        url: A store URL (default: ``$HIVEMEM_URL`` or ``./hivemem.db``); a server's
            ``http://`` URL needs an admin token in ``$HIVEMEM_TOKEN``.
        out: Where to print (default: stdout).
    """
    out = sys.stdout if out is None else out
    say = _Say(out)
    try:
        agents = _Agents(url)
        mem = agents("coordinator")
    except HivememError as exc:
        print(f"hivemem demo: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    shown = agents.url or "the default store (./hivemem.db)"
    print(f"hivemem demo: a coordinator and {len(WORKERS)} workers sharing {shown}\n", file=out)
    try:
        _reset(mem, say)
        started_at = time.time()
        _setup(mem, say)
        subscribed = threading.Barrier(len(WORKERS) + 1)
        race = threading.Barrier(len(WORKERS))
        done: dict[str, int] = {}
        errors: list[BaseException] = []

        handles = {name: agents(name) for name in WORKERS}

        def work(name: str) -> None:
            try:
                _worker(handles[name], name, say, subscribed, race, done)
            except BaseException as exc:  # reported below; the demo then exits 1
                errors.append(exc)
                say(name, f"failed: {exc!r}")

        threads = [threading.Thread(target=work, args=(w,), name=f"demo-{w}") for w in WORKERS]
        for t in threads:
            t.start()
        subscribed.wait(TIMEOUT)
        since = mem.get_namespace(NS_COUNTERS).revision
        for i, (key, title) in enumerate(TASKS.items()):
            worker = WORKERS[i % len(WORKERS)]
            mem.write(NS_TASKS, key, {"title": title, "assigned_to": worker, "status": "open"})
            say("coordinator", f"posted {key} for {worker}: {title}")
        try:
            agents("observer").write(NS_RESULTS, "task-1", "overwritten")
        except PermissionDenied as exc:
            say("observer", f"tried to overwrite demo.results/task-1: {exc.code}")
        count = _wait_for_counter(mem, since, say)
        event = mem.broadcast(NS_TASKS, {"type": "shutdown", "reason": "all tasks done"})
        say("coordinator", f"broadcast shutdown (revision {event.revision})")
        for t in threads:
            t.join(TIMEOUT)
        _report(mem, started_at, out)
        ok = count == len(TASKS) and not errors and not any(t.is_alive() for t in threads)
        print("\ndemo finished: " + ("ok" if ok else "FAILED"), file=out)
        return 0 if ok else 1
    except HivememError as exc:
        print(f"hivemem demo: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    except threading.BrokenBarrierError:
        print(f"hivemem demo: the workers did not start within {TIMEOUT:g} s", file=sys.stderr)
        return 1
    finally:
        agents.close()


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``demo`` command."""
    p = sub.add_parser(
        "demo",
        help="run a short multi-agent demo on the embedded store",
        description="A coordinator and three worker agents share one store: namespaces, "
        "permissions, merge, first-wins lock, compare-and-set, subscriptions, "
        "broadcast, stats and audit log.",
    )
    p.add_argument(
        "--url",
        "--store",
        dest="url",
        metavar="URL",
        default=None,
        help="store URL or SQLite file path (default: ./hivemem.db; --store: an older name)",
    )
    mark_settings(p)
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    url: str | None = args.url
    if url is not None and "://" not in url:
        url = f"sqlite:///{url}"
    return run_demo(url)
