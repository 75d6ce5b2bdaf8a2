"""Where a service may send an HTTP request on a caller's behalf (webhooks): never to its
own host, its cluster or its cloud's metadata service (server-side request forgery,
ADR 0021).

A target is refused when its host, written as an address in any spelling (``2130706433``,
``0177.0.0.1``, ``0x7f.1``, ``127.1``, ``[::ffff:127.0.0.1]``, ``[::1]``…) or resolved
from a name, is loopback, private, link-local, shared (CGNAT, 100.64.0.0/10), multicast,
unspecified, reserved or otherwise not global, including IPv4 addresses carried inside
IPv6 ones (mapped, 6to4, NAT64, Teredo). It is checked at registration and again at each
delivery after resolution, and the delivery connects to the very address that was checked
(:func:`pinned_request`): a name that resolved to a public address at registration and
to 127.0.0.1 since (DNS rebinding) is refused. A local stack's receivers on loopback
are let through by an explicit allow-list, which production refuses.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Not global although ``ipaddress`` may say so, or kept explicit for the reader.
REFUSED_NETWORKS: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/128",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UnsafeTarget(Exception):
    """A target the service must not call; the message is French, for the caller."""


class Resolver(Protocol):
    async def resolve(self, host: str, port: int) -> list[str]:
        """The addresses ``host`` resolves to, as text."""
        ...


class SystemResolver:
    async def resolve(self, host: str, port: int) -> list[str]:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return [str(info[4][0]) for info in infos]


def ip_literal(host: str) -> IPAddress | None:
    """``host`` as an address if it is one in any spelling the resolver would accept:
    dotted, decimal, octal, hexadecimal and short IPv4 forms included."""
    bare = host.strip("[]").split("%")[0]
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    if ":" in bare:
        return None
    try:
        # The C library's reading of an IPv4 address: what a connection to it would reach.
        return ipaddress.IPv4Address(socket.inet_aton(bare))
    except OSError:
        return None


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    # IPv4-compatible (deprecated) ::a.b.c.d
    if int(ip) >> 32 == 0 and int(ip) > 1:
        return ipaddress.IPv4Address(int(ip))
    return None


def is_refused(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        inner = embedded_ipv4(ip)
        if inner is not None and is_refused(inner):
            return True
    if any(ip in network for network in REFUSED_NETWORKS if network.version == ip.version):
        return True
    return ip.is_multicast or ip.is_reserved or ip.is_unspecified or not ip.is_global


@dataclass(frozen=True, slots=True)
class CheckedTarget:
    """A URL and the address it was checked at, which the request must go to."""

    url: SplitResult
    host: str
    port: int
    address: IPAddress


class TargetGuard:
    def __init__(
        self,
        resolver: Resolver | None = None,
        allowed_networks: Sequence[str] = (),
        schemes: Sequence[str] = ("https",),
    ) -> None:
        self._resolver = resolver or SystemResolver()
        self._allowed = [ipaddress.ip_network(n, strict=False) for n in allowed_networks]
        self._schemes = tuple(schemes)

    def _allowed_address(self, ip: IPAddress) -> bool:
        if any(ip in n for n in self._allowed if n.version == ip.version):
            return True
        return not is_refused(ip)

    async def check(self, url: str) -> CheckedTarget:
        """The target of ``url`` with the address to connect to; :class:`UnsafeTarget`
        when it is not one we may call."""
        parts = urlsplit(url)
        if parts.scheme not in self._schemes or not parts.hostname:
            if self._schemes == ("https",):
                raise UnsafeTarget("Une adresse HTTPS complète est attendue (https://…).")
            schemes = " ou ".join(f"{s}://…" for s in self._schemes)
            raise UnsafeTarget(f"Une adresse complète est attendue ({schemes}).")
        if parts.username or parts.password:
            raise UnsafeTarget("L'adresse ne doit pas contenir d'identifiants.")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise UnsafeTarget("Port invalide.") from exc
        host = parts.hostname
        literal = ip_literal(host)
        if literal is not None:
            addresses: list[IPAddress] = [literal]
        else:
            try:
                resolved = await self._resolver.resolve(host, port)
            except OSError as exc:
                raise UnsafeTarget(f"Nom de domaine introuvable : {host}.") from exc
            addresses = [a for a in (ip_literal(r) for r in resolved) if a is not None]
            if not addresses:
                raise UnsafeTarget(f"Nom de domaine introuvable : {host}.")
        # Every address the name has must be fit: the connection could reach any of them.
        if not all(self._allowed_address(a) for a in addresses):
            raise UnsafeTarget(
                "Adresse interne, privée ou réservée refusée : le point de réception doit "
                "être joignable sur Internet."
            )
        return CheckedTarget(url=parts, host=host, port=port, address=addresses[0])


def pinned_request(target: CheckedTarget) -> tuple[str, dict[str, str], dict[str, str]]:
    """The URL that connects to the checked address, the ``Host`` header and the request
    extensions (TLS's server name stays the host's, so its certificate is verified
    against the name, not the address)."""
    address = target.address
    netloc = f"[{address}]" if address.version == 6 else str(address)
    url = target.url._replace(netloc=f"{netloc}:{target.port}").geturl()
    default = 443 if target.url.scheme == "https" else 80
    host_header = target.host if target.port == default else f"{target.host}:{target.port}"
    if ":" in target.host:
        host_header = f"[{target.host}]" + ("" if target.port == default else f":{target.port}")
    return url, {"Host": host_header}, {"sni_hostname": target.host}
