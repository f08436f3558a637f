"""Which webhook targets a store may call (the SSRF guard).

Only ``http``/``https`` URLs with a host are accepted. The host is resolved, and every
address it resolves to must be a public one: loopback, private, link-local, multicast,
reserved and unspecified addresses are refused unless the server allows them
(``--allow-webhook-host``: host names, addresses or networks such as ``10.0.0.0/8``;
``*`` allows every target). The check runs when a webhook is added and again before every
delivery, and the request goes to the address just checked (its ``Host`` header and TLS
server name stay the URL's), so a name that resolves to another address later (DNS
rebinding) cannot steer a delivery inside the network.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from hivemem.errors import InvalidArgument

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["Allow", "Target", "check_url", "resolve"]

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Target:
    """A checked target: the URL's parts and the address a request may connect to."""

    scheme: str
    host: str
    port: int
    path: str
    address: str

    def connect_url(self) -> str:
        """The URL to request: the checked address in place of the host."""
        addr = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.scheme}://{addr}:{self.port}{self.path}"

    def host_header(self) -> str:
        """The ``Host`` header the URL names."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


class Allow:
    """Targets allowed despite a non-public address: names, addresses, networks, or ``*``."""

    def __init__(self, entries: Iterable[str] = ()) -> None:
        self.any = False
        self.names: set[str] = set()
        self.networks: list[_Network] = []
        for raw in entries:
            item = raw.strip().lower()
            if not item:
                continue
            if item == "*":
                self.any = True
                continue
            try:
                self.networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                self.names.add(item.rstrip("."))

    @classmethod
    def parse(cls, text: str | None) -> Allow:
        """Parse a comma-separated setting."""
        return cls((text or "").split(","))

    def allows(self, host: str, address: _Address) -> bool:
        """Whether ``host`` resolving to ``address`` may be called."""
        if self.any or host.lower().rstrip(".") in self.names:
            return True
        return any(address in net for net in self.networks)


def _public(address: _Address) -> bool:
    return not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def check_url(url: object) -> str:
    """Return ``url`` if it is an ``http(s)`` URL with a host (no address check).

    Raises:
        InvalidArgument: another scheme, no host, credentials in it, or too long
            (reason ``webhook_url``).
    """
    if not isinstance(url, str) or len(url) > 2048:
        raise InvalidArgument("a webhook url is a string of at most 2048 characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidArgument(f"invalid webhook url {url!r}: {exc}", reason="webhook_url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidArgument(
            f"invalid webhook url {url!r}: give an http:// or https:// URL with a host",
            reason="webhook_url",
        )
    if parts.username is not None or parts.password is not None or port == 0:
        raise InvalidArgument(
            f"invalid webhook url {url!r}: no credentials or port 0 in it", reason="webhook_url"
        )
    return url


def resolve(url: str, allow: Allow) -> Target:
    """Resolve ``url``'s host and check every address; return the first as the target.

    Blocking (``getaddrinfo``): async callers run it in a thread.

    Raises:
        InvalidArgument: a bad URL, a host that does not resolve, or an address that is
            not public and not allowed (reason ``webhook_target``).
    """
    check_url(url)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise InvalidArgument(
            f"webhook host {host!r} does not resolve: {exc}", reason="webhook_target"
        ) from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not addresses:
        raise InvalidArgument(f"webhook host {host!r} has no address", reason="webhook_target")
    for address in addresses:
        if not _public(address) and not allow.allows(host, address):
            raise InvalidArgument(
                f"webhook target {host!r} resolves to {address}, a loopback, private or "
                "otherwise non-public address: refused unless the server allows it "
                "(hivemem serve --allow-webhook-host)",
                reason="webhook_target",
                address=str(address),
            )
    return Target(parts.scheme, host, port, path, str(addresses[0]))
