"""``hivemem token create|list|revoke``: manage server tokens.

``--url`` names where, as for every command (default ``$HIVEMEM_URL``): a store URL or file
path (``sqlite:///file.db``, ``redis://...``) works on the store itself (the server reads its
tokens from there, so a running server sees the change at once); an ``http(s)://`` server URL
calls the server's admin routes (``POST/GET /v1/tokens``, ``DELETE /v1/tokens/{id}``) with
an admin token. ``--store URL`` (a store only) is kept for scripts written before.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any
from urllib.parse import quote

from hivemem.cli._common import EXIT_EPILOG, command, print_json, print_table, store_url, when
from hivemem.cli._config import mark_settings
from hivemem.errors import BackendUnavailable, InvalidArgument, error_from_dict

__all__ = ["admin_call", "register"]


class _Tokens:
    """The three token operations, on a store or through a server."""

    def __init__(self, args: argparse.Namespace) -> None:
        if args.store is not None and args.url is not None:
            raise InvalidArgument("give --url (a store or a server), not both --url and --store")
        where = args.store or args.url or None
        if where is None:
            raise InvalidArgument(
                "say where the tokens are: --url sqlite:///file.db (the store) or "
                "--url http://host:port (a server), or set $HIVEMEM_URL"
            )
        server = args.store is None and where.startswith(("http://", "https://"))
        self.store: str | None = None if server else store_url(where)
        self.url: str | None = where if server else None
        self.token: str | None = args.token or None
        if self.url is not None and not self.token:
            raise InvalidArgument("--url needs an admin token: --token or $HIVEMEM_TOKEN")

    def create(self, agent: str, role: str, label: str) -> dict[str, Any]:
        if self.store is not None:
            token, record = self._on_store(lambda t: t.create(agent, role, label))
            return {"token": token, **record.to_dict()}
        body = {"agent": agent, "role": role, "label": label}
        data: dict[str, Any] = self._call("POST", "/v1/tokens", body)
        return data

    def records(self) -> list[dict[str, Any]]:
        if self.store is not None:
            return [r.to_dict() for r in self._on_store(lambda t: t.list())]
        items: list[dict[str, Any]] = self._call("GET", "/v1/tokens")["tokens"]
        return items

    def revoke(self, which: str) -> list[dict[str, Any]]:
        if self.store is not None:
            return [r.to_dict() for r in self._on_store(lambda t: t.revoke(which))]
        items: list[dict[str, Any]] = self._call("DELETE", f"/v1/tokens/{quote(which, safe='')}")[
            "revoked"
        ]
        return items

    def _on_store(self, fn: Any) -> Any:
        from hivemem._connect import _open
        from hivemem.server.auth import TokenStore

        core = _open(self.store, None, None, {"cleanup_interval": 0})
        try:
            tokens = TokenStore(core.backend)
            tokens.ensure()
            return fn(tokens)
        finally:
            core.close()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        assert self.url is not None
        return admin_call(self.url, self.token or "", method, path, body)


def admin_call(url: str, token: str, method: str, path: str, body: Any = None) -> Any:
    """Call a server's admin route with ``token``; return its JSON or raise its error."""
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    try:
        response = httpx.request(
            method, url.rstrip("/") + path, json=body, headers=headers, timeout=30
        )
    except httpx.HTTPError as exc:
        raise BackendUnavailable(f"cannot reach {url}: {exc}") from None
    try:
        data = response.json()
    except ValueError:
        raise BackendUnavailable(
            f"{url} answered {response.status_code} without JSON: is it a hivemem server?"
        ) from None
    if response.status_code >= 400:
        raise error_from_dict(data)
    return data


def _rows(records: list[dict[str, Any]]) -> list[list[Any]]:
    return [[r["id"], r["agent"], r["role"], r["label"], when(r["created_at"])] for r in records]


@command
def _create(args: argparse.Namespace) -> int:
    record = _Tokens(args).create(args.agent, "admin" if args.admin else "agent", args.label)
    if args.json:
        print_json(record)
    else:
        print(record["token"])
        print(
            f"created {record['role']} token {record['id']} for agent {record['agent']!r}",
            file=sys.stderr,
        )
    return 0


@command
def _list(args: argparse.Namespace) -> int:
    records = _Tokens(args).records()
    if args.json:
        print_json({"tokens": records})
    else:
        print_table(["id", "agent", "role", "label", "created"], _rows(records))
    return 0


@command
def _revoke(args: argparse.Namespace) -> int:
    records = _Tokens(args).revoke(args.which)
    if args.json:
        print_json({"revoked": records})
    else:
        print_table(["id", "agent", "role", "label", "created"], _rows(records))
    return 0


def _where(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("where")
    g.add_argument(
        "--url",
        metavar="URL",
        help="a store (sqlite:///file.db, a file path, redis://...) to work on directly, or a "
        "server (http://host:port) whose admin routes to call",
    )
    g.add_argument("--store", metavar="URL", help="a store to work on directly (older name)")
    g.add_argument("--token", help="admin token for a server")
    p.add_argument("--json", action="store_true", help="machine-readable JSON output")
    mark_settings(p, "--url", "--token")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``token`` command group."""
    kw: dict[str, Any] = {
        "epilog": EXIT_EPILOG,
        "formatter_class": argparse.RawDescriptionHelpFormatter,
    }
    p = sub.add_parser("token", help="create, list and revoke server tokens", **kw)
    group = p.add_subparsers(dest="token_command", required=True, metavar="ACTION")

    c = group.add_parser(
        "create",
        help="create a token; prints only the token on stdout",
        description="Create a token for AGENT and print it (only it) on stdout, once: "
        "only its hash is stored.",
        **kw,
    )
    c.add_argument("agent", metavar="AGENT", help="the agent the token acts for")
    c.add_argument("--admin", action="store_true", help="a server admin token (all namespaces)")
    c.add_argument("--label", default="", help="a note shown by 'token list'")
    _where(c)
    c.set_defaults(func=_create)

    ls = group.add_parser("list", help="list tokens (ids, agents, roles; never the tokens)", **kw)
    _where(ls)
    ls.set_defaults(func=_list)

    r = group.add_parser(
        "revoke",
        help="revoke tokens by id, agent or token",
        description="Revoke a token given its id (from 'token list'), the token itself, "
        "or an agent id (every token of that agent). Takes effect at once on every server "
        "process.",
        **kw,
    )
    r.add_argument("which", metavar="ID|AGENT|TOKEN")
    _where(r)
    r.set_defaults(func=_revoke)
