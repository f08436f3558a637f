"""Checks of names, keys and options, shared by every entry point."""

from __future__ import annotations

import re
from typing import Any

from hivemem.errors import InvalidArgument, TooLarge
from hivemem.types import CONFLICT_STRATEGIES, LEVELS

__all__ = [
    "MAX_INT",
    "MAX_KEY_BYTES",
    "MAX_TTL",
    "ADMIN_AGENT",
    "RESERVED_AGENTS",
    "SYSTEM_AGENT",
    "DECAY_AGENT",
    "GROUP_NAME",
    "RESERVED_PREFIX",
    "check_agent",
    "check_caller_agent",
    "check_key",
    "check_level",
    "check_limit",
    "check_namespace",
    "check_prefix",
    "check_strategy",
    "check_ttl",
    "check_version",
    "is_reserved",
]

MAX_KEY_BYTES = 1024
#: Longest time-to-live, in seconds (10 years), of an entry, a namespace's default, a
#: conversation or a prefix: every door refuses more (stores keep expiry as numbers that
#: must stay finite and fit a 64-bit millisecond count).
MAX_TTL = 315_360_000
#: Largest integer a version or count may be (signed 64 bits, as stores keep them).
MAX_INT = (1 << 63) - 1

_AGENT = re.compile(r"[A-Za-z0-9._@:\-]{1,128}")
_NAMESPACE = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
#: A transaction group's name (``create_namespace(group=...)``): as a namespace's.
GROUP_NAME = _NAMESPACE
#: The agent the store acts as by itself (TTL expiry, sweeps, the default namespace's
#: creator, the server's token records and event fan-out).
SYSTEM_AGENT = "system"
#: The agent the memories scheduler's decay passes act as.
DECAY_AGENT = "hivemem-decay"
#: The agent of the admin token ``hivemem serve`` creates on a store's first start.
ADMIN_AGENT = "admin"
#: Agent ids only the store and the server act as: no token can be minted for them (but the
#: server's first admin token, for :data:`ADMIN_AGENT`) and no request can name them
#: (``--no-auth``'s ``X-Agent-Id`` included).
RESERVED_AGENTS = frozenset({SYSTEM_AGENT, ADMIN_AGENT, DECAY_AGENT})

#: Namespaces whose names start with this hold the store's own records (server tokens);
#: no caller can name them.
RESERVED_PREFIX = "_hivemem"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_caller_agent(agent: Any) -> str:
    """Return ``agent`` if a client may act as it: valid and not in :data:`RESERVED_AGENTS`."""
    name = check_agent(agent)
    if name in RESERVED_AGENTS:
        raise InvalidArgument(
            f"agent id {name!r} is reserved for the store itself "
            f"(reserved: {', '.join(sorted(RESERVED_AGENTS))}); choose another"
        )
    return name


def check_agent(agent: Any) -> str:
    """Return ``agent`` if it is a valid agent id (1-128 chars of ``[A-Za-z0-9._@:-]``)."""
    if type(agent) is not str or not _AGENT.fullmatch(agent):
        raise InvalidArgument(
            f"invalid agent id {agent!r}: use 1-128 characters of letters, digits and ._@:-"
        )
    return agent


#: Namespace names that passed :func:`check_namespace` (few per store; emptied when full).
_VALID_NAMESPACES: set[str] = set()


def check_namespace(name: Any) -> str:
    """Return ``name`` if it is a valid namespace name (1-128 chars of ``[A-Za-z0-9._:-]``)."""
    if type(name) is str and name in _VALID_NAMESPACES:
        return name
    if type(name) is not str or not _NAMESPACE.fullmatch(name):
        raise InvalidArgument(
            f"invalid namespace name {name!r}: use 1-128 characters of letters, digits and ._:-"
        )
    if name.startswith(RESERVED_PREFIX):
        raise InvalidArgument(f"invalid namespace name {name!r}: {RESERVED_PREFIX}* is reserved")
    if len(_VALID_NAMESPACES) >= 4096:
        _VALID_NAMESPACES.clear()
    _VALID_NAMESPACES.add(name)
    return name


def is_reserved(name: str) -> bool:
    """Whether a namespace name is reserved for the store's own records."""
    return name.startswith(RESERVED_PREFIX)


def check_key(key: Any) -> str:
    """Return ``key`` if it is 1-1024 bytes of UTF-8 without control characters."""
    if type(key) is not str or not key:
        raise InvalidArgument(f"invalid key {key!r}: keys are non-empty strings")
    if len(key) > MAX_KEY_BYTES // 4:
        try:
            size = len(key.encode())
        except UnicodeEncodeError:
            raise InvalidArgument("invalid key: not valid UTF-8 (lone surrogate)") from None
        if size > MAX_KEY_BYTES:
            raise TooLarge(f"key is {size} bytes; the limit is {MAX_KEY_BYTES}")
    elif not key.isascii():
        try:
            key.encode()
        except UnicodeEncodeError:
            raise InvalidArgument("invalid key: not valid UTF-8 (lone surrogate)") from None
    if _CONTROL.search(key):
        raise InvalidArgument(f"invalid key {key!r}: control characters are not allowed")
    return key


def check_prefix(prefix: Any, what: str = "prefix") -> str:
    """Return ``prefix`` (of keys, or a cursor: a key) if it is a string a key can start with.

    Empty is allowed; at most :data:`MAX_KEY_BYTES` of valid UTF-8 (no lone surrogate).
    """
    if type(prefix) is not str:
        raise InvalidArgument(f"{what} must be a string")
    if not prefix.isascii():
        try:
            size = len(prefix.encode())
        except UnicodeEncodeError:
            raise InvalidArgument(f"invalid {what}: not valid UTF-8 (lone surrogate)") from None
    else:
        size = len(prefix)
    if size > MAX_KEY_BYTES:
        raise TooLarge(f"{what} is {size} bytes; the limit is {MAX_KEY_BYTES}")
    return prefix


def check_ttl(ttl: Any) -> float | None:
    """Return ``ttl`` as seconds (a number above 0, at most :data:`MAX_TTL`) or ``None``."""
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, int | float):
        raise InvalidArgument(f"invalid ttl {ttl!r}: give seconds as a positive number")
    if not (0 < ttl <= MAX_TTL):  # (NaN fails every comparison)
        raise InvalidArgument(
            f"invalid ttl {ttl!r}: give seconds as a number above 0 and at most {MAX_TTL} "
            "(10 years)"
        )
    return float(ttl)


def check_version(version: Any) -> int | None:
    """Return ``version`` if it is ``None`` or an integer >= 0."""
    if version is None:
        return None
    if isinstance(version, bool) or not isinstance(version, int) or not 0 <= version <= MAX_INT:
        raise InvalidArgument(f"invalid expected_version {version!r}: give an integer >= 0")
    return version


def check_level(level: Any, what: str = "permission") -> str | None:
    """Return ``level`` if it is ``None``, ``"read"``, ``"write"`` or ``"admin"``."""
    if level is None or (type(level) is str and level in LEVELS):
        return level
    raise InvalidArgument(f"invalid {what} {level!r}: use None, 'read', 'write' or 'admin'")


def check_strategy(strategy: Any) -> str:
    """Return ``strategy`` if it is a known conflict strategy."""
    if type(strategy) is not str or strategy not in CONFLICT_STRATEGIES:
        raise InvalidArgument(
            f"unknown conflict strategy {strategy!r}: use one of {', '.join(CONFLICT_STRATEGIES)}"
        )
    return strategy


def check_limit(limit: Any, *, maximum: int = 10_000, what: str = "limit") -> int:
    """Return ``limit`` if it is an integer from 1 to ``maximum``."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= maximum:
        raise InvalidArgument(f"invalid {what} {limit!r}: give an integer from 1 to {maximum}")
    return limit
