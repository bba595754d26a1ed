"""The client's network, for rate limits only: never stored or logged.

Behind reverse proxies, the client is the rightmost X-Forwarded-For entry that
is not one of `RECLAIM_TRUSTED_PROXIES`: each trusted proxy appends the address
it saw, and everything left of the first untrusted entry was written by the
client itself. When the direct peer is not a trusted proxy, the header is
ignored whatever it says.

IPv4 clients are keyed by their whole address, IPv6 clients by their /64 (one
household or phone gets a whole /64, so its addresses are one client), and
IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`) as the IPv4 address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_address(text: str) -> Address | None:
    """An address from a peer or X-Forwarded-For entry (ports and brackets
    dropped), or None if it is not one."""
    entry = text.strip()
    if entry.startswith("["):  # [2001:db8::1]:443
        entry = entry[1:].partition("]")[0]
    elif entry.count(":") == 1:  # 192.0.2.1:443
        entry = entry.partition(":")[0]
    try:
        found = ipaddress.ip_address(entry)
    except ValueError:
        return None
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped:
        return found.ipv4_mapped
    return found


def _trusted(address: Address | None, proxies: Sequence[Network]) -> bool:
    return address is not None and any(address in network for network in proxies)


def from_trusted_proxy(peer: str | None, proxies: Sequence[Network]) -> bool:
    """Whether the direct peer is one of the trusted proxies (whose
    X-Forwarded-* headers may then be believed)."""
    return peer is not None and _trusted(parse_address(peer), proxies)


def client_address(
    peer: str | None, forwarded_for: Sequence[str], proxies: Sequence[Network]
) -> str:
    """The client's address as a string: `peer`, or the X-Forwarded-For entry
    that the nearest trusted proxy vouches for.

    `forwarded_for` holds every X-Forwarded-For header of the request, in order.
    """
    if peer is None:
        return "unknown"
    nearest = parse_address(peer)
    if not _trusted(nearest, proxies):
        return str(nearest) if nearest else peer
    entries = [e for header in forwarded_for for e in header.split(",") if e.strip()]
    for entry in reversed(entries):
        hop = parse_address(entry)
        if hop is None:
            # A trusted proxy wrote something that is not an address: the
            # client is unknown beyond the last hop we can vouch for.
            break
        nearest = hop
        if not _trusted(hop, proxies):
            break
    return str(nearest)


def rate_key(address: str) -> str:
    """The network a client is limited as: the IPv4 address, or the IPv6 /64."""
    found = parse_address(address)
    if isinstance(found, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((found, 64), strict=False))
    return str(found) if found else address
