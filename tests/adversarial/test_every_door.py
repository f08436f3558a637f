"""Arbitrary JSON through every write door, then every read, each with a deadline (issue 15).

Hypothesis draws values an attacker with an ordinary agent token can send — deep, wide,
unicode (astral, U+FFFF, U+D7FF), integers beyond 64 bits, floats at their limits, values
shaped like the engine's own records (list headers ``{"$list": [...]}`` with absurd spans,
long-term memory records, internal keys ``_v/…``, ``_r/…``, ``_p/…``, ``_memories``), keys of
1,000 bytes, with ``/`` and ``%``, invalid UTF-8 in the path — and writes them through one
door per test: an entry PUT, a batch (atomic or not), ``POST /shared-memory``, conversation
fields, lists and messages, memories add/update, namespace create/PATCH with odd configs,
prefix delete/expire, list push/insert/remove. Then it runs every read and list operation
over what was written: entry GET, listings by prefix, list items, conversation reads,
memories search/semantic search/children/related/decay, events ``since`` (huge values too),
stats, audit, ``GET /shared-memory``.

Every request has a 15 s deadline (conftest.REQUEST_TIMEOUT). The assertions, for every request:

- never a 5xx, never a timeout, and ``/healthz`` still answers;
- a refused request (4xx) changed nothing: the affected namespace (its config, revision and
  every entry with its version) is the same before and after;
- an error body is ``{"error": {"code": <stable snake_case code>, "message": ...}}`` and the
  code is never ``internal``.

Each example writes into a namespace of its own (created by the ordinary agent), so the
snapshots stay small. A server left wedged by an example fails that test; the ``live``
fixture starts a fresh one for the next. Shrinking is off: a wedged server makes every
shrink step cost the full deadline, and the first failing example says enough.
"""

from __future__ import annotations

import itertools
import re
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.adversarial.conftest import SHARED_NS, LiveServer, describe

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

#: Examples per door and store (the module's runtime grows with it).
EXAMPLES = 8
#: A failing example's repr can be long (values of 100 kB): Hypothesis warns, pytest errors.
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,  # each request has its own deadline instead
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
    report_multiple_bugs=False,
)
#: A stable error code: snake_case, as :mod:`hivemem.errors` names them.
CODE = re.compile(r"^[a-z][a-z_]*[a-z]$")
_names = itertools.count()

# ------------------------------------------------------------------------------ strategies

#: Strings that break naive code: the last BMP code points, astral, around the surrogates.
NASTY_TEXT = [
    "",
    "\ud7ff",
    "\uffff",
    "\ufffe",
    "\U0001f600",
    "\U0010ffff",
    "\ud7ff\uffff",
    "a\x00b",
    "%",
    "%2F",
    "%ED%9F%BF",
    "/",
    "a/b/c",
    "..",
    "$list",
    "_v/x",
    "_r/a/b/c",
    "\u202e",
    "\ufeff",
    "x" * 1000,
]
NASTY_NUMBERS: list[Any] = [
    0,
    -1,
    2**63 - 1,
    2**63,
    -(2**63),
    -(2**63) - 1,
    2**64,
    10**30,
    10**300,
    1.7976931348623157e308,
    -1.7976931348623157e308,
    5e-324,
    -0.0,
    1e300,
    1e308,
    0.1,
]
text = st.one_of(
    st.sampled_from(NASTY_TEXT), st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
)
numbers = st.one_of(
    st.sampled_from(NASTY_NUMBERS),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, text)


def _list_header(span: tuple[Any, ...]) -> dict[str, Any]:
    return {"$list": list(span)}


#: Values shaped like a list header (``{"$list": [head, tail]}``), spans absurd or malformed.
list_headers = st.one_of(
    st.builds(
        _list_header,
        st.tuples(
            st.sampled_from([0, -1, 1, 2**62, -(2**63), 10**15]),
            st.sampled_from([0, 1, 10**15, 2**63 - 1, 10**30, -5]),
        ),
    ),
    st.sampled_from(
        [
            {"$list": [0, 1000000000000000]},
            {"$list": [0, 10**15], "extra": 1},
            {"$list": [5, 3]},
            {"$list": ["a", "b"]},
            {"$list": [0]},
            {"$list": None},
            {"$list": [0.5, 1e300]},
            {"$list": [-(2**63), 2**63 - 1]},
        ]
    ),
)


def _memory_record(fields: dict[str, Any]) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "namespace": "x",
        "content": "forged",
        "memory_type": "general",
        "tier": "short",
        "importance": 0.5,
        "strength": 1.0,
        "metadata": {},
        "tags": [],
        "parent_id": None,
        "session_id": None,
        "agent_id": "system",
        "created_at": 0.0,
        "updated_at": 0.0,
        "last_accessed_at": 0.0,
        "access_count": 0,
        "stability": 1.0,
    }
    base.update(fields)
    return base


#: Values shaped like a long-term memory record, some fields of the wrong type or range.
memory_records = st.builds(
    _memory_record,
    st.dictionaries(
        st.sampled_from(
            [
                "strength",
                "importance",
                "stability",
                "tier",
                "created_at",
                "tags",
                "metadata",
                "parent_id",
                "access_count",
                "last_accessed_at",
                "content",
                "id",
            ]
        ),
        st.one_of(scalars, st.just([]), st.just({}), st.just(float("1e308"))),
        max_size=4,
    ),
)

json_values = st.recursive(
    st.one_of(scalars, list_headers, memory_records),
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.dictionaries(text, inner, max_size=6),
        st.builds(lambda v: {"$list": v}, inner),
    ),
    max_leaves=25,
)


def _nest(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


#: Deep and wide values: nesting close to and beyond what a parser allows, many elements.
big_values = st.sampled_from(
    [
        _nest(60),
        _nest(500),
        list(range(5000)),
        {f"k{i}": i for i in range(2000)},
        "x" * 100_000,
    ]
)
values = st.one_of(json_values, list_headers, memory_records, big_values)

#: Keys that collide with internal records, are long, or carry path syntax.
internal_keys = st.sampled_from(
    ["_memories", "_v/x", "_r/a/b/c", "_ri/a/b/c", "_p/a/b", "_g/x", "_gm/a/b", "_mg/a/b"]
)
keys = st.one_of(
    internal_keys,
    st.sampled_from(["evil", "a/b", "a%2Fb", "%", "100%", "x" * 1000, "é" * 500, "k" * 1025]),
    st.builds(lambda: uuid.uuid4().hex),  # shaped like a memory record's id
    st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=30),
)
#: Raw (already percent-encoded) path segments with invalid UTF-8 or odd escapes.
raw_key_segments = st.sampled_from(
    ["%FF", "%C3%28", "%ED%A0%80", "%ED%9F%BF", "%F4%90%80%80", "%00", "%2e%2e", "a%2Fb", "%E2%82"]
)
ttls = st.sampled_from([None, 60, 3600.5, 0, -1, 1e9, 1e300, 1e308, 2**63, 10**30, "60", True, [1]])
#: Namespace configs an agent may try.
configs = st.fixed_dictionaries(
    {},
    optional={
        "ttl": ttls,
        "max_entries": st.sampled_from([None, 0, 1, -1, 2**63, 10**30, 1.5, 2.0, "3", True]),
        "default_permission": st.sampled_from([None, "read", "write", "admin", "root", 1]),
        "conflict_strategy": st.sampled_from(
            ["latest-wins", "first-wins", "merge", "version", "custom", "evil"]
        ),
        "resolver": st.sampled_from([None, "evil", "__import__", 1]),
        "description": text,
        "permissions": st.sampled_from([{}, {"system": "admin"}, {"x": "root"}, [], None]),
    },
)
#: Whole bodies a JSON parser must refuse (or survive).
raw_bodies = st.sampled_from(
    [
        b'{"value": NaN}',
        b'{"value": Infinity}',
        b'{"value": -Infinity}',
        b'{"value": "\\ud800"}',
        b'{"value": "\\udfff\\ud800"}',
        b'{"value": 1, "value": 2}',
        b'{"value": ' + b"9" * 5000 + b"}",
        b'{"value": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
        b'{"value": "\xff\xfe"}',
        b"[]",
        b"null",
        b"",
        b"{",
        b'{"value": 1}' + b" " * 10 + b"x",
    ]
)

# ------------------------------------------------------------------------------ the harness


def _seg(text_: str) -> str:
    return quote(text_, safe="")


class Harness:
    """Requests with a deadline and the suite's checks, on one live server."""

    def __init__(self, live: LiveServer) -> None:
        self.live = live
        self.agent = live.client("agent")
        self.admin = live.client("admin")
        self.reader = live.client("reader")
        self.ns = f"door-{next(_names)}-{uuid.uuid4().hex[:6]}"
        self.keys: list[str] = []  # path segments, already encoded
        self.rids: list[str] = []
        self.cids: list[str] = []
        self.extra_ns: list[str] = []
        #: What went wrong without wedging the server (5xx, bad error bodies, state changed
        #: by a refused request): all of an example's problems are reported together.
        self.problems: list[str] = []

    def close(self) -> None:
        for c in (self.agent, self.admin, self.reader):
            c.close()

    # -------------------------------------------------------------- one request, checked

    def send(self, client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send; fail on a timeout (after checking ``/healthz``), a 5xx or a malformed error."""
        params = kwargs.get("params")
        what = f"{method} {path[:200]}" + (f" params={params}" if params else "")
        if self.live.broken:  # an earlier request hung: fail fast (Hypothesis replays)
            raise AssertionError(self.live.broken)
        try:
            response = client.request(method, path, **kwargs)
        except httpx.TimeoutException:
            if not self.live.healthy():
                self.live.broken = f"{what} hung and /healthz went silent"
            else:
                writes = "writes complete" if self.live.writable() else "writes hang"
                self.live.broken = (
                    f"{what} got no answer within the deadline (/healthz answers; {writes}); "
                    f"body {str(kwargs.get('json', kwargs.get('content')))[:300]}"
                )
            raise AssertionError(self.live.broken) from None
        except httpx.TransportError as exc:
            self.live.check_healthy(what)
            raise AssertionError(f"{what}: the connection failed: {exc!r}") from None
        sent = str(kwargs.get("json", kwargs.get("content")))[:300]
        if response.status_code >= 500:
            self.problems.append(f"5xx: {describe(response)}\n    body sent: {sent}")
        elif response.status_code >= 400:
            try:
                check_error_body(response)
            except AssertionError as exc:
                self.problems.append(f"error body: {exc}")
        return response

    def write(self, method: str, path: str, ns: str | None = None, **kwargs: Any) -> httpx.Response:
        """A write as the ordinary agent; if refused, the namespace ``ns`` must be unchanged."""
        ns = ns or self.ns
        before = self.snapshot(ns)
        response = self.send(self.agent, method, path, **kwargs)
        if 400 <= response.status_code < 500:
            after = self.snapshot(ns)
            if before != after:
                self.problems.append(
                    f"a refused request changed namespace {ns!r}: {describe(response)}\n"
                    f"    body sent: {str(kwargs.get('json', kwargs.get('content')))[:300]}\n"
                    f"    {_diff(before, after)}"
                )
        return response

    def snapshot(self, ns: str) -> dict[str, Any]:
        """The namespace as the admin sees it: config, revision, every entry and version."""
        info = self.send(self.admin, "GET", f"/v1/namespaces/{_seg(ns)}")
        state: dict[str, Any] = {
            "info": info.json() if info.status_code == 200 else info.status_code
        }
        entries: dict[str, Any] = {}
        cursor: str | None = None
        for _ in range(100):
            params: dict[str, Any] = {"limit": 1000}
            if cursor:
                params["cursor"] = cursor
            page = self.send(self.admin, "GET", f"/v1/namespaces/{_seg(ns)}/entries", params=params)
            if page.status_code != 200:
                state["entries"] = page.status_code
                return state
            data = page.json()
            for item in data["items"]:
                entries[item["key"]] = (item["value"], item["version"], item.get("expires_at"))
            cursor = data.get("next_cursor")
            if not cursor:
                break
        state["entries"] = entries
        return state

    def make_namespace(self) -> None:
        r = self.send(self.agent, "POST", "/v1/namespaces", json={"name": self.ns})
        assert r.status_code == 201, describe(r)

    # -------------------------------------------------------------- every read

    def read_everything(self) -> None:
        """Every read and list operation over what this example wrote, as each token."""
        ns = _seg(self.ns)
        base = f"/v1/namespaces/{ns}"
        for client in (self.agent, self.reader):
            if client is self.reader:  # the read-only token: the main reads once more
                self._reads_as_reader(base)
                break
            for key in self.keys[:6]:
                self.send(client, "GET", f"{base}/entries/{key}")
                self.send(client, "GET", f"{base}/lists/{key}/items")
                self.send(
                    client, "GET", f"{base}/lists/{key}/items", params={"start": -5, "stop": 2**62}
                )
                self.send(client, "GET", f"/v1/namespaces/default/entries/{key}")
                self.send(client, "GET", f"/v1/namespaces/default/lists/{key}/items")
            for prefix in ("", "_", "_v/", "_r/", "$", "e"):
                self.send(client, "GET", f"{base}/entries", params={"prefix": prefix, "limit": 50})
            for since in (0, 1, 2**40):
                self.send(
                    client,
                    "GET",
                    f"{base}/events",
                    params={"since": since},
                    headers={"Accept": "application/json"},
                )
            self.send(client, "GET", f"/v1/namespaces/{_seg(SHARED_NS)}/entries")
            self.send(client, "GET", "/v1/namespaces")
            self.send(client, "GET", f"{base}")
            self.send(client, "GET", "/v1/stats")
            self.send(client, "GET", "/v1/audit", params={"limit": 50})
            self.send(client, "GET", "/shared-memory")
            self.send(client, "GET", "/v1/conversations", params={"namespace": self.ns})
            for cid in self.cids[:3]:
                conv = f"/v1/conversations/{cid}"
                q = {"namespace": self.ns}
                self.send(client, "GET", conv, params=q)
                self.send(client, "GET", f"{conv}/messages", params={**q, "limit": 50})
                for name in ("notes", "evil", "$list"):
                    self.send(client, "GET", f"{conv}/lists/{_seg(name)}", params=q)
                    self.send(client, "GET", f"{conv}/fields/{_seg(name)}", params=q)
            self.send(
                client, "POST", f"{base}/memories/search", json={"query": "forged", "limit": 20}
            )
            self.send(
                client,
                "POST",
                f"{base}/memories/semantic-search",
                json={"query": "forged x", "k": 10},
            )
            for rid in [*self.rids[:3], *(k for k in self.keys[:3])]:
                self.send(client, "GET", f"{base}/memories/{rid}")
                self.send(client, "GET", f"{base}/memories/{rid}/children")
                self.send(client, "GET", f"{base}/memories/{rid}/related")
        self.send(self.agent, "POST", f"{base}/memories/decay", json={})
        self.send(self.admin, "GET", "/v1/audit", params={"limit": 50, "namespace": self.ns})
        self.send(self.admin, "GET", "/v1/stats")
        self.live.check_healthy("the read sweep")

    def _reads_as_reader(self, base: str) -> None:
        """What the read-only token reads: entries, listings, events, lists, memories."""
        r = self.reader
        for key in self.keys[:3]:
            self.send(r, "GET", f"{base}/entries/{key}")
            self.send(r, "GET", f"{base}/lists/{key}/items")
        self.send(r, "GET", f"{base}/entries", params={"limit": 50})
        self.send(
            r, "GET", f"{base}/events", params={"since": 0}, headers={"Accept": "application/json"}
        )
        self.send(r, "GET", "/v1/stats")
        self.send(r, "GET", "/shared-memory")
        self.send(r, "GET", "/v1/conversations", params={"namespace": self.ns})
        self.send(r, "POST", f"{base}/memories/search", json={"query": "forged", "limit": 20})

    def verdict(self) -> None:
        """Fail with every problem the example met."""
        if self.problems:
            unique = list(dict.fromkeys(self.problems))
            raise AssertionError(f"{len(unique)} problem(s):\n- " + "\n- ".join(unique[:25]))


def check_error_body(response: httpx.Response) -> None:
    """An error body is ``{"error": {"code": <stable code>, "message": str}}``, not ``internal``."""
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(f"an error without a JSON body: {describe(response)}") from None
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), describe(response)
    code = body["error"].get("code")
    assert isinstance(code, str) and CODE.match(code), describe(response)
    assert code != "internal", describe(response)
    assert isinstance(body["error"].get("message"), str), describe(response)


def _diff(before: dict[str, Any], after: dict[str, Any]) -> str:
    lines = []
    if before.get("info") != after.get("info"):
        lines.append(f"info: {before.get('info')} -> {after.get('info')}")
    b, a = before.get("entries"), after.get("entries")
    if isinstance(b, dict) and isinstance(a, dict):
        for key in sorted(set(b) | set(a)):
            if b.get(key) != a.get(key):
                lines.append(f"{key!r}: {str(b.get(key))[:120]} -> {str(a.get(key))[:120]}")
    elif b != a:
        lines.append(f"entries: {b} -> {a}")
    return "\n".join(lines[:20])


@pytest.fixture
def harness(live: LiveServer) -> Iterator[Harness]:
    h = Harness(live)
    try:
        yield h
    finally:
        h.close()


def run(harness_factory: Callable[[], Harness], body: Callable[[Harness], None]) -> None:
    """One example: a fresh namespace, the door's writes, every read, ``/healthz``."""
    h = harness_factory()
    try:
        h.make_namespace()
        body(h)
        h.read_everything()
        h.verdict()
    finally:
        h.close()


# ------------------------------------------------------------------------------ the doors


@SETTINGS
@given(data=st.lists(st.tuples(keys, values, ttls), min_size=1, max_size=3))
def test_entry_put(live: LiveServer, data: list[tuple[str, Any, Any]]) -> None:
    def body(h: Harness) -> None:
        for key, value, ttl in data:
            seg = _seg(key)
            h.keys.append(seg)
            payload = {"value": value} if ttl is None else {"value": value, "ttl": ttl}
            h.write("PUT", f"/v1/namespaces/{_seg(h.ns)}/entries/{seg}", json=payload)
            # and then every list op on it: a stored value must never act as a list header
            h.write("POST", f"/v1/namespaces/{_seg(h.ns)}/lists/{seg}/push", json={"items": [1]})
            h.write(
                "POST",
                f"/v1/namespaces/{_seg(h.ns)}/lists/{seg}/insert",
                json={"index": 10**15, "item": 1},
            )
            h.write("POST", f"/v1/namespaces/{_seg(h.ns)}/lists/{seg}/remove", json={"item": 1})
            h.write(
                "POST", f"/v1/namespaces/{_seg(h.ns)}/lists/{seg}/pop", json={"index": -(2**62)}
            )

    run(lambda: Harness(live), body)


@SETTINGS
@given(segment=raw_key_segments, value=values, raw=raw_bodies)
def test_invalid_keys_and_bodies(live: LiveServer, segment: str, value: Any, raw: bytes) -> None:
    """Invalid UTF-8 in the key path is refused (422), never mapped to U+FFFD; bad bodies 4xx."""

    def body(h: Harness) -> None:
        base = f"/v1/namespaces/{_seg(h.ns)}"
        h.keys.append(segment)
        r = h.write("PUT", f"{base}/entries/{segment}", json={"value": value})
        if _invalid_utf8(segment):
            assert r.status_code == 422, (
                f"a key path with invalid UTF-8 must be refused, not decoded with U+FFFD: "
                f"{describe(r)}"
            )
        h.write(
            "PUT",
            f"{base}/entries/raw",
            content=raw,
            headers={"Content-Type": "application/json"},
        )
        h.write(
            "POST",
            f"{base}/batch",
            content=raw,
            headers={"Content-Type": "application/json"},
        )

    run(lambda: Harness(live), body)


def _invalid_utf8(segment: str) -> bool:
    from urllib.parse import unquote_to_bytes

    try:
        unquote_to_bytes(segment).decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


batch_keys = st.one_of(keys, st.sampled_from([["a"], {"k": 1}, 1, None, True, ""]))
batch_ops = st.lists(
    st.fixed_dictionaries(
        {"op": st.sampled_from(["put", "put", "delete", "get", "evil"]), "key": batch_keys},
        optional={
            "value": values,
            "ttl": ttls,
            "expected_version": st.sampled_from([0, 1, -1, 2**64, "1", None]),
        },
    ),
    min_size=1,
    max_size=5,
)


@SETTINGS
@given(ops=batch_ops, atomic=st.sampled_from([True, False, "yes", None]), ttl=ttls)
def test_batch(live: LiveServer, ops: list[dict[str, Any]], atomic: Any, ttl: Any) -> None:
    def body(h: Harness) -> None:
        h.keys += [_seg(o["key"]) for o in ops if isinstance(o["key"], str) and o["key"]]
        payload: dict[str, Any] = {"ops": ops, "atomic": atomic}
        if ttl is not None:
            payload["ttl"] = ttl
        h.write("POST", f"/v1/namespaces/{_seg(h.ns)}/batch", json=payload)
        for key in h.keys[:3]:
            h.write("POST", f"/v1/namespaces/{_seg(h.ns)}/lists/{key}/push", json={"items": [1, 2]})

    run(lambda: Harness(live), body)


@SETTINGS
@given(key=st.one_of(keys, st.sampled_from([1, None, ["a"]])), value=values, owner=scalars)
def test_shared_memory_post(live: LiveServer, key: Any, value: Any, owner: Any) -> None:
    """The seed registry door writes to ``default``: snapshot the key there."""

    def body(h: Harness) -> None:
        if isinstance(key, str) and key:
            h.keys.append(_seg(key))
        h.write(
            "POST",
            "/shared-memory",
            ns="default" if _small_default(h) else h.ns,
            json={"key": key, "value": value, "owner": owner},
        )
        if isinstance(key, str) and key:
            h.write(
                "POST",
                f"/v1/namespaces/default/lists/{_seg(key)}/push",
                ns=h.ns,
                json={"items": [0]},
            )

    run(lambda: Harness(live), body)


def _small_default(h: Harness) -> bool:
    """Whether ``default`` is small enough to snapshot whole for every request."""
    page = h.send(h.admin, "GET", "/v1/namespaces/default/entries", params={"limit": 300})
    return page.status_code == 200 and not page.json().get("next_cursor")


conv_ids = st.one_of(
    st.sampled_from(["c1", "evil", "_v", "%25", "a.b"]),
    st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=12),
)
list_verbs = st.sampled_from(["append", "extend", "pop", "insert", "remove"])


@SETTINGS
@given(
    cid=conv_ids,
    field_name=st.one_of(st.sampled_from(["notes", "$list", "_v/x", "messages", "%"]), text),
    value=values,
    verb=list_verbs,
    item=values,
    role=st.sampled_from(["user", "assistant", "system", "", 1, None]),
    content=st.one_of(text, values),
    metadata=values,
    seconds=ttls,
)
def test_conversations(
    live: LiveServer, cid: str, field_name: str, value: Any, verb: str, item: Any,
    role: Any, content: Any, metadata: Any, seconds: Any,
) -> None:  # fmt: skip
    def body(h: Harness) -> None:
        conv = f"/v1/conversations/{_seg(cid)}"
        q = {"namespace": h.ns}
        h.cids.append(_seg(cid))
        name = _seg(field_name) if field_name else "x"
        h.write("PUT", f"{conv}/fields/{name}", params=q, json={"value": value})
        h.write(
            "POST",
            f"{conv}/messages",
            params=q,
            json={"role": role, "content": content, "metadata": metadata},
        )
        list_body: dict[str, Any] = {
            "append": {"item": item},
            "extend": {"items": [item, value]},
            "pop": {"index": -1},
            "insert": {"index": 2**62, "item": item},
            "remove": {"item": item},
        }[verb]
        for lname in (name, "notes", "messages"):
            h.write("POST", f"{conv}/lists/{lname}/{verb}", params=q, json=list_body)
        h.write("PUT", f"{conv}/ttl", params=q, json={"seconds": seconds})

    run(lambda: Harness(live), body)


memory_specs = st.fixed_dictionaries(
    {"content": st.one_of(text, st.sampled_from(["forged memory", "x" * 20_000]), values)},
    optional={
        "memory_type": st.one_of(text, scalars),
        "tier": st.sampled_from(["short", "medium", "long", "eternal", 1, None]),
        "importance": numbers,
        "metadata": values,
        "tags": st.one_of(st.lists(text, max_size=5), values),
        "parent_id": st.one_of(st.none(), st.sampled_from(["_v/x", "0" * 32, "%"]), text),
        "id": st.sampled_from(["_memories", "_v/x", "0" * 32]),
        "agent_id": st.just("system"),
        "strength": numbers,
    },
)


@SETTINGS
@given(spec=memory_specs, update=memory_specs, rel=st.sampled_from(["related", "$list", "", "a/b"]))
def test_memories(live: LiveServer, spec: dict[str, Any], update: dict[str, Any], rel: str) -> None:
    def body(h: Harness) -> None:
        base = f"/v1/namespaces/{_seg(h.ns)}/memories"
        ok = h.write("POST", base, json={"content": "anchor memory"})
        anchor = ok.json()["id"]
        h.rids.append(anchor)
        r = h.write("POST", base, json=spec)
        if r.status_code == 201:
            h.rids.append(r.json()["id"])
        rid = h.rids[-1]
        h.write("PATCH", f"{base}/{rid}", json=update)
        h.write("POST", f"{base}/batch", json={"memories": [spec, update]})
        h.write(
            "POST",
            f"{base}/relationships",
            json={
                "source_id": anchor,
                "target_id": rid,
                "relationship_type": rel,
                "strength": spec.get("importance", 0.5),
            },
        )
        h.write("POST", f"{base}/{rid}/reinforce", json={"factor": spec.get("strength", 1.5)})
        # a memory-shaped value forged through a plain entry PUT, then decay must survive it
        h.keys.append(uuid.uuid4().hex)
        forged = _memory_record({k: v for k, v in update.items() if k != "id"})
        h.write("PUT", f"/v1/namespaces/{_seg(h.ns)}/entries/{h.keys[-1]}", json={"value": forged})
        h.write(
            "PUT",
            f"/v1/namespaces/{_seg(h.ns)}/entries/_v%2F{rid}",
            json={"value": spec.get("content")},
        )
        r = h.send(h.agent, "POST", f"{base}/decay", json={})
        assert r.status_code == 200, f"decay must survive malformed records: {describe(r)}"

    run(lambda: Harness(live), body)


@SETTINGS
@given(
    create=configs,
    patch=configs,
    name=st.one_of(text, st.sampled_from(["default", "_tokens", "a" * 129, "a/b", "ns\x00"])),
)
def test_namespace_configs(
    live: LiveServer, create: dict[str, Any], patch: dict[str, Any], name: str
) -> None:
    """Odd configs are refused or stored; either way later writes and reads keep working."""

    def body(h: Harness) -> None:
        fresh = f"cfg-{uuid.uuid4().hex[:8]}"
        before = h.send(h.admin, "GET", f"/v1/namespaces/{fresh}")
        r = h.send(h.agent, "POST", "/v1/namespaces", json={"name": fresh, **create})
        if r.status_code >= 400:
            after = h.send(h.admin, "GET", f"/v1/namespaces/{fresh}")
            assert before.status_code == after.status_code == 404, describe(after)
        else:
            h.extra_ns.append(fresh)
            _write_and_read(h, fresh)
        h.send(h.agent, "POST", "/v1/namespaces", json={"name": name, **create})
        h.write("PATCH", f"/v1/namespaces/{_seg(h.ns)}", json=patch)
        if _small_default(h):  # an ordinary agent must not reconfigure the shared namespace
            r = h.write("PATCH", "/v1/namespaces/default", ns="default", json=patch)
            assert r.status_code >= 400, f"an ordinary agent reconfigured default: {describe(r)}"
        _write_and_read(h, h.ns)
        h.write(
            "PATCH",
            f"/v1/namespaces/{_seg(h.ns)}",
            content=b'{"ttl": NaN}',
            headers={"Content-Type": "application/json"},
        )
        h.write(
            "PATCH",
            f"/v1/namespaces/{_seg(h.ns)}",
            content=b'{"ttl": 1e999}',
            headers={"Content-Type": "application/json"},
        )
        _write_and_read(h, h.ns)

    run(lambda: Harness(live), body)


def _write_and_read(h: Harness, ns: str) -> None:
    """A plain write, a list push and a read still work (or are refused cleanly) in ``ns``."""
    base = f"/v1/namespaces/{_seg(ns)}"
    r = h.write("PUT", f"{base}/entries/plain", ns=ns, json={"value": 1})
    assert r.status_code in (200, 403, 409), f"a plain write after a config change: {describe(r)}"
    h.write("POST", f"{base}/lists/plain-list/push", ns=ns, json={"items": [1]})
    h.send(h.agent, "GET", f"{base}/entries/plain")


prefixes = st.one_of(
    st.sampled_from(["\ud7ff", "\uffff", "\U0010ffff", "", "_", "_v/", "%", "\x00", "a" * 2000]),
    text,
    st.sampled_from([1, None, ["a"]]),
)


@SETTINGS
@given(seed_keys=st.lists(keys, min_size=1, max_size=4), prefix=prefixes, ttl=ttls)
def test_prefix_delete_and_expire(
    live: LiveServer, seed_keys: list[str], prefix: Any, ttl: Any
) -> None:
    """Prefix ops answer (``\\ud7ff``'s upper bound once hung the group commit); others proceed."""

    def body(h: Harness) -> None:
        base = f"/v1/namespaces/{_seg(h.ns)}"
        for key in seed_keys:
            h.keys.append(_seg(key))
            h.write("PUT", f"{base}/entries/{_seg(key)}", json={"value": key})
        h.write("POST", f"{base}/prefix/expire", json={"prefix": prefix, "ttl": ttl})
        h.write("POST", f"{base}/prefix/delete", json={"prefix": prefix})
        h.write(
            "POST",
            "/v1/namespaces/default/prefix/delete",
            ns="default" if _small_default(h) else h.ns,
            json={"prefix": "\ud7ff"},
        )
        # an innocent write right after still completes
        r = h.write("PUT", f"{base}/entries/after", json={"value": 1})
        assert r.status_code == 200, describe(r)

    run(lambda: Harness(live), body)


@SETTINGS
@given(
    header=list_headers,
    items=st.lists(values, min_size=1, max_size=3),
    index=st.sampled_from([0, -1, 2**62, -(2**63), 10**15]),
)
def test_list_ops_on_forged_headers(
    live: LiveServer, header: dict[str, Any], items: list[Any], index: int
) -> None:
    """Issue 15 item 1: a stored ``{"$list": ...}`` value is data, never a list header."""

    def body(h: Harness) -> None:
        base = f"/v1/namespaces/{_seg(h.ns)}"
        h.keys.append("evil")
        h.write("PUT", f"{base}/entries/evil", json={"value": header})
        h.write("POST", f"{base}/lists/evil/push", json={"items": items})
        h.write("POST", f"{base}/lists/evil/insert", json={"index": index, "item": items[0]})
        h.write("POST", f"{base}/lists/evil/remove", json={"item": items[0]})
        h.write("POST", f"{base}/lists/evil/pop", json={"index": index})
        h.send(h.agent, "GET", f"{base}/lists/evil/items")
        h.send(h.agent, "GET", f"{base}/entries/evil")
        # a real list's items forged inside another value do not make it one either
        h.keys.append("real")
        h.write("POST", f"{base}/lists/real/push", json={"items": items})
        h.write("PUT", f"{base}/entries/real", json={"value": header})
        h.write("POST", f"{base}/lists/real/push", json={"items": items})

    run(lambda: Harness(live), body)


#: Reads with odd arguments, each its own case: listings by prefixes past the last BMP code
#: point (their computed upper bound is a surrogate), events after huge revisions.
ODD_READS: list[tuple[str, str, dict[str, str]]] = [
    ("prefix-d7ff", "entries?prefix=%ED%9F%BF", {}),
    ("prefix-d7ff-literal", "entries?prefix=\ud7ff", {}),
    ("prefix-ffff", "entries?prefix=%EF%BF%BF", {}),
    ("prefix-10ffff", "entries?prefix=%F4%8F%BF%BF", {}),
    ("prefix-invalid-utf8", "entries?prefix=%FF", {}),
    ("prefix-surrogate-bytes", "entries?prefix=%ED%A0%80", {}),
    ("prefix-nul", "entries?prefix=%00", {}),
    ("limit-huge", "entries?limit=1000000000000000000000000000000", {}),
    ("limit-negative", "entries?limit=-1", {}),
    ("cursor-garbage", "entries?cursor=%FF%FE", {}),
    ("since-2^62", "events?since=4611686018427387904", {"Accept": "application/json"}),
    ("since-2^63-2", "events?since=9223372036854775806", {"Accept": "application/json"}),
    ("since-2^63-1", "events?since=9223372036854775807", {"Accept": "application/json"}),
    ("since-2^63", "events?since=9223372036854775808", {"Accept": "application/json"}),
    ("since-10^30", "events?since=1000000000000000000000000000000", {"Accept": "application/json"}),
    ("since-negative", "events?since=-1", {"Accept": "application/json"}),
    ("since-text", "events?since=x", {"Accept": "application/json"}),
    ("last-event-id-huge", "events", {"Accept": "application/json", "Last-Event-ID": "9" * 18}),
    (
        "list-items-huge-range",
        "lists/k/items?start=-9223372036854775808&stop=9223372036854775807",
        {},
    ),
    ("audit-since-huge", "/v1/audit?since=1e308", {}),
    ("audit-limit-huge", "/v1/audit?limit=1000000000000", {}),
    ("tool-usage-limit-huge", "/v1/tool-usage?limit=1000000000000", {}),
]


@pytest.mark.parametrize(
    ("path", "headers"), [c[1:] for c in ODD_READS], ids=[c[0] for c in ODD_READS]
)
def test_odd_reads(live: LiveServer, path: str, headers: dict[str, str]) -> None:
    """Each odd read answers within the deadline, never 5xx, with a stable error code."""

    def body(h: Harness) -> None:
        base = f"/v1/namespaces/{_seg(h.ns)}"
        ops = [{"op": "put", "key": k, "value": k} for k in ("a", "\ud7ff", "\ud7ffz", "\uffff")]
        h.send(h.agent, "POST", f"{base}/batch", json={"ops": ops})
        h.send(h.agent, "POST", f"{base}/lists/k/push", json={"items": [1, 2, 3]})
        client = h.admin if path.startswith("/v1/audit") else h.agent
        h.send(client, "GET", path if path.startswith("/") else f"{base}/{path}", headers=headers)
        h.live.check_healthy(path)
        h.verdict()

    h = Harness(live)
    try:
        h.make_namespace()
        body(h)
    finally:
        h.close()


def test_memory_of_one_long_word(live: LiveServer) -> None:
    """A memory whose content is one 100,000-character word, then search and decay.

    The keyword index's tokenizer once spent time quadratic in the length of a run of word
    characters (its compound-identifier pattern backtracks at every start), holding the GIL:
    20,000 characters took 17 s, a 1 MiB value would take hours, with ``/healthz`` silent.
    """

    def body(h: Harness) -> None:
        base = f"/v1/namespaces/{_seg(h.ns)}/memories"
        h.write("POST", base, json={"content": "x" * 100_000})
        h.write("POST", base, json={"content": "a-" * 50_000 + "b"})
        h.send(h.agent, "POST", f"{base}/search", json={"query": "x", "limit": 5})
        h.send(h.agent, "POST", f"{base}/semantic-search", json={"query": "x", "k": 5})
        h.send(h.agent, "POST", f"{base}/decay", json={})

    run(lambda: Harness(live), body)


def test_healthz_after_all(live: LiveServer) -> None:
    """The module's last server still answers; its log holds no traceback of a 500."""
    live.check_healthy("the module")
    assert "Traceback" not in live.log_tail(200_000), live.log_tail()
