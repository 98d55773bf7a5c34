"""Where the API is reached: the public base URL of links the server hands out, and the client's address.

``HOMEOPS_PUBLIC_BASE_URL`` decides when it is set. Otherwise each request's own origin is used — the scheme,
host and port it was served on (the ``Host`` header, else the listening socket) — so a server on another port
or behind another name hands out links that work for the client that asked. Proxy headers
(``X-Forwarded-For``/``-Proto``/``-Host``) are believed only from the peers listed in
``HOMEOPS_TRUSTED_PROXIES``.

Links that go to *someone else* (e-mailed verification and password-reset links) never use the ``Host`` header:
a client could name its own server there and receive another user's token ("reset poisoning"). They use
``HOMEOPS_PUBLIC_BASE_URL``, else the server's own socket address (:func:`email_base_url`).

The request's values live in context variables set by the request middleware (``homeops.core.context``) for
the duration of one request; outside a request (jobs, commands) the configured URL or the default applies.
"""

from __future__ import annotations

import ipaddress
import re
from contextvars import ContextVar, Token
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from homeops.core.config import Settings

DEFAULT_BASE_URL = "http://127.0.0.1:8000"

_REQUEST_BASE: ContextVar[str | None] = ContextVar("homeops_request_base_url", default=None)
_SERVER_BASE: ContextVar[str | None] = ContextVar("homeops_server_base_url", default=None)

# A host name or IPv4 address, or a bracketed IPv6 address, with an optional port: nothing else reaches a URL.
_HOST_RE = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$"
)
_SCHEMES = frozenset({"http", "https"})

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=16)
def trusted_networks(value: str) -> tuple[Network, ...]:
    """``HOMEOPS_TRUSTED_PROXIES`` parsed (``ValueError`` on an entry that is no address or network)."""
    return tuple(
        ipaddress.ip_network(item.strip(), strict=False) for item in value.split(",") if item.strip()
    )


def _is_trusted(address: str | None, networks: Iterable[Network]) -> bool:
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def _valid_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip().strip("[]")))
    except ValueError:
        return None


def _origin(scheme: str, host: str) -> str:
    default = (scheme == "http" and host.endswith(":80")) or (scheme == "https" and host.endswith(":443"))
    return f"{scheme}://{host.rsplit(':', 1)[0] if default else host}"


def _socket_host(server: tuple[str, int | None] | None) -> str | None:
    if not server or not server[0]:
        return None
    host, port = server[0], server[1]
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}" if port else host


@dataclass(frozen=True)
class Origin:
    """What one request says about where it was served and who sent it."""

    base_url: str  # scheme://host[:port][root_path] as the client reached the API
    server_base_url: str  # scheme://<listening socket>[root_path]: never from a client header
    client_ip: str | None


def resolve(scope: Mapping[str, Any], headers: Mapping[bytes, bytes], trusted: str) -> Origin:
    """The request's origin and client address; proxy headers only when the peer is a trusted proxy."""
    client = scope.get("client")
    peer = client[0] if client else None
    scheme = str(scope.get("scheme") or "http").lower()
    root_path = str(scope.get("root_path") or "").rstrip("/")
    host = headers.get(b"host", b"").decode("latin-1").strip()
    client_ip = _valid_ip(peer) if peer else None
    networks = trusted_networks(trusted) if trusted else ()
    if networks and _is_trusted(peer, networks):
        proto = headers.get(b"x-forwarded-proto", b"").decode("latin-1").split(",")[0].strip().lower()
        if proto in _SCHEMES:
            scheme = proto
        forwarded_host = headers.get(b"x-forwarded-host", b"").decode("latin-1").split(",")[0].strip()
        if forwarded_host and _HOST_RE.match(forwarded_host):
            host = forwarded_host
        forwarded_for = headers.get(b"x-forwarded-for", b"").decode("latin-1")
        # The client is the right-most address that is not one of our proxies (left of it, anything goes).
        for hop in reversed([h for h in forwarded_for.split(",") if h.strip()]):
            ip = _valid_ip(hop)
            if ip is None:
                break
            client_ip = ip
            if not _is_trusted(ip, networks):
                break
    if scheme not in _SCHEMES:
        scheme = "https" if scheme == "wss" else "http"
    socket_host = _socket_host(scope.get("server")) or "127.0.0.1:8000"
    if not host or not _HOST_RE.match(host):
        host = socket_host
    return Origin(
        base_url=_origin(scheme, host) + root_path,
        server_base_url=_origin(str(scope.get("scheme") or "http"), socket_host) + root_path,
        client_ip=client_ip,
    )


RequestTokens = tuple[Token[str | None], Token[str | None]]


def enter_request(origin: Origin) -> RequestTokens:
    """Makes ``origin`` the current request's (returns what :func:`leave_request` needs)."""
    return (_REQUEST_BASE.set(origin.base_url), _SERVER_BASE.set(origin.server_base_url))


def leave_request(tokens: RequestTokens) -> None:
    _REQUEST_BASE.reset(tokens[0])
    _SERVER_BASE.reset(tokens[1])


def public_base_url(settings: Settings | None = None) -> str:
    """The base of links handed back to the client that asked (downloads, the calendar feed)."""
    configured = settings.public_base_url if settings is not None else None
    return (configured or _REQUEST_BASE.get() or DEFAULT_BASE_URL).rstrip("/")


def email_base_url(settings: Settings) -> str:
    """The base of links sent to someone by e-mail: the configured URL, else the server's own address."""
    return (settings.public_base_url or _SERVER_BASE.get() or DEFAULT_BASE_URL).rstrip("/")
