"""Which source addresses may be RADIUS clients at all, and how wide one NAS row may be.

Pure rules that radiusd (``lookup_client``, before any database lookup) and the CLI
(``cloudos nas add``) share.

A NAS row's address is a host or a network whose every address becomes a client with
that row's shared secret and tenant. The widest allowed by default:

* IPv4 /24: a site's block of routers that share one secret. Anything wider hands
  the secret, and the tenant, to every host in it, and turns a flood from there
  into clients radiusd builds and keeps, one per source. 0.0.0.0/0 would make the
  whole Internet one ISP's NAS.
* IPv6 /64: one subnet (RFC 4291 section 2.5.4: a 64-bit interface identifier), where
  a router's source address lives; a wider prefix spans subnets, so other links.
"""

from __future__ import annotations

import ipaddress
import re

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: The shortest prefix a NAS row may have, by default (the module docstring says why).
WIDEST_IPV4 = 24
WIDEST_IPV6 = 64

_SEPARATORS = re.compile(r"[\s,]+")


def parse_networks(text: str) -> tuple[Network, ...]:
    """Networks in CIDR notation separated by commas or spaces ('' is none); raises ValueError
    naming the first that is not one (host bits set included: 10.0.0.1/8 is a mistake)."""
    found: list[Network] = []
    for item in _SEPARATORS.split(text.strip()):
        if not item:
            continue
        try:
            found.append(ipaddress.ip_network(item, strict=True))
        except ValueError as exc:
            raise ValueError(f"not a network: {item!r} ({exc})") from None
    return tuple(found)


def allowed(address: str, networks: tuple[Network, ...]) -> bool:
    """Whether ``address`` may be a client: inside one of ``networks``, or anywhere when there are
    none. Text that is no address is never allowed."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if not networks:
        return True
    return any(ip in n for n in networks)


def _inside(inner: Network, outer: Network) -> bool:
    if isinstance(inner, ipaddress.IPv4Network) and isinstance(outer, ipaddress.IPv4Network):
        return inner.subnet_of(outer)
    if isinstance(inner, ipaddress.IPv6Network) and isinstance(outer, ipaddress.IPv6Network):
        return inner.subnet_of(outer)
    return False


def nas_address_problem(network: Network, networks: tuple[Network, ...], *, widest_ipv4: int = WIDEST_IPV4,
                        widest_ipv6: int = WIDEST_IPV6) -> str | None:
    """Why ``network`` may not be a NAS row's address (wider than allowed, or not inside the client
    networks radiusd accepts), or None when it may."""
    widest = widest_ipv4 if network.version == 4 else widest_ipv6
    if network.prefixlen < widest:
        return (f"{network} is wider than /{widest}, the widest NAS address allowed "
                f"(CLOUDOS_NAS_WIDEST_IPV{network.version}); register each router's own address or block")
    if networks and not any(_inside(network, n) for n in networks):
        listed = ", ".join(str(n) for n in networks)
        return f"{network} is outside CLOUDOS_CLIENT_NETWORKS ({listed}): radiusd would never answer it"
    return None
