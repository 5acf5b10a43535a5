"""Outbound URL guard against server-side request forgery (webhook receivers).

A webhook URL is chosen by an API user, and the sender runs inside the platform's network:
without a guard it can be pointed at the database, the broker, a cloud metadata service, or
used as a port scanner (its error texts tell open from closed). So:

- the URL is ``http`` or ``https`` with a host, and carries no credentials (``user:pass@``);
- every address the host resolves to must be *global*: loopback, link-local (cloud metadata
  ``169.254.169.254``), private, shared (``100.64.0.0/10``), multicast, reserved and
  unspecified addresses are refused, IPv4-mapped IPv6 included, whatever spelling the URL uses
  (``0x7f000001``, ``[::1]``, ``localhost``) - resolution decides, not the text;
- an operator who needs an internal receiver lists its networks explicitly
  (``FUELWATCH_WEBHOOK_ALLOW_NETWORKS``);
- the check runs at registration *and* before each delivery, and the delivery connects to the
  checked address (``PinnedTarget``), so a DNS answer that changes in between (rebinding)
  cannot redirect it.

Refusals happen before any connection is made.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

from fuelwatch.core.errors import UserFacingError

__all__ = [
    "IpNetwork",
    "PinnedTarget",
    "UrlRefused",
    "address_refusal",
    "check_url",
    "parse_networks",
    "pin",
    "resolve_checked",
]

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UrlRefused(UserFacingError, ValueError):
    """A URL or address the platform will not send to; the message is safe to show."""


def parse_networks(values: Sequence[str]) -> tuple[IpNetwork, ...]:
    try:
        return tuple(ipaddress.ip_network(v, strict=False) for v in values)
    except ValueError as exc:
        raise UrlRefused(f"not a network (CIDR): {exc}") from exc


def address_refusal(address: IpAddress, allow: Sequence[IpNetwork] = ()) -> str | None:
    """Why ``address`` may not be a webhook receiver, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address.version == net.version and address in net for net in allow):
        return None
    for test, name in (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local (cloud metadata)"),
        (address.is_multicast, "multicast"),
        (address.is_private, "private"),
        (address.is_reserved, "reserved"),
    ):
        if test:
            return name
    return None if address.is_global else "not globally routable"


def check_url(url: str) -> SplitResult:
    """Syntax: http(s), a host, no credentials, a valid port. Returns the parts."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlRefused(f"not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UrlRefused("a webhook URL must be http(s)://host/...")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UrlRefused("a webhook URL must not carry credentials (user:password@)")
    if port == 0:
        raise UrlRefused("a webhook URL needs a port from 1 to 65535")
    return parts


def _addresses(infos: list[tuple[Any, ...]]) -> list[IpAddress]:
    found: list[IpAddress] = []
    for info in infos:
        text = str(info[4][0]).split("%", 1)[0]  # drop an IPv6 zone id
        address = ipaddress.ip_address(text)
        if address not in found:
            found.append(address)
    return found


def _checked(host: str, addresses: list[IpAddress], allow: Sequence[IpNetwork]) -> IpAddress:
    if not addresses:
        raise UrlRefused(f"{host} resolves to no address")
    for address in addresses:
        reason = address_refusal(address, allow)
        if reason is not None:
            raise UrlRefused(
                f"webhook host {host} resolves to a {reason} address, which is not allowed "
                "(an operator may allow an internal network: FUELWATCH_WEBHOOK_ALLOW_NETWORKS)"
            )
    return addresses[0]


def _port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def resolve_checked(url: str, allow: Sequence[IpNetwork] = ()) -> IpAddress:
    """Check ``url`` and every address its host resolves to (blocking; for registration)."""
    parts = check_url(url)
    host = parts.hostname or ""
    try:
        infos = socket.getaddrinfo(host, _port(parts), type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UrlRefused(f"cannot resolve webhook host {host}") from exc
    return _checked(host, _addresses(infos), allow)


@dataclass(frozen=True, slots=True)
class PinnedTarget:
    """Where a request goes: the URL with the checked address in place of the host name,
    the Host header, and (https) the name for SNI and certificate verification."""

    url: str
    host_header: str
    extensions: dict[str, Any]


async def pin(url: str, allow: Sequence[IpNetwork] = ()) -> PinnedTarget:
    """Resolve, check, and pin ``url`` to its checked address (for each delivery)."""
    parts = check_url(url)
    host = parts.hostname or ""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, _port(parts), type=socket.SOCK_STREAM
        )
    except (OSError, UnicodeError) as exc:
        raise UrlRefused(f"cannot resolve webhook host {host}") from exc
    address = _checked(host, _addresses(infos), allow)
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    pinned = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    host_header = parts.netloc
    extensions: dict[str, Any] = {"sni_hostname": host} if parts.scheme == "https" else {}
    return PinnedTarget(pinned, host_header, extensions)
