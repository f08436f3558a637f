r"""Task queues (SPEC §19) as engine-internal records, atomic on every backend.

A queue ``q`` of namespace ``ns`` is a handful of internal records (kind ``"q"``, see
:mod:`hivemem.engine.reserved`) in that namespace::

    \x01q/<q>/m                     meta: {seq, ready, claimed, delayed, dead} (O(1) stats)
    \x01q/<q>/t/<id>                a task: value, priority, attempts, state, claim...
    \x01q/<q>/r/<prio><seq>         ready index: inverted priority (8 hex) then put order
                                    (16 hex), so key order is "highest priority, then FIFO"
    \x01q/<q>/v/<ms>/<id>           time index of claimed and delayed tasks, by the instant
                                    (ms, 12 hex, rounded up) they become claimable
    \x01q/<q>/d/<seq>               dead letters, in order of death
    \x01q/<q>/k/<hash>              a put's dedupe key, expiring after idempotency_ttl

``seq`` in the meta record counts puts, claims and deaths of the queue: it orders puts
(FIFO), numbers claims (a claim's *token*) and orders dead letters. It only grows while the
queue has records; tokens only need to be unique among the claims of live tasks, whose ids
are random, so a queue cleared and started again cannot confuse them. (Revisions would
serve too, but inside an op a Redis commit only knows placeholders for them.)

Every op reads and writes a bounded number of records: a claim first returns at most
:data:`DUE_BATCH` due tasks from the time index (claims whose visibility lapsed go back to
ready, or to the dead letters once they were claimed ``max_attempts`` times; delays that
ended become ready), then takes the first ready one (one row scanned). A lapsed claim is
returned by the next claim of its queue, not by a timer: ``stats()`` counts it as claimed
until then, and ``ack``/``nack``/``extend`` refuse it at once (``claim_lost``).

Events (in the namespace's stream, ``message`` = ``{"queue", "id", ...}``): ``task:put``,
``task:claimed``, ``task:acked``, ``task:nacked``, ``task:extended``, ``task:returned``
(a lapsed claim back to ready) and ``task:dead``. A delay that ends is no event.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import TYPE_CHECKING, Any

from hivemem import _codec
from hivemem._validate import MAX_INT, MAX_TTL
from hivemem.engine import apply
from hivemem.engine import ops as o
from hivemem.engine.permissions import READ, WRITE, require
from hivemem.engine.reserved import internal_key
from hivemem.engine.txn import Stored
from hivemem.errors import ConflictError, InvalidArgument, NotFound
from hivemem.types import Page, QueueInfo, Task

if TYPE_CHECKING:
    from hivemem.engine.apply import Ctx

__all__ = [
    "DUE_BATCH",
    "HANDLERS",
    "KIND",
    "MAX_ATTEMPTS",
    "MAX_DEAD_LETTERS",
    "MAX_QUEUE_LIST",
    "check_dedupe",
    "check_delay",
    "check_max_attempts",
    "check_priority",
    "check_queue",
    "check_task_id",
    "check_token",
    "check_visibility",
    "check_worker",
]

#: The kind of every queue record.
KIND = "q"
#: Most due tasks one claim moves out of the time index (the rest wait for the next claim).
DUE_BATCH = 64
#: Largest ``max_attempts`` a queue may set.
MAX_ATTEMPTS = 1000
#: Most dead letters one ``dead_letters`` call returns.
MAX_DEAD_LETTERS = 10_000
#: Most queues one ``list_queues`` page holds (each is a scan of one row and one read).
MAX_QUEUE_LIST = 100
#: Priorities are 32-bit signed integers (the ready index keeps them in 8 hex digits).
_PRIO = 1 << 31
_QUEUE = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_TASK_ID = re.compile(r"[0-9a-f]{32}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# ---------------------------------------------------------------- argument checks
# (The Python API checks early; the engine checks again, so HTTP bodies and hand-built
# ops get the same answers.)


def check_queue(name: Any) -> str:
    """Return a valid queue name: 1-128 characters of ``A-Za-z0-9._:-``."""
    if type(name) is not str or not _QUEUE.fullmatch(name):
        raise InvalidArgument(
            f"invalid queue name {name!r}: use 1-128 characters of A-Z a-z 0-9 . _ : -"
        )
    return name


def _seconds(value: Any, what: str, *, zero: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgument(f"invalid {what} {value!r}: give seconds as a number")
    low_ok = value >= 0 if zero else value > 0
    if not (low_ok and value <= MAX_TTL):  # (NaN fails every comparison)
        low = "0 or more" if zero else "above 0"
        raise InvalidArgument(
            f"invalid {what} {value!r}: give seconds, a number {low} and at most {MAX_TTL} "
            "(10 years)"
        )
    return float(value)


def check_visibility(value: Any) -> float:
    """Return a claim's visibility: seconds above 0, at most ``MAX_TTL``."""
    return _seconds(value, "visibility", zero=False)


def check_delay(value: Any) -> float:
    """Return a delay: seconds from 0 to ``MAX_TTL``."""
    return _seconds(value, "delay", zero=True)


def check_priority(value: Any) -> int:
    """Return a priority: a 32-bit signed integer."""
    if isinstance(value, bool) or not isinstance(value, int) or not -_PRIO <= value < _PRIO:
        raise InvalidArgument(
            f"invalid priority {value!r}: give an integer from {-_PRIO} to {_PRIO - 1}"
        )
    return value


def check_max_attempts(value: Any) -> int:
    """Return ``max_attempts``: an integer from 1 to :data:`MAX_ATTEMPTS`."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ATTEMPTS:
        raise InvalidArgument(
            f"invalid max_attempts {value!r}: give an integer from 1 to {MAX_ATTEMPTS}"
        )
    return value


def check_task_id(value: Any) -> str:
    """Return a task id: 32 lowercase hex digits."""
    if type(value) is not str or not _TASK_ID.fullmatch(value):
        raise InvalidArgument(f"invalid task id {value!r}: task ids are 32 hex digits")
    return value


def check_token(value: Any) -> int:
    """Return a claim token: an integer from 0."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INT:
        raise InvalidArgument(f"invalid claim token {value!r}: pass the claimed Task")
    return value


def check_worker(value: Any) -> str | None:
    """Return a worker label (``None``: the agent): 1-200 characters, no control ones."""
    if value is None:
        return None
    if type(value) is not str or not 1 <= len(value) <= 200 or _CONTROL.search(value):
        raise InvalidArgument(
            f"invalid worker {value!r}: give 1-200 characters without control characters"
        )
    return value


def check_dedupe(value: Any) -> str | None:
    """Return a put's idempotency key: 1-200 characters, or ``None``."""
    if value is None:
        return None
    if type(value) is not str or not 1 <= len(value) <= 200:
        raise InvalidArgument(f"invalid idempotency_key {value!r}: give 1-200 characters")
    return value


# ---------------------------------------------------------------- records


def _key(queue: str, rest: str) -> str:
    return internal_key(KIND, f"{queue}/{rest}")


def _ready_key(queue: str, priority: int, seq: int) -> str:
    return _key(queue, f"r/{_PRIO - 1 - priority:08x}{seq:016x}")


def _time_key(queue: str, at: float, task_id: str) -> str:
    # Rounded up: a key whose instant has passed names a task that is due.
    return _key(queue, f"v/{max(0, math.ceil(at * 1000)):012x}/{task_id}")


class _Queue:
    """One queue as seen inside one op: its meta record and the records it touches."""

    def __init__(self, ctx: Ctx, ns: str, name: str, prefetch: tuple[str, ...] = ()) -> None:
        self.ctx, self.ns, self.name = ctx, ns, name
        self.meta_key = _key(name, "m")
        # One read of every record the op is known to need (a Redis op fetches what it
        # lacks round by round; each round is a window for a conflicting commit).
        self.meta_raw = ctx.tx.entries_get(ns, [self.meta_key, *prefetch])[0]
        data = _codec.decode(self.meta_raw.value_json) if self.meta_raw else {}
        self.meta: dict[str, int] = {
            f: int(data.get(f, 0)) for f in ("seq", "ready", "claimed", "delayed", "dead")
        }
        self.meta_before = dict(self.meta)
        #: Ready index records this op wrote: a scan need not see an op's own writes (Redis
        #: scans what is committed), so a claim looks at these besides.
        self.fresh_ready: list[tuple[str, str]] = []

    # -- storage
    def write(
        self, key: str, data: Any, old: Stored | None, expires_at: float | None = None
    ) -> None:
        """Write a record (``old``: what the key held, so versions and counts stay exact)."""
        now = self.ctx.now
        stored = Stored(
            _codec.encode(data),
            "",
            old.version + 1 if old is not None else 1,
            self.ctx.tx.rev_get(self.ns),
            old.created_at if old is not None else now,
            now,
            expires_at,
        )
        self.ctx.tx.entry_put(self.ns, key, stored)

    def delete(self, key: str) -> None:
        self.ctx.tx.entry_delete(self.ns, key)

    def next_seq(self) -> int:
        self.meta["seq"] += 1
        return self.meta["seq"]

    def move(self, before: str | None, after: str | None) -> None:
        """Count a task leaving state ``before`` for ``after`` (``None``: none)."""
        if before is not None:
            self.meta[before] -= 1
        if after is not None:
            self.meta[after] += 1

    def save(self) -> None:
        if self.meta != self.meta_before:
            self.write(self.meta_key, self.meta, self.meta_raw)

    # -- tasks
    def task_key(self, task_id: str) -> str:
        return _key(self.name, f"t/{task_id}")

    def load(self, task_id: str) -> tuple[dict[str, Any] | None, Stored | None]:
        raw = self.ctx.tx.entry_get(self.ns, self.task_key(task_id))
        return (_codec.decode(raw.value_json) if raw is not None else None), raw

    def public(self, task_id: str, rec: dict[str, Any]) -> Task:
        return Task(
            task_id,
            rec["value"],
            rec["priority"],
            rec["attempts"],
            rec["claimed_by"] if rec["state"] == "claimed" else None,
            rec["visible_at"],
            rec["enqueued_at"],
            self.ns,
            self.name,
            rec["token"] if rec["state"] == "claimed" else 0,
            rec["state"],
        )

    def place(self, task_id: str, rec: dict[str, Any], state: str, at: float | None) -> None:
        """Index the task in ``state`` (ready, delayed until / claimed until ``at``, dead)."""
        if state == "ready":
            index = _ready_key(self.name, rec["priority"], rec["seq"])
            self.write(index, task_id, None)
            self.fresh_ready.append((index, task_id))
            at = None
        elif state == "dead":
            index = _key(self.name, f"d/{self.next_seq():016x}")
            self.write(index, task_id, None)
            at = None
        else:
            assert at is not None
            index = _time_key(self.name, at, task_id)
            ref = [task_id, rec["priority"], rec["seq"]]
            self.write(index, ref, self.ctx.tx.entry_get(self.ns, index))
        rec["state"], rec["index"], rec["visible_at"] = state, index, at
        if state != "claimed":
            rec["claimed_by"] = rec["agent"] = None
            rec["token"] = 0

    def unplace(self, rec: dict[str, Any]) -> None:
        self.delete(rec["index"])

    def emit(self, type_: str, agent: str, task_id: str, **fields: Any) -> None:
        self.ctx.emit(type_, self.ns, agent, message={"queue": self.name, "id": task_id, **fields})

    def due(self, rows: list[tuple[str, list[Any]]], max_attempts: int) -> None:
        """Make the due tasks of the time index (``rows``, from :func:`_due_rows`) claimable."""
        for index, (task_id, _prio, _seq) in rows:
            rec, traw = self.load(task_id)
            if rec is None or rec["index"] != index:
                self.delete(index)  # (cannot happen: every move rewrites both; be safe)
                continue
            self.delete(index)
            if rec["state"] == "delayed":
                self.place(task_id, rec, "ready", None)
                self.move("delayed", "ready")
            elif rec["attempts"] >= max_attempts:
                self.emit("task:dead", SYSTEM, task_id, attempts=rec["attempts"],
                          reason="max_attempts")  # fmt: skip
                self.place(task_id, rec, "dead", None)
                self.move("claimed", "dead")
            else:
                worker = rec["claimed_by"]
                self.emit("task:returned", SYSTEM, task_id, attempts=rec["attempts"],
                          worker=worker, reason="visibility")  # fmt: skip
                self.place(task_id, rec, "ready", None)
                self.move("claimed", "ready")
            self.write(self.task_key(task_id), rec, traw)

    def held(self, op: o.QueueAck | o.QueueNack | o.QueueExtend) -> tuple[dict[str, Any], Stored]:
        """The task of a claim the op's agent holds now; else ``claim_lost`` or not found."""
        task_id = check_task_id(op.task_id)
        token = check_token(op.token)
        rec, raw = self.load(task_id)
        if rec is None or raw is None:
            if token > 0:
                raise ConflictError(
                    f"task {task_id} of queue {self.name!r} is gone (acked by a later claim's "
                    "holder, or dead): this claim lapsed",
                    reason="claim_lost",
                    task=task_id,
                )
            raise NotFound(
                f"queue {self.name!r} of namespace {self.ns!r} holds no task {task_id}",
                task=task_id,
            )
        if rec["state"] != "claimed" or rec["token"] != token or rec["agent"] != op.agent:
            raise ConflictError(
                f"task {task_id} of queue {self.name!r} is not claimed by this claim "
                f"(token {token}, agent {op.agent!r}): another claim holds it or it was given "
                "back",
                reason="claim_lost",
                task=task_id,
            )
        if rec["visible_at"] <= self.ctx.now:
            raise ConflictError(
                f"the claim of task {task_id} of queue {self.name!r} lapsed at "
                f"{rec['visible_at']}: the task is claimable again",
                reason="claim_lost",
                task=task_id,
            )
        return rec, raw


def _due_rows(ctx: Ctx, ns: str, name: str) -> list[tuple[str, list[Any]]]:
    """The time index's due rows (at most :data:`DUE_BATCH`): ``(key, [id, prio, seq])``."""
    prefix = _key(name, "v/")
    now_ms = ctx.now * 1000
    rows = []
    for index, raw in ctx.tx.entries_scan(ns, prefix, None, DUE_BATCH):
        if int(index[len(prefix) : len(prefix) + 12], 16) > now_ms:
            break  # (the index is in time order)
        rows.append((index, _codec.decode(raw.value_json)))
    return rows


#: The agent that returns lapsed claims (the store itself).
SYSTEM = apply.SYSTEM_AGENT


# ---------------------------------------------------------------- handlers


def queue_put(ctx: Ctx, op: o.QueuePut) -> Task:
    name = check_queue(op.queue)
    priority = check_priority(op.priority)
    delay = check_delay(op.delay)
    dedupe = check_dedupe(op.dedupe)
    task_id = check_task_id(op.task_id)
    info = apply._namespace(ctx, op, op.ns, WRITE, create=True, entries=False)
    q = _Queue(ctx, info.name, name)
    dkey = draw = None
    if dedupe is not None:
        dkey = _key(name, "k/" + hashlib.sha256(dedupe.encode()).hexdigest()[:32])
        draw = ctx.tx.entry_get(info.name, dkey)
        if draw is not None and apply._live(draw, ctx.now) is not None:
            return Task.from_dict(_codec.decode(draw.value_json))
    cap = apply.entry_cap(info, ctx.settings)
    if cap is not None:
        apply._check_room(ctx, info, cap)
    if ctx.tx.entry_get(info.name, q.task_key(task_id)) is not None:
        raise InvalidArgument(f"task id {task_id} is taken in queue {name!r}")
    rec: dict[str, Any] = {
        "value": _codec.decode(op.value_json),
        "priority": priority,
        "attempts": 0,
        "claimed_by": None,
        "agent": None,
        "visible_at": None,
        "enqueued_at": ctx.now,
        "state": "ready",
        "seq": q.next_seq(),
        "token": 0,
        "index": "",
    }
    q.emit("task:put", op.agent, task_id, priority=priority, delay=delay)
    if delay > 0:
        q.place(task_id, rec, "delayed", ctx.now + delay)
    else:
        q.place(task_id, rec, "ready", None)
    q.move(None, rec["state"])
    q.write(q.task_key(task_id), rec, None)
    q.save()
    task = q.public(task_id, rec)
    if dkey is not None:
        q.write(dkey, task.to_dict(), draw, ctx.now + ctx.settings.idempotency_ttl)
    return task


def queue_claim(ctx: Ctx, op: o.QueueClaim) -> Task | None:
    name = check_queue(op.queue)
    visibility = check_visibility(op.visibility)
    max_attempts = check_max_attempts(op.max_attempts)
    worker = check_worker(op.worker)
    info = ctx.tx.ns_get(op.ns)
    if info is None:
        return None  # nothing was ever put: nothing to claim (a worker may start first)
    require(info, op.agent, WRITE, op.admin)
    ns = info.name
    due = _due_rows(ctx, ns, name)
    rows = ctx.tx.entries_scan(ns, _key(name, "r/"), None, 1)
    first = [(k, _codec.decode(raw.value_json)) for k, raw in rows]
    # Everything this claim will read or write, as far as the two scans tell, at once.
    want: list[str] = []
    for index, (task_id, prio, seq) in due:
        want += [index, _key(name, f"t/{task_id}"), _ready_key(name, prio, seq)]
    for index, task_id in first:
        want += [index, _key(name, f"t/{task_id}"), _time_key(name, ctx.now + visibility, task_id)]
    q = _Queue(ctx, ns, name, tuple(want))
    if q.meta_raw is None:
        return None
    q.due(due, max_attempts)
    ready = first + q.fresh_ready
    if not ready:
        if q.meta["ready"] > 0:
            # The counts say a task is ready, the scan found none: on a store whose reads
            # are not one snapshot (Redis), another claim took it in between. Rewriting the
            # meta record makes this answer a commit, which checks what the op read (and
            # runs it again if that moved); where reads are one snapshot it changes nothing.
            q.meta_before = {}
        q.save()
        return None
    index, task_id = min(ready)
    rec, traw = q.load(task_id)
    q.delete(index)
    if rec is None:  # (cannot happen: every move rewrites both; be safe)
        q.move("ready", None)
        q.save()
        return None
    rec["attempts"] += 1
    q.emit("task:claimed", op.agent, task_id, attempts=rec["attempts"], worker=worker or op.agent)
    q.place(task_id, rec, "claimed", ctx.now + visibility)
    rec["claimed_by"], rec["agent"], rec["token"] = worker or op.agent, op.agent, q.next_seq()
    q.move("ready", "claimed")
    q.write(q.task_key(task_id), rec, traw)
    q.save()
    return q.public(task_id, rec)


def _held(ctx: Ctx, op: o.QueueAck | o.QueueNack | o.QueueExtend) -> tuple[_Queue, Any, Stored]:
    name = check_queue(op.queue)
    info = apply._namespace(ctx, op, op.ns, WRITE, entries=False)
    q = _Queue(ctx, info.name, name, (_key(name, f"t/{check_task_id(op.task_id)}"),))
    rec, raw = q.held(op)
    return q, rec, raw


def queue_ack(ctx: Ctx, op: o.QueueAck) -> None:
    q, rec, _raw = _held(ctx, op)
    q.emit("task:acked", op.agent, op.task_id, attempts=rec["attempts"])
    q.unplace(rec)
    q.delete(q.task_key(op.task_id))
    q.move("claimed", None)
    q.save()


def queue_nack(ctx: Ctx, op: o.QueueNack) -> None:
    delay = check_delay(op.delay)
    max_attempts = check_max_attempts(op.max_attempts)
    q, rec, raw = _held(ctx, op)
    q.emit("task:nacked", op.agent, op.task_id, attempts=rec["attempts"], delay=delay)
    q.unplace(rec)
    if rec["attempts"] >= max_attempts:
        q.emit("task:dead", op.agent, op.task_id, attempts=rec["attempts"], reason="max_attempts")
        state, at = "dead", None
    elif delay > 0:
        state, at = "delayed", ctx.now + delay
    else:
        state, at = "ready", None
    q.place(op.task_id, rec, state, at)
    q.move("claimed", state)
    q.write(q.task_key(op.task_id), rec, raw)
    q.save()


def queue_extend(ctx: Ctx, op: o.QueueExtend) -> Task:
    visibility = check_visibility(op.visibility)
    q, rec, raw = _held(ctx, op)
    at = ctx.now + visibility
    q.emit("task:extended", op.agent, op.task_id, visible_at=at)
    q.unplace(rec)
    q.place(op.task_id, rec, "claimed", at)  # (the claim itself is kept)
    q.write(q.task_key(op.task_id), rec, raw)
    return q.public(op.task_id, rec)


def queue_stats(ctx: Ctx, op: o.QueueStats) -> dict[str, int]:
    name = check_queue(op.queue)
    info = apply._namespace(ctx, op, op.ns, READ)
    q = _Queue(ctx, info.name, name)
    return {f: q.meta[f] for f in ("ready", "claimed", "delayed", "dead")}


def queue_dead_letters(ctx: Ctx, op: o.QueueDeadLetters) -> list[Task]:
    name = check_queue(op.queue)
    limit = op.limit
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_DEAD_LETTERS:
        raise InvalidArgument(
            f"invalid limit {limit!r}: give an integer from 1 to {MAX_DEAD_LETTERS}"
        )
    info = apply._namespace(ctx, op, op.ns, READ)
    q = _Queue(ctx, info.name, name)
    rows = ctx.tx.entries_scan(info.name, _key(name, "d/"), None, limit)
    ids = [_codec.decode(raw.value_json) for _, raw in rows]
    stored = ctx.tx.entries_get(info.name, [q.task_key(i) for i in ids])
    return [q.public(i, _codec.decode(s.value_json)) for i, s in zip(ids, stored, strict=True) if s]


def list_queues(ctx: Ctx, op: o.ListQueues) -> Page[QueueInfo]:
    """The namespace's queues with their counts, in the order of their records' keys.

    Queues have no index of their own: each step scans one row after the previous queue's
    records (``<name>/`` then a character above every one a record key uses), so a page of
    ``limit`` queues costs ``limit + 1`` one-row scans and one read of their meta records,
    however many tasks the queues hold.
    """
    limit = op.limit
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_QUEUE_LIST:
        raise InvalidArgument(
            f"invalid limit {limit!r}: give an integer from 1 to {MAX_QUEUE_LIST}"
        )
    info = apply._namespace(ctx, op, op.ns, READ)
    base = internal_key(KIND, "")
    after = _past(base, apply._decode_cursor(op.cursor)) if op.cursor else None
    names: list[str] = []
    more = False
    while True:
        rows = ctx.tx.entries_scan(info.name, base, after, 1)
        if not rows:
            break
        if len(names) == limit:
            more = True
            break
        names.append(rows[0][0][len(base) :].partition("/")[0])
        after = _past(base, names[-1])
    # Every meta record in one read (one round trip where reads are round trips).
    metas = ctx.tx.entries_get(info.name, [_key(n, "m") for n in names])
    items = []
    for name, raw in zip(names, metas, strict=True):
        m = _codec.decode(raw.value_json) if raw is not None else {}
        ready, claimed, delayed, dead = (int(m.get(f, 0)) for f in _COUNTS)
        items.append(QueueInfo(name, ready, claimed, delayed, dead, info.name))
    return Page(items, apply._encode_cursor(names[-1]) if more else None)


_COUNTS = ("ready", "claimed", "delayed", "dead")


def _past(base: str, name: str) -> str:
    """A key above every record key of queue ``name`` and below the next queue's."""
    # Record keys after "<name>/" are ASCII; a name that extends this one with a character
    # below "/" sorts before it (met already), above "/" after this bound.
    return f"{base}{name}/\x7f"


HANDLERS: dict[type, Any] = {
    o.QueuePut: queue_put,
    o.QueueClaim: queue_claim,
    o.QueueAck: queue_ack,
    o.QueueNack: queue_nack,
    o.QueueExtend: queue_extend,
    o.QueueStats: queue_stats,
    o.QueueDeadLetters: queue_dead_letters,
    o.ListQueues: list_queues,
}
