"""Schemathesis over /openapi.json against a real server (T11): no 500, every response as
documented, schema-valid input accepted and invalid input refused; with an admin token and
with an agent token whose permissions differ by namespace."""

from __future__ import annotations

import base64
import json
import re
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import pytest
import schemathesis
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import allow_header_conformance

from hivemem.engine.conflicts import BUILTIN_RESOLVERS
from hivemem.memories.match import MAX_SOURCE_BYTES
from hivemem.server.openapi import build_openapi
from hivemem.testing.embedders import HashEmbedder

if TYPE_CHECKING:
    from collections.abc import Iterator

    from _api_site import Api

#: Examples per operation and generation mode: enough to catch regressions, well under a minute.
MAX_EXAMPLES = 25


def _schema() -> Any:
    # The document the server serves (test_openapi.py checks it is this one); schemathesis'
    # from_fixture() does not work under pytest 9, so the schema loads at import time and
    # each call goes to the fixture's server.
    schema = schemathesis.openapi.from_dict(build_openapi(list(BUILTIN_RESOLVERS)))
    schema.config.generation.update(
        max_examples=MAX_EXAMPLES,
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        deterministic=True,
        # Unknown query arguments are ignored, as HTTP servers do (cache busters, proxies).
        allow_extra_parameters=False,
    )
    # A key over 1024 bytes is refused as too large: 413 is a rejection too.
    negative = schema.config.checks.get_by_name(name="negative_data_rejection")
    negative.expected_statuses = [*negative.expected_statuses, "413"]
    # A valid as_of/history read of a revision or time the log no longer holds is 410
    # (RevisionCompacted): what the state then was is gone, not refused.
    positive = schema.config.checks.get_by_name(name="positive_data_acceptance")
    positive.expected_statuses = [*positive.expected_statuses, "410"]

    return schema.exclude(path_regex="/events$")


def _beyond_schema(case: Any) -> bool:
    """What JSON Schema cannot say and the server refuses with 422: such cases are not sent.

    ``resolved: true`` (only for custom namespaces with a client-side resolver), an atomic
    batch naming a key twice, a transaction over 128 compares and ops or writing a key twice
    in a branch, a cursor that is not a next_cursor handed out before, an
    integer beyond 64 bits anywhere in a body (values are "any JSON"), a memory made its
    own parent, a valid webhook (its target must resolve to an allowed address), a memory
    whose ``valid_to`` is not after its ``valid_from`` (given, or now), a search with both
    ``as_of`` and ``include_superseded: true``, an ``as_of`` read without exactly one of
    ``revision=`` and ``at=``, an entry written with both ``ttl`` and ``lease``, a valid
    restore (what an export file's records hold), a memory whose ``source`` is over 16 KiB
    serialized.
    """
    body, query = case.body, case.query or {}
    if case.operation.path.startswith("/v1/namespaces/{ns}/as_of"):
        # Exactly one of revision= and at= (JSON Schema cannot say "one of two parameters").
        return ("revision" in query) == ("at" in query)
    if isinstance(body, dict) and body.get("ttl") is not None and body.get("lease") is not None:
        return True  # a leased entry lives as its lease: ttl and lease together are refused
    if (case.method.upper(), case.operation.path) == ("POST", "/v1/namespaces/{ns}/restore"):
        # What an export file's records hold (one namespace, its own events, known config
        # fields) is checked record by record (tests/test_export_faithful.py): only invalid
        # bodies are sent, to check they are refused.
        return bool(case.meta.generation.mode == GenerationMode.POSITIVE)
    if (case.method.upper(), case.operation.path) == ("POST", "/v1/webhooks"):
        # Whether a URL's host resolves to an allowed address is beyond JSON Schema (and
        # DNS): only invalid webhooks are sent, to check they are refused.
        return bool(case.meta.generation.mode == GenerationMode.POSITIVE)
    if _big_integer(body):
        return True
    if _ends_before_start(body) or _as_of_and_superseded(body) or _big_source(body):
        return True
    cursor = query.get("cursor")
    if isinstance(cursor, str) and not _valid_cursor(cursor):
        return True
    if not isinstance(body, dict):
        return False
    if body.get("resolved") is True:
        return True
    if case.method.upper() == "PATCH" and case.operation.path.endswith("/memories/{rid}"):
        rid = (case.path_parameters or {}).get("rid")
        # Schemathesis hands some path parameters over already percent-encoded.
        ids = [_as_sent(rid), _as_sent(unquote(rid))] if isinstance(rid, str) else [rid]
        return _as_sent(body.get("parent_id")) in ids
    if case.operation.path == "/v1/transactions":
        return _bad_transaction(body)
    if body.get("atomic") is True and isinstance(body.get("ops"), list):
        keys = [str(op.get("key")) for op in body["ops"] if isinstance(op, dict)]
        return len(keys) != len(set(keys))
    return False


def _bad_transaction(body: dict[str, Any]) -> bool:
    """More than 128 compares and ops in all, or a branch writing or deleting a key twice."""
    parts = [body.get(name) for name in ("compares", "success", "failure")]
    if sum(len(p) for p in parts if isinstance(p, list)) > 128:
        return True
    for branch in parts[1:]:
        if isinstance(branch, list):
            keys = [
                (str(op.get("namespace")), str(op.get("key")))
                for op in branch
                if isinstance(op, dict) and op.get("op") in ("write", "delete")
            ]
            if len(keys) != len(set(keys)):
                return True
    return False


def _ends_before_start(body: Any) -> bool:
    """A new memory (or one of a batch) that would stop holding before it starts."""
    items = body.get("memories") if isinstance(body, dict) else None
    for item in items if isinstance(items, list) else [body]:
        if not isinstance(item, dict):
            continue
        end, start = item.get("valid_to"), item.get("valid_from")
        if isinstance(end, int | float) and not isinstance(end, bool):
            begins = start if isinstance(start, int | float) else time.time() + 60
            if end <= begins:
                return True
    return False


def _big_source(body: Any) -> bool:
    """A new or changed memory (or one of a batch) whose source is over 16 KiB serialized."""
    items = body.get("memories") if isinstance(body, dict) else None
    for item in items if isinstance(items, list) else [body]:
        source = item.get("source") if isinstance(item, dict) else None
        if (
            isinstance(source, dict)
            and len(json.dumps(source, separators=(",", ":")).encode()) > MAX_SOURCE_BYTES
        ):
            return True
    return False


def _as_of_and_superseded(body: Any) -> bool:
    """A search asking for what held at a time and for every record at once."""
    if not isinstance(body, dict):
        return False
    filters = body.get("filters") if isinstance(body.get("filters"), dict) else {}
    as_of = body.get("as_of") is not None or filters.get("as_of") is not None
    return as_of and True in (body.get("include_superseded"), filters.get("include_superseded"))


def _as_sent(value: Any) -> Any:
    """A value as the server reads it: a generated string may hold a surrogate pair as two
    code points, which JSON (and the URL) carry as the one character they encode."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        return value


def _big_integer(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_big_integer(v) for v in value.values())
    if isinstance(value, list):
        return any(_big_integer(v) for v in value)
    return type(value) is int and not -(1 << 63) <= value < 1 << 64


def _valid_cursor(cursor: str) -> bool:
    try:
        base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except ValueError:
        return False
    return True


def _overlapping(paths: list[str]) -> set[str]:
    """Paths that are also instances of another, parametrised, path.

    ``/v1/namespaces/{ns}/memories/search`` is also ``.../memories/{rid}`` with rid
    ``search`` (no record has that id: ids are hex): the server routes each method to the
    route that has it, and its 405 ``Allow`` honestly lists the methods of both, which the
    document lists under two paths.
    """
    shapes = {
        p: re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(p)) + "$") for p in paths
    }
    return {p for p in paths if any(q != p and shape.match(p) for q, shape in shapes.items())}


@pytest.fixture(scope="module", autouse=True)
def _hash_embedder(api: Api) -> Iterator[None]:
    # Semantic search answers (rather than 503) and a batch of 1000 records costs ms.
    settings = api.core.settings
    previous, settings.embedder = settings.embedder, HashEmbedder()
    yield
    settings.embedder = previous


schema = _schema()
OVERLAPPING = _overlapping(list(build_openapi()["paths"]))


def _call(case: Any, api: Api, token: str) -> None:
    if _beyond_schema(case):
        return
    excluded = [allow_header_conformance] if case.operation.path in OVERLAPPING else []
    # 30 s, not the client's default 10: the fuzz checks answers, not latency (bounded
    # latency under hostile load is tests/adversarial's); a full-suite run once took over
    # 10 s for the first memory add of the fuzzed namespace.
    case.call_and_validate(
        base_url=api.url,
        headers={"Authorization": f"Bearer {token}"},
        excluded_checks=excluded,
        timeout=30,
    )


@schema.parametrize()
def test_fuzz_admin(case: Any, api: Api) -> None:
    """A server admin: every operation reachable."""
    _call(case, api, api.admin)


@schema.parametrize()
def test_fuzz_agent(case: Any, api: Api) -> None:
    """An agent token: write in default and team, read in shared, nothing in private."""
    _call(case, api, api.agent)
