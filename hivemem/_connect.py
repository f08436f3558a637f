"""``connect()`` and ``connect_async()``: open a store by URL."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from hivemem._async import AsyncMemory
from hivemem._core import Core
from hivemem._sync import Memory
from hivemem._validate import check_agent
from hivemem.backends import open_backend
from hivemem.engine.conflicts import BUILTIN_RESOLVERS
from hivemem.engine.txn import Settings
from hivemem.errors import InvalidArgument, PermissionDenied

__all__ = ["DEFAULT_URL", "connect", "connect_async", "default_embedder"]

#: The store ``connect()`` opens without a URL and without ``$HIVEMEM_URL``.
DEFAULT_URL = "sqlite:///hivemem.db"

_SETTINGS = {
    "clock",
    "max_value_bytes",
    "event_retention",
    "max_log_size",
    "log_reads",
    "idempotency_ttl",
    "cleanup_interval",
    "auto_create_namespaces",
    "decay",
    "index_dir",
    "max_namespaces_per_agent",
    "default_max_entries",
    "max_store_bytes",
}
_BACKEND_OPTIONS = {"durability", "timeout", "cache", "retries", "tokens"}


def _open(url: str | None, agent: str | None, token: str | None, options: dict[str, Any]) -> Core:
    url = url or os.environ.get("HIVEMEM_URL") or DEFAULT_URL
    unknown = set(options) - _SETTINGS - _BACKEND_OPTIONS - {"resolvers", "embedder"}
    if unknown:
        raise InvalidArgument(f"unknown connect() options: {', '.join(sorted(unknown))}")
    remote = url.split("://", 1)[0].lower() in ("http", "https")
    if remote:
        # The server sweeps its store; a client sweeps too only when asked to (needs admin).
        options.setdefault("cleanup_interval", 0)
    settings = Settings(**{k: options.pop(k) for k in list(options) if k in _SETTINGS})
    settings.resolvers = {**BUILTIN_RESOLVERS, **dict(options.pop("resolvers", None) or {})}
    embedder = options.pop("embedder", None)
    if not remote:  # a server embeds next to its records; its clients never do
        settings.embedder = default_embedder(embedder)
    _check_settings(settings)
    if remote:
        return _open_remote(url, agent, token, settings, options)
    if options.pop("tokens", None) is not None:
        raise InvalidArgument("tokens= is for http:// stores: an embedded store takes no token")
    backend = open_backend(url, settings, options)
    core = Core(backend, settings, agent)
    core.start_sweeper()
    return core


def default_embedder(spec: Any) -> Any:
    """The embedder of long-term memories for ``spec`` (see ``hivemem.memories.embed``).

    Without a spec and without ``$HIVEMEM_EMBEDDER``: the bundled MiniLM when the
    ``semantic`` extra is installed (loaded on first use; a server loads it at start), else none.
    """
    import importlib.util

    if spec is None:
        spec = os.environ.get("HIVEMEM_EMBEDDER") or None
    if spec is None:
        if importlib.util.find_spec("sentence_transformers") is None:
            return None
        spec = "minilm"
    if spec == "none":
        return None
    from hivemem.memories.embed import embedder_from

    return embedder_from(spec)


def _open_remote(
    url: str, agent: str | None, token: str | None, settings: Settings, options: dict[str, Any]
) -> Core:
    try:
        from hivemem.remote.backend import RemoteBackend
    except ModuleNotFoundError as exc:  # httpx missing
        raise InvalidArgument(
            f"http:// stores need the server extra ({exc.name} is missing): "
            "pip install 'hivemem[server]'"
        ) from None
    token = token or os.environ.get("HIVEMEM_TOKEN") or None
    tokens = _agent_tokens(options.pop("tokens", None))
    if agent is None and token is None and tokens:
        raise InvalidArgument("with tokens= and no token=, say which agent acts by default: agent=")
    if agent is not None:
        check_agent(agent)
    kwargs: dict[str, Any] = {}
    for name in ("timeout", "retries"):
        if name in options:
            kwargs[name] = options.pop(name)
    if options.pop("durability", None) is not None:
        raise InvalidArgument("durability is a store option: set it on the server's --store URL")
    backend = RemoteBackend(url, settings, token=token, tokens=tokens, **kwargs)
    try:
        for name in tokens:  # each token must act for its agent (the server says 403 if not)
            backend.whoami(name)
        me = backend.whoami(agent if not token or agent in tokens else None)
        if token and agent is not None and agent not in tokens and agent != me["agent"]:
            raise PermissionDenied(
                f"this token acts for agent {me['agent']!r}; it cannot act as {agent!r}"
            )
        core = Core(backend, settings, agent if agent is not None else me["agent"])
    except BaseException:
        backend.close()
        raise
    if options.pop("cache", False):
        from hivemem.remote.cache import NearCache

        backend.cache = NearCache(backend, settings.clock)
    core.start_sweeper()
    return core


def _agent_tokens(tokens: Any) -> dict[str, str]:
    """``connect(tokens=...)``: each agent's own server token, checked."""
    if tokens is None:
        return {}
    if not isinstance(tokens, Mapping) or not all(
        isinstance(agent, str) and isinstance(token, str) and token
        for agent, token in tokens.items()
    ):
        raise InvalidArgument("tokens must map agent ids to their server tokens (non-empty text)")
    for agent in tokens:
        check_agent(agent)
    return dict(tokens)


def _check_settings(s: Settings) -> None:
    for name in ("max_value_bytes", "event_retention", "max_log_size"):
        value = getattr(s, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidArgument(f"{name} must be a positive integer, got {value!r}")
    if not isinstance(s.cleanup_interval, int | float) or s.cleanup_interval < 0:
        raise InvalidArgument("cleanup_interval must be seconds >= 0 (0 turns the sweeper off)")
    for name in ("max_namespaces_per_agent", "default_max_entries", "max_store_bytes"):
        value = getattr(s, name)
        if value is not None and (type(value) is not int or value < 1):
            raise InvalidArgument(f"{name} must be a positive integer or None, got {value!r}")
    if s.index_dir is not None and not isinstance(s.index_dir, str):
        raise InvalidArgument(f"index_dir must be a directory path or '', got {s.index_dir!r}")


def connect(
    url: str | None = None, *, agent: str | None = None, token: str | None = None, **options: Any
) -> Memory:
    """Open a store and return the synchronous :class:`~hivemem.Memory`.

    Args:
        url: ``memory://``, ``sqlite:///path.db`` (default ``sqlite:///hivemem.db``, or
            ``$HIVEMEM_URL``), ``redis://...``, ``postgresql://user@host:port/db?schema=name``
            or ``http(s)://server``.
        agent: The default agent of calls that name none.
        token: A server token (for ``http://`` stores).
        **options: ``tokens`` (``http://`` only: a mapping of agent ids to their own
            server tokens, for one process acting for several agents: each call
            authenticates with its agent's token; ``agent=`` names the default),
            ``cleanup_interval`` (s, default 60; 0 = no sweeper), ``max_log_size``
            (100,000), ``log_reads`` (True), ``max_value_bytes`` (1 MiB),
            ``event_retention`` (10,000 per namespace), ``idempotency_ttl`` (600 s),
            ``durability`` (SQLite: ``full`` or ``normal``), ``resolvers`` (name → callable),
            ``clock`` (a ``time.time`` stand-in, for tests), ``embedder`` (long-term
            memories: ``"minilm"``, ``"openai:<base_url>?model=<name>"``, ``"none"`` or an
            object with ``name`` and ``embed(texts)``; default ``$HIVEMEM_EMBEDDER``, else
            MiniLM when the ``semantic`` extra is installed), ``decay`` (a
            ``hivemem.memories.decay.DecayPolicy``), ``index_dir`` (where vector indexes
            are snapshotted at close so a restart does not rebuild them; default
            ``<file>.index`` beside a SQLite store, none otherwise; ``""``: never).

    Raises:
        InvalidArgument: an unknown URL scheme or option.
    """
    return Memory(_open(url, agent, token, dict(options)))


def connect_async(
    url: str | None = None, *, agent: str | None = None, token: str | None = None, **options: Any
) -> AsyncMemory:
    """Open a store and return the asyncio :class:`~hivemem.AsyncMemory` (same options)."""
    return AsyncMemory(_open(url, agent, token, dict(options)))
