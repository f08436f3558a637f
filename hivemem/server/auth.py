"""Tokens: who a request acts for.

A token maps to an agent id and a role (``agent`` or ``admin``). Only its SHA-256 digest is
stored, in the reserved namespace ``_hivemem.tokens`` of the server's own store, so every
replica over the same store accepts the same tokens and a revocation through one replica
holds on every other at once.

Lookups are cached in each process only where the store offers a cross-process change
signal (:meth:`~hivemem.backends.base.Backend.cache_epoch`: a shared counter beside a
SQLite file, or the process itself for ``memory://``): every revocation bumps it after its
commit, and a cached record is used only while the signal has not moved (and for at most
:data:`CACHE_SECONDS`, in case a revoker died between its commit and its signal). Over
Redis nothing is cached: every request asks the store.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson

from hivemem import _validate
from hivemem._frozen import fast_init
from hivemem.engine import ops as o
from hivemem.errors import InvalidArgument, NotFound

if TYPE_CHECKING:
    import builtins

    from hivemem.backends.base import Backend

__all__ = [
    "CACHE_SECONDS",
    "ROLES",
    "TOKENS_NAMESPACE",
    "Caller",
    "TokenRecord",
    "TokenStore",
    "digest",
]

TOKENS_NAMESPACE = f"{_validate.RESERVED_PREFIX}.tokens"
ROLES = ("agent", "admin")
_SYSTEM = _validate.SYSTEM_AGENT
_PREFIX = "hm_"
#: Longest a cached token lookup is trusted without asking the store again.
CACHE_SECONDS = 1.0
#: Most tokens one process keeps cached (the cache empties when full).
CACHE_MAX = 4096


def digest(token: str) -> str:
    """The SHA-256 hex digest a token is stored under."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@fast_init
@dataclass(frozen=True, slots=True)
class Caller:
    """Who a request acts for: its agent, whether it is a server admin, its token id."""

    agent: str
    admin: bool = False
    token_id: str | None = None


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A stored token (never the token itself): id, agent, role, label, creation time."""

    id: str
    agent: str
    role: str
    label: str
    created_at: float

    @property
    def reserved(self) -> bool:
        """Whether it acts for a reserved agent id (minted before the ids were reserved).

        The server's first admin token (agent ``admin``, role ``admin``) is its own: not.
        """
        if self.agent not in _validate.RESERVED_AGENTS:
            return False
        return (self.agent, self.role) != (_validate.ADMIN_AGENT, "admin")

    def to_dict(self) -> dict[str, Any]:
        """Return the record as a JSON-ready dict."""
        return {
            "id": self.id,
            "agent": self.agent,
            "role": self.role,
            "label": self.label,
            "created_at": self.created_at,
        }


class _CachedToken(NamedTuple):
    """A token's record as looked up, valid while the store's cache epoch stays ``epoch``."""

    record: TokenRecord
    epoch: int
    #: ``time.monotonic()`` after which it is looked up again.
    until: float


class TokenStore:
    """Create, look up, list and revoke tokens in a backend."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        #: Revocations made through this store object (open event streams recheck their
        #: token when it moves).
        self.revocations = 0
        #: token -> (its record, the cache epoch read before the lookup, trusted until).
        self._cache: dict[str, _CachedToken] = {}
        #: Lookups answered from the cache, and those that asked the store (``/metrics``).
        self.cache_hits = 0
        self.cache_misses = 0

    def ensure(self) -> None:
        """Create the reserved namespace (no access for anyone but the store itself)."""
        self._op(o.CreateNamespace, default_permission=None, permissions={}, exist_ok=True)

    def _op(self, cls: Any, **fields: Any) -> Any:
        op = cls(agent=_SYSTEM, admin=True, internal=True, ns=TOKENS_NAMESPACE, **fields)
        return self.backend.execute(op).unwrap()

    def create(
        self, agent: str, role: str = "agent", label: str = "", *, first: bool = False
    ) -> tuple[str, TokenRecord]:
        """Mint a token for ``agent``; return it (shown once) and its record.

        ``first``: the server's first admin token, for the reserved ``admin`` agent.

        Raises:
            InvalidArgument: a bad agent id (or a reserved one, see
                :data:`hivemem._validate.RESERVED_AGENTS`) or role.
        """
        if first and (agent, role) == (_validate.ADMIN_AGENT, "admin"):
            agent = _validate.ADMIN_AGENT
        else:
            agent = _validate.check_caller_agent(agent)
        if role not in ROLES:
            raise InvalidArgument(f"invalid role {role!r}: use 'agent' or 'admin'")
        if not isinstance(label, str) or len(label) > 200:
            raise InvalidArgument("label must be a string of at most 200 characters")
        token = _PREFIX + secrets.token_urlsafe(32)
        key = digest(token)
        now = self.backend.settings.clock()
        record = TokenRecord(key[:12], agent, role, label, now)
        value = {"agent": agent, "role": role, "label": label, "created_at": now}
        self._op(o.Put, key=key, value_json=orjson.dumps(value).decode(), expected_version=0)
        return token, record

    def lookup(self, token: str) -> TokenRecord | None:
        """The record of a valid token, or ``None``."""
        if not token.startswith(_PREFIX) or len(token) > 200:
            return None
        epoch = self.backend.cache_epoch()
        record = self._cached(token, epoch)
        if record is not None:
            return record
        key = digest(token)
        entry = self._op(o.Get, key=key)
        return self._remember(token, epoch, None if entry is None else _record(key, entry.value))

    async def alookup(self, token: str) -> TokenRecord | None:
        """Async twin of :meth:`lookup` (an inline read: no thread hop).

        Every request pays it: a cached record costs a dict lookup and a shared-memory
        read; otherwise the backend's :meth:`~hivemem.backends.base.Backend.apeek` answers
        (SQLite: one indexed read, no engine op).
        """
        if not token.startswith(_PREFIX) or len(token) > 200:
            return None
        epoch = self.backend.cache_epoch()
        record = self._cached(token, epoch)
        if record is not None:
            return record
        key = digest(token)
        value = await self.backend.apeek(TOKENS_NAMESPACE, key)
        return self._remember(token, epoch, None if value is None else _record(key, value))

    def _cached(self, token: str, epoch: int | None) -> TokenRecord | None:
        if epoch is not None:
            hit = self._cache.get(token)
            if hit is not None and hit.epoch == epoch and hit.until >= time.monotonic():
                self.cache_hits += 1
                return hit.record
        self.cache_misses += 1
        return None

    def _remember(
        self, token: str, epoch: int | None, record: TokenRecord | None
    ) -> TokenRecord | None:
        """Cache a found record under the epoch read *before* the lookup.

        A revocation committed after that read bumps the epoch past it, so the entry is
        never used once the revocation is visible. Unknown tokens are not cached.
        """
        if record is not None and epoch is not None:
            if len(self._cache) >= CACHE_MAX:
                self._cache.clear()
            self._cache[token] = _CachedToken(record, epoch, time.monotonic() + CACHE_SECONDS)
        return record

    def list(self) -> builtins.list[TokenRecord]:
        """Every token record, oldest first."""
        page = self._op(o.ListEntries, limit=None)
        records = [_record(e.key, e.value) for e in page.items]
        return sorted(records, key=lambda r: r.created_at)

    def revoke(self, token_or_id: str) -> builtins.list[TokenRecord]:
        """Revoke a token given itself, its id (a digest prefix, >= 8 characters) or an agent.

        Revoking by agent id revokes every token of that agent. Returns what was revoked.

        Raises:
            NotFound: nothing matched.
        """
        if token_or_id.startswith(_PREFIX):
            key = digest(token_or_id)
            matches = [r for r in self.list() if key.startswith(r.id)]
        else:
            matches = [
                r
                for r in self.list()
                if (len(token_or_id) >= 8 and r.id.startswith(token_or_id))
                or r.agent == token_or_id
            ]
        if not matches:
            raise NotFound(f"no token matches {token_or_id!r}: see 'hivemem token list'")
        page = self._op(o.ListEntries, limit=None)
        for entry in page.items:
            if any(entry.key.startswith(r.id) for r in matches):
                self._op(o.Delete, key=entry.key)
        self._cache.clear()
        self.backend.bump_cache_epoch()  # after the commit: other processes drop theirs
        self.revocations += 1
        return matches

    def count(self) -> int:
        """How many tokens exist."""
        return len(self._op(o.ListEntries, limit=None).items)


def _record(key: str, value: dict[str, Any]) -> TokenRecord:
    return TokenRecord(
        key[:12],
        value["agent"],
        value["role"],
        value.get("label", ""),
        value.get("created_at", 0.0),
    )
