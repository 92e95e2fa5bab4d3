"""Which IP addresses the service may connect to on a tenant's behalf: the rule of the outbound
address guard (app/outbound.py resolves names and connects; this module only judges addresses).

Refused: every range of the IANA IPv4 and IPv6 Special-Purpose Address Registries, multicast, the
deprecated IPv6 site-local range and anything outside IPv6 global unicast (2000::/3), plus whatever
Python's `is_global` does not call global. Addresses that carry an IPv4 address (IPv4-mapped,
NAT64's well-known prefix, 6to4, Teredo) are judged by the IPv4 address they carry, which is where
the packets end up."""

from __future__ import annotations

import ipaddress
from typing import Final

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NOT_ALLOWED: Final = "address not allowed"  # all a tenant is told: never what a name resolved to

# IANA IPv4 Special-Purpose Address Registry (RFC 6890 and its updates), every entry.
_REFUSED_V4: Final = tuple(
    ipaddress.IPv4Network(network)
    for network in (
        "0.0.0.0/8",  # "this network" (0.0.0.0/32: "this host")
        "10.0.0.0/8",  # private
        "100.64.0.0/10",  # shared address space (carrier-grade NAT)
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local: cloud metadata services live at 169.254.169.254
        "172.16.0.0/12",  # private
        "192.0.0.0/24",  # IETF protocol assignments (DS-Lite, PCP and TURN anycast, NAT64 discovery)
        "192.0.2.0/24",  # documentation (TEST-NET-1)
        "192.31.196.0/24",  # AS112-v4
        "192.52.193.0/24",  # AMT
        "192.88.99.0/24",  # deprecated 6to4 relay anycast
        "192.168.0.0/16",  # private
        "192.175.48.0/24",  # direct delegation AS112 service
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation (TEST-NET-2)
        "203.0.113.0/24",  # documentation (TEST-NET-3)
        "224.0.0.0/4",  # multicast (its own registry)
        "240.0.0.0/4",  # reserved, with 255.255.255.255 (limited broadcast)
    )
)
# IANA IPv6 Special-Purpose Address Registry (RFC 6890 and its updates), except the prefixes that
# carry an IPv4 address (judged by it below), plus site-local and multicast.
_REFUSED_V6: Final = tuple(
    ipaddress.IPv6Network(network)
    for network in (
        "::/128",  # unspecified
        "::1/128",  # loopback
        "::ffff:0:0:0/96",  # IPv4-translated (SIIT)
        "64:ff9b:1::/48",  # local-use IPv4/IPv6 translation
        "100::/64",  # discard-only
        "100:0:0:1::/64",  # dummy IPv6 prefix
        "2001::/23",  # IETF protocol assignments (Teredo, 2001::/32, is judged by its IPv4 addresses)
        "2001:db8::/32",  # documentation
        "2620:4f:8000::/48",  # direct delegation AS112 service
        "3fff::/20",  # documentation
        "5f00::/16",  # segment routing (SRv6) SIDs
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated by RFC 3879, still routed by some networks)
        "ff00::/8",  # multicast
    )
)
_GLOBAL_UNICAST_V6: Final = ipaddress.IPv6Network("2000::/3")
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")  # well-known prefix: the last 32 bits are IPv4
_TEREDO: Final = ipaddress.IPv6Network("2001::/32")
_SIXTOFOUR: Final = ipaddress.IPv6Network("2002::/16")


def parse_address(text: str) -> IPAddress | None:
    """The address a URL's host names literally (`[::1]` included), else None (a host name)."""
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def carried_ipv4(ip: IPAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address stands for (empty when it carries none)."""
    if isinstance(ip, ipaddress.IPv4Address):
        return []
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip in _NAT64:
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    if ip in _SIXTOFOUR and ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip in _TEREDO and ip.teredo is not None:
        server, client = ip.teredo  # the relay, and the client's public address
        return [server, client]
    return []


def _ipv4_allowed(ip: ipaddress.IPv4Address, allow_loopback: bool) -> bool:
    if allow_loopback and ip.is_loopback:
        return True
    return ip.is_global and not any(ip in network for network in _REFUSED_V4)


def address_allowed(address: str | IPAddress, *, allow_loopback: bool = False) -> bool:
    """May the service connect to this address for a tenant? `allow_loopback` (development and
    tests only) lets loopback addresses through."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv4Address):
        return _ipv4_allowed(ip, allow_loopback)
    carried = carried_ipv4(ip)
    if carried:
        return all(_ipv4_allowed(inner, allow_loopback) for inner in carried)
    if allow_loopback and ip.is_loopback:
        return True
    if any(ip in network for network in _REFUSED_V6) or ip not in _GLOBAL_UNICAST_V6:
        return False
    return ip.is_global
