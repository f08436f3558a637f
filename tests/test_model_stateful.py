"""RELIABILITY T02: the embedded engine, model-checked with a Hypothesis state machine.

A pure-Python model of SPEC §1-§4 (namespaces, permissions, conflict strategies, versions,
TTL, revisions and the change log) runs side by side with a real store, once per backend
(``memory://`` and a SQLite file). Every rule computes the expected outcome from the model
alone -- value, version, owner, revision, or the exact error -- then performs the call and
compares. After every step the invariants compare the whole observable state: every live
entry (value, version, owner, revision, timestamps, expiry), every namespace (strategy,
permissions, revision) and the list of namespaces. ``watch(ns, since=r, timeout=0)`` must
return exactly the model's change log after ``r``.

The model never calls hivemem's own merge, conflict or permission code: it implements the
rules from the spec text.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
)

import hivemem

#: An agent the machine never grants or revokes: the invariants read everything through it.
AUDITOR = "auditor"
FIRST_AGENTS = ("a1", "a2")
MORE_AGENTS = ("a3", "b.4", "c@5")
ALL_AGENTS = FIRST_AGENTS + MORE_AGENTS
#: One namespace per conflict strategy, created by the first steps of every run.
STRATEGY_NAMESPACES = {"lw": "latest-wins", "fw": "first-wins", "mg": "merge", "vs": "version"}
#: Every name the rules address: ``default``, the strategy namespaces, and two names that
#: start missing (created by ``create_namespace`` or auto-created by a write).
NAMESPACES = ("default", *STRATEGY_NAMESPACES, "x1", "x2")
#: What data rules draw: the strategy namespaces twice as often as the others.
any_namespace = st.sampled_from((*STRATEGY_NAMESPACES, *NAMESPACES))
FIRST_KEYS = ("a", "b")
MORE_KEYS = ("c", "k/1", "ключ")
STRATEGIES = ("latest-wins", "first-wins", "merge", "version")
LEVEL = {None: 0, "read": 1, "write": 2, "admin": 3}
READ, WRITE, ADMIN = 1, 2, 3
SYSTEM = "system"

leaves = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["x", "y", ""]))
fields = st.sampled_from(["p", "q", "r"])
nested = st.recursive(
    leaves,
    lambda children: st.lists(children, max_size=2) | st.dictionaries(fields, children, max_size=2),
    max_leaves=4,
)
objects = st.dictionaries(fields, nested, min_size=1, max_size=3)
arrays = st.lists(nested, min_size=1, max_size=3)
#: Mostly objects and arrays, so merges of objects into objects and arrays into arrays
#: (and every mixed case) happen often.
json_values = st.one_of(objects, arrays, objects, arrays, leaves)
ttls = st.sampled_from([0.5, 1.0, 2.5, 10.0])


class ManualClock:
    """A ``time.time`` stand-in that moves only when the machine says so."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


# ---------------------------------------------------------------------------- the model


@dataclass
class MEntry:
    value: Any
    version: int
    owner: str
    revision: int
    created_at: float
    updated_at: float
    expires_at: float | None


@dataclass
class MNamespace:
    strategy: str
    default_permission: str | None
    permissions: dict[str, str | None]
    revision: int = 0
    #: Revisions up to here happened before the machine started (``default`` only).
    base: int = 0


@dataclass(frozen=True)
class MEvent:
    type: str
    namespace: str
    revision: int
    timestamp: float
    agent_id: str
    key: str | None = None
    value: Any = None
    version: int | None = None
    #: For ``namespace:created``: the config fields the event must carry.
    config: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Refused:
    """The error an op must raise (and leave everything unchanged)."""

    error: type[hivemem.HivememError]
    reason: str | None = None
    current_version: int | None = None


def canon(value: Any) -> str:
    """JSON text with sorted keys: equal only for equal JSON (``true`` is not ``1``)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def spec_merge(existing: Any, incoming: Any) -> Any:
    """SPEC §2 merge: objects deep-merge (incoming wins on a leaf), arrays concatenate
    (existing then incoming), anything else is replaced by the incoming value."""
    if type(existing) is dict and type(incoming) is dict:
        out = {}
        for k in existing.keys() | incoming.keys():
            if k in existing and k in incoming:
                out[k] = spec_merge(existing[k], incoming[k])
            else:
                out[k] = incoming[k] if k in incoming else existing[k]
        return out
    if type(existing) is list and type(incoming) is list:
        return [*existing, *incoming]
    return incoming


class HivememMachine(RuleBasedStateMachine):
    """Real store vs model. Subclasses pick the backend."""

    backend = "memory"

    agents = Bundle("agents")
    keys = Bundle("keys")

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.tmpdir: str | None = None
        if self.backend == "sqlite":
            self.tmpdir = tempfile.mkdtemp(prefix="hivemem-t02-")
            url = f"sqlite:///{self.tmpdir}/model.db"
        else:
            url = "memory://"
        self.mem = hivemem.connect(url, agent=AUDITOR, clock=self.clock, cleanup_interval=0)
        default = self.mem.get_namespace("default", AUDITOR)
        assert default.default_permission == "write"
        assert default.conflict_strategy == "latest-wins"
        assert AUDITOR not in default.permissions and not set(ALL_AGENTS) & set(default.permissions)
        self.ns: dict[str, MNamespace] = {
            "default": MNamespace(
                "latest-wins",
                "write",
                dict(default.permissions),
                default.revision,
                default.revision,
            )
        }
        self.entries: dict[tuple[str, str], MEntry] = {}  # expired-but-unswept included
        self.log: dict[str, list[MEvent]] = {"default": []}
        self.seen_revision: dict[str, int] = {"default": default.revision}

    def teardown(self) -> None:
        self.mem.close()
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    # ------------------------------------------------------------ model helpers
    @property
    def now(self) -> float:
        return self.clock.now

    def level(self, ns: str, agent: str) -> int:
        info = self.ns[ns]
        if agent in info.permissions:
            return LEVEL[info.permissions[agent]]
        return LEVEL[info.default_permission]

    def raw(self, ns: str, key: str) -> MEntry | None:
        return self.entries.get((ns, key))

    def live(self, ns: str, key: str) -> MEntry | None:
        e = self.entries.get((ns, key))
        if e is None or (e.expires_at is not None and e.expires_at <= self.now):
            return None
        return e

    def emit(self, ns: str, type_: str, agent: str, **fields: Any) -> int:
        info = self.ns[ns]
        info.revision += 1
        self.log[ns].append(MEvent(type_, ns, info.revision, self.now, agent, **fields))
        return info.revision

    def model_create(
        self,
        ns: str,
        creator: str,
        strategy: str,
        default_permission: str | None,
        permissions: dict[str, str | None],
    ) -> None:
        perms = dict(permissions)
        if creator not in perms:
            perms[creator] = "admin"
        revision = self.ns[ns].revision if ns in self.ns else 0
        self.ns[ns] = MNamespace(strategy, default_permission, perms, revision)
        self.log.setdefault(ns, [])
        self.seen_revision.setdefault(ns, 0)
        self.emit(
            ns,
            "namespace:created",
            creator,
            config={
                "name": ns,
                "conflict_strategy": strategy,
                "default_permission": default_permission,
                "permissions": dict(perms),
            },
        )

    def expire(self, ns: str, key: str) -> None:
        gone = self.entries.pop((ns, key))
        self.emit(ns, "memory:expired", SYSTEM, key=key, version=gone.version)

    # ------------------------------------------------------------ comparing outcomes
    def call(self, fn: Any, refused: Refused | None) -> Any:
        """Run ``fn``; if the model says it is refused, check the exact error."""
        if refused is None:
            return fn()
        with pytest.raises(refused.error) as info:
            fn()
        exc = info.value
        assert type(exc) is refused.error, f"expected {refused.error.__name__}, got {exc!r}"
        if refused.reason is not None:
            assert isinstance(exc, hivemem.ConflictError)
            assert (exc.reason, exc.current_version) == (refused.reason, refused.current_version), (
                exc
            )
        return None

    def assert_entry(self, ns: str, key: str, actual: hivemem.Entry | None) -> None:
        want = self.live(ns, key)
        if want is None:
            assert actual is None, f"{ns}/{key}: expected no entry, got {actual}"
            return
        assert actual is not None, f"{ns}/{key}: expected {want}, got nothing"
        got = (
            actual.namespace,
            actual.key,
            canon(actual.value),
            actual.version,
            actual.owner,
            actual.revision,
            actual.created_at,
            actual.updated_at,
            actual.expires_at,
        )
        assert got == (
            ns,
            key,
            canon(want.value),
            want.version,
            want.owner,
            want.revision,
            want.created_at,
            want.updated_at,
            want.expires_at,
        ), f"{ns}/{key}: store has {actual}, model has {want}"

    # ------------------------------------------------------------ bundles
    @initialize(target=agents)
    def init_agents(self) -> Any:
        return multiple(*FIRST_AGENTS)

    @initialize(target=keys)
    def init_keys(self) -> Any:
        return multiple(*FIRST_KEYS)

    @rule(target=agents, name=st.sampled_from(MORE_AGENTS))
    def new_agent(self, name: str) -> str:
        return name

    @rule(target=keys, key=st.sampled_from(MORE_KEYS))
    def new_key(self, key: str) -> str:
        return key

    @initialize(
        defaults=st.lists(
            st.sampled_from(["write", "write", "read", None]), min_size=4, max_size=4
        ),
        overrides=st.dictionaries(
            st.sampled_from(ALL_AGENTS),
            st.sampled_from([None, "read", "write", "admin"]),
            max_size=2,
        ),
        values=st.tuples(objects, arrays, json_values, json_values),
    )
    def init_strategy_namespaces(
        self,
        defaults: list[str | None],
        overrides: dict[str, str | None],
        values: tuple[Any, Any, Any, Any],
    ) -> None:
        """One namespace per conflict strategy, created by a1 with drawn permissions; the
        merge and first-wins ones start with a value in each first key (an object and an
        array in the merge one), so later writes merge or conflict from the first step on."""
        for (ns, strategy), default in zip(STRATEGY_NAMESPACES.items(), defaults, strict=True):
            self.create_namespace(ns, "a1", strategy, default, overrides)
        initial = iter(values)
        for ns in ("mg", "fw"):
            for key in FIRST_KEYS:
                self.do_write(ns, key, next(initial), "a1", None, 0)

    # ------------------------------------------------------------ namespaces
    @rule(
        ns=st.sampled_from(NAMESPACES),
        creator=agents,
        strategy=st.sampled_from(STRATEGIES),
        default_permission=st.sampled_from([None, "read", "write"]),
        overrides=st.dictionaries(
            st.sampled_from(ALL_AGENTS),
            st.sampled_from([None, "read", "write", "admin"]),
            max_size=2,
        ),
    )
    def create_namespace(
        self,
        ns: str,
        creator: str,
        strategy: str,
        default_permission: str | None,
        overrides: dict[str, str | None],
    ) -> None:
        permissions = {**overrides, AUDITOR: "read"}
        refused = Refused(hivemem.AlreadyExists) if ns in self.ns else None
        info = self.call(
            lambda: self.mem.create_namespace(
                ns,
                creator,
                conflict_strategy=strategy,
                default_permission=default_permission,
                permissions=permissions,
            ),
            refused,
        )
        if refused is None:
            self.model_create(ns, creator, strategy, default_permission, permissions)
            assert info.name == ns
            assert info.conflict_strategy == strategy
            assert info.default_permission == default_permission
            assert info.permissions == self.ns[ns].permissions
            assert info.revision == self.ns[ns].revision

    @rule(
        ns=any_namespace,
        admin=agents,
        target_agent=agents,
        level=st.sampled_from([None, "read", "write", "admin"]),
    )
    def update_permissions(self, ns: str, admin: str, target_agent: str, level: str | None) -> None:
        """Grant (a level) or revoke (``None``: remove the override) one agent's access."""
        if ns not in self.ns:
            refused: Refused | None = Refused(hivemem.NamespaceNotFound)
        elif self.level(ns, admin) < ADMIN:
            refused = Refused(hivemem.PermissionDenied)
        else:
            refused = None
        info = self.call(
            lambda: self.mem.update_permissions(ns, {target_agent: level}, admin), refused
        )
        if refused is None:
            perms = self.ns[ns].permissions
            if level is None:
                perms.pop(target_agent, None)
            else:
                perms[target_agent] = level
            self.emit(ns, "namespace:permissions_updated", admin)
            assert info.permissions == perms
            assert info.revision == self.ns[ns].revision

    @rule(ns=any_namespace, agent=agents)
    def clear_namespace(self, ns: str, agent: str) -> None:
        if ns not in self.ns:
            refused: Refused | None = Refused(hivemem.NamespaceNotFound)
        elif self.level(ns, agent) < ADMIN:
            refused = Refused(hivemem.PermissionDenied)
        else:
            refused = None
        removed = self.call(lambda: self.mem.clear_namespace(ns, agent), refused)
        if refused is None:
            live = [k for (n, k) in self.entries if n == ns and self.live(n, k)]
            for n, k in [nk for nk in self.entries if nk[0] == ns]:
                del self.entries[(n, k)]
            self.emit(ns, "namespace:cleared", agent)
            assert removed == len(live)

    # ------------------------------------------------------------ writes
    def model_write(
        self, ns: str, key: str, value: Any, agent: str, ttl: float | None, expected: int | None
    ) -> tuple[Refused | None, MEntry | None]:
        """What a write must do; applies it to the model unless refused."""
        info = self.ns.get(ns)
        if info is not None and self.level(ns, agent) < WRITE:
            return Refused(hivemem.PermissionDenied), None
        strategy = info.strategy if info is not None else "latest-wins"
        raw = self.raw(ns, key)
        cur = self.live(ns, key)
        current = cur.version if cur is not None else 0
        if expected is not None and expected != current:
            return Refused(hivemem.ConflictError, "version_mismatch", current), None
        if strategy == "version" and expected is None:
            return Refused(hivemem.ConflictError, "version_required", current), None
        if cur is None or strategy in ("latest-wins", "version"):
            new_value = value
        elif strategy == "first-wins":
            return Refused(hivemem.ConflictError, "first_wins", current), None
        else:
            new_value = spec_merge(cur.value, value)
        # Accepted: auto-create the namespace (writer = admin), sweep the expired entry
        # this write replaces, then the write itself.
        if info is None:
            self.model_create(ns, agent, "latest-wins", "write", {})
        if raw is not None and cur is None:
            self.expire(ns, key)
        revision = self.emit(
            ns, "memory:write", agent, key=key, value=new_value, version=current + 1
        )
        entry = MEntry(
            new_value,
            current + 1,
            agent,
            revision,
            cur.created_at if cur is not None else self.now,
            self.now,
            self.now + ttl if ttl is not None else None,
        )
        self.entries[(ns, key)] = entry
        return None, entry

    def do_write(
        self, ns: str, key: str, value: Any, agent: str, ttl: float | None, expected: int | None
    ) -> None:
        refused, _entry = self.model_write(ns, key, value, agent, ttl, expected)
        got = self.call(
            lambda: self.mem.write(ns, key, value, agent, ttl=ttl, expected_version=expected),
            refused,
        )
        if refused is None:
            self.assert_entry(ns, key, got)

    @rule(ns=any_namespace, key=keys, value=json_values, agent=agents)
    def put(self, ns: str, key: str, value: Any, agent: str) -> None:
        self.do_write(ns, key, value, agent, None, None)

    @rule(ns=any_namespace, key=keys, value=json_values, agent=agents, ttl=ttls)
    def put_with_ttl(self, ns: str, key: str, value: Any, agent: str, ttl: float) -> None:
        self.do_write(ns, key, value, agent, ttl, None)

    @rule(
        ns=any_namespace,
        key=keys,
        value=json_values,
        agent=agents,
        ttl=st.none() | ttls,
    )
    def cas_right_version(
        self, ns: str, key: str, value: Any, agent: str, ttl: float | None
    ) -> None:
        cur = self.live(ns, key) if ns in self.ns else None
        self.do_write(ns, key, value, agent, ttl, cur.version if cur is not None else 0)

    @rule(
        ns=any_namespace,
        key=keys,
        value=json_values,
        agent=agents,
        offset=st.integers(-2, 3).filter(bool),
    )
    def cas_wrong_version(self, ns: str, key: str, value: Any, agent: str, offset: int) -> None:
        cur = self.live(ns, key) if ns in self.ns else None
        current = cur.version if cur is not None else 0
        wrong = current + offset
        if wrong < 0:
            wrong = current + 1
        self.do_write(ns, key, value, agent, None, wrong)

    @rule(
        ns=any_namespace,
        key=keys,
        agent=agents,
        condition=st.sampled_from(["none", "right", "wrong"]),
    )
    def delete(self, ns: str, key: str, agent: str, condition: str) -> None:
        expected: int | None = None
        if ns not in self.ns:
            refused: Refused | None = Refused(hivemem.NamespaceNotFound)
        elif self.level(ns, agent) < WRITE:
            refused = Refused(hivemem.PermissionDenied)
        else:
            refused = None
        cur = self.live(ns, key) if ns in self.ns else None
        current = cur.version if cur is not None else 0
        if condition == "right":
            expected = current
        elif condition == "wrong":
            expected = current + 1
        if refused is None and expected is not None and expected != current:
            refused = Refused(hivemem.ConflictError, "version_mismatch", current)
        deleted = self.call(
            lambda: self.mem.delete(ns, key, agent, expected_version=expected), refused
        )
        if refused is not None:
            return
        raw = self.raw(ns, key)
        if raw is None:
            want = False
        elif cur is None:  # expired, not swept yet: the delete sweeps it
            self.expire(ns, key)
            want = False
        else:
            del self.entries[(ns, key)]
            self.emit(ns, "memory:delete", agent, key=key, version=cur.version)
            want = True
        assert deleted is want

    # ------------------------------------------------------------ reads
    @rule(ns=any_namespace, key=keys, agent=agents)
    def read(self, ns: str, key: str, agent: str) -> None:
        """A read returns the model's live entry; without read permission it raises
        PermissionDenied (and, as the invariants check, changes nothing)."""
        if ns not in self.ns:
            refused: Refused | None = Refused(hivemem.NamespaceNotFound)
        elif self.level(ns, agent) < READ:
            refused = Refused(hivemem.PermissionDenied)
        else:
            refused = None
        missing = object()
        value = self.call(lambda: self.mem.read(ns, key, agent, default=missing), refused)
        entry = self.call(lambda: self.mem.get_entry(ns, key, agent), refused)
        if refused is None:
            want = self.live(ns, key)
            if want is None:
                assert value is missing, f"{ns}/{key}: read {value!r}, model has no entry"
            else:
                assert canon(value) == canon(want.value)
            self.assert_entry(ns, key, entry)

    # ------------------------------------------------------------ time
    @rule(dt=st.sampled_from([0.25, 0.5, 1.0, 2.5, 5.0]), then_sweep=st.booleans())
    def advance_clock(self, dt: float, then_sweep: bool) -> None:
        """Move the injected clock; entries expire from that instant, swept or not."""
        self.clock.now += dt
        if then_sweep:
            self.sweep()

    def sweep(self) -> None:
        """``cleanup()`` removes every expired entry with a ``memory:expired`` event.

        Within one namespace the order of simultaneous expiries is the store's choice: the
        model fixes which events and which revisions, then adopts the store's order.
        """
        expired: dict[str, set[tuple[str, int]]] = {}
        for (ns, key), e in list(self.entries.items()):
            if e.expires_at is not None and e.expires_at <= self.now:
                expired.setdefault(ns, set()).add((key, e.version))
        before = {ns: self.ns[ns].revision for ns in expired}
        count = self.mem.cleanup()
        assert count == sum(len(v) for v in expired.values())
        for ns, want in expired.items():
            got = list(self.mem.watch(ns, AUDITOR, since=before[ns], timeout=0))
            assert [e.revision for e in got] == list(
                range(before[ns] + 1, before[ns] + len(want) + 1)
            )
            assert all(
                e.type == "memory:expired" and e.agent_id == SYSTEM and e.timestamp == self.now
                for e in got
            ), got
            assert {(e.key, e.version) for e in got} == want
            for event in got:
                del self.entries[(ns, event.key)]  # type: ignore[arg-type]
                self.emit(ns, "memory:expired", SYSTEM, key=event.key, version=event.version)

    # ------------------------------------------------------------ change log
    def assert_change_log(self, ns: str, since: int, agent: str = AUDITOR) -> None:
        """``watch(ns, since=r, timeout=0)`` returns exactly the model's log after r."""
        got = list(self.mem.watch(ns, agent, since=since, timeout=0))
        want = [e for e in self.log[ns] if e.revision > since]
        assert len(got) == len(want), (
            f"{ns} since {since}: got {[(e.type, e.revision) for e in got]}, "
            f"model {[(e.type, e.revision) for e in want]}"
        )
        for g, w in zip(got, want, strict=True):
            actual = MEvent(
                g.type,
                g.namespace,
                g.revision,
                g.timestamp,
                g.agent_id,
                g.key,
                canon(g.value),
                g.version,
            )
            assert actual == replace(w, value=canon(w.value)), (
                f"{ns} since {since}: store event {g}, model event {w}"
            )
            if w.type == "namespace:created":
                assert isinstance(g.message, dict), g
                assert {k: g.message.get(k) for k in w.config} == w.config, g

    @rule(data=st.data(), agent=agents, as_auditor=st.booleans())
    def watch(self, data: st.DataObject, agent: str, as_auditor: bool) -> None:
        """Resume a watch from any retained revision r: exactly the model's log after r.
        An agent without read permission is refused (and learns nothing)."""
        ns = data.draw(st.sampled_from(sorted(self.ns)), label="ns")
        info = self.ns[ns]
        since = data.draw(st.integers(info.base, info.revision), label="since")
        if as_auditor:
            self.assert_change_log(ns, since)
        elif self.level(ns, agent) < READ:
            with pytest.raises(hivemem.PermissionDenied):
                list(self.mem.watch(ns, agent, since=since, timeout=0))
        else:
            self.assert_change_log(ns, since, agent)

    # ------------------------------------------------------------ history (SPEC §20)
    def model_state_at(self, ns: str, key: str, rev: int) -> MEvent | None:
        """The write that held ``key`` after ``rev``, replayed from the model's log."""
        state: MEvent | None = None
        stamp: dict[int, float] = {}
        for e in self.log[ns]:
            stamp[e.revision] = e.timestamp
            if e.revision > rev:
                break
            if e.type in ("namespace:cleared", "namespace:deleted"):
                state = None
            elif e.key == key and e.type == "memory:write":
                state = e
            elif e.key == key and e.type in ("memory:delete", "memory:expired"):
                state = None
        raw = self.raw(ns, key)
        if (  # a stored entry unchanged since `rev` that had expired by then is not shown
            state is not None
            and raw is not None
            and raw.revision == state.revision
            and raw.expires_at is not None
            and rev in stamp
            and raw.expires_at <= stamp[rev]
        ):
            return None
        return state

    def model_history(self, ns: str, key: str) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        alive: MEvent | None = None
        for e in self.log[ns]:
            if e.type in ("namespace:cleared", "namespace:deleted"):
                if alive is not None:
                    gone = (canon(None), alive.version, e.revision, e.agent_id, e.timestamp, True)
                    out.append(gone)
                alive = None
            elif e.key == key and e.type == "memory:write":
                out.append((canon(e.value), e.version, e.revision, e.agent_id, e.timestamp, False))
                alive = e
            elif e.key == key and e.type in ("memory:delete", "memory:expired"):
                out.append((canon(None), e.version, e.revision, e.agent_id, e.timestamp, True))
                alive = None
        return out[::-1]

    @rule(data=st.data(), key=keys)
    def history_and_as_of(self, data: st.DataObject, key: str) -> None:
        """history equals the model's versions of the key; read/list_entries as of any
        revision since the machine started equal the model's replay up to it."""
        ns = data.draw(st.sampled_from(sorted(self.ns)), label="ns")
        info = self.ns[ns]
        got = [
            (canon(v.value), v.version, v.revision, v.agent_id, v.updated_at, v.deleted)
            for v in self.mem.history(ns, key, limit=1000, agent=AUDITOR)
        ]
        assert got == self.model_history(ns, key), (ns, key)
        rev = data.draw(st.integers(info.base, info.revision), label="rev")
        want = self.model_state_at(ns, key, rev)
        entry = self.mem.get_entry(ns, key, AUDITOR, as_of=rev)
        if want is None:
            assert entry is None, (ns, key, rev, entry)
        else:
            assert entry is not None, (ns, key, rev)
            assert (canon(entry.value), entry.version, entry.owner, entry.revision) == (
                canon(want.value),
                want.version,
                want.agent_id,
                want.revision,
            )
        page = self.mem.list_entries(ns, AUDITOR, limit=1000, as_of=rev)
        listed = {e.key: (canon(e.value), e.version) for e in page.items}
        model = {}
        for k in {e.key for e in self.log[ns] if e.key is not None}:
            if (w := self.model_state_at(ns, k, rev)) is not None:
                model[k] = (canon(w.value), w.version)
        assert listed == model, (ns, rev)

    # ------------------------------------------------------------ invariants
    @invariant()
    def state_matches_model(self) -> None:
        names = {info.name for info in self.mem.list_namespaces(AUDITOR)}
        assert names == set(self.ns), f"namespaces: store {names}, model {set(self.ns)}"
        for ns, model in self.ns.items():
            info = self.mem.get_namespace(ns, AUDITOR)
            assert (info.conflict_strategy, info.default_permission, info.permissions) == (
                model.strategy,
                model.default_permission,
                model.permissions,
            ), (ns, info)
            # Revisions: equal to the model's, never backwards, strictly up on a change.
            assert info.revision == model.revision, (
                f"{ns}: store revision {info.revision}, model {model.revision}"
            )
            assert info.revision >= self.seen_revision[ns]
            self.seen_revision[ns] = info.revision

            page = self.mem.list_entries(ns, AUDITOR, limit=1000)
            stored = {e.key: e for e in page.items}
            want = {k for (n, k) in self.entries if n == ns and self.live(n, k)}
            assert set(stored) == want, f"{ns}: store keys {set(stored)}, model {want}"
            for key, entry in stored.items():
                self.assert_entry(ns, key, entry)
            revisions = [e.revision for e in stored.values()]
            assert len(set(revisions)) == len(revisions)
            assert all(0 < r <= info.revision for r in revisions)

    @invariant()
    def change_log_matches_model(self) -> None:
        """The model's log is gap-free, and the store's whole log (from the machine's start)
        is exactly the model's, for every namespace."""
        for ns, events in self.log.items():
            base = self.ns[ns].base
            assert [e.revision for e in events] == list(range(base + 1, base + len(events) + 1))
            self.assert_change_log(ns, base)


class SQLiteMachine(HivememMachine):
    backend = "sqlite"


#: CI: 50 examples x 40 steps (RELIABILITY T02); ``RELIABILITY_SLOW=1``: the nightly 500 x 100.
SLOW = os.environ.get("RELIABILITY_SLOW") == "1"
SETTINGS = settings(
    max_examples=500 if SLOW else 50,
    stateful_step_count=100 if SLOW else 40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

TestModelMemory = HivememMachine.TestCase
TestModelMemory.settings = SETTINGS
TestModelSQLite = SQLiteMachine.TestCase
TestModelSQLite.settings = SETTINGS
